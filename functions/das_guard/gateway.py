"""What DAS Guard's decision logic needs from AWS, and how an AWS failure reaches it.

The enforcer and the sweep are written against this contract; `aws.py` (the only module that imports boto3)
implements it. `AwsError` lives here, not in `aws.py`, because it is part of the contract: the logic decides
what a throttled call or a refused start *means* (retry later, report Failed, re-read the cluster) without
knowing anything about botocore.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from .findings import FindingRecord
from .model import ClusterInfo, Hold, KeyLookup, Protection, StartRequest, StreamMark, StreamRecord


class AwsError(Exception):
    """An AWS call failed. `transient` means the same call may succeed later."""

    def __init__(self, operation: str, code: str, message: str, *, transient: bool) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        self.transient = transient
        super().__init__(f"{operation} failed: {code}: {message}")


class Gateway(Protocol):
    """What the enforcer needs from AWS for one cluster."""

    def describe_cluster(self, cluster_id: str) -> ClusterInfo | None: ...
    def instance_cluster(self, instance_id: str) -> tuple[bool, str | None]: ...
    def blue_green_clusters(self, deployment_id: str) -> tuple[list[str], bool] | None: ...
    def babelfish_enabled(self, parameter_group: str) -> bool | None: ...
    def describe_key(self, reference: str) -> KeyLookup: ...
    def activity_stream_modes(self, engine: str, version: str, instance_class: str) -> tuple[str, ...] | None: ...
    def start_activity_stream(self, request: StartRequest) -> dict[str, Any]: ...
    def hold_for(self, resource_id: str, now: datetime) -> Hold | None: ...
    def place_hold(self, hold: Hold) -> None: ...
    def mark_stream(
        self, resource_id: str, cluster_arn: str, state: str, now: datetime, protection: Protection | None = None
    ) -> None: ...
    def stream_record(self, resource_id: str) -> StreamRecord | None: ...


class RegionGateway(Gateway, Protocol):
    """What the sweep needs besides: the whole region in bulk reads, and the queue for what it cannot finish."""

    def region_clusters(self) -> Iterator[ClusterInfo]: ...
    def sweep_state(self, now: datetime) -> tuple[dict[str, Hold], dict[str, StreamRecord]]: ...
    def mark_streams(self, marks: Sequence[StreamMark]) -> None: ...
    def hand_off(self, bodies: list[str]) -> None: ...
    def finding_records(self) -> list[FindingRecord]: ...
