"""Plain data the decision logic works on.

The RDS and KMS APIs return large, loosely typed dictionaries. They are reduced here, once, to small
frozen dataclasses so that policy matching and validation are pure functions over plain values and can be
tested without boto3 or moto. Nothing in this module performs I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """Every way an evaluation can end. Each value is also the CloudWatch metric name."""

    STARTED = "Started"
    ALREADY_ACTIVE = "AlreadyActive"
    DEFERRED = "Deferred"
    NOT_APPLICABLE = "NotApplicable"
    EXEMPT = "Exempt"
    WOULD_START = "WouldStart"
    VIOLATION = "Violation"
    FAILED = "Failed"
    IGNORED = "Ignored"
    TAMPERED = "Tampered"
    ANNOUNCED = "Announced"  # a change worth telling that is not a decision about one cluster (a policy edit)
    SCHEDULED = "Scheduled"  # the stream starts in the cluster's maintenance window (starting now would restart it)

    @property
    def needs_a_person(self) -> bool:
        """Outcomes that page someone: the cluster is not audited, or somebody switched its audit off."""
        return self in (Outcome.VIOLATION, Outcome.FAILED, Outcome.TAMPERED)


AURORA_ENGINES = frozenset({"aurora-mysql", "aurora-postgresql"})
ACTIVE_STREAM_STATES = frozenset({"starting", "started"})


@dataclass(frozen=True)
class Arn:
    """An RDS/KMS ARN split into the parts we route on."""

    partition: str
    service: str
    region: str
    account: str
    resource_type: str
    resource_id: str

    @classmethod
    def parse(cls, text: str) -> Arn | None:
        parts = text.split(":", 6)
        if len(parts) < 6 or parts[0] != "arn":
            return None
        _, partition, service, region, account, rest = parts[:6]
        if len(parts) == 7:  # rds style: arn:aws:rds:region:acct:cluster:name
            resource_type, resource_id = rest, parts[6]
        else:  # kms style: arn:aws:kms:region:acct:key/uuid
            resource_type, _, resource_id = rest.partition("/")
        if not (partition and service and resource_type and resource_id):
            return None
        return cls(partition, service, region, account, resource_type, resource_id)


@dataclass(frozen=True)
class InstanceInfo:
    identifier: str
    instance_class: str
    status: str


@dataclass(frozen=True)
class ClusterInfo:
    """What DescribeDBClusters (+ DescribeDBInstances for the classes) tells us about one cluster."""

    arn: str
    identifier: str
    resource_id: str
    engine: str
    engine_version: str
    engine_mode: str
    status: str
    tags: Mapping[str, str] = field(default_factory=dict)
    instances: tuple[InstanceInfo, ...] = ()
    member_ids: tuple[str, ...] = ()
    stream_status: str = "stopped"
    stream_mode: str | None = None
    stream_kms_key_id: str | None = None
    global_cluster_identifier: str | None = None
    scalability_type: str = "standard"  # ClusterScalabilityType: "limitless" for Limitless Database
    created_at: datetime | None = None  # ClusterCreateTime
    maintenance_window: str = ""  # PreferredMaintenanceWindow, e.g. "wed:02:40-wed:03:10" (UTC)
    parameter_group: str = ""  # DBClusterParameterGroup (Babelfish is switched on there)

    @property
    def is_aurora(self) -> bool:
        return self.engine in AURORA_ENGINES

    @property
    def region(self) -> str:
        arn = Arn.parse(self.arn)
        return arn.region if arn else ""

    @property
    def account(self) -> str:
        arn = Arn.parse(self.arn)
        return arn.account if arn else ""

    @property
    def partition(self) -> str:
        arn = Arn.parse(self.arn)
        return arn.partition if arn else ""

    @classmethod
    def from_api(cls, cluster: Mapping[str, Any], instances: Sequence[Mapping[str, Any]]) -> ClusterInfo:
        """Build from a DescribeDBClusters item and the DescribeDBInstances items of its members."""
        member_ids = tuple(m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []))
        return cls(
            arn=cluster["DBClusterArn"],
            identifier=cluster["DBClusterIdentifier"],
            resource_id=cluster.get("DbClusterResourceId", ""),
            engine=cluster.get("Engine", ""),
            engine_version=cluster.get("EngineVersion", ""),
            engine_mode=cluster.get("EngineMode", "provisioned"),
            status=cluster.get("Status", "unknown"),
            tags={t["Key"]: t.get("Value", "") for t in cluster.get("TagList", [])},
            instances=tuple(
                InstanceInfo(
                    identifier=i["DBInstanceIdentifier"],
                    instance_class=i.get("DBInstanceClass", ""),
                    status=i.get("DBInstanceStatus", "unknown"),
                )
                for i in instances
            ),
            member_ids=member_ids,
            stream_status=cluster.get("ActivityStreamStatus") or "stopped",
            stream_mode=cluster.get("ActivityStreamMode"),
            stream_kms_key_id=cluster.get("ActivityStreamKmsKeyId"),
            global_cluster_identifier=cluster.get("GlobalClusterIdentifier"),
            scalability_type=cluster.get("ClusterScalabilityType") or "standard",
            created_at=cluster.get("ClusterCreateTime")
            if isinstance(cluster.get("ClusterCreateTime"), datetime)
            else None,
            maintenance_window=str(cluster.get("PreferredMaintenanceWindow") or ""),
            parameter_group=str(cluster.get("DBClusterParameterGroup") or ""),
        )


@dataclass(frozen=True)
class KeyInfo:
    """KMS DescribeKey metadata reduced to what DAS cares about."""

    arn: str
    key_id: str
    state: str
    spec: str
    usage: str
    manager: str

    @property
    def region(self) -> str:
        arn = Arn.parse(self.arn)
        return arn.region if arn else ""

    @classmethod
    def from_api(cls, metadata: Mapping[str, Any]) -> KeyInfo:
        return cls(
            arn=metadata["Arn"],
            key_id=metadata["KeyId"],
            state=metadata.get("KeyState", "Unknown"),
            spec=metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec") or "Unknown",
            usage=metadata.get("KeyUsage", "Unknown"),
            manager=metadata.get("KeyManager", "Unknown"),
        )


@dataclass(frozen=True)
class KeyLookup:
    """The result of resolving a policy's KMS key reference: the key, or why it could not be read."""

    reference: str
    key: KeyInfo | None = None
    error_code: str | None = None
    error_message: str = ""


