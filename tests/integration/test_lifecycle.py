"""A cluster's whole life against moto: tag changes, stops (tampering and break-glass), exemptions that
expire, a report-only deployment, and the reconciliation sweep over hundreds of clusters."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import boto3
import pytest

from das_guard.gateway import AwsError
from das_guard.policy import PolicyError
from localaws import das_extension, scenario
from localaws.runtime import LambdaContext
from localaws.world import World

from ..conftest import Enforcer, sample

BREAK_GLASS_ROLE = "arn:aws:iam::123456789012:role/BreakGlass"


def put_policy(session: Any, policy: dict[str, Any]) -> None:
    session.client("ssm").put_parameter(
        Name=scenario.POLICY_PARAMETER, Value=json.dumps(policy), Type="String", Overwrite=True
    )


def tag_event(cluster_id: str, name: str = "AddTagsToResource", resource: str = "cluster") -> dict[str, Any]:
    event = sample("cloudtrail-add-tags-to-cluster")
    event["detail"]["eventName"] = name
    event["detail"]["requestParameters"]["resourceName"] = f"arn:aws:rds:us-east-1:123456789012:{resource}:{cluster_id}"
    return event


def stop_event(cluster_id: str, role: str = "DBA", user: str = "bob") -> dict[str, Any]:
    event = sample("cloudtrail-stop-activity-stream")
    event["detail"]["requestParameters"]["resourceArn"] = f"arn:aws:rds:us-east-1:123456789012:cluster:{cluster_id}"
    identity = event["detail"]["userIdentity"]
    identity["arn"] = f"arn:aws:sts::123456789012:assumed-role/{role}/{user}"
    identity["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::123456789012:role/{role}"
    return event


def pg(
    session: Any,
    cluster_id: str,
    tags: dict[str, str] | None = None,
    stream: str | None = None,
    key_arn: str | None = None,
) -> None:
    scenario.create_cluster(
        session.client("rds"), cluster_id, "aurora-postgresql", "16.1", [(f"{cluster_id}-1", "db.r6g.large")], tags=tags
    )
    if stream:
        das_extension.set_activity_stream(cluster_id, stream, "async", key_arn)


# A roll-out: everything is report-only except regulated data (rules inherit omitted fields from defaults,
# so the enforced rule says so explicitly).
ROLLOUT: dict[str, Any] = {
    **scenario.DEMO_POLICY,
    "defaults": {**scenario.DEMO_POLICY["defaults"], "action": "report-only"},
    "rules": [{"name": "regulated-data", "match": {"tags": {"data-class": ["pci", "pii"]}}, "action": "enforce"}],
}


class TestTagChanges:
    def test_setting_a_compliance_tag_on_an_existing_cluster_starts_its_stream(
        self, make_enforcer: Callable[..., Enforcer], session: Any, rds: Any
    ) -> None:
        put_policy(session, ROLLOUT)  # only regulated data is enforced during the roll-out
        pg(session, "ledger-pg")
        enforcer = make_enforcer()
        enforcer.deliver(tag_event("ledger-pg"))
        assert enforcer.last()["outcome"] == "WouldStart"

        rds.add_tags_to_resource(
            ResourceName="arn:aws:rds:us-east-1:123456789012:cluster:ledger-pg",
            Tags=[{"Key": "data-class", "Value": "pii"}],
        )
        enforcer.deliver(tag_event("ledger-pg"))
        decision = enforcer.last()
        assert (decision["outcome"], decision["rule"], decision["trigger"]) == (
            "Started",
            "regulated-data",
            "CloudTrail:AddTagsToResource",
        )
        assert enforcer.stream("ledger-pg")["Status"] == "starting"

    def test_a_tag_on_a_member_instance_re_evaluates_its_cluster(self, enforcer: Enforcer, session: Any) -> None:
        pg(session, "ledger-pg")
        enforcer.deliver(tag_event("ledger-pg-1", "RemoveTagsFromResource", resource="db"))
        assert (enforcer.last()["outcome"], enforcer.last()["cluster_id"]) == ("Started", "ledger-pg")

    def test_removing_the_tag_never_stops_a_stream(
        self, enforcer: Enforcer, session: Any, rds: Any, stack: scenario.Stack
    ) -> None:
        pg(session, "ledger-pg", stream="started", key_arn=stack.key_arn)
        enforcer.deliver(tag_event("ledger-pg", "RemoveTagsFromResource"))
        assert enforcer.last()["outcome"] == "AlreadyActive"
        assert enforcer.stream("ledger-pg")["Status"] == "started"

    def test_removing_an_exempting_tag_enforces_the_default(self, enforcer: Enforcer, session: Any, rds: Any) -> None:
        pg(session, "lab-pg", tags={"env": "sandbox"})
        enforcer.deliver(tag_event("lab-pg"))
        assert enforcer.last()["outcome"] == "Exempt"
        rds.remove_tags_from_resource(ResourceName="arn:aws:rds:us-east-1:123456789012:cluster:lab-pg", TagKeys=["env"])
        enforcer.deliver(tag_event("lab-pg", "RemoveTagsFromResource"))
        assert enforcer.last()["outcome"] == "Started"

    def test_a_tag_the_policy_does_not_exempt_cannot_switch_enforcement_off(
        self, enforcer: Enforcer, session: Any
    ) -> None:
        pg(session, "sneaky-pg", tags={"das-guard": "exempt", "audit": "off"})
        enforcer.deliver(tag_event("sneaky-pg"))
        assert enforcer.last()["outcome"] == "Started"


class TestTamperResponse:
    def test_stop_by_an_unknown_principal_is_alerted_and_reverted(
        self, enforcer: Enforcer, session: Any, rds: Any, stack: scenario.Stack, world: World
    ) -> None:
        pg(session, "reports-pg", stream="started", key_arn=stack.key_arn)
        rds.stop_activity_stream(ResourceArn="arn:aws:rds:us-east-1:123456789012:cluster:reports-pg")
        stop = stop_event("reports-pg")
        enforcer.deliver(stop)

        tampered, then = enforcer.decisions()
        assert (tampered["outcome"], tampered["reason"]) == ("Tampered", "StoppedByUnauthorizedPrincipal")
        # Aurora PostgreSQL: reported at once; the restart waits a short grace for a major upgrade that may follow
        assert (then["outcome"], then["reason"]) == ("Deferred", "AwaitingUpgrade")
        assert "unless a major version upgrade begins" in tampered["detail"]
        [alert] = enforcer.alerts()
        assert alert["Subject"] == (
            "DAS Guard HIGH: activity stream STOPPED on reports-pg by DBA/bob in 123456789012/us-east-1"
        )
        for fragment in (
            "Stopped by: arn:aws:sts::123456789012:assumed-role/DBA/bob",
            "From:       203.0.113.24",
            f"At:         {world.now():%Y-%m-%dT%H:%M:%SZ}",  # the stop happened just now
            "remove rds:StopActivityStream",
        ):
            assert fragment in alert["Message"]
        emf = enforcer.metrics()
        assert any(m.get("Reason") == "StoppedByUnauthorizedPrincipal" and "Tampered" in m for m in emf)

        # RDS finishes stopping; no upgrade begins; the retry after the grace starts the stream again, at once
        das_extension.settle_activity_streams()
        [retry] = enforcer.queued()
        assert retry["delay"] == 900
        world.advance(minutes=retry["delay"] // 60)
        enforcer.deliver(retry["body"])
        assert enforcer.last()["outcome"] == "Started"
        assert enforcer.last()["start_request"]["apply_immediately"] is True, "a stop is not a first start"
        assert enforcer.stream("reports-pg")["Status"] == "starting"

    def test_stop_by_the_break_glass_role_is_only_reported_and_held(
        self, make_enforcer: Callable[..., Enforcer], session: Any, rds: Any, stack: scenario.Stack, world: World
    ) -> None:
        pg(session, "warehouse-pg", stream="stopping", key_arn=stack.key_arn)
        enforcer = make_enforcer()
        enforcer.deliver(stop_event("warehouse-pg", role="BreakGlass", user="carol"))
        [decision] = enforcer.decisions()
        assert (decision["outcome"], decision["reason"]) == ("Tampered", "StoppedByAllowedPrincipal")
        assert enforcer.queued() == []
        [alert] = enforcer.alerts()
        assert alert["Subject"].startswith("DAS Guard notice: allowed stop on warehouse-pg by BreakGlass/carol")
        hold = session.client("dynamodb").get_item(
            TableName=scenario.STATE_TABLE,
            Key={"pk": {"S": "hold#" + enforcer.resource_id("warehouse-pg")}},
        )["Item"]
        assert hold["principal"]["S"] == "arn:aws:sts::123456789012:assumed-role/BreakGlass/carol"

        # neither a later tag change nor the sweep reverts it while the hold lasts
        das_extension.settle_activity_streams()
        enforcer.deliver(tag_event("warehouse-pg"))
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Exempt", "BreakGlassHold")
        sweep = enforcer.sweep("s1")
        assert sweep["reasons"] == {"Exempt:BreakGlassHold": 1}
        assert enforcer.stream("warehouse-pg")["Status"] == "stopped"

        # when the hold (8 h in the demo policy) is over, enforcement resumes
        world.advance(hours=9)
        enforcer.deliver(tag_event("warehouse-pg"))
        assert enforcer.last()["outcome"] == "Started"

    def test_rds_stopped_event_waits_for_cloudtrail_before_restarting(
        self, enforcer: Enforcer, session: Any, stack: scenario.Stack
    ) -> None:
        pg(session, "reports-pg", stream="stopped", key_arn=stack.key_arn)
        enforcer.deliver(sample("rds-event-0180-stream-stopped"))
        tampered, waiting = enforcer.decisions()
        assert (tampered["outcome"], tampered["reason"]) == ("Tampered", "StreamStoppedUnattributed")
        # PostgreSQL: the wait for CloudTrail is also the grace for a major upgrade
        assert (waiting["outcome"], waiting["reason"]) == ("Deferred", "AwaitingUpgrade")
        [retry] = enforcer.queued()
        assert 895 <= retry["delay"] <= 900
        assert enforcer.api.calls["rds:StartActivityStream"] == 0

    def test_a_late_break_glass_attribution_still_holds(
        self, enforcer: Enforcer, session: Any, rds: Any, stack: scenario.Stack
    ) -> None:
        pg(session, "warehouse-pg", stream="stopped", key_arn=stack.key_arn)
        enforcer.deliver(
            sample("rds-event-0180-stream-stopped")
            | {
                "detail": {
                    **sample("rds-event-0180-stream-stopped")["detail"],
                    "SourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:warehouse-pg",
                }
            }
        )
        [retry] = enforcer.queued()
        enforcer.deliver(stop_event("warehouse-pg", role="BreakGlass", user="carol"))  # CloudTrail, minutes later
        enforcer.deliver(retry["body"])
        assert (enforcer.last()["outcome"], enforcer.last()["reason"]) == ("Exempt", "BreakGlassHold")
        assert enforcer.stream("warehouse-pg")["Status"] == "stopped"

    def test_on_stop_report_only_reports(
        self, make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack
    ) -> None:
        put_policy(
            session, {**scenario.DEMO_POLICY, "defaults": {**scenario.DEMO_POLICY["defaults"], "on_stop": "report"}}
        )
        pg(session, "reports-pg", stream="stopping", key_arn=stack.key_arn)
        enforcer = make_enforcer()
        enforcer.deliver(stop_event("reports-pg"))
        assert [d["outcome"] for d in enforcer.decisions()] == ["Tampered"]
        assert enforcer.queued() == []


def test_report_only_deployment_changes_nothing(
    make_enforcer: Callable[..., Enforcer], session: Any, rds: Any, stack: scenario.Stack
) -> None:
    enforcer = make_enforcer(DAS_GUARD_ENFORCEMENT_MODE="report-only")
    scenario.seed_demo_clusters(session, stack)
    das_extension.settle_activity_streams()
    before = {c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") for c in rds.describe_db_clusters()["DBClusters"]}

    enforcer.deliver(sample("cloudtrail-create-db-cluster"), sample("cloudtrail-stop-activity-stream"))
    sweep = enforcer.sweep("s")

    outcomes = [(d.get("cluster_id"), d["outcome"]) for d in enforcer.decisions() if d["trigger"] != "Sweep"]
    # reports-pg is Aurora PostgreSQL: the stop is reported at once; the (would-be) restart waits for a possible upgrade
    assert outcomes == [("orders-pg", "WouldStart"), ("reports-pg", "Tampered"), ("reports-pg", "Deferred")]
    assert sweep["started"] == 0
    assert sweep["would_start"] > 0
    assert enforcer.api.calls["rds:StartActivityStream"] == 0
    after = {c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") for c in rds.describe_db_clusters()["DBClusters"]}
    assert after == before


def test_an_expired_exemption_is_announced_once_across_containers(
    make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack
) -> None:
    scenario.seed_demo_clusters(session, stack)  # the demo policy's legacy-* exemption expired on 2026-10-31
    for _container in range(2):
        enforcer = make_enforcer()
        enforcer.deliver(sample("cloudtrail-restore-db-cluster-from-s3"))
        assert [w["code"] for w in enforcer.last()["warnings"]] == ["ExemptionExpired"]
    notices = [a for a in enforcer.alerts() if "exemption expired" in a["Subject"]]
    assert len(notices) == 1
    assert "'legacy-migration' expired on 2026-10-31" in notices[0]["Message"]


@dataclass
class Kind:
    name: str
    outcome: str
    reason: str


KINDS = [
    Kind("supported", "Started", "StreamStarted"),
    Kind("active", "AlreadyActive", "StreamActive"),
    Kind("burstable", "Violation", "UnsupportedInstanceClass"),
    Kind("serverless", "Violation", "UnsupportedEngineMode"),
    Kind("docdb", "NotApplicable", "NotAurora"),
    Kind("sandbox", "Exempt", "ExemptByPolicy"),
    Kind("analytics", "WouldStart", "ReportOnly"),
    Kind("creating", "Deferred", "ClusterNotAvailable"),
    Kind("mysql", "Started", "StreamStarted"),
    Kind("two-readers", "Started", "StreamStarted"),
]


def seed_fleet(session: Any, stack: scenario.Stack, count: int) -> tuple[dict[str, Kind], int]:
    """`count` clusters of mixed kinds; returns the kind of each and how many Aurora instances exist."""
    rds = session.client("rds")
    kinds: dict[str, Kind] = {}
    instances = 0
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        cid = f"{kind.name}-{n:04d}"
        kinds[cid] = kind
        if kind.name == "docdb":
            das_extension.add_foreign_cluster(cid, "docdb", "5.0.0")
            continue
        engine, version = (
            ("aurora-mysql", "8.0.mysql_aurora.3.05.2")
            if kind.name in ("mysql", "serverless")
            else ("aurora-postgresql", "16.1")
        )
        classes = {
            "burstable": ["db.t4g.medium"],
            "serverless": [],
            "creating": [],
            "two-readers": ["db.r6g.large"] * 3,
        }.get(kind.name, ["db.r6g.large"])
        tags = {"sandbox": {"env": "sandbox"}, "analytics": {"team": "analytics"}}.get(kind.name)
        scenario.create_cluster(
            rds,
            cid,
            engine,
            version,
            [(f"{cid}-{i}", c) for i, c in enumerate(classes)],
            tags=tags,
            engine_mode="serverless" if kind.name == "serverless" else "provisioned",
        )
        instances += len(classes)
        if kind.name == "active":
            das_extension.set_activity_stream(cid, "started", "async", stack.key_arn)
        if kind.name == "creating":
            das_extension.hold_cluster_status(cid, "creating")
    return kinds, instances


@pytest.mark.parametrize("count", [120, 520])
def test_sweep_reaches_every_outcome_with_calls_that_grow_by_pages(
    enforcer: Enforcer, session: Any, stack: scenario.Stack, count: int
) -> None:
    kinds, instances = seed_fleet(session, stack, count)
    enforcer.api.reset()

    summary = enforcer.sweep(f"sweep-{count}")

    decided = {d["cluster_id"]: (d["outcome"], d["reason"]) for d in enforcer.decisions() if d["trigger"] == "Sweep"}
    assert decided == {cid: (k.outcome, k.reason) for cid, k in kinds.items()}
    starts = sum(1 for k in kinds.values() if k.outcome == "Started")
    running = sum(1 for k in kinds.values() if k.name == "active")
    assert dict(enforcer.api.calls) == {
        "ssm:GetParameter": 1,
        "dynamodb:Scan": 1,
        # the instances of the clusters without a running stream, or the whole listing where that takes fewer pages
        "rds:DescribeDBInstances": enforcer.api.calls["rds:DescribeDBInstances"],
        "rds:DescribeDBClusters": math.ceil(count / 100),
        "kms:DescribeKey": 1,  # the policy's alias, once; the running streams name the same key by its ARN
        # AWS's own answer on DAS support, once per distinct (engine, version, class) - not per cluster: the
        # fleet's clusters that reach the check are MySQL 3.05.2 / PG 16.1 on r6g.large, and PG 16.1 on t4g.medium
        "rds:DescribeOrderableDBInstanceOptions": 3,
        "rds:StartActivityStream": starts,
        # each stream started is remembered as it starts; those found running, 25 to a BatchWriteItem
        "dynamodb:PutItem": starts,
        **({"dynamodb:BatchWriteItem": math.ceil(running / 25)} if running else {}),
        "sns:Publish": 1,  # one summary alert for all violations, not one per cluster
    }
    assert 1 <= enforcer.api.calls["rds:DescribeDBInstances"] <= math.ceil(instances / 100)
    active = [c for c, k in kinds.items() if k.name == "active"]
    records = [enforcer.app.state.stream_record(enforcer.resource_id(c)) for c in active]
    assert [r.state if r else None for r in records] == ["on"] * running
    assert summary["clusters_seen"] == count
    assert summary["started"] == starts
    assert summary["compliant"] == running, "a stream started just now is pending: it passes once RDS says started"
    assert summary["violations"] == sum(1 for k in kinds.values() if k.outcome == "Violation")
    [line] = [r for r in enforcer.records() if r.get("message") == "sweep summary"]
    assert line["sweep"]["clusters_seen"] == count
    enforcer.api.reset()
    enforcer.sweep(f"sweep-{count}-again")
    assert "dynamodb:BatchWriteItem" not in enforcer.api.calls  # nothing changed: nothing written


def test_the_sweep_of_an_enforced_fleet_reads_only_the_instances_of_clusters_without_a_stream(
    enforcer: Enforcer, session: Any, stack: scenario.Stack
) -> None:
    rds = session.client("rds")
    for n in range(250):
        cid = f"on-{n:03d}"
        scenario.create_cluster(rds, cid, "aurora-postgresql", "16.1", [(f"{cid}-{i}", "db.r6g.large") for i in (0, 1)])
        das_extension.set_activity_stream(cid, "started", "async", stack.key_arn)
    scenario.create_cluster(rds, "new-one", "aurora-postgresql", "16.1", [("new-one-0", "db.r6g.large")])
    scenario.create_cluster(rds, "small-one", "aurora-postgresql", "16.1", [("small-one-0", "db.t4g.medium")])
    enforcer.api.reset()
    summary = enforcer.sweep("enforced")
    assert enforcer.api.calls["rds:DescribeDBInstances"] == 1, "2 clusters' instances, not 502 instances (6 pages)"
    assert (summary["compliant"], summary["started"], summary["violations"]) == (250, 1, 1)
    decided = {d["cluster_id"]: d["reason"] for d in enforcer.decisions() if d["trigger"] == "Sweep"}
    assert (decided["new-one"], decided["small-one"]) == ("StreamStarted", "UnsupportedInstanceClass")


def test_sweep_hands_off_what_it_has_no_time_for(
    enforcer: Enforcer, session: Any, stack: scenario.Stack, sqs: Any
) -> None:
    seed_fleet(session, stack, 45)

    class ShortOnTime(LambdaContext):
        calls = 0

        def get_remaining_time_in_millis(self) -> int:
            ShortOnTime.calls += 1
            return 60_000 if ShortOnTime.calls <= 20 else 5_000

    summary = enforcer.sweep("short", context=ShortOnTime())
    assert (summary["clusters_seen"], summary["handed_off"]) == (45, 25)
    assert enforcer.api.calls["sqs:SendMessageBatch"] == 3  # 25 clusters, ten per call
    queued = [m["body"]["dasGuard"] for m in enforcer.queued()]
    assert len(queued) == 25
    assert {q["trigger"] for q in queued} == {"Sweep"}
    # the handed-off clusters are evaluated by the queue handler like any other message
    enforcer.deliver(*[json.dumps({"dasGuard": q}) for q in queued[:10]])
    assert len([d for d in enforcer.decisions() if d["trigger"] == "Sweep"]) == 20 + 10


def test_sweep_sees_only_its_own_region(enforcer: Enforcer, session: Any, stack: scenario.Stack) -> None:
    """Each regional cluster of a global database is evaluated by the stack in its own region."""
    pg(session, "orders-pg")
    scenario.create_cluster(
        boto3.client("rds", region_name="eu-west-1"),
        "orders-pg-eu",
        "aurora-postgresql",
        "16.1",
        [("orders-pg-eu-1", "db.r6g.large")],
    )
    summary = enforcer.sweep("regional")
    assert summary["clusters_seen"] == 1
    assert [d["cluster_id"] for d in enforcer.decisions() if d["trigger"] == "Sweep"] == ["orders-pg"]


def test_sweep_with_a_broken_policy_alerts_and_fails(enforcer: Enforcer, session: Any) -> None:
    session.client("ssm").put_parameter(
        Name=scenario.POLICY_PARAMETER, Value='{"version": 1}', Type="String", Overwrite=True
    )
    with pytest.raises(PolicyError):
        enforcer.sweep("broken")
    [alert] = enforcer.alerts()
    assert "defaults: required field is missing" in alert["Message"]


def test_the_sweep_reads_the_region_while_it_reads_the_policy_and_the_state_table(
    make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack
) -> None:
    """The listing's pages are read in a thread of their own while the policy and the state table are read on the
    sweep's, so their waits overlap; every decision comes after both."""
    seed_fleet(session, stack, 5)
    enforcer = make_enforcer()
    threads: dict[str, set[str]] = {}

    def note(model: Any, **_: Any) -> None:
        threads.setdefault(model.name, set()).add(threading.current_thread().name)

    enforcer.function_session.events.register("before-call.*.*", note)
    summary = enforcer.sweep("side-by-side")
    assert summary["clusters_seen"] == 5
    main = threading.main_thread().name
    assert threads["GetParameter"] == threads["Scan"] == {main}
    assert all(name.startswith("das-guard-listing") for name in threads["DescribeDBClusters"])
    assert threads["StartActivityStream"] == {main}


