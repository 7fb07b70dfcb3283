"""A started stream passes only if its records are kept (issue 25): the Kinesis stream Aurora writes them to exists,
keeps them as long as the rule's `records.retention_hours`, is not encrypted a second time, and - where the rule says
so - something reads it. Driven through the real handler and sweep on the local world, whose RDS creates the
Kinesis stream at start (24 h) and deletes it at stop."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from das_guard.policy import PolicyError, parse_policy
from localaws import World, das_extension
from localaws.activity import Statement
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


class TestArchive:
    """reader: archive - DAS Guard keeps the records itself: a Firehose delivery stream per Kinesis stream into the
    stack's Object Lock bucket, records as RDS wrote them."""

    @pytest.fixture
    def deployment(self, world: World) -> Deployment:
        return running(world, {"reader": "archive"})

    def archives(self, deployment: Deployment) -> list[str]:
        names = deployment.aws.client("firehose").list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")
        return [str(n) for n in names["DeliveryStreamNames"]]

    def test_an_enforce_rule_creates_the_archive_once_and_passes(self, deployment: Deployment) -> None:
        decision = evaluated(deployment, "orders-pg")
        assert (decision["reason"], decision["compliance"]) == ("StreamActive", "pass")
        assert [w["code"] for w in decision["warnings"]] == ["RecordsArchiveCreated"]
        [archive] = self.archives(deployment)
        assert archive.startswith(f"das-guard-archive-{deployment.resource_id('orders-pg').lower()}-")
        assert len(archive) <= 64
        assert "warnings" not in evaluated(deployment, "orders-pg"), "created once, then found"
        assert self.archives(deployment) == [archive]

    def test_the_records_reach_the_locked_bucket_as_rds_wrote_them(self, deployment: Deployment, world: World) -> None:
        evaluated(deployment, "orders-pg")
        deployment.database_activity("orders-pg", Statement("bob", "orders", "SELECT", "select 1"))
        world.advance(minutes=5)  # the delivery stream's buffer interval
        s3, bucket = deployment.aws.client("s3"), deployment.stack.archive_bucket
        resource_id = deployment.resource_id("orders-pg")
        [item] = s3.list_objects_v2(Bucket=bucket, Prefix=f"{resource_id}/")["Contents"]
        body = s3.get_object(Bucket=bucket, Key=item["Key"])
        [line] = body["Body"].read().splitlines()
        assert json.loads(line)["type"] == "DatabaseActivityMonitoringRecords", "still encrypted: no decrypt rights"
        assert body["ObjectLockMode"] == "COMPLIANCE"
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=body["VersionId"])
        assert refused.value.response["Error"]["Code"] == "AccessDenied", "nobody deletes an archived record"

    def test_a_restarted_stream_gets_an_archive_of_its_own(self, deployment: Deployment, world: World) -> None:
        evaluated(deployment, "orders-pg")
        deployment.stop_stream("orders-pg")
        deployment.drain()
        world.advance(minutes=20)  # the stop's grace for an upgrade, then the restart: a new Kinesis stream
        deployment.drain()
        world.advance(minutes=10)
        assert deployment.stream("orders-pg")["Status"] == "started"
        evaluated(deployment, "orders-pg")
        assert len(self.archives(deployment)) == 2, "one per Kinesis stream Aurora created"

    def test_past_the_firehose_quota_the_cluster_fails_with_what_to_do(self, deployment: Deployment) -> None:
        deployment.fail("CreateDeliveryStream", "LimitExceededException")
        decision = evaluated(deployment, "orders-pg")
        assert (decision["reason"], decision["compliance"]) == ("RecordsNotArchived", "fail")
        assert "quota of Firehose delivery streams is reached" in decision["detail"]
        assert "Service Quotas" in decision["fix"]

    def test_a_report_only_rule_only_reports_a_missing_archive(self, deployment: Deployment) -> None:
        deployment.add_cluster("trial-pg", tags={"team": "analytics"}, stream="started")
        decision = evaluated(deployment, "trial-pg")
        assert (decision["reason"], decision["compliance"]) == ("RecordsNotArchived", "fail")
        assert not any(a.endswith(deployment.resource_id("trial-pg").lower()) for a in self.archives(deployment))


class TestReadersFromMetrics:
    """A reader that is not a registered consumer, mapping or Firehose stream (a KCL application, a SIEM polling
    GetRecords) shows in the stream's CloudWatch metrics; so does how far behind the slowest reader is."""

    @pytest.fixture
    def deployment(self, world: World) -> Deployment:
        return running(world, {"reader": "any"})

    def test_a_plain_getrecords_reader_counts(self, deployment: Deployment) -> None:
        stream = deployment.stream("orders-pg")["KinesisStreamName"]
        das_extension.kinesis_reading(stream, behind_ms=2_000, records=120)
        assert evaluated(deployment, "orders-pg")["reason"] == "StreamActive"

    def test_a_reader_twenty_hours_behind_on_a_day_of_retention_fails(self, deployment: Deployment) -> None:
        stream = deployment.stream("orders-pg")["KinesisStreamName"]
        das_extension.kinesis_reading(stream, behind_ms=20 * 3_600_000, records=120)
        decision = evaluated(deployment, "orders-pg")
        assert (decision["reason"], decision["compliance"]) == ("RecordsReaderBehind", "fail")
        assert "20.0 hours behind" in decision["detail"]
        assert "keeps records 24 hours" in decision["detail"]

    def test_an_hour_old_reading_is_not_todays(self, deployment: Deployment, world: World) -> None:
        stream = deployment.stream("orders-pg")["KinesisStreamName"]
        das_extension.kinesis_reading(stream, behind_ms=2_000, records=120)
        world.advance(hours=2)
        assert evaluated(deployment, "orders-pg")["reason"] == "RecordsUnread", "nobody read in the last hour"


def test_an_archive_that_stopped_delivering_fails_the_stream(world: World) -> None:
    deployment = running(world, {"reader": "archive"})
    evaluated(deployment, "orders-pg")  # DAS Guard creates the archive
    [archive] = deployment.aws.client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    das_extension.archive_freshness(archive, 240)  # within its 5-minute buffer: delivering
    assert evaluated(deployment, "orders-pg")["reason"] == "StreamActive"
    das_extension.archive_freshness(archive, 2 * 3600)
    decision = evaluated(deployment, "orders-pg")
    assert (decision["reason"], decision["compliance"]) == ("RecordsArchiveStale", "fail")
    assert "120 minutes old" in decision["detail"]
