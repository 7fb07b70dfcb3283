"""Kinesis and the services that read from it, as far as a started stream's records are concerned: does the stream
Aurora writes to exist, how long does it keep records, is it encrypted a second time, and who reads it. Also the one
write: raising the retention (IncreaseStreamRetentionPeriod; raising never loses records)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any

import boto3

from ..clock import Clock
from ..decision.records import KINESIS_PREFIX, archive_name
from ..gateway import AwsError
from ..model import KinesisFacts
from .calls import CLIENT_CONFIG, TtlCache, call, pages

FIREHOSE_CACHE_SECONDS = 300  # the delivery streams reading Kinesis change rarely; one listing serves a sweep


class KinesisRecords:
    def __init__(
        self,
        session: boto3.Session,
        clock: Clock,
        *,
        archive_bucket: str | None = None,
        archive_role: str | None = None,
    ) -> None:
        """`archive_bucket`/`archive_role`: the stack's records archive and the role Firehose uses for it (both, or
        no archive)."""
        self._session = session
        self._clock = clock
        self.archive = (archive_bucket, archive_role) if archive_bucket and archive_role else None
        self._firehose_sources = TtlCache(FIREHOSE_CACHE_SECONDS, clock)

    @cached_property
    def _kinesis(self) -> Any:
        return self._session.client("kinesis", config=CLIENT_CONFIG)

    @cached_property
    def _firehose(self) -> Any:
        return self._session.client("firehose", config=CLIENT_CONFIG)

    @cached_property
    def _lambda(self) -> Any:
        return self._session.client("lambda", config=CLIENT_CONFIG)

    @cached_property
    def _cloudwatch(self) -> Any:
        return self._session.client("cloudwatch", config=CLIENT_CONFIG)

    def facts(self, stream_name: str, readers: bool = True) -> KinesisFacts:
        """What AWS says about the stream (and, if asked, who reads it); never raises (a failure is the facts'
        `error`)."""
        try:
            summary = call(
                "kinesis:DescribeStreamSummary", self._kinesis.describe_stream_summary, StreamName=stream_name
            ).get("StreamDescriptionSummary", {})
        except AwsError as err:
            if err.code == "ResourceNotFoundException":
                return KinesisFacts(stream_name, exists=False)
            return KinesisFacts(stream_name, error=f"{err.code}: {err.message}")
        arn = summary.get("StreamARN")
        retention = summary.get("RetentionPeriodHours")
        created = summary.get("StreamCreationTimestamp")
        behind: float | None = None
        freshness: float | None = None
        try:
            found = self._readers(str(arn)) if arn and readers else ()
            if readers:
                archive = archive_name(stream_name.removeprefix(KINESIS_PREFIX), _epoch(created))
                behind, read, freshness = self._reading(
                    stream_name, archive if f"firehose:{archive}" in found else None
                )
                if read and not found:  # a plain GetRecords caller (a KCL application, a SIEM's poller)
                    found = (f"getrecords:{int(read)} records in the last hour",)
        except AwsError as err:
            return KinesisFacts(stream_name, error=f"its readers could not be listed: {err}")
        return KinesisFacts(
            stream_name,
            retention_hours=retention if isinstance(retention, int) else None,
            encryption=summary.get("EncryptionType") if isinstance(summary.get("EncryptionType"), str) else None,
            readers=found,
            arn=str(arn) if arn else None,
            created=_epoch(created),
            behind_ms=behind,
            archive_freshness_s=freshness,
        )

    def raise_retention(self, stream_name: str, hours: int) -> None:
        call(
            "kinesis:IncreaseStreamRetentionPeriod",
            self._kinesis.increase_stream_retention_period,
            StreamName=stream_name,
            RetentionPeriodHours=hours,
        )

    def _reading(self, stream_name: str, archive: str | None) -> tuple[float | None, float, float | None]:
        """(how far behind the slowest reader is, in ms; records read; how old the oldest record DAS Guard's archive
        has not delivered yet is, in s) over the last hour, from CloudWatch in one call: the stream's
        GetRecords.IteratorAgeMilliseconds maximum and GetRecords.Records sum, and the archive's
        DeliveryToS3.DataFreshness maximum. None: nothing reported."""
        now = self._clock.now()
        stream = [{"Name": "StreamName", "Value": stream_name}]

        def query(
            id_: str, metric: str, stat: str, namespace: str = "AWS/Kinesis", dims: Any = stream
        ) -> dict[str, Any]:
            return {
                "Id": id_,
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                    "Period": 300,
                    "Stat": stat,
                },
            }

        queries = [
            query("age", "GetRecords.IteratorAgeMilliseconds", "Maximum"),
            query("read", "GetRecords.Records", "Sum"),
        ]
        if archive is not None:
            delivery = [{"Name": "DeliveryStreamName", "Value": archive}]
            queries.append(query("fresh", "DeliveryToS3.DataFreshness", "Maximum", "AWS/Firehose", delivery))

        answer = call(
            "cloudwatch:GetMetricData",
            self._cloudwatch.get_metric_data,
            MetricDataQueries=queries,
            StartTime=now - timedelta(hours=1),
            EndTime=now,
        )
        values = {
            r.get("Id"): [v for v in r.get("Values", []) if isinstance(v, int | float)]
            for r in answer.get("MetricDataResults", [])
        }
        ages, read, fresh = values.get("age") or [], values.get("read") or [], values.get("fresh") or []
        return (max(ages) if ages else None), float(sum(read)), (max(fresh) if fresh else None)

    def create_archive(self, name: str, stream_arn: str, resource_id: str) -> None:
        """A Firehose delivery stream reading the Kinesis stream into the archive bucket, records as RDS wrote them
        (one per line, under <resource id>/), so the archive needs no decrypt rights. Raises AwsError (the quota
        of delivery streams per region: LimitExceededException)."""
        if self.archive is None:
            raise AwsError(
                "firehose:CreateDeliveryStream", "NoArchive", "the stack has no records archive", transient=False
            )
        bucket, role = self.archive
        call(
            "firehose:CreateDeliveryStream",
            self._firehose.create_delivery_stream,
            DeliveryStreamName=name,
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
            ExtendedS3DestinationConfiguration={
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "RoleARN": role,
                "Prefix": f"{resource_id}/{name}/!{{timestamp:yyyy/MM/dd}}/",
                "ErrorOutputPrefix": f"errors/{resource_id}/!{{firehose:error-output-type}}/",
                "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 64},
                "CompressionFormat": "UNCOMPRESSED",  # the records are compressed and encrypted already
                "ProcessingConfiguration": {
                    "Enabled": True,
                    "Processors": [{"Type": "AppendDelimiterToRecord", "Parameters": []}],  # one record per line
                },
            },
            Tags=[{"Key": "das-guard:cluster-resource-id", "Value": resource_id}],
        )
        self.forget_delivery_streams()

    def _readers(self, stream_arn: str) -> tuple[str, ...]:
        consumers = [
            f"consumer:{c.get('ConsumerName')}"
            for page in pages(self._kinesis, "kinesis:ListStreamConsumers", "Consumers", StreamARN=stream_arn)
            for c in page
            if c.get("ConsumerStatus", "ACTIVE") == "ACTIVE"
        ]
        mappings = [
            f"lambda:{m.get('UUID')}"
            for page in pages(
                self._lambda, "lambda:ListEventSourceMappings", "EventSourceMappings", EventSourceArn=stream_arn
            )
            for m in page
            if m.get("State") in ("Enabled", "Enabling", "Updating", None)
        ]
        firehoses = [f"firehose:{name}" for name in self._delivery_streams_by_source().get(stream_arn, [])]
        return (*consumers, *mappings, *firehoses)

    def _delivery_streams_by_source(self) -> dict[str, list[str]]:
        """Firehose delivery streams that read a Kinesis stream, by that stream's ARN (listed once per container
        and cached: a sweep asks for every started stream)."""
        return self._firehose_sources.get_or_load("all", self._list_delivery_streams)

    def forget_delivery_streams(self) -> None:
        """DAS Guard created one: the next look lists them again."""
        self._firehose_sources = TtlCache(FIREHOSE_CACHE_SECONDS, self._firehose_sources.clock)

    def _list_delivery_streams(self) -> dict[str, list[str]]:
        by_source: dict[str, list[str]] = {}
        names: list[str] = []
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"DeliveryStreamType": "KinesisStreamAsSource", "Limit": 100}
            if start:
                kwargs["ExclusiveStartDeliveryStreamName"] = start
            page = call("firehose:ListDeliveryStreams", self._firehose.list_delivery_streams, **kwargs)
            names += [str(n) for n in page.get("DeliveryStreamNames", [])]
            if not page.get("HasMoreDeliveryStreams") or not names:
                break
            start = names[-1]
        for name in names:
            description = call(
                "firehose:DescribeDeliveryStream", self._firehose.describe_delivery_stream, DeliveryStreamName=name
            ).get("DeliveryStreamDescription", {})
            if description.get("DeliveryStreamStatus") not in ("ACTIVE", "CREATING", None):
                continue
            source = (description.get("Source") or {}).get("KinesisStreamSourceDescription") or {}
            if source.get("KinesisStreamARN"):
                by_source.setdefault(str(source["KinesisStreamARN"]), []).append(name)
        return by_source


def _epoch(moment: Any) -> int | None:
    return int(moment.timestamp()) if hasattr(moment, "timestamp") else None
