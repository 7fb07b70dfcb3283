"""Simulation controls: what time or RDS does outside any API call (streams settling, queues' delays running out,
maintenance windows), and clusters moto cannot create (DocumentDB) or name (blue/green)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from moto.rds.models import DBCluster, RDSBackend, rds_backends
from moto.sqs.models import sqs_backends

from .clock import now as _now
from .streams import DEFAULT_ACCOUNT_ID, STREAM_PREFIX, _stream, kinesis_follows


# --- simulation controls ---------------------------------------------------------------------------------
def settle_activity_streams() -> int:
    """Let time pass: every `starting` stream becomes `started`, every `stopping` one `stopped`, and a start pending
    for the maintenance window begins (`starting`) once that window has passed by the clock (`use_clock`)."""
    changed = 0
    for cluster in _all_clusters():
        stream = _stream(cluster)
        pending = stream.get("pending_since")
        if stream["status"] in ("starting", "stopping"):
            stream["status"] = {"starting": "started", "stopping": "stopped"}[stream["status"]]
            kinesis_follows(cluster)
            changed += 1
        elif pending is not None and _now() >= (window := next_window(cluster.preferred_maintenance_window, pending)):
            # started in the window; minutes later it is running, like any other start
            stream.update(
                status="started" if _now() >= window + timedelta(minutes=1) else "starting", pending_since=None
            )
            kinesis_follows(cluster)
            changed += 1
    return changed


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_window(window: str, after: datetime) -> datetime:
    """The start of the first maintenance window ("wed:02:40-wed:03:10", UTC) after `after` (naive UTC)."""
    day, hour, minute = window.split("-", 1)[0].split(":")
    start = after.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
    start += timedelta(days=(_DAYS.index(day.lower()) - after.weekday()) % 7)
    return start if start > after else start + timedelta(days=7)


def let_time_pass_in_queues(seconds: float) -> int:
    """Let `seconds` pass for SQS: delayed messages (DelaySeconds) and invisible ones (visibility timeout) become
    due that much sooner. moto keeps both as wall-clock instants; the local world's clock moves instead, so
    its queues are told. Returns how many delayed messages became deliverable."""
    shift_ms = seconds * 1000
    now_ms = time.time() * 1000
    due = 0
    for account_backends in sqs_backends.values():
        for backend in account_backends.values():
            for queue in backend.queues.values():
                for message in queue._messages:
                    was_delayed = message.delayed_until > now_ms
                    message.delayed_until -= shift_ms
                    message.visible_at -= shift_ms
                    due += was_delayed and message.delayed_until <= now_ms
    return due


def queued_messages(queue_url: str, *, region: str, account: str) -> list[dict[str, Any]]:
    """Every message on a queue, delayed or in flight included, with the seconds until it is due (0: now) and the
    invocations of its chain so far (`lineage`: the count in Lambda's trace header; 0 when not sent by a function)."""
    from ..runtime import lineage  # noqa: PLC0415

    queue = sqs_backends[account][region].queues[queue_url.rstrip("/").rsplit("/", 1)[-1]]
    now_ms = time.time() * 1000
    return [
        {
            "body": json.loads(m.body),
            "delay": max(0, round((m.delayed_until - now_ms) / 1000)),
            "lineage": lineage({"Attributes": m.system_attributes or {}}),
        }
        for m in queue._messages
    ]


def set_activity_stream(
    cluster_id: str,
    status: str,
    mode: str = "async",
    kms_key_id: str | None = None,
    *,
    region: str = "us-east-1",
    account: str = DEFAULT_ACCOUNT_ID,
) -> None:
    """Seed a cluster whose stream was started earlier (by someone else)."""
    cluster = rds_backends[account][region].clusters[cluster_id]
    _stream(cluster).update(
        status=status, mode=mode, kms_key_id=kms_key_id, stream_name=STREAM_PREFIX + cluster.db_cluster_resource_id
    )
    kinesis_follows(cluster)


def drop_pending_start(cluster_id: str, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT_ID) -> None:
    """A start requested for the maintenance window never happens (what RDS shows in between is undocumented; a
    modification or a moved window can leave a cluster without the stream it was promised)."""
    cluster = rds_backends[account][region].clusters[cluster_id]
    _stream(cluster).update(pending_since=None)


def hold_cluster_status(
    cluster_id: str, status: str | None, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT_ID
) -> None:
    """Keep a cluster in `status` (e.g. `creating`) until released with `status=None`."""
    cluster = rds_backends[account][region].clusters[cluster_id]
    if status is None:
        cluster.__dict__.pop("_das_held_status", None)
        cluster.status = "available"
    else:
        cluster.__dict__["_das_held_status"] = status


def pin_blue_green(deployment_id: str, pinned_id: str, green_name: str, *, region: str, account: str) -> None:
    """Give a blue/green deployment (and its green cluster) the fixed names a sample event uses; moto draws both at
    random. A simulation control for the demo and the tests, like `hold_cluster_status`."""
    backend: RDSBackend = rds_backends[account][region]
    deployment = backend.blue_green_deployments.pop(deployment_id)
    deployment.blue_green_deployment_identifier = pinned_id
    backend.blue_green_deployments[pinned_id] = deployment
    green = next(c for c in backend.clusters.values() if c.db_cluster_arn == deployment.target)
    backend.modify_db_cluster(
        {"db_cluster_identifier": green.db_cluster_identifier, "new_db_cluster_identifier": green_name}
    )
    deployment.target = green.db_cluster_arn
    deployment.set_status(deployment.SupportedStates.AVAILABLE)


def add_foreign_cluster(
    cluster_id: str,
    engine: str,
    engine_version: str,
    *,
    region: str = "us-east-1",
    account: str = DEFAULT_ACCOUNT_ID,
    tags: list[dict[str, str]] | None = None,
) -> str:
    """A cluster of an engine moto cannot create (e.g. `docdb`) as RDS's DescribeDBClusters lists it."""
    backend = rds_backends[account][region]
    cluster = DBCluster(backend, db_cluster_identifier=cluster_id, engine="neptune", tags=tags or [])
    cluster.engine = engine
    cluster.engine_version = engine_version
    backend.clusters[cluster.db_cluster_identifier] = cluster
    return str(cluster.arn)


def _all_clusters() -> list[DBCluster]:
    clusters: list[DBCluster] = []
    for account_backends in rds_backends.values():
        for backend in account_backends.values():
            clusters.extend(backend.clusters.values())
    return clusters


# --- Amazon Data Firehose reading a Kinesis stream into S3 ------------------------------------------------------
def deliver_archives(session_for: Any) -> int:
    """What Firehose does on its own (moto stores delivery streams but delivers nothing from a Kinesis source): every
    delivery stream of type KinesisStreamAsSource with an S3 destination reads, from where it started (LATEST: the
    records that arrived after it was created), the records its Kinesis stream got since its last delivery and
    writes them as one object under its `Prefix` (`!{timestamp:yyyy/MM/dd}` expanded by the world's clock), each
    record followed by a newline where the AppendDelimiterToRecord processor is on, as the Firehose developer guide
    describes; S3 applies the bucket's default Object Lock. A delivery stream whose Kinesis
    stream is gone, or was re-created since, delivers nothing (Firehose reports it in its error logs).
    `session_for(account, region)` is a boto3 session there. Returns the number of objects written."""
    from base64 import b64decode  # noqa: PLC0415

    from moto.firehose.models import firehose_backends  # noqa: PLC0415
    from moto.kinesis.models import kinesis_backends  # noqa: PLC0415

    written = 0
    for account, regions in firehose_backends.items():
        for region, backend in regions.items():
            for stream in list(backend.delivery_streams.values()):
                source = (stream.source or {}).get("KinesisStreamARN")
                destination = stream.destinations[0].get("ExtendedS3") or stream.destinations[0].get("S3")
                if not source or not destination:
                    continue
                kinesis = kinesis_backends[account][region].streams.get(str(source).rsplit("/", 1)[1])
                # bound to the Kinesis stream that existed when it first read: Aurora re-creates the stream under the
                # same name at every start, and what a delivery stream does then is undocumented - this model
                # delivers nothing from the new one (DAS Guard creates a delivery stream per incarnation)
                if kinesis is None or stream.__dict__.setdefault("_das_source", kinesis) is not kinesis:
                    continue
                delivered: dict[str, int] = stream.__dict__.setdefault("_das_delivered", {})
                data: list[bytes] = []
                for shard_id, shard in kinesis.shards.items():
                    for sequence, record in shard.records.items():
                        # Firehose starts reading a Kinesis source at LATEST: what arrived before it existed is not
                        # delivered (it stays only as long as the Kinesis retention)
                        if record.created_at_datetime < stream.create_timestamp:
                            continue
                        if int(sequence) > delivered.get(shard_id, -1):
                            data.append(b64decode(record.data))
                            delivered[shard_id] = int(sequence)
                if not data:
                    continue
                lines = any(
                    p.get("Type") == "AppendDelimiterToRecord"
                    for p in (destination.get("ProcessingConfiguration") or {}).get("Processors", [])
                )
                body = b"".join(d + b"\n" for d in data) if lines else b"".join(data)
                at = _now()
                day = at.strftime("%Y/%m/%d")
                prefix = str(destination.get("Prefix", "")).replace("!{timestamp:yyyy/MM/dd}", day)
                key = f"{prefix}{stream.delivery_stream_name}-1-{at.strftime('%Y-%m-%d-%H-%M-%S')}-{written:04d}"
                bucket = str(destination["BucketARN"]).rsplit(":", 1)[1]
                session_for(account, region).client("s3").put_object(Bucket=bucket, Key=key, Body=body)
                written += 1
    return written


def kinesis_reading(
    stream_name: str, *, behind_ms: float, records: int, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT_ID
) -> None:
    """What Kinesis publishes about a stream's readers (AWS/Kinesis GetRecords.IteratorAgeMilliseconds and
    GetRecords.Records, by StreamName): a reader that reads, `behind_ms` behind the tip. moto has no Kinesis metrics
    of its own."""
    dimensions = [{"Name": "StreamName", "Value": stream_name}]
    _publish(
        "AWS/Kinesis",
        [
            ("GetRecords.IteratorAgeMilliseconds", dimensions, behind_ms, "Milliseconds"),
            ("GetRecords.Records", dimensions, float(records), "Count"),
        ],
        region,
        account,
    )


def archive_freshness(
    delivery_stream: str, seconds: float, *, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT_ID
) -> None:
    """What Firehose publishes about a delivery stream (AWS/Firehose DeliveryToS3.DataFreshness: the age of the
    oldest record not yet delivered to S3); `seconds` far beyond the buffer interval means deliveries fail. moto has
    no Firehose metrics of its own."""
    dimensions = [{"Name": "DeliveryStreamName", "Value": delivery_stream}]
    _publish("AWS/Firehose", [("DeliveryToS3.DataFreshness", dimensions, float(seconds), "Seconds")], region, account)


def _publish(namespace: str, metrics: list[tuple[str, Any, float, str]], region: str, account: str) -> None:
    """AWS's own metrics, as the service publishes them: each minute's data after that minute (a minute ago by the
    world's clock), straight into moto's CloudWatch (PutMetricData refuses AWS/ namespaces to callers)."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415

    minute_ago = _now() - timedelta(minutes=1)
    cloudwatch_backends[account][region].put_metric_data(
        namespace,
        [
            {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit, "Timestamp": minute_ago}
            for name, dimensions, value, unit in metrics
        ],
    )
