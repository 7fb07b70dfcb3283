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

import contextlib
import functools
import io
import json
import re
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
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
        install_organisation()
        _parse_each_input_path_once()
        _installed = True


def _parse_each_input_path_once() -> None:
    """moto builds a new jsonpath parser (a PLY grammar) for every input path of every target of every put event:
    about 20 ms per event delivered, which made a local PutEvents of ten entries take 0.2-0.4 s and every bench
    with result events measure moto, not DAS Guard. Parsed expressions are immutable; one per distinct path."""
    import jsonpath_ng.ext  # noqa: PLC0415

    parse = jsonpath_ng.ext.parse  # type: ignore[attr-defined]
    if not hasattr(parse, "cache_info"):
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(parse)  # type: ignore[attr-defined]


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
        # AWS::KMS::Key's Tags are {Key, Value}; moto's CloudFormation hands them to KMS, which names them
        # {TagKey, TagValue}, unconverted (and fails): convert, as CloudFormation does.
        if isinstance(policy, dict):  # AWS::KMS::Key's KeyPolicy is a JSON object; KMS stores the document text
            policy = json.dumps(policy)
        tags = kwargs.get("tags")
        if tags:
            kwargs["tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t for t in tags]
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


# --- organisation scale: what moto lacks for a StackSet roll-out (README, "Local AWS: what is modelled") -----
# - The public Powertools parameters (/aws/service/powertools/python/<arch>/<python>/<version>) exist in every
#   account and region, as AWS publishes them; the value is a layer ARN of Powertools' publishing account.
# - A StackSets delegated administrator sees the organisation: service-managed stack sets it creates resolve OUs
#   to the management account's accounts (moto resolves them in the administrator's own, empty organisation).
# - AutoDeployment: an account moved into an OU a service-managed stack set targets gets its stack instances, one
#   moved out loses them (RetainStacksOnAccountRemoval=false); moto records neither.
# - AWS RAM shares SSM parameters (moto's list of shareable types lacks `parameter`), and a parameter shared with
#   the organisation or the account is readable by its ARN from the member account (GetParameter,
#   GetParameterHistory); any other account's ARN is ParameterNotFound, as SSM answers.
POWERTOOLS_PUBLISHER = "017000801446"
_POWERTOOLS_PATH = re.compile(r"^/aws/service/powertools/python/(arm64|x86_64)/python(3\.\d+)/([0-9.]+)$")
_AUTO_DEPLOY: dict[str, dict[str, Any]] = {}  # stack set id -> {"ous", "regions", "retain", "account", "region"}


def _powertools_parameters() -> Any:
    from moto.ssm.models import Parameter, ParameterDict  # noqa: PLC0415

    original = ParameterDict._check_loading_status

    def check(self: Any, key: str) -> None:
        original(self, key)
        match = _POWERTOOLS_PATH.match(str(key or ""))
        if match and not dict.__contains__(self, key):
            arch, python, version = match.groups()
            layer = f"AWSLambdaPowertoolsPythonV3-python{python.replace('.', '')}-{arch}"
            defaultdict.__getitem__(self, key).append(
                Parameter(  # type: ignore[abstract]
                    account_id=self.account_id,
                    name=key,
                    value=f"arn:aws:lambda:{self.region_name}:{POWERTOOLS_PUBLISHER}:layer:{layer}:{version}",
                    parameter_type="String",
                    description=f"Powertools for AWS Lambda (Python) {version}",
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=_now(),
                    version=1,
                    data_type="text",
                )
            )

    return check


def _organisation_of_stackset_account() -> property:
    from moto.organizations.models import organizations_backends  # noqa: PLC0415

    def org_backend(self: Any) -> Any:
        own = organizations_backends[self.account_id][self.partition]
        if own.org is not None:
            return own
        master = organizations_backends.master_accounts.get(self.account_id)
        if master is None:
            return own
        management = organizations_backends[master[0]][master[1]]
        delegated = any(
            admin.account.id == self.account_id
            and "member.org.stacksets.cloudformation.amazonaws.com" in admin.services
            for admin in management.admins
        )
        return management if delegated else own

    return property(org_backend)


def _create_stack_set_remembering_auto_deployment() -> Any:
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415

    original = CloudFormationResponse.create_stack_set

    def create_stack_set(self: Any) -> Any:
        result = original(self)
        auto = self._get_param("AutoDeployment") or {}
        if self._get_param("PermissionModel") == "SERVICE_MANAGED" and _bool(auto.get("Enabled")):
            stackset = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
            _AUTO_DEPLOY[stackset.id] = {
                "ous": set(),
                "regions": [],
                "retain": _bool(auto.get("RetainStacksOnAccountRemoval")),
                "account": self.current_account,
                "region": self.region,
            }
        return result

    return create_stack_set


def _create_stack_instances_remembering_targets() -> Any:
    from moto.cloudformation.models import StackSet  # noqa: PLC0415

    original = StackSet.create_stack_instances

    def create_stack_instances(self: Any, accounts: Any, regions: Any, deployment_targets: Any, parameters: Any) -> Any:
        auto = _AUTO_DEPLOY.get(self.id)
        if auto is not None and deployment_targets:
            auto["ous"] |= set(deployment_targets.get("OrganizationalUnitIds", []))
            auto["regions"] = sorted(set(auto["regions"]) | set(regions))
        return original(self, accounts, regions, deployment_targets, parameters)

    return create_stack_instances


def _move_account_auto_deploying() -> Any:
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415
    from moto.organizations.models import OrganizationsBackend  # noqa: PLC0415

    original = OrganizationsBackend.move_account

    def move_account(self: Any, **kwargs: Any) -> None:
        original(self, **kwargs)
        account, source, destination = kwargs["AccountId"], kwargs["SourceParentId"], kwargs["DestinationParentId"]
        for stackset_id, auto in list(_AUTO_DEPLOY.items()):
            stackset = cloudformation_backends[auto["account"]][auto["region"]].stacksets.get(stackset_id)
            if stackset is None:
                continue
            if destination in auto["ous"]:
                stackset.instances.create_instances(
                    [account],
                    auto["regions"],
                    stackset.parameters,  # type: ignore[arg-type]  # a dict: moto's StackInstance takes both
                    {},
                    permission_model="SERVICE_MANAGED",
                )
            elif source in auto["ous"] and not auto["retain"]:
                for region in auto["regions"]:
                    instance = stackset.instances.get_instance(account, region)
                    if instance is not None:
                        instance.delete()
                        stackset.instances.stack_instances.remove(instance)

    return move_account


def _parameters_shareable() -> None:
    """RAM shares SSM parameters; StackSets and Security Hub accept a delegated administrator (moto lists neither)."""
    from moto.organizations.models import FakeDelegatedAdministrator  # noqa: PLC0415
    from moto.ram.models import ResourceShare  # noqa: PLC0415

    if "parameter" not in ResourceShare.SHAREABLE_RESOURCES:
        ResourceShare.SHAREABLE_RESOURCES.append("parameter")
    for service in ("member.org.stacksets.cloudformation.amazonaws.com", "securityhub.amazonaws.com"):
        if service not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(service)


def _shared_parameter_reads() -> Any:
    from moto.organizations.models import organizations_backends  # noqa: PLC0415
    from moto.ram.models import ram_backends  # noqa: PLC0415
    from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends  # noqa: PLC0415

    original_get = SimpleSystemManagerBackend.get_parameter
    original_history = SimpleSystemManagerBackend.get_parameter_history

    def owner_backend(self: Any, name: str) -> Any:
        """The SSM backend that owns `name` when it is another account's parameter shared with this one."""
        match = re.match(r"^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter(/.+)$", str(name))
        if not match or match.group(2) == self.account_id:
            return None
        region, owner, path = match.groups()
        arn = f"arn:aws:ssm:{region}:{owner}:parameter{path}"
        org = organizations_backends[self.account_id]["aws"]
        try:
            org_arn = org.describe_organization()["Organization"]["Arn"]
        except Exception:  # noqa: BLE001 - not in an organisation: only shares naming the account itself count
            org_arn = None
        for share in ram_backends[owner][region].resource_shares:
            if share.status != "ACTIVE" or arn not in share.resource_arns:
                continue
            if self.account_id in share.principals or (org_arn and org_arn in share.principals):
                return ssm_backends[owner][region]
        return False  # an ARN of another account that is not shared with this one

    def get_parameter(self: Any, name: str) -> Any:
        owner = owner_backend(self, name)
        if owner is None:
            return original_get(self, name)
        if owner is False:
            return None
        return original_get(owner, name.split(":parameter", 1)[1])

    def get_parameter_history(self: Any, name: str, next_token: Any, max_results: int = 50) -> Any:
        owner = owner_backend(self, name)
        if owner is None:
            return original_history(self, name, next_token, max_results)
        if owner is False:
            return None, None
        return original_history(owner, name.split(":parameter", 1)[1], next_token, max_results)

    return get_parameter, get_parameter_history


def _no_value_removes_list_items() -> Any:
    """`!If [cond, item, !Ref AWS::NoValue]` in a list removes the item in CloudFormation; moto keeps a None."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = []
            for item in resource_json:
                value = clean_json(item, resources_map)
                if value is None and isinstance(item, dict) and ("Ref" in item or "Fn::If" in item):
                    continue
                cleaned.append(value)
            return cleaned
        return original(resource_json, resources_map)

    return clean_json


def _delegated_administrators_read_the_organisation(name: str) -> Any:
    """A delegated administrator (of any service) may call Organizations' read APIs; moto answers from the
    account's own, empty organisation."""
    from moto.organizations.models import OrganizationsBackend, organizations_backends  # noqa: PLC0415

    original = getattr(OrganizationsBackend, name)

    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        master = organizations_backends.master_accounts.get(self.account_id) if self.org is None else None
        if master is not None:
            management = organizations_backends[master[0]][master[1]]
            if any(admin.account.id == self.account_id for admin in management.admins):
                return original(management, *args, **kwargs)
        return original(self, *args, **kwargs)

    return read


def _rules_deliver_like_eventbridge() -> Any:
    """A scheduled rule (no EventPattern) matches no put event, and an SNS topic is a target, as in EventBridge;
    moto sends every put event to a scheduled rule's targets and raises NotImplementedError for Lambda and SNS
    targets, which ends the delivery of the event (and of the rest of its PutEvents call) to every other rule."""
    from moto.events.models import Rule  # noqa: PLC0415
    from moto.events.utils import EventTemplateParser  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415
    from moto.utilities.arns import parse_arn  # noqa: PLC0415

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.scheduled_expression and not self.event_pattern.dump():
            return
        if not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            if arn.service == "sns":
                transformer = target.get("InputTransformer", {})
                event = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=original_event,
                )
                message = event if isinstance(event, str) else json.dumps(event)
                sns_backends[arn.account][arn.region].publish(message, arn=target["Arn"])
            elif arn.service != "lambda":  # Lambda targets: the local world invokes functions itself
                others.append(target)
        if others:
            saved, self.targets = self.targets, others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    return send_to_targets


