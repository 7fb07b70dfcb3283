"""A started stream passes only if its records are kept (issue 25): the Kinesis stream Aurora writes them to exists,
keeps them as long as the rule's `records.retention_hours`, is not encrypted a second time, and - where the rule says
so - something reads it. Driven through the real handler and sweep on the local world, whose RDS creates the
Kinesis stream at start (24 h) and deletes it at stop."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from das_guard.policy import PolicyError, parse_policy
from localaws import World
from localaws.scenario import DEMO_POLICY
from localaws.world import Deployment


def policy(regulated: dict[str, Any] | None = None, trial: dict[str, Any] | None = None) -> dict[str, Any]:
    """The demo policy with `records` on the regulated (enforce) and analytics (report-only) rules."""
    document = copy.deepcopy(DEMO_POLICY)
    if regulated is not None:
        document["rules"][1]["records"] = regulated
    if trial is not None:
        document["rules"][2]["records"] = trial
    return document


def kinesis(deployment: Deployment, cluster: str) -> dict[str, Any]:
    name = deployment.stream(cluster)["KinesisStreamName"]
    summary = deployment.aws.client("kinesis").describe_stream_summary(StreamName=name)
    return dict(summary["StreamDescriptionSummary"])


def evaluated(deployment: Deployment, cluster: str) -> dict[str, Any]:
    """The cluster's decision in a fresh sweep."""
    deployment.sweep()
    return [d for d in deployment.decisions() if d.get("cluster_id") == cluster][-1]


def running(world: World, records: dict[str, Any]) -> Deployment:
    """`orders-pg` (regulated: enforce) audited, `records` on the regulated and the report-only rule."""
    deployment = world.deploy(policy=policy(regulated=records, trial=records))
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.sweep()
    world.advance(minutes=10)
    assert deployment.stream("orders-pg")["Status"] == "started"
    return deployment


def test_the_local_rds_creates_the_kinesis_stream_at_start_and_deletes_it_at_stop(world: World) -> None:
    deployment = world.deploy()
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.sweep()
    world.advance(minutes=10)
    name = deployment.stream("orders-pg")["KinesisStreamName"]
    assert name == f"aws-rds-das-{deployment.resource_id('orders-pg')}"
    assert kinesis(deployment, "orders-pg")["RetentionPeriodHours"] == 24
    deployment.stop_stream("orders-pg")
    world.advance(minutes=1)
    assert name not in deployment.aws.client("kinesis").list_streams()["StreamNames"]


def test_without_records_in_the_policy_nothing_is_asked_of_kinesis(world: World) -> None:
    deployment = world.deploy()
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.sweep()
    world.advance(minutes=10)
    assert evaluated(deployment, "orders-pg")["reason"] == "StreamActive"
    assert deployment.api.total("kinesis") == 0


def test_an_enforce_rule_raises_the_retention_once_and_the_stream_passes(world: World) -> None:
    deployment = running(world, {"retention_hours": 168})
    decision = evaluated(deployment, "orders-pg")
    assert (decision["reason"], decision["compliance"]) == ("StreamActive", "pass")
    assert [w["code"] for w in decision["warnings"]] == ["RecordsRetentionRaised"]
    assert kinesis(deployment, "orders-pg")["RetentionPeriodHours"] == 168
    assert deployment.api.calls["kinesis:IncreaseStreamRetentionPeriod"] == 1
    evaluated(deployment, "orders-pg")
    assert deployment.api.calls["kinesis:IncreaseStreamRetentionPeriod"] == 1, "raised once, then only read"


def test_the_stream_started_event_checks_the_records_right_after_the_start(world: World) -> None:
    deployment = running(world, {"retention_hours": 72})
    deployment.cluster_event(
        "orders-pg", "RDS-EVENT-0179", "Database Activity Streams is started on your database cluster."
    )
    deployment.drain()
    assert deployment.last()["trigger"] == "RDS:RDS-EVENT-0179"
    assert kinesis(deployment, "orders-pg")["RetentionPeriodHours"] == 72


def test_a_report_only_rule_reports_a_short_retention_and_leaves_it(world: World) -> None:
    deployment = running(world, {"retention_hours": 72})
    deployment.add_cluster("trial-pg", tags={"team": "analytics"}, stream="started")
    deployment.sweep()  # orders-pg (enforce) has its retention raised now
    deployment.api.reset()
    decision = evaluated(deployment, "trial-pg")
    assert (decision["outcome"], decision["reason"], decision["compliance"]) == (
        "Violation",
        "RecordsRetentionShort",
        "fail",
    )
    assert "keeps records for 24 hours; the rule asks for 72 hours" in decision["detail"]
    assert kinesis(deployment, "trial-pg")["RetentionPeriodHours"] == 24
    assert deployment.api.calls["kinesis:IncreaseStreamRetentionPeriod"] == 0


