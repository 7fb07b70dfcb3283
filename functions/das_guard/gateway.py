"""What DAS Guard's decision logic needs from AWS, and how an AWS failure reaches it.

The enforcer and the sweep are written against these small interfaces, one per concern; the `aws` package
(the only one that imports boto3) implements them, and a test can stand in for any one of them. `AwsError`
lives here, not in `aws`, because it is part of the contract: the logic decides what a throttled call or a
refused start *means* (retry later, report Failed, re-read the cluster) without knowing anything about botocore.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from .model import (
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


class AwsError(Exception):
    """An AWS call failed. `transient` means the same call may succeed later."""

    def __init__(
        self, operation: str, code: str, message: str, *, transient: bool, details: dict[str, Any] | None = None
    ) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        self.transient = transient
        self.details = details or {}  # the error's other fields, e.g. a cancelled transaction's CancellationReasons
        super().__init__(f"{operation} failed: {code}: {message}")


class Clusters(Protocol):
    """RDS as the enforcer sees it: the live cluster (by name or by one of its instances or blue/green
    deployments), what AWS supports for it, and the start."""

    def describe_cluster(self, cluster_id: str, *, instances: bool = True) -> ClusterInfo | None: ...
    def name_of(self, resource_id: str) -> str | None: ...
    def snapshot_source(self, snapshot: str) -> str | None: ...
    def instance_cluster(self, instance_id: str) -> tuple[bool, str | None]: ...
    def blue_green_clusters(self, deployment_id: str) -> tuple[list[str], bool] | None: ...
    def babelfish_enabled(self, parameter_group: str) -> bool | None: ...
    def activity_stream_modes(self, engine: str, version: str, instance_class: str) -> tuple[str, ...] | None: ...
    def start_activity_stream(self, request: StartRequest) -> dict[str, Any]: ...
    def has_kms_endpoint(self, vpc_id: str) -> bool | None: ...


class RegionClusters(Clusters, Protocol):
    """What the sweep reads besides: the whole region in bulk reads."""

    def region_clusters(self, *, every_instance: bool = False) -> Iterator[ClusterInfo | MalformedCluster]: ...
    def uncovered_regions(self, enforcer_function: str) -> list[tuple[str, int]]: ...


class Keys(Protocol):
    def describe_key(self, reference: str) -> KeyLookup: ...


class Records(Protocol):
    """Where a started stream's records go (Kinesis) and who reads them."""

    def facts(self, stream_name: str, readers: bool = True) -> KinesisFacts: ...
    def raise_retention(self, stream_name: str, hours: int) -> None: ...
    def create_archive(self, name: str, stream_arn: str, resource_id: str) -> None: ...

    @property
    def archive(self) -> tuple[str, str] | None: ...


class StreamState(Protocol):
    """DAS Guard's memory of one cluster: a break-glass hold, and what it last knew of the stream."""

    def place_hold(self, hold: Hold) -> None: ...
    def mark_stream(
        self, resource_id: str, cluster_arn: str, state: str, now: datetime, protection: Protection | None = None
    ) -> None: ...
    def stream_record(self, resource_id: str) -> StreamRecord | None: ...
    def cluster_state(self, resource_id: str, now: datetime) -> tuple[Hold | None, StreamRecord | None]: ...
    def claim_start(self, mark: StreamMark, now: datetime) -> tuple[Hold | None, StreamRecord | None] | None: ...
    def release_start(self, mark: StreamMark) -> None: ...


class SweepState(StreamState, Protocol):
    """The same memory for the whole region: one scan, records written in batches."""

    def sweep_state(self, now: datetime) -> tuple[dict[str, Hold], dict[str, StreamRecord]]: ...
    def mark_streams(self, marks: Sequence[StreamMark]) -> None: ...
