"""StartActivityStream and StopActivityStream on moto's RDS, with the rules and errors of the real API, and
DescribeOrderableDBInstanceOptions answering with SupportedActivityStreamModes (see the package docstring)."""

from __future__ import annotations

import re
import threading
from typing import Any

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
from moto.rds.models import DBCluster, RDSBackend
from moto.rds.responses import RDSResponse

from .clock import now as _now

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
STREAM_PREFIX = "aws-rds-das-"
AURORA = frozenset({"aurora-mysql", "aurora-postgresql"})

# Supported instance classes per engine, Aurora User Guide "Supported instance classes" (families x sizes).
_FAMILIES = {
    "aurora-mysql": {"r8g", "r7g", "r7i", "r6g", "r6i", "r5"},
    "aurora-postgresql": {"r8g", "r7i", "r7g", "r6g", "r6i", "r6id", "r5", "r4"},
}
_LARGE_SIZE = re.compile(r"^(\d*x)?large$")

_api_lock = threading.Lock()
_ORIGINAL_ORDERABLE = RDSResponse.describe_orderable_db_instance_options


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
    kinesis_follows(cluster)
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


# --- the Kinesis stream Aurora writes the records to --------------------------------------------------------
RECORDS_RETENTION_HOURS = 24  # Aurora creates the stream with a 24-hour retention period


def kinesis_follows(cluster: DBCluster) -> None:
    """Aurora's Kinesis stream follows the activity stream: created (24 h retention, as Aurora creates it) when the
    stream starts, deleted when it has stopped - records nobody consumed are gone with it. Every start is a new
    Kinesis stream. The model creates it at `starting` (Aurora's timing is undocumented; it exists by `started`)."""
    from moto.kinesis.models import kinesis_backends  # noqa: PLC0415

    stream = _stream(cluster)
    name = STREAM_PREFIX + cluster.db_cluster_resource_id
    backend = kinesis_backends[cluster.account_id][cluster.region]
    if stream["status"] in ("starting", "started") and name not in backend.streams:
        created = backend.create_stream(name, 1, retention_period_hours=RECORDS_RETENTION_HOURS)
        created.creation_datetime = _now()  # created now by the world's clock (each incarnation its own time)
    elif stream["status"] == "stopped" and name in backend.streams:
        backend.delete_stream(stream_arn=None, stream_name=name)


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