def install_organisation() -> None:
    """The organisation-scale additions (called by `install`)."""
    from moto.cloudformation.models import StackInstances, StackSet  # noqa: PLC0415
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415
    from moto.events.models import Rule  # noqa: PLC0415
    from moto.organizations.models import OrganizationsBackend  # noqa: PLC0415
    from moto.ssm.models import ParameterDict, SimpleSystemManagerBackend  # noqa: PLC0415

    get_parameter, get_parameter_history = _shared_parameter_reads()
    patches: dict[tuple[type, str], Any] = {
        (ParameterDict, "_check_loading_status"): _powertools_parameters(),
        (StackInstances, "org_backend"): _organisation_of_stackset_account(),
        (CloudFormationResponse, "create_stack_set"): _create_stack_set_remembering_auto_deployment(),
        (StackSet, "create_stack_instances"): _create_stack_instances_remembering_targets(),
        (OrganizationsBackend, "move_account"): _move_account_auto_deploying(),
        (Rule, "send_to_targets"): _rules_deliver_like_eventbridge(),
        (SimpleSystemManagerBackend, "get_parameter"): get_parameter,
        (SimpleSystemManagerBackend, "get_parameter_history"): get_parameter_history,
        **{
            (OrganizationsBackend, name): _delegated_administrators_read_the_organisation(name)
            for name in (
                "list_accounts",
                "list_accounts_for_parent",
                "list_organizational_units_for_parent",
                "list_roots",
            )
        },
    }
    for (cls, name), value in patches.items():
        setattr(cls, name, value)
    from moto.cloudformation import parsing  # noqa: PLC0415

    parsing.clean_json = _no_value_removes_list_items()
    _parameters_shareable()