class TestReaders:
    @pytest.fixture
    def deployment(self, world: World) -> Deployment:
        return running(world, {"reader": "any"})

    def stream_arn(self, deployment: Deployment) -> str:
        return str(kinesis(deployment, "orders-pg")["StreamARN"])

    def test_nothing_reading_the_records_fails_with_an_alert(self, deployment: Deployment) -> None:
        decision = evaluated(deployment, "orders-pg")
        assert (decision["reason"], decision["compliance"]) == ("RecordsUnread", "fail")
        assert any("RecordsUnread" in a["Message"] for a in deployment.alerts())

    def test_an_enhanced_fan_out_consumer_is_a_reader(self, deployment: Deployment) -> None:
        deployment.aws.client("kinesis").register_stream_consumer(
            StreamARN=self.stream_arn(deployment), ConsumerName="siem"
        )
        assert evaluated(deployment, "orders-pg")["reason"] == "StreamActive"

    def test_a_firehose_delivery_stream_is_a_reader(self, deployment: Deployment) -> None:
        deployment.aws.client("s3").create_bucket(Bucket="siem-archive")
        deployment.aws.client("firehose").create_delivery_stream(
            DeliveryStreamName="to-siem",
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={
                "KinesisStreamARN": self.stream_arn(deployment),
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            },
            ExtendedS3DestinationConfiguration={
                "BucketARN": "arn:aws:s3:::siem-archive",
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            },
        )
        assert evaluated(deployment, "orders-pg")["reason"] == "StreamActive"


def test_a_deleted_kinesis_stream_fails_the_stream_critically(world: World) -> None:
    deployment = running(world, {"retention_hours": 24})
    deployment.aws.client("kinesis").delete_stream(StreamName=deployment.stream("orders-pg")["KinesisStreamName"])
    decision = evaluated(deployment, "orders-pg")
    assert (decision["reason"], decision["severity"], decision["compliance"]) == (
        "RecordsStreamMissing",
        "CRITICAL",
        "fail",
    )


def test_a_second_encryption_on_the_kinesis_stream_fails_it(world: World) -> None:
    deployment = running(world, {"retention_hours": 24})
    key = deployment.aws.client("kms").create_key()["KeyMetadata"]["KeyId"]
    deployment.aws.client("kinesis").start_stream_encryption(
        StreamName=deployment.stream("orders-pg")["KinesisStreamName"], EncryptionType="KMS", KeyId=key
    )
    assert evaluated(deployment, "orders-pg")["reason"] == "RecordsStreamEncrypted"


def test_a_stream_das_guard_cannot_describe_is_not_vouched_for(world: World) -> None:
    deployment = running(world, {"retention_hours": 24})
    deployment.fail("DescribeStreamSummary", "AccessDeniedException")
    deployment.configure()  # (fail() hooks the next container's clients)
    deployment.fail("DescribeStreamSummary", "AccessDeniedException")
    decision = evaluated(deployment, "orders-pg")
    assert (decision["reason"], decision["compliance"]) == ("RecordsUnverifiable", "fail")
    assert "AccessDeniedException" in decision["detail"]


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ({"retention_hours": 12}, "greater than or equal to 24"),
        ({"retention_hours": 9000}, "less than or equal to 8760"),
        ({"reader": "siem"}, "'none', 'any' or 'archive'"),
        ({"keep": True}, "unknown field 'keep'"),
    ],
)
def test_the_policy_says_clearly_what_is_wrong_with_records(records: dict[str, Any], problem: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(json.dumps(policy(regulated=records)))
    assert problem in str(error.value)
    assert "records" in str(error.value)


def test_a_rules_records_replace_the_defaults(world: World) -> None:
    document = policy(regulated={"reader": "any"})
    document["defaults"]["records"] = {"retention_hours": 168}
    parsed = parse_policy(json.dumps(document))
    regulated = parsed.rule_for({"data-class": "pci"})
    default = parsed.rule_for({})
    assert (regulated.records.retention_hours, regulated.records.reader) == (24, "any")  # type: ignore[union-attr]
    assert (default.records.retention_hours, default.records.reader) == (168, "none")  # type: ignore[union-attr]
