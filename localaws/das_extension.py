"""Database activity streams for moto's RDS: the one place DAS Guard extends moto.

moto 5.2 raises NotImplementedError for StartActivityStream/StopActivityStream. This module adds both to
moto's RDS (in-process `mock_aws` and the threaded server alike), modelling what the Aurora User Guide and
the API reference document (see shared/reference/das-facts.md):

StartActivityStream
  - `ResourceArn` must be a cluster ARN of this account/region          -> DBClusterNotFoundFault (404)
    (a `:db:` ARN: DBInstanceNotFound if absent, else InvalidParameterValue: instance-level streams are
    for RDS for Oracle/SQL Server, which this model does not cover)
  - `Mode` is `sync` or `async`                                         -> InvalidParameterValue
  - the cluster is `available`, its stream `stopped`, and it has at least one instance
                                                                        -> InvalidDBClusterStateFault
  - engine Aurora MySQL/PostgreSQL, provisioned, a supported version, every instance of a supported
    class, and `sync` only on Aurora PostgreSQL                        -> InvalidParameterCombination
    (AWS documents the console message for these, not the API code: the code is this model's choice)
  - the KMS key (ID, ARN, alias or alias ARN) exists in this account/region, is enabled, symmetric
    ENCRYPT_DECRYPT and customer managed                               -> KMSKeyNotAccessibleFault
  - on success the stream is `starting`, named `aws-rds-das-<DbClusterResourceId>`.
StopActivityStream
  - cluster checks as above; the stream must be `starting`/`started`  -> InvalidParameterCombination
    ("Activity Streams feature expected to be started, but is stopped", as seen from the real API)
  - on success the stream is `stopping`.

Time does not pass in moto, so `settle_activity_streams()` moves `starting -> started` and
`stopping -> stopped`, as RDS does minutes later, and `let_time_pass_in_queues()` makes SQS delays and
visibility timeouts run out (the local world calls both when its clock moves). Other simulation controls live here too:
`hold_cluster_status()` (moto flips a new cluster to `available` after one read), `add_foreign_cluster()`
(moto has no DocumentDB engine, but RDS's DescribeDBClusters lists DocumentDB clusters too), and a fix
so that reserved `alias/aws/*` keys are AWS managed and a key created without `KeyUsage` is
`ENCRYPT_DECRYPT`, as in KMS (moto leaves both wrong, which would hide key-type checks), and DescribeDBClusters
pages by `MaxRecords`/`Marker` (default and maximum 100) as RDS does, where moto returns every cluster at once
(which would hide how many calls a sweep makes); DescribeDBInstances pages the same way. SNS Publish refuses a
`Subject` with line breaks or control characters, as SNS does ("Subjects must be UTF-8 text with no line breaks or
control characters, and less than 100 characters long"); moto checks only the length, which would hide an alert
lost to a hostile principal name. Renaming a cluster (ModifyDBCluster `NewDBClusterIdentifier`) keeps its
instances as members under the new name, as in RDS; moto leaves them pointing at the old name.
DescribeOrderableDBInstanceOptions answers for both Aurora engines with `SupportedActivityStreamModes` as RDS does
(`[sync, async]` for Aurora PostgreSQL, `[async]` for Aurora MySQL, `[]` where DAS is unsupported for that region,
version or class); moto's own data covers Aurora PostgreSQL only and has no activity stream modes. The answer comes
from this module's model of the facts, not from DAS Guard's code, so a test compares two independent readings.
StartActivityStream with `ApplyImmediately=false` leaves the stream `stopped` with a start pending until the cluster's
next maintenance window (`PreferredMaintenanceWindow`) has passed, when it becomes `starting` (the console guide: "the
stream doesn't start until the next maintenance window"; how RDS reports the pending start is undocumented, and this
model's `stopped` is the cautious reading); a second start while one is pending is refused (InvalidDBClusterStateFault).
`use_clock()` makes RDS creation times and maintenance windows follow the local world's clock.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import moto.rds.models as moto_rds
from moto.core.responses import ActionResult
from moto.kms.models import KmsBackend, kms_backends
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBInstanceNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
    InvalidParameterValue,
    KMSKeyNotAccessibleFault,
)
from moto.rds.models import DBCluster, DBInstanceClustered, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse
from moto.sns.models import SNSBackend
from moto.sqs.models import sqs_backends

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
STREAM_PREFIX = "aws-rds-das-"
AURORA = frozenset({"aurora-mysql", "aurora-postgresql"})

# Supported instance classes per engine, Aurora User Guide "Supported instance classes" (families x sizes).
_FAMILIES = {
    "aurora-mysql": {"r8g", "r7g", "r7i", "r6g", "r6i", "r5"},
    "aurora-postgresql": {"r8g", "r7i", "r7g", "r6g", "r6i", "r6id", "r5", "r4"},
}
_LARGE_SIZE = re.compile(r"^(\d*x)?large$")

_lock = threading.Lock()
_api_lock = threading.Lock()
_ORIGINAL_ORDERABLE = RDSResponse.describe_orderable_db_instance_options
_installed = False


# --- the API ---------------------------------------------------------------------------------------------
def start_activity_stream(
    backend: RDSBackend, resource_arn: str, mode: str, kms_key_id: str, apply_immediately: bool
) -> dict[str, Any]:
    # RDS accepts one of two simultaneous starts and refuses the other; check-then-set is atomic here too.
    with _api_lock:
        return _start(backend, resource_arn, mode, kms_key_id, apply_immediately)


def _start(
    backend: RDSBackend, resource_arn: str, mode: str, kms_key_id: str, apply_immediately: bool
) -> dict[str, Any]:
    cluster = _cluster_for(backend, resource_arn)
    if mode not in ("sync", "async"):
        raise InvalidParameterValue(f"Invalid value for Mode: {mode}. Valid values: sync, async")
    if cluster.status != "available":
        raise InvalidDBClusterStateFault(f"DB cluster {cluster.db_cluster_identifier} is not in available state.")
    if _stream(cluster)["status"] != "stopped":
        raise InvalidDBClusterStateFault(
            f"Activity Stream is {_stream(cluster)['status']} for DB cluster {cluster.db_cluster_identifier}."
        )
    members = list(cluster.members)
    if not members:
        raise InvalidDBClusterStateFault(
            f"DB cluster {cluster.db_cluster_identifier} has no DB instances; add an instance first."
        )
    _require_supported_configuration(cluster, members, mode)
    key_arn = _usable_key_arn(backend, kms_key_id)
    stream = _stream(cluster)
    if stream.get("pending_since") is not None:
        raise InvalidDBClusterStateFault(
            f"An activity stream start is already pending for DB cluster {cluster.db_cluster_identifier} (next "
            "maintenance window)."
        )
    stream.update(
        status="starting" if apply_immediately else "stopped",
        mode=mode,
        kms_key_id=key_arn,
        stream_name=STREAM_PREFIX + cluster.db_cluster_resource_id,
        apply_immediately=bool(apply_immediately),
        pending_since=None if apply_immediately else _now(),
    )
    return {
        "KmsKeyId": key_arn,
        "KinesisStreamName": stream["stream_name"],
        "Status": stream["status"],
        "Mode": mode,
        "ApplyImmediately": bool(apply_immediately),
    }


def stop_activity_stream(backend: RDSBackend, resource_arn: str) -> dict[str, Any]:
    with _api_lock:
        return _stop(backend, resource_arn)


def _stop(backend: RDSBackend, resource_arn: str) -> dict[str, Any]:
    cluster = _cluster_for(backend, resource_arn)
    stream = _stream(cluster)
    if stream["status"] not in ("starting", "started"):
        raise InvalidParameterCombination("Activity Streams feature expected to be started, but is stopped")
    stream["status"] = "stopping"
    stream.update(pending_since=None)
    return {"KmsKeyId": stream["kms_key_id"], "KinesisStreamName": stream["stream_name"], "Status": "stopping"}


def _cluster_for(backend: RDSBackend, resource_arn: str) -> DBCluster:
    parts = resource_arn.split(":")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "rds":
        raise InvalidParameterValue(f"Invalid resource ARN: {resource_arn}")
    _, _, _, region, account, kind, name = parts
    if kind == "db":
        if name not in backend.databases:
            raise DBInstanceNotFoundError(name)
        raise InvalidParameterValue(
            "Aurora database activity streams are started on the DB cluster ARN "
            "(instance-level streams for RDS for Oracle/SQL Server are not modelled)"
        )
    if kind != "cluster":
        raise InvalidParameterValue(f"Invalid resource ARN: {resource_arn}")
    cluster = backend.clusters.get(name.lower())
    if cluster is None or region != backend.region_name or account != backend.account_id:
        raise DBClusterNotFoundError(name)
    return cluster


def _require_supported_configuration(cluster: DBCluster, members: list[Any], mode: str) -> None:
    engine = cluster.engine
    unsupported = "You can't start a database activity stream in this configuration."
    if engine not in AURORA:
        raise InvalidParameterCombination(f"{unsupported} Engine {engine} is not supported.")
    if cluster.engine_mode != "provisioned":
        raise InvalidParameterCombination(f"{unsupported} Engine mode {cluster.engine_mode} is not supported.")
    if not _version_supported(engine, cluster.engine_version):
        raise InvalidParameterCombination(f"{unsupported} Engine version {cluster.engine_version} is not supported.")
    for member in members:
        if not _class_supported(engine, member.db_instance_class):
            raise InvalidParameterCombination(
                f"{unsupported} DB instance class {member.db_instance_class} is not supported."
            )
    if mode == "sync" and engine == "aurora-mysql":
        raise InvalidParameterCombination("Aurora MySQL supports only the async mode for activity streams.")


# Regions without DAS (facts file: Aurora User Guide "Supported Regions", and the GovCloud User Guide)
_NO_DAS_REGIONS = frozenset(
    {"ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ap-east-2", "ca-west-1", "cn-north-1"}
    | {"cn-northwest-1", "eu-central-2", "il-central-1", "us-gov-east-1", "us-gov-west-1"}
)
# Aurora classes one can order (supported by DAS or not): memory-optimised families, burstable ones, Serverless v2
_ORDERABLE_FAMILIES = ("r8g", "r7g", "r7i", "r6g", "r6i", "r6id", "r6gd", "r5", "r4", "x2g", "t3", "t4g")
_ORDERABLE_SIZES = ("medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")


def orderable_classes(engine: str) -> list[str]:
    classes = [f"db.{family}.{size}" for family in _ORDERABLE_FAMILIES for size in _ORDERABLE_SIZES]
    return [c for c in classes if engine == "aurora-postgresql" or ".r4." not in c] + ["db.serverless"]


def _orderable_response(self: RDSResponse) -> Any:
    engine = str(self.params.get("Engine") or "")
    if engine not in AURORA:
        return _ORIGINAL_ORDERABLE(self)
    version = str(self.params.get("EngineVersion") or "")
    wanted = self.params.get("DBInstanceClass")
    classes = [c for c in orderable_classes(engine) if wanted in (None, c)]
    region = self.region
    options = []
    for instance_class in classes:
        supported = (
            region not in _NO_DAS_REGIONS
            and (not version or _version_supported(engine, version))
            and _class_supported(engine, instance_class)
        )
        modes = (["sync", "async"] if engine == "aurora-postgresql" else ["async"]) if supported else []
        options.append(
            {
                "Engine": engine,
                "EngineVersion": version or ("16.1" if engine == "aurora-postgresql" else "8.0.mysql_aurora.3.05.2"),
                "DBInstanceClass": instance_class,
                "LicenseModel": "postgresql-license" if engine == "aurora-postgresql" else "general-public-license",
                "AvailabilityZones": [{"Name": f"{region}{zone}"} for zone in "abc"],
                "SupportsClusters": True,
                "SupportedActivityStreamModes": modes,
            }
        )
    max_records = int(self.params.get("MaxRecords") or 100)
    start = int(str(self.params.get("Marker") or "0") or 0)
    result: dict[str, Any] = {"OrderableDBInstanceOptions": options[start : start + max_records]}
    if start + max_records < len(options):
        result["Marker"] = str(start + max_records)
    return ActionResult(result)


def _class_supported(engine: str, instance_class: str) -> bool:
    prefix, _, rest = instance_class.partition(".")
    family, _, size = rest.partition(".")
    if prefix != "db":
        return False
    if family == "x2g":
        return bool(size)
    return family in _FAMILIES[engine] and bool(_LARGE_SIZE.match(size))


def _version_supported(engine: str, version: str) -> bool:
    numbers = [int(n) for n in re.findall(r"\d+", version)]
    if engine == "aurora-mysql":
        # "8.0.mysql_aurora.3.05.2" -> Aurora version 3.05; "5.7.mysql_aurora.2.11.1" -> 2.11
        return "mysql_aurora" in version and len(numbers) >= 4 and (numbers[2], numbers[3]) >= (2, 11)
    minimum_minor = {11: 9, 12: 9, 13: 9, 14: 6, 15: 3, 16: 1}
    if len(numbers) < 2:
        return False
    major, minor = numbers[0], numbers[1]
    return major > 16 or minor >= minimum_minor.get(major, 10_000)


def _usable_key_arn(backend: RDSBackend, kms_key_id: str) -> str:
    kms: KmsBackend = kms_backends[backend.account_id][backend.region_name]
    try:
        key = kms.describe_key(kms_key_id)
    except Exception as err:  # moto raises KeyError/NotFoundException for unknown keys and aliases
        raise KMSKeyNotAccessibleFault(kms_key_id) from err
    usable = (
        key.key_state == "Enabled"
        and key.key_spec == "SYMMETRIC_DEFAULT"
        and key.key_usage == "ENCRYPT_DECRYPT"
        and key.key_manager == "CUSTOMER"
    )
    if not usable:
        raise KMSKeyNotAccessibleFault(kms_key_id)
    return str(key.arn)


# --- stream state on moto's cluster model ----------------------------------------------------------------
def _stream(cluster: DBCluster) -> dict[str, Any]:
    state: dict[str, Any] | None = cluster.__dict__.get("_das_stream")
    if state is None:
        state = {"status": "stopped", "mode": None, "kms_key_id": None, "stream_name": None}
        cluster.__dict__["_das_stream"] = state
    return state


def _stream_attribute(name: str) -> property:
    def getter(cluster: DBCluster) -> Any:
        if cluster.engine not in AURORA:
            return None
        return _stream(cluster)[name]

    return property(getter)


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
            changed += 1
        elif pending is not None and _now() >= (window := next_window(cluster.preferred_maintenance_window, pending)):
            # started in the window; minutes later it is running, like any other start
            stream.update(
                status="started" if _now() >= window + timedelta(minutes=1) else "starting", pending_since=None
            )
            changed += 1
    return changed


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_window(window: str, after: datetime) -> datetime:
    """The start of the first maintenance window ("wed:02:40-wed:03:10", UTC) after `after` (naive UTC)."""
    day, hour, minute = window.split("-", 1)[0].split(":")
    start = after.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
    start += timedelta(days=(_DAYS.index(day.lower()) - after.weekday()) % 7)
    return start if start > after else start + timedelta(days=7)


_clock: Callable[[], datetime] | None = None
_moto_utcnow: Callable[[], datetime] = moto_rds.utcnow  # type: ignore[attr-defined]


def _now() -> datetime:
    """Naive UTC, as moto keeps its times."""
    return _clock().astimezone(UTC).replace(tzinfo=None) if _clock else _moto_utcnow()


def use_clock(clock: Callable[[], datetime] | None) -> None:
    """RDS's own times (cluster creation, maintenance windows) follow `clock` (the local world's), or moto's again."""
    global _clock  # noqa: PLW0603
    _clock = clock
    moto_rds.utcnow = _now if clock else _moto_utcnow  # type: ignore[attr-defined]


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
    """Every message on a queue, delayed or in flight included, with the seconds until it is due (0: now)."""
    queue = sqs_backends[account][region].queues[queue_url.rstrip("/").rsplit("/", 1)[-1]]
    now_ms = time.time() * 1000
    return [
        {"body": json.loads(m.body), "delay": max(0, round((m.delayed_until - now_ms) / 1000))} for m in queue._messages
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


# --- wiring into moto ------------------------------------------------------------------------------------
def _start_response(self: RDSResponse) -> Any:
    result = start_activity_stream(
        self.backend,
        resource_arn=self.params.get("ResourceArn", ""),
        mode=self.params.get("Mode", ""),
        kms_key_id=self.params.get("KmsKeyId", ""),
        apply_immediately=_bool(self.params.get("ApplyImmediately")),
    )
    return ActionResult(result)


def _stop_response(self: RDSResponse) -> Any:
    return ActionResult(stop_activity_stream(self.backend, resource_arn=self.params.get("ResourceArn", "")))


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def install() -> None:
    """Add the activity-stream API to moto. Idempotent; call before creating clients or starting a server.

    Patching is done with setattr on moto's classes: this module is the one place that knows.
    """
    global _installed  # noqa: PLW0603
    with _lock:
        if _installed:
            return
        patches: dict[tuple[type, str], Any] = {
            (RDSResponse, "start_activity_stream"): _start_response,
            (RDSResponse, "stop_activity_stream"): _stop_response,
            (DBCluster, "activity_stream_status"): _stream_attribute("status"),
            (DBCluster, "activity_stream_mode"): _stream_attribute("mode"),
            (DBCluster, "activity_stream_kms_key_id"): _stream_attribute("kms_key_id"),
            (DBCluster, "activity_stream_kinesis_stream_name"): _stream_attribute("stream_name"),
            (DBCluster, "status"): _status_that_can_be_held(),
            (KmsBackend, "create_key"): _create_key_with_default_usage(),
            (KmsBackend, "_generate_default_keys"): _reserved_aliases_are_aws_managed(),
            (RDSResponse, "describe_db_clusters"): _paged(RDSResponse.describe_db_clusters, "DBClusters"),
            (RDSResponse, "describe_db_instances"): _paged(RDSResponse.describe_db_instances, "DBInstances"),
            (SNSBackend, "publish"): _publish_checking_the_subject(),
            (RDSBackend, "modify_db_cluster"): _rename_keeping_members(),
            (RDSResponse, "describe_orderable_db_instance_options"): _orderable_response,
        }
        for (cls, name), value in patches.items():
            setattr(cls, name, value)
        _installed = True


def _status_that_can_be_held() -> property:
    original: Any = DBCluster.__dict__["status"]

    def status(cluster: DBCluster) -> str:
        held: str | None = cluster.__dict__.get("_das_held_status")
        return held if held is not None else str(original.__get__(cluster))

    return property(status, original.fset)


def _paged(operation: Any, key: str) -> Any:
    """RDS paging: `MaxRecords` (20..100, default 100) items per page and an opaque `Marker` for the next one.

    moto returns every cluster at once and its generic paginator fails past the first page of RDS results, which
    would hide how many calls a sweep makes; this pages the full result of moto's own handler.
    """

    def paged(self: RDSResponse) -> Any:
        max_records = int(self.params.get("MaxRecords") or 100)
        if not 20 <= max_records <= 100:
            raise InvalidParameterValue(f"Invalid value {max_records} for MaxRecords. Must be between 20 and 100")
        marker = str(self.params.get("Marker") or "")
        start = int(marker.removeprefix("page-")) if marker.startswith("page-") else 0
        self.params.pop("MaxRecords", None)
        self.params.pop("Marker", None)
        result = dict(operation(self)._result)
        items = list(result[key])
        result[key] = items[start : start + max_records]
        if start + max_records < len(items):
            result["Marker"] = f"page-{start + max_records}"
        return ActionResult(result)

    return paged


def _rename_keeping_members() -> Any:
    modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        old, new = kwargs.get("db_cluster_identifier"), kwargs.get("new_db_cluster_identifier")
        result = modify(self, kwargs)
        if new and new != old:
            for instance in self.databases.values():
                if isinstance(instance, DBInstanceClustered) and instance.db_cluster_identifier == old:
                    instance.db_cluster_identifier = new
        return result

    return modify_db_cluster


_SUBJECT_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _publish_checking_the_subject() -> Any:
    publish = SNSBackend.publish

    def checked(self: SNSBackend, message: str, **kwargs: Any) -> Any:
        subject = kwargs.get("subject")
        if isinstance(subject, str) and (_SUBJECT_REFUSED.search(subject) or not subject.strip()):
            raise ValueError("Subject must be UTF-8 text with no line breaks or control characters")
        return publish(self, message, **kwargs)

    return checked


def _create_key_with_default_usage() -> Any:
    create_key = KmsBackend.create_key

    def create(self: KmsBackend, policy: Any, key_usage: Any, *args: Any, **kwargs: Any) -> Any:
        return create_key(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)

    return create


def _reserved_aliases_are_aws_managed() -> Any:
    generate = KmsBackend._generate_default_keys

    def generate_aws_managed(self: KmsBackend, alias_name: str) -> str | None:
        key_id: str | None = generate(self, alias_name)
        if key_id is not None:
            self.keys[key_id].key_manager = "AWS"
        return key_id

    return generate_aws_managed