# ------------------------------------------------------------------------------------------------- observers
@contextlib.contextmanager
def counting_operations() -> Iterator[Counter[str]]:
    """AWS operations (`service:Operation`) reaching moto's server, from any process, while the block runs: every
    request passes moto's domain dispatcher. The service is the SigV4 credential scope's, the operation is
    X-Amz-Target's (JSON protocols) or the form's Action (query protocols)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415

    counts: Counter[str] = Counter()
    original = DomainDispatcherApplication.__call__

    def observed(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            operation = target.rsplit(".", 1)[-1]
        else:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            operation = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        counts[f"{scope.group(1) if scope else '?'}:{operation}"] += 1
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = observed  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]


@contextlib.contextmanager
def counting_starts() -> Iterator[Counter[str]]:
    """StartActivityStream calls the local RDS accepted while the block runs, per cluster ARN (a double start of
    one cluster counts 2; a refused start counts nothing)."""
    global _start  # noqa: PLW0603 - the one start path of the local model, observed
    accepted: Counter[str] = Counter()
    original = _start

    def start(backend: RDSBackend, resource_arn: str, mode: str, kms_key_id: str, apply_immediately: bool) -> Any:
        answer = original(backend, resource_arn, mode, kms_key_id, apply_immediately)
        accepted[resource_arn] += 1
        return answer

    _start = start
    try:
        yield accepted
    finally:
        _start = original
