"""The insider DAS exists to audit, trying to keep a cluster unaudited without anyone noticing (issue 10).

Each scenario drives the real handler and sweep through the local world, as the attacker would act in the
account: the attack fails, or a HIGH alert names the cluster - and nothing is lost.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from localaws import World
from localaws.events import load_sample
from localaws.runtime import LambdaContext
from localaws.scenario import DEMO_POLICY
from localaws.world import Deployment

DBA = "arn:aws:sts::123456789012:assumed-role/DBA/bob"
BREAK_GLASS = "arn:aws:sts::123456789012:assumed-role/BreakGlass/carol"
ARN = "arn:aws:rds:us-east-1:123456789012:cluster:"


def high_alerts(deployment: Deployment, cluster: str = "orders-pg") -> list[str]:
    return [a["Subject"] for a in deployment.alerts() if "HIGH" in a["Subject"] and cluster in a["Subject"]]


def tag(deployment: Deployment, cluster: str, by: str = DBA, **tags: str) -> None:
    """The insider tags the cluster (and EventBridge brings the CloudTrail record to DAS Guard)."""
    rds = deployment.aws.client("rds")
    rds.add_tags_to_resource(ResourceName=ARN + cluster, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    event = load_sample("cloudtrail-add-tags-to-cluster")
    event["detail"]["requestParameters"]["resourceName"] = ARN + cluster
    event["detail"]["requestParameters"]["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    event["detail"]["userIdentity"]["arn"] = by
    deployment.send(event)
    deployment.drain()


@pytest.mark.parametrize(
    ("softer", "rule"),
    [({"env": "sandbox"}, "sandboxes"), ({"data-class": "internal", "team": "analytics"}, "analytics-trial")],
)
def test_tagging_into_a_softer_rule_then_stopping_is_still_news(
    prod: Deployment, world: World, softer: dict[str, str], rule: str
) -> None:
    tag(prod, "orders-pg", **softer)
    prod.stop_stream("orders-pg", by=DBA)
    prod.drain()
    tampered = [d for d in prod.decisions() if d["outcome"] == "Tampered"]
    assert {d["reason"] for d in tampered} == {"StoppedByUnauthorizedPrincipal", "StreamStoppedUnattributed"}
    assert all(d["rule"] == rule for d in tampered)
    assert any(f"rule {rule!r}" in d["detail"] and "does not start it again" in d["detail"] for d in tampered)
    assert any("by DBA/bob" in s for s in high_alerts(prod))
    world.advance(minutes=20)
    prod.drain()
    assert prod.stream("orders-pg")["Status"] == "stopped", "the softer rule decides only about the restart"


def softer_rule_notices(deployment: Deployment, cluster: str = "orders-pg") -> list[dict[str, Any]]:
    return [a for a in deployment.alerts() if a["Subject"].startswith(f"DAS Guard notice: softer rule for {cluster}")]


@pytest.mark.parametrize(
    ("softer", "after"),
    [
        ({"env": "sandbox"}, "rule 'sandboxes' (exempt)"),
        ({"data-class": "internal", "team": "analytics"}, "rule 'analytics-trial' (report-only)"),
    ],
)
def test_tagging_a_running_stream_into_a_softer_rule_names_who_and_both_rules(
    prod: Deployment, softer: dict[str, str], after: str
) -> None:
    tag(prod, "orders-pg", **softer)
    [notice] = softer_rule_notices(prod)
    assert DBA in notice["Message"]
    assert f"from rule 'regulated-data' (enforce) to {after}" in notice["Message"]
    assert prod.stream("orders-pg")["Status"] == "started", "a notice, not an action: the stream still runs"
    tag(prod, "orders-pg", **softer)  # the same tags again (or a duplicate event): told once
    tag(prod, "orders-pg", owner="bob")  # a change that does not soften anything: no notice
    assert len(softer_rule_notices(prod)) == 1


def test_tagging_into_a_stricter_rule_is_no_notice(world: World) -> None:
    deployment = world.deploy()
    deployment.add_cluster("events-pg", tags={"team": "analytics"}, stream="started")
    deployment.sweep()  # first sight: recorded under analytics-trial (report-only)
    tag(deployment, "events-pg", **{"data-class": "pii"})
    assert softer_rule_notices(deployment, "events-pg") == []


def test_renaming_a_running_stream_into_an_exemption_names_who_and_both_rules(prod: Deployment, world: World) -> None:
    policy = json.loads(prod.aws.client("ssm").get_parameter(Name="/das-guard/policy")["Parameter"]["Value"])
    policy["exemptions"][0]["expires"] = (world.now() + timedelta(days=30)).date().isoformat()
    prod.put_policy(policy)
    world.advance(minutes=2)  # past the policy cache
    prod.rename_cluster("orders-pg", "legacy-orders")
    prod.drain()
    [notice] = softer_rule_notices(prod, "legacy-orders")
    assert DBA in notice["Message"]
    assert "from rule 'regulated-data' (enforce) to exemption 'legacy-migration' until" in notice["Message"]
    prod.stop_stream("legacy-orders", by=DBA)
    prod.drain()
    assert any("by DBA/bob" in s for s in high_alerts(prod, "legacy-orders")), "and the stop is still news"


def test_a_softer_rule_no_event_reported_is_in_the_next_sweep_summary(prod: Deployment) -> None:
    rds = prod.aws.client("rds")  # the rules were disabled first: no tag event reaches DAS Guard
    rds.add_tags_to_resource(ResourceName=ARN + "orders-pg", Tags=[{"Key": "env", "Value": "sandbox"}])
    prod.sweep()
    summary = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard sweep")][-1]
    assert "1 softened" in summary["Subject"]
    assert "orders-pg: a change no event reported" in summary["Message"]
    assert "to rule 'sandboxes' (exempt)" in summary["Message"]
    prod.sweep()
    assert len([a for a in prod.alerts() if "softened" in a["Subject"]]) == 1, "told once; the record moved on"


def test_a_name_that_matches_an_exemption_does_not_hide_a_stop(world: World) -> None:
    prod = world.deploy()
    prod.add_cluster("legacy-orders", stream="started")  # the demo policy's legacy-* exemption has expired...
    prod.put_policy(
        {
            **json.loads(prod.aws.client("ssm").get_parameter(Name="/das-guard/policy")["Parameter"]["Value"]),
            "exemptions": [
                {
                    "name": "legacy-migration",
                    "match": {"cluster_ids": ["legacy-*"]},
                    "expires": (world.now() + timedelta(days=30)).date().isoformat(),
                    "reason": "PROJ-88",
                }
            ],
        }
    )
    prod.stop_stream("legacy-orders", by=DBA)
    prod.drain()
    assert any("by DBA/bob" in s for s in high_alerts(prod, "legacy-orders"))


def test_a_forged_break_glass_stop_buys_no_hold(prod: Deployment, world: World) -> None:
    forged = load_sample("cloudtrail-stop-activity-stream-break-glass")
    forged["detail"]["requestParameters"]["resourceArn"] = ARN + "orders-pg"
    prod.send(forged)  # sqs:SendMessage to DAS Guard's queue; nothing was stopped
    prod.drain()
    [report] = [d for d in prod.decisions() if d["outcome"] == "Tampered"]
    assert report["reason"] == "StopNotConfirmed"
    assert high_alerts(prod) == [
        "DAS Guard HIGH: STOP event, stream is up on orders-pg by BreakGlass/carol in 123456789012/us-east-1"
    ]
    items = prod.aws.client("dynamodb").scan(TableName=prod.stack.state_table)["Items"]
    assert [i for i in items if i["pk"]["S"].startswith("hold#")] == []

    # ... so the insider's real stop minutes later is reverted
    world.advance(minutes=5)
    prod.stop_stream("orders-pg", by=DBA)
    prod.drain()
    world.advance(minutes=20)
    prod.drain()
    assert prod.stream("orders-pg")["Status"] == "starting"


def break_glass_stop(prod: Deployment) -> None:
    prod.stop_stream("orders-pg", by=BREAK_GLASS)
    prod.drain()
    assert "StoppedByAllowedPrincipal" in {d["reason"] for d in prod.decisions()}
    items = prod.aws.client("dynamodb").scan(TableName=prod.stack.state_table)["Items"]
    assert [i["principal"]["S"] for i in items if i["pk"]["S"] == f"hold#{prod.resource_id('orders-pg')}"] == [
        BREAK_GLASS
    ]


@pytest.mark.parametrize("forged", ["retry", "creation"])
def test_a_forged_message_cannot_lift_a_genuine_hold(prod: Deployment, world: World, forged: str) -> None:
    break_glass_stop(prod)
    world.advance(minutes=20)
    prod.drain()
    assert prod.stream("orders-pg")["Status"] == "stopped"
    message: dict[str, Any] = (
        {
            "dasGuard": {
                "format": 1,
                "clusterId": "orders-pg",
                "trigger": "CloudTrail:CreateDBCluster",
                "eventId": "x",
                "firstSeen": world.now().isoformat(),
                "attempt": 1,
            }
        }
        if forged == "retry"
        else load_sample("cloudtrail-create-db-cluster")
    )
    prod.deliver(message)
    assert (prod.last()["outcome"], prod.last()["reason"]) == ("Exempt", "BreakGlassHold")
    assert prod.stream("orders-pg")["Status"] == "stopped"


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"principal": {"S": DBA}, "until": {"S": "+8h"}}, "not in the policy's stop_allowed"),
        ({"principal": {"S": BREAK_GLASS}, "until": {"S": "+90d"}}, "longer than the policy's 8 h"),
        ({"principal": {"S": BREAK_GLASS}, "until": {"S": "next tuesday"}}, "malformed item"),
        ({"principal": {"N": "7"}}, "malformed item"),
    ],
    ids=["wrong-principal", "too-long", "bad-date", "wrong-types"],
)
def test_a_hold_written_into_the_state_table_is_not_trusted_and_breaks_nothing(
    world: World, item: dict[str, Any], problem: str
) -> None:
    prod = world.deploy()
    prod.add_cluster("orders-pg", tags={"data-class": "pci"})
    prod.add_cluster("billing-pg", tags={"data-class": "pci"})
    until = item.get("until", {}).get("S", "")
    offsets = {"+8h": timedelta(hours=8), "+90d": timedelta(days=90)}
    if until in offsets:
        item = {**item, "until": {"S": (world.now() + offsets[until]).isoformat()}}
    prod.aws.client("dynamodb").put_item(  # dynamodb:PutItem by the insider
        TableName=prod.stack.state_table, Item={"pk": {"S": f"hold#{prod.resource_id('orders-pg')}"}, **item}
    )
    summary = prod.sweep()  # never a crash: both clusters are decided
    assert summary["started"] == 2
    [orders] = [d for d in prod.decisions() if d.get("cluster_id") == "orders-pg"]
    assert orders["outcome"] == "Started"
    [warning] = orders["warnings"]
    assert warning["code"] == "HoldIgnored"
    assert problem in warning["detail"]


def test_a_retry_dated_in_the_future_cannot_postpone_the_readiness_alert(world: World) -> None:
    prod = world.deploy()
    prod.add_cluster("payments-pg", creating=True)
    prod.deliver(
        {
            "dasGuard": {
                "format": 1,
                "clusterId": "payments-pg",
                "trigger": "CloudTrail:CreateDBCluster",
                "eventId": "x",
                "firstSeen": (world.now() + timedelta(days=3650)).isoformat(),
                "attempt": 1,
            }
        }
    )
    [retry] = prod.queued()
    assert retry["body"]["dasGuard"]["firstSeen"] == world.now().isoformat()


@pytest.mark.parametrize(
    "principal",
    [
        DBA + "\nSubject: all clear",
        "arn:aws:sts::123456789012:assumed-role/DBA/" + "b\u00f6b\u200b" * 3,
        "arn:aws:sts::123456789012:assumed-role/DBA/" + "x" * 200,
    ],
)
def test_a_hostile_principal_name_does_not_cost_the_high_alert(prod: Deployment, principal: str) -> None:
    prod.stop_stream("orders-pg", by=principal)
    prod.drain()
    [subject] = [s for s in high_alerts(prod) if "by DBA/" in s]
    assert subject.isascii()
    assert subject.isprintable()
    assert len(subject) < 100
    assert not [m for m in prod.metrics() if "AlertFailed" in m]


def test_a_stop_event_with_a_broken_identity_still_pages(prod: Deployment) -> None:
    event = load_sample("cloudtrail-stop-activity-stream")
    event["detail"]["requestParameters"]["resourceArn"] = ARN + "orders-pg"
    event["detail"]["userIdentity"]["sessionContext"] = "not an object"
    prod.aws.client("rds").stop_activity_stream(ResourceArn=ARN + "orders-pg", ApplyImmediately=True)
    assert prod.deliver(event) == {"batchItemFailures": []}
    assert any("by DBA/bob" in s for s in high_alerts(prod))


@pytest.mark.parametrize("starve", ["rules disabled", "queue purged"])
def test_a_stop_while_das_guard_was_starved_is_news_at_the_next_sweep(
    prod: Deployment, world: World, starve: str
) -> None:
    """The insider disables the stack's rules (or purges its queue), then stops the stream: no event ever arrives.
    The next sweep knows the stream was running (DAS Guard started it) and reports the loss before restarting."""
    if starve == "queue purged":
        prod.stop_stream("orders-pg", by=DBA)  # the events reach the queue ...
        prod.aws.client("sqs").purge_queue(QueueUrl=prod.stack.queue_url)  # ... and are thrown away
    else:
        prod.aws.client("rds").stop_activity_stream(ResourceArn=ARN + "orders-pg", ApplyImmediately=True)
    world.advance(hours=20)
    before = len(prod.decisions())
    summary = prod.sweep("next-day")
    lost, restarted = prod.decisions()[before:]
    assert (lost["outcome"], lost["reason"]) == ("Tampered", "StreamLost")
    assert (restarted["outcome"], restarted["reason"]) == ("Started", "StreamStarted")
    assert summary["streams_lost"] == 1
    assert any(s.startswith("DAS Guard HIGH: activity stream STOPPED on orders-pg") for s in high_alerts(prod))
    # and once reported, the next sweep does not report it again: the stream is on and recorded
    world.advance(minutes=10)
    assert prod.sweep("day-after")["streams_lost"] == 0


def test_a_stream_never_seen_running_is_a_plain_start_and_a_break_glass_stop_is_not_lost(world: World) -> None:
    prod = world.deploy()
    prod.add_cluster("new-pg")
    prod.add_cluster("orders-pg", stream="started")  # started by someone else before DAS Guard was deployed
    first = prod.sweep()
    assert (first["started"], first["streams_lost"]) == (1, 0)
    world.advance(minutes=10)
    prod.stop_stream("orders-pg", by=BREAK_GLASS)
    prod.drain()
    world.advance(hours=9)  # the hold (8 h) is over
    summary = prod.sweep()
    assert (summary["streams_lost"], summary["started"]) == (0, 1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [("disable_key", "StreamKeyDisabled"), ("schedule_key_deletion", "StreamKeyPendingDeletion")],
)
def test_a_running_stream_whose_key_is_going_away_is_not_compliant(
    prod: Deployment, world: World, change: str, reason: str
) -> None:
    getattr(prod.aws.client("kms"), change)(KeyId=prod.stack.key_arn.rsplit("/", 1)[-1])  # the insider has kms:*
    world.advance(minutes=2)  # past the container's key cache
    summary = prod.sweep("after-the-key-change")
    assert summary["compliant"] == 0
    [decision] = [d for d in prod.decisions() if d["event_id"] == "after-the-key-change"]
    assert (decision["outcome"], decision["reason"]) == ("Violation", reason)
    assert "cannot be read" in decision["detail"]
    digest = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard sweep")][
        -1
    ]  # the latest of the daily digests
    assert f"orders-pg: {reason}" in digest["Message"]


@pytest.mark.parametrize("event", [{}, {"Records": "x"}, [], {"Records": [{"body": 1}]}, "Records", {"Records": []}])
def test_a_direct_invocation_that_is_not_an_sqs_batch_is_logged_not_a_crash(prod: Deployment, event: Any) -> None:
    assert prod.handle_queue(event, LambdaContext()) == {"batchItemFailures": []}
    assert [r for r in prod.records() if r.get("message") == "not an SQS batch (or an empty one): ignored"]
    assert any(m.get("Reason") == "NotAnSqsBatch" for m in prod.metrics())


def test_a_number_too_long_for_python_is_an_ignored_message_not_a_retry_loop(prod: Deployment) -> None:
    assert prod.deliver('{"id": ' + "9" * 5000 + "}") == {"batchItemFailures": []}
    assert (prod.last()["outcome"], prod.last()["reason"]) == ("Ignored", "MalformedMessage")


def test_without_an_alert_topic_the_function_refuses_to_run() -> None:
    """Fail closed: no alert channel is an error at start, not silence."""
    from das_guard.settings import ConfigurationError, Settings  # noqa: PLC0415

    env = {"AWS_REGION": "us-east-1", "DAS_GUARD_ACCOUNT_ID": "1", "DAS_GUARD_POLICY_PARAMETER": "/p"}
    with pytest.raises(ConfigurationError, match="DAS_GUARD_ALERT_TOPIC_ARN"):
        Settings.from_env(env)


def test_a_report_only_deployment_says_so_in_every_digest(world: World) -> None:
    prod = world.deploy(DAS_GUARD_ENFORCEMENT_MODE="report-only")
    prod.add_cluster("orders-pg")
    assert prod.sweep()["would_start"] == 1
    [digest] = prod.alerts()
    assert digest["Subject"].startswith("DAS Guard sweep [REPORT-ONLY]: 0 violation(s)")
    assert digest["Message"].startswith("This deployment is REPORT-ONLY")


def test_an_exemption_for_ever_is_refused_and_the_stop_behind_it_still_pages(prod: Deployment, world: World) -> None:
    policy = json.loads(prod.aws.client("ssm").get_parameter(Name="/das-guard/policy")["Parameter"]["Value"])
    policy["exemptions"] = [
        {"name": "forever", "match": {"cluster_ids": ["orders-*"]}, "reason": "trust me", "expires": "9999-12-31"}
    ]
    prod.put_policy(policy)  # an insider with ssm:PutParameter
    world.advance(minutes=2)
    prod.stop_stream("orders-pg", by=DBA)
    prod.drain()
    [invalid] = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard policy invalid")]
    assert "exemptions[0].expires: expires 9999-12-31 is more than 365 days after today" in invalid["Message"]
    assert any("by DBA/bob" in s for s in high_alerts(prod)), "a stop behind a broken policy is news at once"
    assert prod.queued() or prod.dead_letters(), "the stop is kept for when the policy is fixed, not dropped"


def policy_written(deployment: Deployment, document: dict[str, Any], by: str = DBA) -> None:
    """Somebody writes the policy parameter, and EventBridge brings the CloudTrail record of the call."""
    deployment.put_policy(document)
    version = deployment.aws.client("ssm").get_parameter(Name="/das-guard/policy")["Parameter"]["Version"]
    call = load_sample("cloudtrail-put-parameter-policy")
    call["detail"]["userIdentity"]["arn"] = by
    call["detail"]["responseElements"]["version"] = version
    deployment.send(call)
    deployment.drain()


def current_policy(deployment: Deployment) -> dict[str, Any]:
    text = deployment.aws.client("ssm").get_parameter(Name="/das-guard/policy")["Parameter"]["Value"]
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_a_policy_edit_that_weakens_enforcement_is_announced_with_what_changed(prod: Deployment) -> None:
    policy = current_policy(prod)
    policy["rules"][1]["action"] = "report-only"  # regulated-data
    policy["stop_allowed"]["allowed_principals"].append("arn:aws:iam::123456789012:role/DBA")
    policy_written(prod, policy)
    [notice] = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard policy weakened by DBA/bob")]
    message = notice["Message"]
    assert "version 2" in message
    assert "WEAKER: rule 'regulated-data' action: (unset) -> \"report-only\"" in message
    assert "WEAKER: stop_allowed: arn:aws:iam::123456789012:role/DBA may now stop streams" in message
    [announced] = [d for d in prod.decisions() if d["outcome"] == "Announced"]
    assert announced["reason"] == "PolicyChanged"
    assert "2 change(s), 2 weaker" in announced["detail"]


def test_a_policy_edit_that_breaks_the_policy_is_high_and_says_why(prod: Deployment) -> None:
    policy = current_policy(prod)
    policy["defaults"]["action"] = "exempt"
    policy_written(prod, policy)
    [notice] = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard HIGH: policy INVALID by DBA/bob")]
    assert 'WEAKER: defaults.action: "enforce" -> "exempt"' in notice["Message"]
    assert "defaults.action" in notice["Message"].split("INVALID, so no cluster can be evaluated:")[1]


def test_a_forged_policy_change_event_announces_only_what_ssm_says(prod: Deployment) -> None:
    call = load_sample("cloudtrail-put-parameter-policy")
    call["detail"]["responseElements"]["version"] = 99  # no such version: the live history decides
    prod.send(call)
    prod.drain()
    [notice] = [a for a in prod.alerts() if "policy changed" in a["Subject"]]
    assert "new policy document with 3 rule(s)" in notice["Message"]


def test_a_failure_before_any_cluster_is_known_is_logged_and_ends_failed(
    prod: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from das_guard import pipeline  # noqa: PLC0415

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(pipeline, "parse_message", broken)
    assert prod.deliver(load_sample("cloudtrail-create-db-cluster"), receive_count=1)["batchItemFailures"]
    assert "message could not be handled" in prod.log_text()
    assert not [d for d in prod.decisions() if d["outcome"] == "Failed"], "retried first, not given up"
    assert prod.deliver(load_sample("cloudtrail-create-db-cluster"), receive_count=5)["batchItemFailures"]
    [failed] = [d for d in prod.decisions() if d["outcome"] == "Failed"]
    assert failed["reason"] == "InternalError"
    assert "gave up after 5 deliveries: KeyError" in failed["detail"]


def test_a_stop_followed_by_quick_renames_is_still_reported_and_reverted(prod: Deployment, world: World) -> None:
    """The insider stops the stream and renames the cluster away before DAS Guard reads it (and puts another cluster
    under the old name): the stop's own record names the stream, and the stream names its cluster for good."""
    rds = prod.aws.client("rds")
    prod.add_cluster("decoy-pg")
    rds.stop_activity_stream(ResourceArn=ARN + "orders-pg", ApplyImmediately=True)  # first the stop itself...
    stop = load_sample("cloudtrail-stop-activity-stream")
    stop["detail"]["requestParameters"]["resourceArn"] = ARN + "orders-pg"
    stop["detail"]["responseElements"]["kinesisStreamName"] = prod.stream("orders-pg")["KinesisStreamName"]
    stop["detail"]["userIdentity"]["arn"] = DBA
    rds.modify_db_cluster(DBClusterIdentifier="orders-pg", NewDBClusterIdentifier="hidden-pg", ApplyImmediately=True)
    rds.modify_db_cluster(DBClusterIdentifier="decoy-pg", NewDBClusterIdentifier="orders-pg", ApplyImmediately=True)
    prod.send(stop)  # ... and only then does EventBridge bring the stop to DAS Guard
    prod.drain()
    [tampered] = [d for d in prod.decisions() if d["outcome"] == "Tampered"]
    assert (tampered["cluster_id"], tampered["reason"]) == ("hidden-pg", "StoppedByUnauthorizedPrincipal")
    assert high_alerts(prod, "hidden-pg"), "the HIGH alert names the cluster by the name it has now"
    world.advance(minutes=16)  # Aurora PostgreSQL: past the grace for a major upgrade
    prod.drain()
    assert prod.stream("hidden-pg")["Status"] in ("starting", "started")