@pytest.mark.parametrize("listing", ["DescribeDBInstances", "DescribeDBClusters"])
def test_a_listing_that_keeps_failing_fails_the_sweep_before_any_decision(
    make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack, listing: str
) -> None:
    """The two listings are read side by side; whichever one fails, the sweep decides nothing on half a picture
    (a cluster without its instances would look not ready) and fails, so EventBridge retries it and the
    sweep-errors alarm sees it."""
    seed_fleet(session, stack, 5)
    enforcer = make_enforcer()
    enforcer.fail(listing, "ThrottlingException")
    with pytest.raises(AwsError) as failed:
        enforcer.sweep("listing-throttled")
    assert (failed.value.code, failed.value.transient) == ("ThrottlingException", True)
    assert enforcer.decisions() == []
    assert enforcer.api.calls["rds:StartActivityStream"] == 0


def test_sweep_applies_valid_exemptions_and_lists_those_about_to_expire(enforcer: Enforcer, session: Any) -> None:
    today = datetime.now(UTC).date()
    put_policy(
        session,
        {
            **scenario.DEMO_POLICY,
            "exemptions": [
                {
                    "name": "vendor",
                    "match": {"cluster_ids": ["vendor-*"]},
                    "reason": "case 4711",
                    "expires": (today + timedelta(days=3)).isoformat(),
                },
                {
                    "name": "far",
                    "match": {"tags": {"project": "far"}},
                    "reason": "PROJ-9",
                    "expires": (today + timedelta(days=60)).isoformat(),
                },
            ],
        },
    )
    pg(session, "vendor-db")
    pg(session, "far-db", tags={"project": "far"})

    summary = enforcer.sweep("exemptions")

    assert summary["reasons"] == {"Exempt:ExemptionActive": 2}
    assert summary["expiring_exemptions"] == [f"vendor (expires {(today + timedelta(days=3)).isoformat()}: case 4711)"]
    [digest] = enforcer.alerts()
    assert "Exemptions expiring within 7 days:\n  - vendor" in digest["Message"]
    emf = enforcer.metrics()
    [totals] = [m for m in emf if "SweepClustersSeen" in m]
    assert (totals["SweepClustersSeen"], totals["SweepExempt"], totals["ExemptionsExpiringSoon"]) == (
        [2.0],
        [2.0],
        [1.0],
    )


