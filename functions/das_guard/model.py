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
    publicly_accessible: bool | None = None  # PubliclyAccessible (None: not reported)
    vpc_id: str = ""  # DBSubnetGroup.VpcId: where a KMS interface endpoint would have to be

    @classmethod
    def from_api(cls, instance: Mapping[str, Any]) -> InstanceInfo | None:
        """None for an item without an identifier (one odd record must not cost the others)."""
        identifier = instance.get("DBInstanceIdentifier")
        if not isinstance(identifier, str) or not identifier:
            return None
        public = instance.get("PubliclyAccessible")
        subnets = instance.get("DBSubnetGroup")
        return cls(
            identifier=identifier,
            instance_class=str(instance.get("DBInstanceClass") or ""),
            status=str(instance.get("DBInstanceStatus") or "unknown"),
            publicly_accessible=public if isinstance(public, bool) else None,
            vpc_id=str(subnets.get("VpcId") or "") if isinstance(subnets, Mapping) else "",
        )


class MalformedRecord(ValueError):
    """An AWS response item without a field DAS Guard cannot decide without (a cluster's identifier or ARN)."""


@dataclass(frozen=True)
class MalformedCluster:
    """A cluster of a bulk listing that could not be read: reported and skipped, the others are decided."""

    identifier: str
    problem: str

    def decision(self) -> Decision:
        return Decision(
            Outcome.FAILED,
            "MalformedClusterRecord",
            f"AWS described a cluster DAS Guard cannot decide: {self.problem}; it was skipped, the others were decided",
            cluster_id=self.identifier or None,
            fix="Look at the cluster with aws rds describe-db-clusters; report it to DAS Guard if the record stays "
            "malformed.",
        )


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
    stream_kinesis_name: str | None = None  # ActivityStreamKinesisStreamName: where Aurora writes the records
    global_cluster_identifier: str | None = None
    scalability_type: str = "standard"  # ClusterScalabilityType: "limitless" for Limitless Database
    created_at: datetime | None = None  # ClusterCreateTime
    maintenance_window: str = ""  # PreferredMaintenanceWindow, e.g. "wed:02:40-wed:03:10" (UTC)
    parameter_group: str = ""  # DBClusterParameterGroup (Babelfish is switched on there)
    pending_engine_version: str = ""  # PendingModifiedValues.EngineVersion: an upgrade waiting to be applied

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

    @property
    def major_upgrade_under_way(self) -> bool:
        """Upgrading, or a new major version waiting to be applied (PendingModifiedValues.EngineVersion)."""
        if self.status == "upgrading":
            return True
        pending = self.pending_engine_version.split(".", 1)[0]
        return bool(pending) and pending != self.engine_version.split(".", 1)[0]

    @property
    def is_limitless(self) -> bool:
        """Limitless Database: ClusterScalabilityType says so, or (where an older response lacks it) the version."""
        return self.scalability_type == "limitless" or self.engine_version.endswith("-limitless")

    @classmethod
    def from_api(cls, cluster: Mapping[str, Any], instances: Sequence[Mapping[str, Any]]) -> ClusterInfo:
        """Build from a DescribeDBClusters item and the DescribeDBInstances items of its members.

        Every field is optional unless AWS documents it as always there: only an identifier and an ARN are needed to
        decide (MalformedRecord otherwise); everything else has a safe default, and a malformed tag or member is
        skipped, never a crash."""
        identifier = cluster.get("DBClusterIdentifier")
        arn = cluster.get("DBClusterArn")
        if not isinstance(identifier, str) or not identifier:
            raise MalformedRecord("a cluster without DBClusterIdentifier")
        if not isinstance(arn, str) or Arn.parse(arn) is None:
            raise MalformedRecord(f"cluster {identifier} without a DBClusterArn")
        members = [m for m in _items(cluster.get("DBClusterMembers")) if isinstance(m.get("DBInstanceIdentifier"), str)]
        pending = cluster.get("PendingModifiedValues")
        created = cluster.get("ClusterCreateTime")
        return cls(
            arn=arn,
            identifier=identifier,
            resource_id=str(cluster.get("DbClusterResourceId") or ""),
            engine=str(cluster.get("Engine") or ""),
            engine_version=str(cluster.get("EngineVersion") or ""),
            engine_mode=str(cluster.get("EngineMode") or "provisioned"),
            status=str(cluster.get("Status") or "unknown"),
            tags={
                str(t["Key"]): str(t.get("Value") or "")
                for t in _items(cluster.get("TagList"))
                if isinstance(t.get("Key"), str)
            },
            instances=tuple(i for i in (InstanceInfo.from_api(raw) for raw in _items(instances)) if i is not None),
            member_ids=tuple(str(m["DBInstanceIdentifier"]) for m in members),
            stream_status=str(cluster.get("ActivityStreamStatus") or "stopped"),
            stream_mode=_text_or_none(cluster.get("ActivityStreamMode")),
            stream_kms_key_id=_text_or_none(cluster.get("ActivityStreamKmsKeyId")),
            stream_kinesis_name=_text_or_none(cluster.get("ActivityStreamKinesisStreamName")),
            global_cluster_identifier=_text_or_none(cluster.get("GlobalClusterIdentifier")),
            scalability_type=str(cluster.get("ClusterScalabilityType") or "standard"),
            created_at=created if isinstance(created, datetime) else None,
            maintenance_window=str(cluster.get("PreferredMaintenanceWindow") or ""),
            parameter_group=str(cluster.get("DBClusterParameterGroup") or ""),
            pending_engine_version=str(pending.get("EngineVersion") or "") if isinstance(pending, Mapping) else "",
        )


def _items(value: Any) -> list[Mapping[str, Any]]:
    """The dictionaries of a list field (an absent field, a non-list or a non-dict item: nothing)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list | tuple) else []


def _text_or_none(value: Any) -> str | None:
    return str(value) if value else None


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
            arn=str(metadata.get("Arn") or ""),
            key_id=str(metadata.get("KeyId") or ""),
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
    resource_id: str = ""  # the stopped stream's cluster (from its Kinesis stream name): it survives renames

    @property
    def known(self) -> bool:
        return bool(self.principals)


@dataclass(frozen=True)
class KinesisFacts:
    """What Kinesis (and the services that read from it) say about the stream a started activity stream writes to.
    Every field is what an AWS answer said; `error` is set when the stream could not be described at all."""

    name: str
    exists: bool = True
    retention_hours: int | None = None
    encryption: str | None = None  # EncryptionType: NONE or KMS
    readers: tuple[str, ...] = ()  # "consumer:<name>", "lambda:<uuid>", "firehose:<name>"
    error: str | None = None
    arn: str | None = None
    created: int | None = None  # StreamCreationTimestamp (epoch seconds): every restart is a new Kinesis stream
    behind_ms: float | None = None  # the slowest reader's GetRecords.IteratorAgeMilliseconds (max, last hour)
    archive_freshness_s: float | None = None  # DAS Guard's archive: DeliveryToS3.DataFreshness (max, last hour)


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
    raise_retention: tuple[str, int] | None = None  # (Kinesis stream, hours): the records must be kept longer
    create_archive: tuple[str, str, str] | None = None  # (delivery stream, Kinesis ARN, resource id): archive them

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


@dataclass(frozen=True)
class FindingRecord:
    """What the state table remembers of the last import for one cluster."""

    resource_id: str
    fingerprint: str
    compliance: str
    asff: dict[str, Any]  # the finding as last imported (to archive it without the cluster)
