"""Every event shape reduced to a cluster to evaluate, or a recorded reason not to."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from das_guard.model import Outcome
from das_guard.triggers import Dismissal, Target, parse_message

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def parse(body: str | dict[str, object]) -> Target | Dismissal:
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_message(text, region="us-east-1", account="123456789012", now=NOW)


def load(folder: str, name: str) -> dict[str, object]:
    return json.loads((EVENTS / folder / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "trigger", "cluster", "instance"),
    [
        ("cloudtrail-create-db-cluster", "CloudTrail:CreateDBCluster", "orders-pg", None),
        (
            "cloudtrail-restore-db-cluster-from-snapshot",
            "CloudTrail:RestoreDBClusterFromSnapshot",
            "billing-mysql",
            None,
        ),
        (
            "cloudtrail-restore-db-cluster-to-point-in-time-clone",
            "CloudTrail:RestoreDBClusterToPointInTime",
            "orders-pg-clone",
            None,
        ),
        ("cloudtrail-restore-db-cluster-from-s3", "CloudTrail:RestoreDBClusterFromS3", "legacy-import", None),
        ("cloudtrail-create-db-cluster-global-secondary", "CloudTrail:CreateDBCluster", "orders-pg-dr", None),
        ("cloudtrail-create-db-instance", "CloudTrail:CreateDBInstance", "dev-burst", None),
        ("rds-event-0170-cluster-created", "RDS:RDS-EVENT-0170", "sessions-sls", None),
        ("rds-event-0005-instance-created", "RDS:RDS-EVENT-0005", None, "audit-pg-2"),
    ],
)
def test_every_trigger_names_its_cluster(name: str, trigger: str, cluster: str | None, instance: str | None) -> None:
    event = load("eventbridge", name)
    target = parse(event)
    assert isinstance(target, Target)
    assert (target.trigger, target.cluster_id, target.instance_id) == (trigger, cluster, instance)
    assert target.event_id == event["id"]
    assert target.first_seen == datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))


def test_standalone_instance_is_not_applicable() -> None:
    result = parse(load("eventbridge", "cloudtrail-create-db-instance-standalone"))
    assert isinstance(result, Dismissal)
    assert (result.outcome, result.reason) == (Outcome.NOT_APPLICABLE, "StandaloneInstance")
    assert "reporting-db" in result.detail


def test_failed_api_call_is_ignored_even_if_the_rule_let_it_through() -> None:
    result = parse(load("not-routed", "cloudtrail-create-db-cluster-failed"))
    assert isinstance(result, Dismissal)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "FailedApiCall")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cloudtrail-delete-db-cluster", "UnrecognisedEvent"),
        ("rds-event-0171-cluster-deleted", "UnrecognisedEvent"),
        ("custom-bus-spoofed-source", "UnrecognisedEvent"),
        ("cloudtrail-ec2-run-instances", "UnrecognisedEvent"),
    ],
)
def test_events_that_are_not_creations_are_ignored_with_a_reason(name: str, reason: str) -> None:
    result = parse(load("not-routed", name))
    assert isinstance(result, Dismissal)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, reason)


def test_clusters_of_other_regions_and_accounts_are_not_ours() -> None:
    event = load("eventbridge", "cloudtrail-create-db-cluster")
    event["detail"]["responseElements"]["dBClusterArn"] = "arn:aws:rds:eu-west-1:123456789012:cluster:orders-pg"
    result = parse(event)
    assert isinstance(result, Dismissal)
    assert result.reason == "ForeignRegion"
    event = load("eventbridge", "rds-event-0170-cluster-created")
    event["account"] = "999999999999"
    result = parse(event)
    assert isinstance(result, Dismissal)
    assert result.reason == "ForeignAccount"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        "null",
        "42",
        '{"source": "aws.rds"}',
        '{"source": "aws.rds", "detail": []}',
        '{"source": "aws.rds", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "CreateDBCluster",'
        ' "requestParameters": "x"}}',
        '{"source": "aws.rds", "detail-type": "AWS API Call via CloudTrail",'
        ' "detail": {"eventName": "CreateDBCluster"}}',
        '{"source": "aws.rds", "detail-type": "RDS DB Cluster Event", "detail": {"EventID": "RDS-EVENT-0170",'
        ' "SourceArn": "arn:aws:s3:::bucket"}}',
        '{"dasGuard": {"format": 99}}',
        '{"dasGuard": {"format": 1, "clusterId": 7, "attempt": 1}}',
        "[" * 100_000,
    ],
)
def test_malformed_messages_are_ignored_with_a_reason(body: str) -> None:
    result = parse(body)
    assert isinstance(result, Dismissal)
    assert result.outcome is Outcome.IGNORED
    assert result.reason in {"MalformedMessage", "MalformedEvent", "UnrecognisedEvent"}
    assert result.detail


def test_retry_message_round_trip_keeps_first_seen_and_counts_attempts() -> None:
    original = Target(
        "CloudTrail:CreateDBCluster", "evt-1", NOW - timedelta(minutes=7), cluster_id="payments-pg", attempt=2
    )
    again = parse(original.retry_message())
    assert again == Target(
        "CloudTrail:CreateDBCluster", "evt-1", original.first_seen, cluster_id="payments-pg", attempt=3
    )


def test_cluster_identifiers_are_lowercased_like_rds_does() -> None:
    event = load("eventbridge", "cloudtrail-create-db-cluster")
    event["detail"]["responseElements"] = {}
    event["detail"]["requestParameters"]["dBClusterIdentifier"] = "Orders-PG"
    result = parse(event)
    assert isinstance(result, Target)
    assert result.cluster_id == "orders-pg"


class TestLifecycleTriggers:
    def test_tag_change_on_a_cluster(self) -> None:
        target = parse(load("eventbridge", "cloudtrail-add-tags-to-cluster"))
        assert isinstance(target, Target)
        assert (target.trigger, target.cluster_id, target.stop) == (
            "CloudTrail:AddTagsToResource",
            "ledger-pg",
            None,
        )

    def test_tag_change_on_an_instance_resolves_its_cluster_later(self) -> None:
        target = parse(load("eventbridge", "cloudtrail-remove-tags-from-instance"))
        assert isinstance(target, Target)
        assert (target.cluster_id, target.instance_id) == (None, "audit-pg-1")

    def test_tag_change_on_anything_else_is_ignored(self) -> None:
        result = parse(load("not-routed", "cloudtrail-add-tags-to-snapshot"))
        assert isinstance(result, Dismissal)
        assert (result.outcome, result.reason) == (Outcome.IGNORED, "NotAClusterResource")

    def test_tag_change_in_another_account_is_not_ours(self) -> None:
        event = load("eventbridge", "cloudtrail-add-tags-to-cluster")
        event["detail"]["requestParameters"]["resourceName"] = "arn:aws:rds:us-east-1:999999999999:cluster:x"
        result = parse(event)
        assert isinstance(result, Dismissal)
        assert result.reason == "ForeignAccount"

    def test_stop_names_who_where_and_when(self) -> None:
        target = parse(load("eventbridge", "cloudtrail-stop-activity-stream"))
        assert isinstance(target, Target)
        assert target.cluster_id == "reports-pg"
        assert target.stop is not None
        assert target.stop.principal == "arn:aws:sts::123456789012:assumed-role/DBA/bob"
        assert target.stop.principals == (target.stop.principal, "arn:aws:iam::123456789012:role/DBA")
        assert (target.stop.source_ip, target.stop.time) == ("203.0.113.24", "2026-11-25T10:05:09Z")

    def test_rds_stream_stopped_event_has_no_principal(self) -> None:
        target = parse(load("eventbridge", "rds-event-0180-stream-stopped"))
        assert isinstance(target, Target)
        assert target.cluster_id == "reports-pg"
        assert target.stop is not None
        assert (target.stop.known, target.stop.via) == (False, "RDS:RDS-EVENT-0180")

    def test_retries_of_a_stop_are_ordinary_evaluations(self) -> None:
        target = parse(load("eventbridge", "cloudtrail-stop-activity-stream"))
        assert isinstance(target, Target)
        retry = parse(replace(target, stop=None).retry_message())
        assert isinstance(retry, Target)
        assert (retry.stop, retry.trigger) == (None, "CloudTrail:StopActivityStream")


class TestWhoChangedTheRule:
    """Tags and the name choose the rule; the caller is kept so a softer rule can be pinned on someone."""

    def test_tag_change_names_its_caller(self) -> None:
        target = parse(load("eventbridge", "cloudtrail-add-tags-to-cluster"))
        assert isinstance(target, Target)
        assert target.changed_by == "arn:aws:sts::123456789012:assumed-role/ComplianceAnalyst/maria"

    def test_a_rename_evaluates_the_cluster_under_its_new_name(self) -> None:
        target = parse(load("eventbridge", "cloudtrail-modify-db-cluster-rename"))
        assert isinstance(target, Target)
        assert (target.trigger, target.cluster_id, target.stop) == (
            "CloudTrail:ModifyDBCluster",
            "legacy-orders",
            None,
        )
        assert target.changed_by == "arn:aws:sts::123456789012:assumed-role/DBA/bob"

    def test_other_cluster_changes_are_not_renames(self) -> None:
        result = parse(load("not-routed", "cloudtrail-modify-db-cluster"))
        assert isinstance(result, Dismissal)
        assert (result.outcome, result.reason) == (Outcome.IGNORED, "UnrecognisedEvent")

    def test_a_caller_that_is_not_an_object_is_unknown_not_a_crash(self) -> None:
        event = load("eventbridge", "cloudtrail-modify-db-cluster-rename")
        event["detail"]["userIdentity"] = "root"  # type: ignore[index]
        target = parse(event)
        assert isinstance(target, Target)
        assert target.changed_by == "unknown"
