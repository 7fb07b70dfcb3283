"""Every sample in events/ is routed (or not) by the template's own EventBridge patterns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from das_guard.triggers.cloudtrail import CALL_READERS
from das_guard.triggers.rds_events import RDS_EVENTS
from localaws.cloudformation import Resolver
from localaws.events import expected_sqs_samples

from .conftest import ROOT
from .event_patterns import matches

EVENTS = ROOT / "events"
ROUTED = sorted((EVENTS / "eventbridge").glob("*.json"))
NOT_ROUTED = sorted((EVENTS / "not-routed").glob("*.json"))
WATCHED = sorted((EVENTS / "watch").glob("*.json"))


def rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every rule's pattern as deployed (intrinsics resolved for a stack named das-guard, default parameters)."""
    resolve = Resolver(template)
    return {
        name: resolve(r["Properties"]["EventPattern"])
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Events::Rule" and resolve.deployed(name)
    }


@pytest.mark.parametrize("path", ROUTED, ids=lambda p: p.stem)
def test_samples_are_routed_by_exactly_one_rule(template: dict[str, Any], path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    assert [n for n, pattern in rules(template).items() if matches(pattern, event)] in (
        ["RdsApiCallRule"],
        ["RdsTagChangeRule"],
        ["RdsChangeRule"],
        ["RdsEventRule"],
        ["PolicyChangeRule"],
    )


@pytest.mark.parametrize("path", WATCHED, ids=lambda p: p.stem)
def test_changes_to_das_guard_itself_and_its_keys_go_straight_to_the_alert_topic(
    template: dict[str, Any], path: Path
) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    [rule] = [n for n, pattern in rules(template).items() if matches(pattern, event)]
    assert rule in {"GuardWatchRule", "KeyWatchRule", "RecordsWatchRule"}
    targets = Resolver(template)(template["Resources"][rule]["Properties"]["Targets"])
    # not through the queue and function an insider may starve; and by two topics with keys of their own, so an
    # attack on one topic (a filter policy, an unsubscribe, its key disabled) is reported through the other
    assert [t["Arn"] for t in targets] == [Resolver(template).ref("AlertTopic"), Resolver(template).ref("WatchTopic")]
    assert targets[0]["InputTransformer"] == targets[1]["InputTransformer"]


def test_the_watch_covers_every_way_the_issue_names_to_starve_das_guard() -> None:
    calls = {json.loads(p.read_text(encoding="utf-8"))["detail"]["eventName"] for p in WATCHED}
    assert {"DisableRule", "RemoveTargets", "PurgeQueue", "DeleteParameter", "StopLogging"} <= calls
    assert {"ScheduleKeyDeletion", "DisableKey", "DisableAlarmActions"} <= calls
    assert any(c.startswith("PutFunctionConcurrency") for c in calls)
    assert any(c.startswith("UpdateFunctionConfiguration") for c in calls)
    # the side doors (issue 24): wearing the role, consuming the queue, an IAM deny on the role, filtering alerts
    assert any(c.startswith("CreateFunction") for c in calls)
    assert any(c.startswith("CreateEventSourceMapping") for c in calls)
    assert {"PutRolePolicy", "SetSubscriptionAttributes"} <= calls
    # the records (issue 25): the Kinesis stream of an activity stream deleted, shortened, encrypted, unread
    assert {
        "DeleteStream",
        "DecreaseStreamRetentionPeriod",
        "StartStreamEncryption",
        "DeregisterStreamConsumer",
    } <= calls


def test_the_self_watch_rule_is_watched_by_the_other(template: dict[str, Any]) -> None:
    """Disabled first, the self-watch rule could not report its own disabling: the key watch rule does."""
    disable = json.loads((EVENTS / "watch" / "cloudtrail-disable-rule.json").read_text(encoding="utf-8"))

    def disabling(rule: str) -> dict[str, Any]:
        return {**disable, "detail": {**disable["detail"], "requestParameters": {"name": f"das-guard-{rule}-ABC123"}}}

    # (the self-watch rule's own pattern matches too, but a disabled rule delivers nothing: the other one must)
    assert "KeyWatchRule" in [n for n, p in rules(template).items() if matches(p, disabling("GuardWatchRule"))]
    assert "GuardWatchRule" in [n for n, p in rules(template).items() if matches(p, disabling("KeyWatchRule"))]


@pytest.mark.parametrize("path", NOT_ROUTED, ids=lambda p: p.stem)
def test_failed_calls_deletions_snapshots_and_foreign_sources_are_not_routed(
    template: dict[str, Any], path: Path
) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    assert [n for n, pattern in rules(template).items() if matches(pattern, event)] == []


def test_every_trigger_the_issue_names_has_a_routed_sample(template: dict[str, Any]) -> None:
    events = [json.loads(p.read_text(encoding="utf-8")) for p in ROUTED]
    calls = {e["detail"].get("eventName") for e in events} - {None}
    rds_events = {e["detail"].get("EventID") for e in events} - {None}
    assert calls == {
        "CreateDBCluster",
        "RestoreDBClusterFromSnapshot",
        "RestoreDBClusterToPointInTime",
        "RestoreDBClusterFromS3",
        "CreateDBInstance",
        "AddTagsToResource",
        "RemoveTagsFromResource",
        "ModifyDBCluster",
        "ModifyDBInstance",
        "DeleteDBInstance",
        "StopActivityStream",
        "PutParameter",
        "CreateBlueGreenDeployment",
        "SwitchoverBlueGreenDeployment",
    }
    assert rds_events == {
        "RDS-EVENT-0170",
        "RDS-EVENT-0172",
        "RDS-EVENT-0005",
        "RDS-EVENT-0014",
        "RDS-EVENT-0180",
        "RDS-EVENT-0179",
        "RDS-EVENT-0248",
    }
    assert any(e["detail"].get("requestParameters", {}).get("globalClusterIdentifier") for e in events)
    assert any(e["detail"].get("requestParameters", {}).get("restoreType") == "copy-on-write" for e in events)


def test_sqs_samples_are_in_step_with_the_eventbridge_samples() -> None:
    expected = expected_sqs_samples()
    actual = {p.name: p.read_text(encoding="utf-8") for p in (EVENTS / "sqs").glob("*.json")}
    assert actual == expected, "run `make events` after changing events/eventbridge"


def _path(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize("path", WATCHED, ids=lambda p: p.stem)
def test_the_watch_message_names_the_call_who_and_the_event(template: dict[str, Any], path: Path) -> None:
    """EventBridge fills the input template; the result must be a JSON string, or the delivery fails."""
    event = json.loads(path.read_text(encoding="utf-8"))
    [rule] = [n for n, pattern in rules(template).items() if matches(pattern, event)]
    target, _second_path = Resolver(template)(template["Resources"][rule]["Properties"]["Targets"])
    transformer = target["InputTransformer"]
    text = transformer["InputTemplate"]
    for name, where in transformer["InputPathsMap"].items():
        text = text.replace(f"<{name}>", str(_path(event, where)))
    message = json.loads(text)
    assert message.startswith("DAS Guard HIGH: ")
    detail = event["detail"]
    for fragment in (detail["eventName"], detail["userIdentity"]["arn"], detail["eventID"], "123456789012/us-east-1"):
        assert fragment in message


def test_an_instance_change_that_is_not_its_class_is_not_routed(template: dict[str, Any]) -> None:
    modify = json.loads((EVENTS / "eventbridge" / "cloudtrail-modify-db-instance-class.json").read_text())
    del modify["detail"]["requestParameters"]["dBInstanceClass"]
    modify["detail"]["requestParameters"]["backupRetentionPeriod"] = 14
    assert [n for n, pattern in rules(template).items() if matches(pattern, modify)] == []


def _routed_names(pattern: Any, key: str) -> set[str]:
    """Every value of `key` anywhere in an event pattern (eventName under detail or under an $or branch)."""
    if isinstance(pattern, dict):
        found = {str(v) for v in pattern.get(key, []) if isinstance(v, str)}
        return found.union(*(_routed_names(v, key) for k, v in pattern.items() if k != key))
    if isinstance(pattern, list):
        return set().union(*(_routed_names(v, key) for v in pattern))
    return set()


def test_the_trigger_tables_and_the_rules_that_feed_the_queue_agree(template: dict[str, Any]) -> None:
    """A routed call or RDS event nobody reads would be dismissed as UnrecognisedEvent; a row in a trigger table
    that no rule routes is a trigger that never fires. A new trigger is one row and one pattern entry, both ways."""
    queue_rules = ("RdsApiCallRule", "RdsTagChangeRule", "RdsChangeRule", "RdsEventRule")
    patterns = [rules(template)[name] for name in queue_rules]
    assert set().union(*(_routed_names(p, "eventName") for p in patterns)) == set(CALL_READERS)
    assert set().union(*(_routed_names(p, "EventID") for p in patterns)) == set(RDS_EVENTS)