def test_a_green_cluster_under_a_softer_rule_is_news_before_and_at_switchover(prod: Deployment, world: World) -> None:
    """Blue/green: the insider tags green into an exempt rule; at switchover it takes the production name."""
    rds = prod.aws.client("rds")
    deployment, green = prod.create_blue_green("orders-pg")
    rds.add_tags_to_resource(ResourceName=ARN + green, Tags=[{"Key": "env", "Value": "sandbox"}])
    prod.drain()
    world.advance(minutes=5)
    prod.switchover(deployment)
    prod.drain()
    notices = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard notice: softer rule")]
    assert notices, "green under a softer rule than blue is told"
    assert any(
        "rule 'regulated-data' (enforce)" in n["Message"] and "rule 'sandboxes' (exempt)" in n["Message"]
        for n in notices
    )
    assert any(DBA in n["Message"] for n in notices), "naming who did it"


def test_a_clone_of_a_regulated_cluster_under_an_exempt_tag_is_news(prod: Deployment) -> None:
    rds = prod.aws.client("rds")
    rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="orders-copy",
        SourceDBClusterIdentifier="orders-pg",
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
        Tags=[{"Key": "env", "Value": "sandbox"}],
    )
    event = load_sample("cloudtrail-restore-db-cluster-to-point-in-time-clone")
    detail = event["detail"]
    detail["requestParameters"].update(dBClusterIdentifier="orders-copy", sourceDBClusterIdentifier="orders-pg")
    detail["responseElements"].update(dBClusterIdentifier="orders-copy", dBClusterArn=ARN + "orders-copy")
    detail["userIdentity"]["arn"] = DBA
    prod.send(event)
    prod.drain()
    [notice] = [a for a in prod.alerts() if a["Subject"].startswith("DAS Guard notice: softer rule for orders-copy")]
    assert "put the data of orders-pg (rule 'regulated-data' (enforce)) into orders-copy" in notice["Message"]
    assert DBA in notice["Message"]


