"""In-memory stand-ins for the gateway protocols (`das_guard/gateway.py`), for the middle floor of tests.

The pipeline, enforcer, stop responder, sweeper and reporter are written against small protocols; here each has a
plain-Python implementation that keeps AWS's rules that matter to DAS Guard (a conditional write that finds an item
writes nothing; a hold past its end is not active; a refused call is an `AwsError` with AWS's code) and counts its
calls. moto stays for the AWS-facing edges (`aws/`) and the end-to-end scenarios; these tests prove behaviour in
milliseconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from das_guard.gateway import AwsError
from das_guard.model import (
    ClusterInfo,
    Hold,
    KeyLookup,
    KinesisFacts,
    MalformedCluster,
    Protection,
    StartRequest,
    StreamMark,
    StreamRecord,
)

from ..unit.factories import KEY_ARN, cluster, lookup

__all__ = ["KEY_ARN", "Fleet", "KeyRing", "Memory", "SteppingClock", "cluster"]


@dataclass
class SteppingClock:
    """The one clock, moved by the test."""

    at: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@dataclass
class Fleet:
    """RDS: the region's clusters by identifier. A start sets the stream `starting` with the request's mode and key,
    as RDS answers; `refuse_start` makes the next starts fail as RDS would (the code, and whether it is transient)."""

    clusters: dict[str, ClusterInfo] = field(default_factory=dict)
    starts: list[StartRequest] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    refusals: list[AwsError] = field(default_factory=list)

    def add(self, *clusters: ClusterInfo) -> None:
        for c in clusters:
            self.clusters[c.identifier] = c

    def refuse_start(self, code: str, *, transient: bool = False) -> None:
        self.refusals.append(AwsError("rds:StartActivityStream", code, f"stand-in {code}", transient=transient))

    def describe_cluster(self, cluster_id: str, *, instances: bool = True) -> ClusterInfo | None:
        self.calls["rds:DescribeDBClusters"] += 1
        return self.clusters.get(cluster_id)

    def name_of(self, resource_id: str) -> str | None:
        return next((c.identifier for c in self.clusters.values() if c.resource_id == resource_id), None)

    def snapshot_source(self, snapshot: str) -> str | None:
        return None

    def instance_cluster(self, instance_id: str) -> tuple[bool, str | None]:
        owner = next((c.identifier for c in self.clusters.values() if instance_id in c.member_ids), None)
        return owner is not None, owner

    def blue_green_clusters(self, deployment_id: str) -> tuple[list[str], bool] | None:
        return None

    def babelfish_enabled(self, parameter_group: str) -> bool | None:
        return False

    def activity_stream_modes(self, engine: str, version: str, instance_class: str) -> tuple[str, ...] | None:
        return ("async", "sync")

    def has_kms_endpoint(self, vpc_id: str) -> bool | None:
        return True

    def start_activity_stream(self, request: StartRequest) -> dict[str, Any]:
        self.calls["rds:StartActivityStream"] += 1
        if self.refusals:
            raise self.refusals.pop(0)
        self.starts.append(request)
        [started] = [c for c in self.clusters.values() if c.arn == request.cluster_arn]
        name = f"aws-rds-das-{started.resource_id}"
        self.clusters[started.identifier] = replace(
            started,
            stream_status="starting",
            stream_mode=request.mode,
            stream_kms_key_id=request.kms_key_id,
            stream_kinesis_name=name,
        )
        return {"KinesisStreamName": name, "Status": "starting", "Mode": request.mode}

    def region_clusters(self, *, every_instance: bool = False) -> Iterator[ClusterInfo | MalformedCluster]:
        self.calls["rds:DescribeDBClusters"] += 1
        yield from list(self.clusters.values())

    def uncovered_regions(self, enforcer_function: str) -> list[tuple[str, int]]:
        return []

    def stop(self, cluster_id: str) -> None:
        """Someone stopped the stream (the stand-in of RDS's state after StopActivityStream)."""
        c = self.clusters[cluster_id]
        self.clusters[cluster_id] = replace(c, stream_status="stopped", stream_mode=None, stream_kms_key_id=None)


class KeyRing:
    """KMS: every reference resolves to the one healthy customer managed key, except those told to be missing."""

    def __init__(self, *missing: str) -> None:
        self.missing = set(missing)

    def describe_key(self, reference: str) -> KeyLookup:
        if reference in self.missing:
            return KeyLookup(reference, None, "NotFoundException", f"{reference} is not found.")
        return lookup(reference)


@dataclass
class Memory:
    """The state table: holds and stream records by DbClusterResourceId. `claim_start` is one conditional write, as
    DynamoDB's transaction is: it writes only where neither item exists, and otherwise answers with both."""

    holds: dict[str, Hold] = field(default_factory=dict)
    records: dict[str, StreamRecord] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    refuse_release: bool = False

    def place_hold(self, hold: Hold) -> None:
        self.calls["PutItem"] += 1
        self.holds[hold.resource_id] = hold

    def mark_stream(
        self, resource_id: str, cluster_arn: str, state: str, now: datetime, protection: Protection | None = None
    ) -> None:
        self.calls["PutItem"] += 1
        self.records[resource_id] = StreamRecord(state, protection, now)

    def mark_streams(self, marks: Sequence[StreamMark]) -> None:
        self.calls["BatchWriteItem"] += (len(marks) + 24) // 25
        for mark in marks:
            self.records[mark.resource_id] = StreamRecord(mark.state, mark.protection, mark.at)

    def stream_record(self, resource_id: str) -> StreamRecord | None:
        self.calls["GetItem"] += 1
        return self.records.get(resource_id)

    def _active_hold(self, resource_id: str, now: datetime) -> Hold | None:
        hold = self.holds.get(resource_id)
        return hold if hold and (hold.problem or hold.until > now) else None

    def cluster_state(self, resource_id: str, now: datetime) -> tuple[Hold | None, StreamRecord | None]:
        self.calls["BatchGetItem"] += 1
        return self._active_hold(resource_id, now), self.records.get(resource_id)

    def claim_start(self, mark: StreamMark, now: datetime) -> tuple[Hold | None, StreamRecord | None] | None:
        self.calls["TransactWriteItems"] += 1
        if mark.resource_id in self.holds or mark.resource_id in self.records:
            return self._active_hold(mark.resource_id, now), self.records.get(mark.resource_id)
        self.records[mark.resource_id] = StreamRecord(mark.state, mark.protection, mark.at)
        return None

    def release_start(self, mark: StreamMark) -> None:
        self.calls["DeleteItem"] += 1
        if self.refuse_release:
            raise AwsError("dynamodb:DeleteItem", "ThrottlingException", "stand-in throttle", transient=True)
        record = self.records.get(mark.resource_id)
        if record is not None and (record.state, record.at) == (mark.state, mark.at):
            del self.records[mark.resource_id]

    def sweep_state(self, now: datetime) -> tuple[dict[str, Hold], dict[str, StreamRecord]]:
        self.calls["Scan"] += 1
        active = {rid: h for rid in self.holds if (h := self._active_hold(rid, now)) is not None}
        return active, dict(self.records)


class NoRecords:
    """Kinesis where every started stream keeps its records as long as a rule asks and nobody else reads them."""

    archive: tuple[str, str] | None = None

    def facts(self, stream_name: str, readers: bool = True) -> KinesisFacts:
        return KinesisFacts(stream_name, retention_hours=24, encryption="KMS")

    def raise_retention(self, stream_name: str, hours: int) -> None: ...

    def create_archive(self, name: str, stream_arn: str, resource_id: str) -> None: ...