@dataclass(frozen=True)
class Finding:
    """One reason a cluster cannot (yet) get a stream, or a warning about how it got one.

    `code` is low-cardinality (it becomes a metric dimension); `detail` is for people; `fix` tells them
    what to do about it.
    """

    code: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Hold:
    """A stream stopped by an allowed (break-glass) principal stays stopped until `until`.

    Read from the state table, which an insider may have written: `problem` says why an item could not be read
    as a hold (it is then reported and ignored, never honoured and never a crash)."""

    resource_id: str  # DbClusterResourceId: a rename or a blue/green switchover moves the name (and ARN), not this
    principal: str
    until: datetime
    problem: str = ""
    cluster_arn: str = ""  # for people reading the item


@dataclass(frozen=True)
class Protection:
    """How firmly the policy guards a cluster's stream today, strongest first: 3 enforce (a stop is restarted),
    2 enforce with on_stop: report, 1 report-only, 0 exempt. A tag or a rename can lower it; that is news."""

    rank: int
    label: str  # e.g. "rule 'production' (enforce)", "exemption 'legacy-db' until 2027-01-31"


@dataclass(frozen=True)
class StreamRecord:
    """What DAS Guard last knew of a cluster's stream (state table, `stream#<DbClusterResourceId>`).

    `state`: on (started or seen running), reported (a stop was reported), allowed (break-glass stop), scheduled
    (a start was requested for the maintenance window).
    `protection`: the rule that applied then (None in records written before it was kept)."""

    state: str
    protection: Protection | None = None
    at: datetime | None = None  # when it was recorded

    @staticmethod
    def outdated(record: StreamRecord | None, protection: Protection | None) -> bool:
        """Whether a running stream's record must be written: none yet, another state, or another rule."""
        return record is None or record.state != "on" or record.protection != protection


@dataclass(frozen=True)
class StreamMark:
    """One stream record to write (`mark_stream`'s arguments), for writing many in one request."""

    resource_id: str
    cluster_arn: str
    state: str
    at: datetime
    protection: Protection | None = None


@dataclass(frozen=True)
class StartRequest:
    """The exact StartActivityStream call the enforcer intends to make."""

    cluster_arn: str
    mode: str
    kms_key_id: str
    apply_immediately: bool


@dataclass(frozen=True)
class StopInfo:
    """Who stopped a stream, from where and when (CloudTrail), or that RDS reported it stopped."""

    principal: str
    principals: tuple[str, ...]
    source_ip: str
    time: str
    via: str

    @property
    def known(self) -> bool:
        return bool(self.principals)


@dataclass(frozen=True)
class Decision:
    """The decision about one cluster, with everything a log line, metric or alert needs."""

    outcome: Outcome
    reason: str
    detail: str
    cluster_id: str | None = None
    cluster_arn: str | None = None
    resource_id: str | None = None  # DbClusterResourceId: the identity that stays with a cluster through renames
    rule: str | None = None
    fix: str = ""
    warnings: tuple[Finding, ...] = ()
    start: StartRequest | None = None
    stream: dict[str, Any] | None = None
    actor: StopInfo | None = None
    protection: Protection | None = None  # how firmly the rule guards the stream (None: not an Aurora cluster)

    @classmethod
    def about(cls, cluster: ClusterInfo, outcome: Outcome, reason: str, detail: str, **fields: Any) -> Decision:
        """A decision about a cluster read from AWS, with its identity (name, ARN and resource id) filled in."""
        return cls(
            outcome,
            reason,
            detail,
            cluster_id=cluster.identifier,
            cluster_arn=cluster.arn,
            resource_id=cluster.resource_id,
            **fields,
        )
