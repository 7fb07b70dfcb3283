"""`das-guard records`: who ran what on a cluster, read back from its activity stream or DAS Guard's archive.

Aurora writes each Kinesis record as JSON with `databaseActivityEvents` (an AWS Encryption SDK message, base64) and
`key` (base64: a data key encrypted under the activity stream's KMS key). To read one (Aurora User Guide, "Monitoring
database activity streams"): KMS Decrypt of the key with the encryption context {"aws:rds:dbc-id":
<DbClusterResourceId>} gives a raw AES-256 key; the events are an Encryption SDK message for that key as a raw master
key (provider "BC", key "DataKey"); its plaintext is gzip-compressed JSON whose `databaseActivityEventList` holds the
events, heartbeats among them (dropped here).

AWS's published samples build the Encryption SDK client with its old defaults. Since version 2 the SDK refuses
messages without key commitment unless told `REQUIRE_ENCRYPT_ALLOW_DECRYPT` - which the activity records are - so
the samples fail with "Configuration conflict. Cannot decrypt due to CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
requiring only committed messages". This reader allows them, and only for decrypting.

Reading needs kinesis:DescribeStreamSummary/ListShards/GetShardIterator/GetRecords on the stream and kms:Decrypt on
its key (with that encryption context). Nothing is changed: the session stays read-only (Decrypt is a read).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import Connection, Endpoint, Local, Profile, Region, Usage, err, out, run

MAX_READS = 10_000  # GetRecords calls per shard, a bound on a runaway read


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    database: str | None = None
    command: str | None = None

    def keep(self, event: dict[str, Any]) -> bool:
        return (
            (self.user is None or event.get("dbUserName") == self.user)
            and (self.database is None or event.get("databaseName") == self.database)
            and (self.command is None or str(event.get("command", "")).upper() == self.command.upper())
        )


@dataclass
class Tally:
    records: int = 0  # Kinesis records read
    events: int = 0  # activity events written
    heartbeats: int = 0
    filtered: int = 0
    unreadable: int = 0  # records that could not be decrypted (each is said on stderr)


def records(
    cluster: Annotated[str, typer.Argument(help="The Aurora cluster's identifier.")],
    since: Annotated[
        str, typer.Option(help="From when: an ISO 8601 time (UTC if no offset) or an age such as 90m, 6h, 2d.")
    ] = "24h",
    until: Annotated[str | None, typer.Option(help="Until when (same forms as --since); default: now.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this database user (dbUserName).")] = None,
    database: Annotated[str | None, typer.Option(help="Only this database (databaseName).")] = None,
    command: Annotated[str | None, typer.Option(help="Only this command (SELECT, UPDATE, GRANT, ...).")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Write the JSON lines to this file.")] = None,
    source: Annotated[
        str, typer.Option(help="kinesis (the live stream, its retention) or archive (DAS Guard's records archive).")
    ] = "kinesis",
    archive_bucket: Annotated[
        str | None,
        typer.Option(envvar="DAS_GUARD_ARCHIVE_BUCKET", help="The records archive bucket (for --source archive)."),
    ] = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    local: Local = False,
) -> None:
    """Read a cluster's activity records from its Kinesis stream: decrypted, heartbeats dropped, one JSON per line."""

    def body() -> int:
        now = datetime.now(UTC)
        filters = Filters(_when(since, now), _when(until, now) if until else None, user, database, command)
        connection = Connection(region, profile, endpoint_url, local)
        with connection.target(first_region_only=True) as target:
            session = target.session(target.regions[0])
            tally = Tally()
            if source not in ("kinesis", "archive"):
                raise Usage(f"--source must be kinesis or archive (got {source!r})")
            if source == "archive" and not archive_bucket:
                raise Usage("--source archive needs the archive bucket (--archive-bucket or DAS_GUARD_ARCHIVE_BUCKET)")
            lines = read_cluster(session, cluster, filters, tally, archive_bucket if source == "archive" else None)
            if output is not None:
                with output.open("w", encoding="utf-8") as file:
                    for line in lines:
                        file.write(line + "\n")
            else:
                for line in lines:
                    out.print(line, markup=False, highlight=False, soft_wrap=True)
        where = "archived record(s)" if source == "archive" else "Kinesis record(s)"
        err.print(
            f"{tally.events} event(s) from {tally.records} {where} of {cluster} "
            f"({tally.heartbeats} heartbeat(s) dropped, {tally.filtered} filtered out"
            + (f", {tally.unreadable} unreadable" if tally.unreadable else "")
            + ")",
            markup=False,
            highlight=False,
        )
        return 1 if tally.unreadable else 0

    run(body)