def test_a_policy_may_refuse_the_softer_rule_for_a_copy(world: World) -> None:
    """softer_copies: refuse - a clone of a regulated cluster is audited as its source is, whatever its own tags."""
    policy = json.loads(json.dumps(DEMO_POLICY)) | {"softer_copies": "refuse"}
    prod = world.deploy(policy=policy)
    prod.add_cluster("orders-pg", tags={"data-class": "pci"})
    prod.aws.client("rds").restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="orders-copy",
        SourceDBClusterIdentifier="orders-pg",
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
        Tags=[{"Key": "env", "Value": "sandbox"}],
    )
    prod.aws.client("rds").create_db_instance(
        DBInstanceIdentifier="orders-copy-1",
        DBClusterIdentifier="orders-copy",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    event = load_sample("cloudtrail-restore-db-cluster-to-point-in-time-clone")
    event["detail"]["requestParameters"].update(
        dBClusterIdentifier="orders-copy", sourceDBClusterIdentifier="orders-pg"
    )
    event["detail"]["responseElements"].update(dBClusterIdentifier="orders-copy", dBClusterArn=ARN + "orders-copy")
    prod.send(event)
    prod.drain()
    decision = [d for d in prod.decisions() if d.get("cluster_id") == "orders-copy"][-1]
    assert (decision["rule"], decision["outcome"]) == ("regulated-data", "Started"), "not 'sandboxes' (exempt)"
    assert decision["start_request"]["mode"] == "sync", "the source's rule: its mode too"
    [warning] = [w for w in decision["warnings"] if w["code"] == "ProtectionLowered"]
    assert "the policy refuses it: audited as orders-pg" in warning["detail"]


def test_a_restore_from_a_regulated_clusters_snapshot_under_an_exempt_tag_is_news(prod: Deployment) -> None:
    rds = prod.aws.client("rds")
    snapshot = rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="orders-nightly", DBClusterIdentifier="orders-pg"
    )
    rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="orders-restored",
        SnapshotIdentifier="orders-nightly",
        Engine="aurora-postgresql",
        Tags=[{"Key": "env", "Value": "sandbox"}],
    )
    event = load_sample("cloudtrail-restore-db-cluster-from-snapshot")
    event["detail"]["requestParameters"].update(
        dBClusterIdentifier="orders-restored",
        snapshotIdentifier=snapshot["DBClusterSnapshot"]["DBClusterSnapshotArn"],
        tags=[{"key": "env", "value": "sandbox"}],
    )
    event["detail"]["responseElements"].update(
        dBClusterIdentifier="orders-restored", dBClusterArn=ARN + "orders-restored"
    )
    event["detail"]["userIdentity"]["arn"] = DBA
    prod.send(event)
    prod.drain()
    [notice] = [
        a for a in prod.alerts() if a["Subject"].startswith("DAS Guard notice: softer rule for orders-restored")
    ]
    assert "put the data of orders-pg (rule 'regulated-data' (enforce)) into orders-restored" in notice["Message"]