def test_one_failing_start_does_not_end_the_sweep(
    make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack
) -> None:
    kinds, _ = seed_fleet(session, stack, 20)
    needing = sum(1 for k in kinds.values() if k.outcome == "Started")
    enforcer = make_enforcer()
    enforcer.fail("StartActivityStream", "ThrottlingException", times=1)
    summary = enforcer.sweep("throttled")
    assert summary["clusters_seen"] == 20
    assert summary["reasons"]["Failed:AwsCallFailed"] == 1
    assert summary["started"] == needing - 1
    assert enforcer.api.calls["rds:StartActivityStream"] == needing
    [digest] = enforcer.alerts()
    assert "AwsCallFailed: rds:StartActivityStream failed: ThrottlingException" in digest["Message"]


def test_a_member_still_being_modified_defers_the_start_instead_of_paging(world: World) -> None:
    """InvalidDBInstanceState (another member being created or modified) is transient, like a cluster state."""
    deployment = world.deploy()
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.fail("StartActivityStream", "InvalidDBInstanceState", times=1)
    deployment.deliver(sample("cloudtrail-create-db-cluster"))
    assert (deployment.last()["outcome"], deployment.last()["reason"]) == ("Deferred", "ClusterStateChanged")
    assert deployment.alerts() == []
    world.advance(minutes=2)
    deployment.drain()
    assert deployment.last()["outcome"] == "Started"


