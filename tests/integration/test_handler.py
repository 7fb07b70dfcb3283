"""The real Lambda handler against moto: every trigger, every outcome, and nothing lost on the way."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from das_guard.model import StreamMark
from demos.demo import headlines
from localaws import das_extension, scenario
from localaws.world import Deployment, World

from ..conftest import Enforcer, sample

CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:"


@pytest.fixture
def demo_clusters(session: Any, stack: scenario.Stack) -> None:
    scenario.seed_demo_clusters(session, stack)


@pytest.mark.usefixtures("demo_clusters")
@pytest.mark.parametrize("name", sorted(scenario.DEMO_EXPECTATIONS))
def test_every_sample_event_reaches_its_outcome(enforcer: Enforcer, rds: Any, name: str) -> None:
    expected = scenario.DEMO_EXPECTATIONS[name]
    before = {c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") for c in rds.describe_db_clusters()["DBClusters"]}

    response = enforcer.deliver(sample(name))

    assert response == {"batchItemFailures": []}
    # the decision worth telling: a stop's report (first), a blue/green deployment's green cluster (after the blue one)
    decision = headlines(enforcer.decisions())[sample(name)["id"]]
    assert (decision["outcome"], decision["reason"]) == (expected.outcome, expected.reason)
    about_no_cluster = expected.reason == "StandaloneInstance" or expected.cluster == "-"
    assert decision.get("cluster_id") == (None if about_no_cluster else expected.cluster)
    assert decision["event_id"] == sample(name)["id"]
    assert decision["correlation_id"] == sample(name)["id"]
    after = {c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") for c in rds.describe_db_clusters()["DBClusters"]}
    changed = {k for k in after if after[k] != before[k]}
    started = enforcer.api.calls["rds:StartActivityStream"]
    if expected.outcome == "Started":
        assert changed == {expected.cluster}
        assert after[expected.cluster] == "starting"
        assert enforcer.stream(expected.cluster)["KmsKeyId"] == enforcer.stack.key_arn
        assert started == 1
    else:
        assert changed == set(), "only Started may change a cluster"
        assert started == 0
    alerts = [a for a in enforcer.alerts() if "exemption expired" not in a["Subject"]]
    if expected.outcome in {"Violation", "Failed", "Tampered"}:
        assert len(alerts) == 1
        assert expected.cluster in alerts[0]["Subject"]
    elif expected.outcome == "Announced":  # a policy edit: one notice saying who changed what
        [notice] = alerts
        assert "policy changed by ComplianceAnalyst/maria" in notice["Subject"]
    elif name == "cloudtrail-restore-db-cluster-to-point-in-time-clone":  # a regulated cluster's data, softer rule
        [notice] = alerts
        assert notice["Subject"].startswith("DAS Guard notice: softer rule for orders-pg-clone")
        assert "DataAnalyst/ana put the data of orders-pg" in notice["Message"]
    else:
        assert alerts == []


@pytest.mark.usefixtures("demo_clusters")
def test_rule_mode_and_key_reach_aws(enforcer: Enforcer, rds: Any) -> None:
    enforcer.deliver(sample("cloudtrail-create-db-cluster"))  # orders-pg: data-class=pci -> sync
    enforcer.deliver(sample("cloudtrail-restore-db-cluster-from-snapshot"))  # billing-mysql: pci, but MySQL
    assert enforcer.stream("orders-pg")["Mode"] == "sync"
    assert enforcer.stream("billing-mysql")["Mode"] == "async"
    billing = enforcer.decisions()[-1]
    assert [w["code"] for w in billing["warnings"]] == ["ModeDowngraded"]
    assert billing["rule"] == "regulated-data"
    assert [r for r in enforcer.records() if r.get("message") == "Warning: billing-mysql: ModeDowngraded"]


@pytest.mark.usefixtures("demo_clusters")
def test_api_calls_per_event_on_the_happy_path(enforcer: Enforcer) -> None:
    enforcer.deliver(sample("cloudtrail-create-db-cluster"))
    cold = dict(enforcer.api.calls)
    enforcer.api.reset()
    enforcer.deliver(sample("cloudtrail-create-db-cluster-global-secondary"))
    warm = dict(enforcer.api.calls)
    assert cold == {
        "ssm:GetParameter": 1,
        "rds:DescribeDBClusters": 1,
        "rds:DescribeDBInstances": 1,
        "kms:DescribeKey": 1,
        "rds:DescribeOrderableDBInstanceOptions": 1,  # AWS's own answer: does 15.4 on db.r6g.large support DAS?
        # one conditional write: no break-glass hold (always asked: a creation event can be forged) and no record,
        # and DAS Guard remembers the stream is on (a stop it never hears of is still news)
        "dynamodb:TransactWriteItems": 1,
        "rds:StartActivityStream": 1,
    }
    # the policy and the key lookup are cached in the container
    assert warm == {
        "rds:DescribeDBClusters": 1,
        "rds:DescribeDBInstances": 1,
        "dynamodb:TransactWriteItems": 1,
        "rds:StartActivityStream": 1,
    }
    enforcer.api.reset()
    enforcer.deliver(sample("cloudtrail-create-db-cluster-docdb"))
    assert dict(enforcer.api.calls) == {"rds:DescribeDBClusters": 1}  # not Aurora: nothing else is needed


@pytest.mark.usefixtures("demo_clusters")
def test_the_same_event_twice_starts_once(enforcer: Enforcer) -> None:
    enforcer.deliver(sample("cloudtrail-create-db-cluster"))
    enforcer.api.reset()
    enforcer.deliver(sample("cloudtrail-create-db-cluster"))
    assert [d["outcome"] for d in enforcer.decisions()] == ["Started", "AlreadyActive"]
    # a running stream is judged without its instances; the record says whether its start was scheduled
    assert dict(enforcer.api.calls) == {"rds:DescribeDBClusters": 1, "dynamodb:BatchGetItem": 1}


@pytest.mark.usefixtures("demo_clusters")
def test_all_events_of_one_creation_in_one_batch_cost_one_evaluation(enforcer: Enforcer) -> None:
    api_call = sample("cloudtrail-create-db-cluster")
    rds_event = sample("rds-event-0170-cluster-created")
    rds_event["detail"]["SourceArn"] = CLUSTER_ARN + "orders-pg"
    instance_call = sample("cloudtrail-create-db-instance")
    instance_call["detail"]["requestParameters"]["dBClusterIdentifier"] = "orders-pg"
    instance_call["detail"]["responseElements"]["dBClusterIdentifier"] = "orders-pg"

    response = enforcer.deliver(api_call, rds_event, instance_call)

    assert response == {"batchItemFailures": []}
    assert enforcer.api.calls == {
        "ssm:GetParameter": 1,
        "rds:DescribeDBClusters": 1,
        "rds:DescribeDBInstances": 1,
        "kms:DescribeKey": 1,
        "rds:DescribeOrderableDBInstanceOptions": 1,  # AWS's own answer: does 15.4 on db.r6g.large support DAS?
        # one conditional write: no break-glass hold (always asked: a creation event can be forged) and no record,
        # and DAS Guard remembers the stream is on (a stop it never hears of is still news)
        "dynamodb:TransactWriteItems": 1,
        "rds:StartActivityStream": 1,
    }
    assert [d["outcome"] for d in enforcer.decisions()] == ["Started"]


@pytest.mark.usefixtures("demo_clusters")
def test_out_of_order_events_converge(enforcer: Enforcer, session: Any) -> None:
    # the instance event arrives before the cluster is done; the late API-call event after it started
    enforcer.deliver(sample("cloudtrail-create-db-cluster-still-creating"))
    scenario.finish_creating(session, "payments-pg", "payments-pg-1")
    instance_event = sample("rds-event-0005-instance-created")
    instance_event["detail"]["SourceArn"] = "arn:aws:rds:us-east-1:123456789012:db:payments-pg-1"
    enforcer.deliver(instance_event)
    enforcer.deliver(sample("cloudtrail-create-db-cluster-still-creating"))
    assert [d["outcome"] for d in enforcer.decisions()] == ["Deferred", "Started", "AlreadyActive"]
    assert enforcer.api.calls["rds:StartActivityStream"] == 1


class TestDeferral:
    @pytest.fixture(autouse=True)
    def creating(self, deployment: Deployment) -> None:
        deployment.add_cluster("payments-pg", creating=True)

    def test_not_ready_cluster_comes_back_later_with_backoff(self, enforcer: Enforcer, world: World) -> None:
        enforcer.deliver(sample("cloudtrail-create-db-cluster-still-creating"))  # it happened just now
        assert enforcer.last()["outcome"] == "Deferred"
        [retry] = enforcer.queued()
        assert retry["body"]["dasGuard"]["attempt"] == 1
        assert retry["body"]["dasGuard"]["firstSeen"] == world.now().isoformat()
        assert 55 <= retry["delay"] <= 60

        # still creating at the retry: wait longer (exponential backoff), keep the original first-seen time
        first_seen = world.now()
        world.advance(minutes=1)
        assert enforcer.drain().invocations == 1
        [second] = enforcer.queued()
        assert second["body"]["dasGuard"]["attempt"] == 2
        assert second["body"]["dasGuard"]["firstSeen"] == first_seen.isoformat()
        assert 115 <= second["delay"] <= 120
        assert enforcer.drain().invocations == 0, "not due yet"

        # ready at the next retry: started, and no further retry
        enforcer.finish_creating("payments-pg")
        world.advance(minutes=2)
        enforcer.drain()
        assert enforcer.last()["outcome"] == "Started"
        assert enforcer.queued() == []
        assert enforcer.stream("payments-pg")["Status"] == "starting"

    def test_retry_delay_is_capped_at_three_minutes(self, enforcer: Enforcer) -> None:
        assert [enforcer.settings.retry_delay(n) for n in range(7)] == [60, 120, 180, 180, 180, 180, 180]

    def test_a_cluster_that_never_gets_ready_raises_an_alert(self, enforcer: Enforcer, world: World) -> None:
        retry = {
            "dasGuard": {
                "format": 1,
                "clusterId": "payments-pg",
                "trigger": "CloudTrail:CreateDBCluster",
                "eventId": "evt-9",
                "firstSeen": world.now().isoformat(),
                "attempt": 14,
            }
        }
        world.advance(hours=3, minutes=1)
        response = enforcer.deliver(retry)
        assert response == {"batchItemFailures": []}
        decision = enforcer.last()
        assert (decision["outcome"], decision["reason"]) == ("Failed", "ReadinessTimeout")
        assert "181 minutes" in decision["detail"]
        assert enforcer.queued() == []
        [alert] = enforcer.alerts()
        assert "ReadinessTimeout" in alert["Subject"]
        assert "payments-pg" in alert["Message"]

    def test_readiness_window_is_a_setting(self, make_enforcer: Callable[..., Enforcer], world: World) -> None:
        enforcer = make_enforcer(DAS_GUARD_READINESS_TIMEOUT_MINUTES="240")
        retry = {
            "dasGuard": {
                "format": 1,
                "clusterId": "payments-pg",
                "trigger": "t",
                "eventId": "e",
                "firstSeen": world.now().isoformat(),
                "attempt": 14,
            }
        }
        world.advance(hours=3, minutes=1)
        enforcer.deliver(retry)
        assert enforcer.last()["outcome"] == "Deferred"


class TestTransientFailures:
    def test_throttling_is_retried_by_sqs_not_lost(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "ThrottlingException")
        response = enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=1)
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        assert enforcer.decisions() == []  # no decision yet: it will be made on redelivery
        assert [r for r in enforcer.records() if r["message"].startswith("will retry")]
        assert enforcer.alerts() == []

    def test_on_the_last_delivery_it_is_failed_alerted_and_left_for_the_dlq(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("DescribeDBClusters", "InternalFailure", status=500)
        response = enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=3)
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        decision = enforcer.last()
        assert (decision["outcome"], decision["reason"]) == ("Failed", "AwsCallFailed")
        assert "InternalFailure" in decision["detail"]
        assert "goes to the DLQ" in decision["detail"]
        [alert] = enforcer.alerts()
        assert "Failed" in alert["Subject"]

    def test_a_permission_problem_is_also_reported_on_the_last_delivery(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("DescribeDBClusters", "AccessDenied", status=403)
        assert enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=1)["batchItemFailures"]
        assert enforcer.decisions() == []
        assert enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=3)["batchItemFailures"]
        decision = enforcer.last()
        assert (decision["outcome"], decision["reason"]) == ("Failed", "AwsCallFailed")
        assert "AccessDenied" in decision["detail"], "AWS's own code, in the detail"
        assert "permissions" in decision["fix"]
        assert len(enforcer.alerts()) == 1

    def test_a_bug_does_not_lose_the_event(self, make_enforcer: Callable[..., Enforcer], demo_clusters: None) -> None:
        enforcer = make_enforcer()

        def explode(model: Any, **_: Any) -> None:
            if model.name == "DescribeDBInstances":
                raise RuntimeError("simulated bug")

        enforcer.function_session.events.register("before-call.*.*", explode)
        assert enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=3) == {
            "batchItemFailures": [{"itemIdentifier": "m0"}]
        }
        decision = enforcer.last()
        assert (decision["outcome"], decision["reason"]) == ("Failed", "InternalError")
        assert "RuntimeError: simulated bug" in decision["detail"]
        assert [r for r in enforcer.records() if r["message"] == "unexpected error while evaluating"]

    def test_a_deferral_that_cannot_be_scheduled_is_redelivered(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("SendMessage", "ThrottlingException")
        response = enforcer.deliver(sample("cloudtrail-create-db-cluster-still-creating"))
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}

    def test_only_the_failing_record_of_a_batch_is_redelivered(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "ThrottlingException", times=1)
        response = enforcer.deliver(
            sample("cloudtrail-create-db-cluster"), sample("cloudtrail-create-db-cluster-global-secondary")
        )
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        assert [d["outcome"] for d in enforcer.decisions()] == ["Started"]

    def test_failing_messages_end_in_the_dead_letter_queue(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, sqs: Any
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("DescribeDBClusters", "ServiceUnavailable", status=503)
        enforcer.send(sample("cloudtrail-create-db-cluster"))
        result = enforcer.drain()
        assert (result.invocations, result.failed) == (3, 3)  # maxReceiveCount deliveries, then parked
        assert [m["id"] for m in enforcer.dead_letters()] == [sample("cloudtrail-create-db-cluster")["id"]]
        assert [d["outcome"] for d in enforcer.decisions()] == ["Failed"]


class TestRacesAndRefusals:
    def test_someone_else_started_it_first(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, stack: scenario.Stack
    ) -> None:
        enforcer = make_enforcer()

        def started_meanwhile() -> None:
            das_extension.set_activity_stream("orders-pg", "starting", "sync", stack.key_arn)

        enforcer.fail("StartActivityStream", "InvalidDBClusterStateFault", side_effect=started_meanwhile)
        enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        # on its way, not yet audited: a stream counts once RDS says started
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("AlreadyActive", "StreamStarting")
        assert enforcer.last()["compliance"] == "pending"
        assert enforcer.api.calls["rds:StartActivityStream"] == 1
        assert enforcer.queued() == []

    def test_cluster_changed_state_under_us_is_retried_later(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "InvalidDBClusterStateFault")
        enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Deferred", "ClusterStateChanged")
        assert enforcer.api.calls["rds:StartActivityStream"] == 1, "never two Start calls in one evaluation"
        assert len(enforcer.queued()) == 1

    def test_rds_cannot_use_the_key(self, make_enforcer: Callable[..., Enforcer], demo_clusters: None) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "KMSKeyNotAccessibleFault")
        enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        decision = enforcer.last()
        assert (decision["outcome"], decision["reason"]) == ("Violation", "KmsKeyNotAccessible")
        [alert] = enforcer.alerts()
        assert "kms:CreateGrant" in alert["Message"]

    def test_other_refusals_are_failed_with_awss_reason(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "AccessDenied", status=403)
        response = enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        assert response == {"batchItemFailures": []}
        decision = enforcer.last()
        assert (decision["outcome"], decision["reason"]) == ("Failed", "StartRefused")
        assert "injected AccessDenied" in decision["detail"]
        assert "AccessDenied" in decision["fix"], "the fix names what AWS said"

    def test_cluster_deleted_before_evaluation(self, enforcer: Enforcer) -> None:
        enforcer.deliver(sample("cloudtrail-create-db-cluster"))  # no clusters seeded
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("NotApplicable", "ClusterNotFound")

    def test_instance_deleted_before_evaluation(self, enforcer: Enforcer) -> None:
        enforcer.deliver(sample("rds-event-0005-instance-created"))
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("NotApplicable", "InstanceNotFound")


class TestPolicyProblems:
    def _put_policy(self, session: Any, value: str) -> None:
        session.client("ssm").put_parameter(Name=scenario.POLICY_PARAMETER, Value=value, Type="String", Overwrite=True)

    def test_invalid_policy_alerts_with_the_field_and_keeps_the_events(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, session: Any
    ) -> None:
        bad = dict(scenario.DEMO_POLICY, rules=[{"name": "x", "match": {"tags": {"env": "x"}}, "action": "disable"}])
        self._put_policy(session, json.dumps(bad))
        enforcer = make_enforcer()
        first = enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        second = enforcer.deliver(sample("cloudtrail-create-db-cluster-global-secondary"))
        assert first == second == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        [alert] = enforcer.alerts()  # one alert for the broken document, not one per event
        assert "policy invalid" in alert["Subject"]
        assert "rules[0].action: must be one of 'enforce', 'report-only' or 'exempt'" in alert["Message"]
        assert enforcer.api.calls["rds:StartActivityStream"] == 0

        last = enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=3)
        assert last == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Failed", "PolicyInvalid")

    def test_fixed_policy_is_picked_up(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, session: Any
    ) -> None:
        self._put_policy(session, "{ not json")
        enforcer = make_enforcer(DAS_GUARD_POLICY_CACHE_SECONDS="0")
        assert enforcer.deliver(sample("cloudtrail-create-db-cluster"))["batchItemFailures"]
        self._put_policy(session, json.dumps(scenario.DEMO_POLICY))
        assert enforcer.deliver(sample("cloudtrail-create-db-cluster")) == {"batchItemFailures": []}
        assert enforcer.last()["outcome"] == "Started"

    def test_missing_policy_parameter_is_retried(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None
    ) -> None:
        enforcer = make_enforcer(DAS_GUARD_POLICY_PARAMETER="/das-guard/nope")
        response = enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        assert [r for r in enforcer.records() if "ParameterNotFound" in r.get("message", "")]

    def test_policy_key_that_does_not_exist_is_a_violation(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, session: Any
    ) -> None:
        policy = dict(scenario.DEMO_POLICY, defaults={"kms_key": "alias/typo"})
        self._put_policy(session, json.dumps(policy))
        enforcer = make_enforcer()
        enforcer.deliver(sample("cloudtrail-create-db-cluster-global-secondary"))
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Violation", "KmsKeyNotFound")


def test_malformed_messages_are_ignored_not_retried(enforcer: Enforcer) -> None:
    response = enforcer.deliver("not json", {"source": "aws.rds"}, {"dasGuard": {"format": 7}})
    assert response == {"batchItemFailures": []}
    assert [d["outcome"] for d in enforcer.decisions()] == ["Ignored"] * 3
    assert {d["reason"] for d in enforcer.decisions()} == {"MalformedMessage", "UnrecognisedEvent"}


@pytest.mark.usefixtures("demo_clusters")
def test_metrics_one_per_outcome_with_reason_dimension(enforcer: Enforcer) -> None:
    enforcer.deliver(
        sample("cloudtrail-create-db-cluster"),
        sample("cloudtrail-create-db-instance"),
        sample("cloudtrail-create-db-cluster-docdb"),
    )
    emf = enforcer.metrics()
    per_reason = {
        (m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], m.get("Reason")) for m in emf if "Reason" in m
    }
    per_state = [m["ComplianceState"] for m in emf if "ComplianceState" in m]
    assert sorted(per_state) == ["fail", "not-applicable", "pending"], "the catalogue's state, once per decision"
    assert per_reason == {
        ("Started", "StreamStarted"),
        ("Violation", "UnsupportedInstanceClass"),
        ("NotApplicable", "NotAurora"),
    }
    [totals] = [m for m in emf if "Reason" not in m and "ComplianceState" not in m]
    assert (totals["Started"], totals["Violation"], totals["NotApplicable"]) == ([1.0], [1.0], [1.0])
    assert totals["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "DASGuard"
    assert totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


@pytest.mark.usefixtures("demo_clusters")
def test_alert_tells_a_person_what_where_why_and_how_to_fix(enforcer: Enforcer) -> None:
    enforcer.deliver(sample("cloudtrail-create-db-instance"))
    [alert] = enforcer.alerts()
    assert alert["Subject"] == "DAS Guard Violation: dev-burst (UnsupportedInstanceClass) in 123456789012/us-east-1"
    body = alert["Message"]
    for fragment in (
        "dev-burst-1 (db.t4g.medium)",
        CLUSTER_ARN + "dev-burst",
        "Account:  123456789012",
        "Region:   us-east-1",
        "How to fix: Modify these instances",
        "CloudTrail:CreateDBInstance",
        "/das-guard/policy",
    ):
        assert fragment in body


@pytest.mark.usefixtures("demo_clusters")
def test_duplicate_violations_page_once(enforcer: Enforcer) -> None:
    enforcer.deliver(sample("cloudtrail-create-db-instance"))
    enforcer.deliver(sample("cloudtrail-create-db-instance"))
    assert [d["outcome"] for d in enforcer.decisions()] == ["Violation", "Violation"]
    assert len(enforcer.alerts()) == 1


@pytest.mark.usefixtures("demo_clusters")
def test_an_alert_that_cannot_be_sent_does_not_lose_the_decision(make_enforcer: Callable[..., Enforcer]) -> None:
    enforcer = make_enforcer()
    enforcer.fail("Publish", "AuthorizationError", status=403)
    assert enforcer.deliver(sample("cloudtrail-create-db-instance")) == {"batchItemFailures": []}
    assert enforcer.last()["outcome"] == "Violation"
    assert [r for r in enforcer.records() if r.get("message") == "could not publish alert"]


@pytest.mark.usefixtures("demo_clusters")
def test_report_only_changes_nothing(enforcer: Enforcer, rds: Any) -> None:
    enforcer.deliver(sample("cloudtrail-restore-db-cluster-to-point-in-time-clone"))
    decision = enforcer.last()
    assert decision["outcome"] == "WouldStart"
    assert decision["start_request"]["kms_key_id"] == enforcer.stack.key_arn
    assert enforcer.stream("orders-pg-clone")["Status"] == "stopped"
    assert enforcer.api.calls["rds:StartActivityStream"] == 0


def test_global_database_clusters_are_evaluated_each_in_its_own_region(enforcer: Enforcer) -> None:
    secondary_elsewhere = sample("cloudtrail-create-db-cluster-global-secondary")
    secondary_elsewhere["detail"]["responseElements"]["dBClusterArn"] = (
        "arn:aws:rds:eu-west-1:123456789012:cluster:orders-pg-dr"
    )
    enforcer.deliver(secondary_elsewhere)
    assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Ignored", "ForeignRegion")
    assert enforcer.api.total() == 0


class TestTheClaimOfAStart:
    """A creation event's one state-table call: a conditional write before StartActivityStream that finds no hold and
    no record and writes the record of the start (aws/state.py `claim_start`)."""

    def items(self, enforcer: Enforcer, session: Any) -> dict[str, dict[str, Any]]:
        scanned = session.client("dynamodb").scan(TableName=enforcer.stack.state_table)["Items"]
        return {item["pk"]["S"]: item for item in scanned}

    def test_a_refused_start_takes_its_record_back_so_no_sweep_reads_it_as_a_stop(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, session: Any
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "AccessDenied", status=403)
        enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Failed", "StartRefused")
        assert f"stream#{enforcer.resource_id('orders-pg')}" not in self.items(enforcer, session)
        enforcer.sweep()
        assert "StreamLost" not in {d["reason"] for d in enforcer.decisions()}

    def test_a_throttled_start_takes_its_record_back_and_the_redelivery_claims_again(
        self, make_enforcer: Callable[..., Enforcer], demo_clusters: None, session: Any
    ) -> None:
        enforcer = make_enforcer()
        enforcer.fail("StartActivityStream", "ThrottlingException", times=1)
        assert enforcer.deliver(sample("cloudtrail-create-db-cluster"))["batchItemFailures"]
        assert f"stream#{enforcer.resource_id('orders-pg')}" not in self.items(enforcer, session)
        enforcer.api.reset()
        enforcer.deliver(sample("cloudtrail-create-db-cluster"), receive_count=2)
        assert enforcer.last()["outcome"] == "Started"
        assert enforcer.api.calls["dynamodb:TransactWriteItems"] == 1
        assert self.items(enforcer, session)[f"stream#{enforcer.resource_id('orders-pg')}"]["state"] == {"S": "on"}

    def test_a_hold_the_claim_finds_is_weighed_without_a_second_read(
        self, enforcer: Enforcer, demo_clusters: None, session: Any
    ) -> None:
        resource_id = enforcer.resource_id("orders-pg")
        session.client("dynamodb").put_item(  # not a hold DAS Guard wrote: no principal the policy allows
            TableName=enforcer.stack.state_table,
            Item={"pk": {"S": f"hold#{resource_id}"}, "principal": {"S": "arn:aws:iam::123456789012:role/Mallory"}},
        )
        enforcer.deliver(sample("cloudtrail-create-db-cluster"))
        decision = enforcer.last()
        assert decision["outcome"] == "Started"
        assert "HoldIgnored" in {w["code"] for w in decision["warnings"]}
        assert enforcer.api.calls["dynamodb:TransactWriteItems"] == 1
        assert "dynamodb:BatchGetItem" not in enforcer.api.calls, "the cancelled claim answered with the hold"
        assert enforcer.api.calls["dynamodb:PutItem"] == 1, "no claim was made, so the start is recorded after"
        assert self.items(enforcer, session)[f"stream#{resource_id}"]["state"] == {"S": "on"}

    def test_of_two_claims_on_one_new_cluster_only_the_first_is_written(self, enforcer: Enforcer) -> None:
        state = enforcer.container().state
        now = enforcer.world.now()
        first = StreamMark("cluster-X", "arn:aws:rds:us-east-1:123456789012:cluster:x", "on", now)
        assert state.claim_start(first, now) is None
        found = state.claim_start(StreamMark(first.resource_id, first.cluster_arn, "scheduled", now), now)
        assert found is not None
        hold, record = found
        assert hold is None
        assert record is not None
        assert (record.state, record.at) == ("on", now)
        state.release_start(StreamMark(first.resource_id, first.cluster_arn, "on", now.replace(year=2000)))
        assert state.stream_record(first.resource_id) is not None, "a release takes back only its own record"
        state.release_start(first)
        assert state.stream_record(first.resource_id) is None