def read_cluster(
    session: Any, cluster_id: str, filters: Filters, tally: Tally, archive_bucket: str | None = None
) -> Iterator[str]:
    """The cluster's activity events as JSON lines, from its Kinesis stream or (`archive_bucket`) the archive (a
    generator: nothing is held in memory but one batch)."""
    clusters = session.client("rds").describe_db_clusters(DBClusterIdentifier=cluster_id).get("DBClusters", [])
    if not clusters:
        raise Usage(f"no cluster {cluster_id!r}")
    cluster = clusters[0]
    stream, resource_id = cluster.get("ActivityStreamKinesisStreamName"), cluster.get("DbClusterResourceId")
    if not resource_id:
        raise Usage(f"{cluster_id} has no DbClusterResourceId")
    if archive_bucket is None and not stream:
        raise Usage(
            f"{cluster_id} has no activity stream (ActivityStreamStatus: {cluster.get('ActivityStreamStatus')}); "
            "its records, if any were kept, are in the archive (--source archive)"
        )
    kms = session.client("kms")
    raw = (
        _archived_records(session.client("s3"), archive_bucket, str(resource_id), filters)
        if archive_bucket is not None
        else _kinesis_records(session.client("kinesis"), str(stream), filters)
    )
    for data in raw:
        tally.records += 1
        try:
            events = decrypt(kms, data, str(resource_id))
        except (ValueError, KeyError, OSError, DecryptionFailed) as error:
            tally.unreadable += 1
            err.print(f"a record could not be read: {error}", markup=False, highlight=False)
            continue
        for event in events:
            if event.get("type") == "heartbeat":
                tally.heartbeats += 1
            elif not filters.keep(event):
                tally.filtered += 1
            else:
                tally.events += 1
                yield json.dumps(event, sort_keys=True, default=str)


class DecryptionFailed(Exception):
    """KMS or the Encryption SDK refused a record."""


def decrypt(kms: Any, data: bytes, resource_id: str) -> list[dict[str, Any]]:
    """One Kinesis record of an activity stream: its activity events (heartbeats included)."""
    import aws_encryption_sdk  # noqa: PLC0415 - loaded only by this command (cryptography is heavy)
    from aws_encryption_sdk.identifiers import CommitmentPolicy  # noqa: PLC0415
    from botocore.exceptions import ClientError  # noqa: PLC0415

    record = json.loads(data)
    if record.get("type") != "DatabaseActivityMonitoringRecords":
        raise ValueError(f"not an activity record (type {record.get('type')!r})")
    try:
        key = kms.decrypt(
            CiphertextBlob=base64.b64decode(record["key"]), EncryptionContext={"aws:rds:dbc-id": resource_id}
        )["Plaintext"]
    except ClientError as error:
        raise DecryptionFailed(f"KMS refused the record's data key: {error}") from error
    master_key = data_key_master(key)
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
    try:
        plaintext, _ = client.decrypt(
            source=base64.b64decode(record["databaseActivityEvents"]), key_provider=master_key
        )
    except aws_encryption_sdk.exceptions.AWSEncryptionSDKClientError as error:
        raise DecryptionFailed(f"the Encryption SDK refused the events: {error}") from error
    payload = json.loads(gzip.decompress(plaintext))
    events = payload.get("databaseActivityEventList", [])
    return [e for e in events if isinstance(e, dict)]


def data_key_master(plaintext_key: bytes) -> Any:
    """A record's decrypted data key as the Encryption SDK master key RDS sealed the events with (raw AES,
    provider "BC", key "DataKey")."""
    from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm  # noqa: PLC0415
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey  # noqa: PLC0415
    from aws_encryption_sdk.key_providers.raw import RawMasterKey  # noqa: PLC0415

    return RawMasterKey(
        provider_id="BC",
        key_id=b"DataKey",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=plaintext_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


def _kinesis_records(kinesis: Any, stream: str, filters: Filters) -> Iterator[bytes]:
    """Every record of every shard from `since` (AT_TIMESTAMP) to `until`, oldest first within a shard."""
    shards = []
    kwargs: dict[str, Any] = {"StreamName": stream}
    while True:
        page = kinesis.list_shards(**kwargs)
        shards += page.get("Shards", [])
        if not page.get("NextToken"):
            break
        kwargs = {"NextToken": page["NextToken"]}
    for shard in shards:
        start: dict[str, Any] = (
            {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": filters.since}
            if filters.since
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], **start).get("ShardIterator")
        for _ in range(MAX_READS):
            if not iterator:
                break
            batch = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            for record in batch.get("Records", []):
                arrived = record.get("ApproximateArrivalTimestamp")
                if filters.until and isinstance(arrived, datetime) and arrived > filters.until:
                    iterator = None
                    break
                yield record["Data"]
            else:
                if not batch.get("Records") and not batch.get("MillisBehindLatest"):
                    break  # caught up with the shard
                iterator = batch.get("NextShardIterator")


def _archived_records(s3: Any, bucket: str, resource_id: str, filters: Filters) -> Iterator[bytes]:
    """Every record the archive holds for the cluster (objects under <resource id>/, one record per line), oldest
    object first; `since`/`until` select objects by when Firehose wrote them (a few minutes after the records)."""
    objects = [
        item
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{resource_id}/")
        for item in page.get("Contents", [])
    ]
    for item in sorted(objects, key=lambda o: (o.get("LastModified") or datetime.min.replace(tzinfo=UTC), o["Key"])):
        written = item.get("LastModified")
        if isinstance(written, datetime) and (
            (filters.since and written < filters.since) or (filters.until and written > filters.until)
        ):
            continue
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        yield from (line for line in body.splitlines() if line.strip())


_AGE = re.compile(r"^(\d+)([mhd])$")


def _when(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (UTC without an offset) or an age before `now` (90m, 6h, 2d)."""
    if age := _AGE.match(text.strip()):
        amount, unit = int(age.group(1)), age.group(2)
        return now - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise Usage(f"{text!r} is neither an ISO 8601 time nor an age such as 90m, 6h or 2d") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