def test_a_headless_global_secondary_waits_quietly_and_starts_with_its_first_instance(world: World) -> None:
    deployment = world.deploy()
    rds = deployment.aws.client("rds")
    rds.create_global_cluster(GlobalClusterIdentifier="orders-global", Engine="aurora-postgresql", EngineVersion="15.4")
    deployment.add_cluster(
        "orders-pg-dr",
        version="15.4",
        instances=[],
        GlobalClusterIdentifier="orders-global",
        tags={"data-class": "pci"},
    )
    deployment.send(sample("cloudtrail-create-db-cluster-global-secondary"))
    deployment.drain()
    assert (deployment.last()["outcome"], deployment.last()["reason"]) == ("NotApplicable", "HeadlessGlobalCluster")
    world.advance(hours=4)  # past the readiness window: nothing deferred, nothing to page about
    deployment.drain()
    assert deployment.alerts() == []
    assert deployment.queued() == []
    rds.create_db_instance(
        DBInstanceIdentifier="orders-pg-dr-1",
        DBClusterIdentifier="orders-pg-dr",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    instance_created = sample("rds-event-0005-instance-created")
    instance_created["detail"]["SourceArn"] = "arn:aws:rds:us-east-1:123456789012:db:orders-pg-dr-1"
    instance_created["detail"]["SourceIdentifier"] = "orders-pg-dr-1"
    deployment.send(instance_created)
    deployment.drain()
    assert deployment.last()["outcome"] == "Started"


class TestAFixedClusterDoesNotWaitADay:
    """Changing the unsupported member's class, or deleting it, makes the cluster eligible: started within a minute."""

    def test_changing_the_unsupported_class(self, world: World) -> None:
        deployment = world.deploy()
        deployment.add_cluster("catalog-pg", instances=[("catalog-pg-1", "db.t4g.medium")])
        deployment.sweep()
        assert deployment.last()["reason"] == "UnsupportedInstanceClass"
        deployment.aws.client("rds").modify_db_instance(
            DBInstanceIdentifier="catalog-pg-1", DBInstanceClass="db.r6g.large", ApplyImmediately=True
        )
        deployment.send(sample("cloudtrail-modify-db-instance-class"))
        deployment.drain()
        assert (deployment.last()["cluster_id"], deployment.last()["outcome"]) == ("catalog-pg", "Started")

    def test_deleting_the_unsupported_member(self, world: World) -> None:
        deployment = world.deploy()
        deployment.add_cluster(
            "search-pg", instances=[("search-pg-1", "db.r6g.large"), ("search-pg-2", "db.t4g.medium")]
        )
        deployment.sweep()
        assert deployment.last()["reason"] == "UnsupportedInstanceClass"
        deployment.aws.client("rds").delete_db_instance(DBInstanceIdentifier="search-pg-2")
        deployment.send(sample("cloudtrail-delete-db-instance"))
        deployment.drain()
        assert (deployment.last()["cluster_id"], deployment.last()["outcome"]) == ("search-pg", "Started")


def test_aws_is_asked_about_support_and_its_refusal_to_answer_is_said(world: World) -> None:
    deployment = world.deploy()
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.fail("DescribeOrderableDBInstanceOptions", "AccessDeniedException", times=1)
    deployment.deliver(sample("cloudtrail-create-db-cluster"))
    decision = deployment.last()
    assert decision["outcome"] == "Started"
    assert [w["code"] for w in decision["warnings"]] == ["SupportFromStaticTable"]
    deployment.add_cluster("catalog-pg", instances=[("catalog-pg-1", "db.t4g.medium")])
    deployment.sweep()  # asked again (a failure is not cached): AWS says t4g has no DAS
    [catalog] = [d for d in deployment.decisions() if d.get("cluster_id") == "catalog-pg"]
    assert catalog["reason"] == "UnsupportedInstanceClass"
    assert "AWS lists no activity stream mode for aurora-postgresql 16.1 on db.t4g.medium" in catalog["detail"]


class TestNoSurpriseRestarts:
    """The first deployment in a mature account restarts no production database (issue 11)."""

    POLICY: ClassVar[dict[str, Any]] = {"version": 1, "defaults": {"kms_key": scenario.KEY_ALIAS}}  # as the stack's

    def test_clusters_with_workload_get_their_stream_in_the_window_requested_once(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        deployment.add_cluster("orders-pg")
        world.advance(days=90)  # a cluster that has been serving for months
        deployment.api.reset()
        deployment.sweep()
        decision = deployment.last()
        assert (decision["outcome"], decision["reason"]) == ("Scheduled", "MaintenanceWindow")
        assert decision["start_request"]["apply_immediately"] is False
        assert deployment.stream("orders-pg")["Status"] == "stopped", "not restarted now"
        assert deployment.api.calls["rds:StartActivityStream"] == 1
        window = deployment.aws.client("rds").describe_db_clusters()["DBClusters"][0]["PreferredMaintenanceWindow"]
        opens = das_extension.next_window(window, world.now().replace(tzinfo=None)).replace(tzinfo=UTC)
        world.advance(max(opens - world.now() - timedelta(minutes=5), timedelta(0)))  # whatever day the suite runs
        deployment.api.reset()
        deployment.sweep()
        assert deployment.last()["reason"] == "AlreadyScheduled"
        assert deployment.api.calls["rds:StartActivityStream"] == 0, "requested once, not every sweep"
        world.advance(minutes=10)  # the maintenance window came
        deployment.sweep()
        assert deployment.stream("orders-pg")["Status"] == "started"
        assert deployment.last()["outcome"] == "AlreadyActive"
        assert not [a for a in deployment.alerts() if "HIGH" in a["Subject"]]

    def test_a_brand_new_cluster_still_gets_its_stream_at_once(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        world.advance(days=90)
        deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
        deployment.deliver(sample("cloudtrail-create-db-cluster"))
        assert deployment.last()["outcome"] == "Started"
        assert deployment.last()["start_request"]["apply_immediately"] is True


class TestBlueGreen:
    """The green cluster is a new cluster (own resource id, no stream): audited before it becomes production."""

    POLICY: ClassVar[dict[str, Any]] = {
        "version": 1,
        "defaults": {"kms_key": scenario.KEY_ALIAS},  # apply_immediately: new-clusters, as the stack deploys it
        "stop_allowed": {"allowed_principals": scenario.BREAK_GLASS, "hold_hours": 8},
    }

    def test_green_gets_its_stream_before_switchover_and_production_keeps_one_after(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        arn = deployment.add_cluster("shop-pg", version="15.4", stream="started")
        world.advance(days=60)
        bgd, green = deployment.create_blue_green("shop-pg")  # the CloudTrail call and RDS-EVENT-0244 arrive
        deployment.drain()  # green is still being created: deferred
        world.advance(days=3)  # DAS Guard's check comes back when green is days old, yet it serves nobody yet
        deployment.drain()  # the deferred check goes through the deployment again
        decided = [d for d in deployment.decisions() if d.get("cluster_id") == green]
        assert [d["outcome"] for d in decided] == ["Deferred", "Started"], "both events of the creation: one check"
        [started] = [d for d in decided if d["outcome"] == "Started"]
        assert started["start_request"]["apply_immediately"] is True, "a restart of green harms nobody"
        world.advance(minutes=5)
        deployment.switchover(bgd)  # the CloudTrail call and RDS-EVENT-0248 arrive
        deployment.drain()
        old, production = deployment.decisions()[-2:]
        assert (old["cluster_id"], old["outcome"]) == ("shop-pg-old1", "AlreadyActive")
        assert (production["cluster_id"], production["outcome"]) == ("shop-pg", "AlreadyActive")
        assert production["cluster_arn"] == arn, "the production name, now on the green cluster"
        assert deployment.stream("shop-pg")["Status"] == "started"
        assert deployment.alerts() == []

    def test_a_hold_on_blue_does_not_pass_to_green_with_the_name(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        deployment.add_cluster("shop-pg", version="15.4", stream="started")
        deployment.stop_stream("shop-pg", by="arn:aws:sts::123456789012:assumed-role/BreakGlass/carol")
        deployment.drain()
        world.advance(minutes=2)  # the stream has stopped
        bgd, _ = deployment.create_blue_green("shop-pg")
        deployment.switchover(bgd)  # before DAS Guard heard of the deployment: green never got a stream
        deployment.drain()
        old, production = deployment.decisions()[-2:]
        assert (old["cluster_id"], old["reason"]) == ("shop-pg-old1", "BreakGlassHold"), "the hold stays with blue"
        assert (production["cluster_id"], production["outcome"]) == ("shop-pg", "Started"), "green is not held"

    def test_a_deployment_that_is_gone_is_not_applicable(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        event = sample("cloudtrail-switchover-blue-green-deployment")
        event["detail"]["requestParameters"]["blueGreenDeploymentIdentifier"] = "bgd-doesnotexist0000"
        event["detail"]["responseElements"]["blueGreenDeployment"]["blueGreenDeploymentIdentifier"] = "bgd-none"
        deployment.deliver(event)
        assert (deployment.last()["outcome"], deployment.last()["reason"]) == (
            "NotApplicable",
            "BlueGreenDeploymentNotFound",
        )


def test_babelfish_is_a_violation_with_the_true_reason_and_no_start_is_tried(world: World) -> None:
    deployment = world.deploy()
    rds = deployment.aws.client("rds")
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="tsql", DBParameterGroupFamily="aurora-postgresql15", Description="Babelfish"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="tsql",
        Parameters=[{"ParameterName": "rds.babelfish_status", "ParameterValue": "on", "ApplyMethod": "pending-reboot"}],
    )
    deployment.add_cluster("tsql-pg", version="15.4", DBClusterParameterGroupName="tsql")
    deployment.add_cluster("plain-pg", version="15.4")
    deployment.sweep()
    decided = {d["cluster_id"]: (d["outcome"], d["reason"]) for d in deployment.decisions() if d.get("cluster_id")}
    assert decided["tsql-pg"] == ("Violation", "BabelfishNotSupported")
    assert decided["plain-pg"] == ("Started", "StreamStarted")
    assert deployment.api.calls["rds:StartActivityStream"] == 1, "no refused start for the Babelfish cluster"
    assert deployment.api.calls["rds:DescribeDBClusterParameters"] == 1, "default groups are not read"


@pytest.mark.parametrize("engine", ["aurora-postgresql", "aurora"])
def test_an_event_and_the_sweep_read_the_same_instances_for_one_cluster(
    enforcer: Enforcer, session: Any, engine: str
) -> None:
    """One predicate says whether a verdict needs the instances, for an event and for the sweep alike: a record
    without `DBClusterMembers` (a field AWS does not promise) is read with its instances, so its unsupported class is
    still found; the retired `aurora` engine is ruled out by its engine alone, so neither reads its instances. Either
    way both paths agree."""
    created = "aurora-postgresql" if engine == "aurora-postgresql" else "aurora-mysql"
    version = "16.1" if engine == "aurora-postgresql" else "8.0.mysql_aurora.3.08.0"
    scenario.create_cluster(session.client("rds"), "odd-one", created, version, [("odd-one-0", "db.t4g.medium")])

    def odd(parsed: dict[str, Any], **_: Any) -> None:
        for cluster in parsed.get("DBClusters", []):
            if cluster.get("DBClusterIdentifier") != "odd-one":
                continue
            if engine == "aurora":
                cluster["Engine"] = engine  # RDS creates no `aurora` cluster any more; one created long ago remains
            else:
                cluster.pop("DBClusterMembers", None)

    enforcer.function_session.events.register("after-call.rds.DescribeDBClusters", odd)
    event = sample("cloudtrail-create-db-cluster")
    event["detail"]["requestParameters"]["dBClusterIdentifier"] = "odd-one"
    answer = event["detail"]["responseElements"]
    answer["dBClusterIdentifier"], answer["dBClusterArn"] = (
        "odd-one",
        answer["dBClusterArn"].replace("orders-pg", "odd-one"),
    )
    del answer["dbClusterResourceId"]  # the sample's resource id is orders-pg's
    enforcer.api.reset()
    enforcer.deliver(event)
    by_event, instance_reads = enforcer.last(), enforcer.api.calls["rds:DescribeDBInstances"]
    enforcer.sweep("odd")
    [by_sweep] = [d for d in enforcer.decisions() if d["trigger"] == "Sweep" and d["cluster_id"] == "odd-one"]
    expected = "UnsupportedInstanceClass" if engine == "aurora-postgresql" else "UnsupportedEngine"
    assert (by_event["reason"], by_sweep["reason"]) == (expected, expected)
    assert by_event["detail"] == by_sweep["detail"]
    assert instance_reads == (1 if engine == "aurora-postgresql" else 0)
