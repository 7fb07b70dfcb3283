"""Can this cluster have a database activity stream, and with which settings? Pure functions.

The support matrix below is from the Aurora User Guide (see shared/reference/das-facts.md):
supported engine versions, instance classes per engine, engine mode, and the KMS key requirements. Each
check returns `None` when the cluster passes, or a `Finding` whose `code` is a low-cardinality reason (a
metric dimension) and whose `fix` tells a person what to change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .model import ClusterInfo, Finding, InstanceInfo, KeyLookup
from .policy import StreamMode

# --- engine versions -------------------------------------------------------------------------------------
# Aurora MySQL: every 3.x, and 2.x from 2.11. Later majors (8.4 = Aurora MySQL 4) are treated as supported.
AURORA_MYSQL_MINIMUM = (2, 11)
# Aurora PostgreSQL: lowest supported minor per major. The guide also names minimum *patch* levels
# (e.g. 16.1.7), but DescribeDBClusters reports only major.minor, so the patch level cannot be checked
# here; an unsupported patch is left to StartActivityStream to reject (reported as Failed, with AWS's
# message). Majors above the table are newer than the guide and treated as supported; below it, not.
AURORA_POSTGRESQL_MINIMUM_MINOR = {11: 9, 12: 9, 13: 9, 14: 6, 15: 3, 16: 1}

_MYSQL_VERSION = re.compile(r"^\d+\.\d+\.mysql_aurora\.(\d+)\.(\d+)(?:\.\d+)?$")
_POSTGRES_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")

# Regions where Aurora has no database activity streams (Aurora User Guide, "Supported Regions"):
# Malaysia, Melbourne, New Zealand, Taipei, Thailand, Calgary, the two China regions, Zurich, Tel Aviv.
UNSUPPORTED_REGIONS = frozenset(
    {
        "ap-southeast-5",
        "ap-southeast-4",
        "ap-southeast-6",
        "ap-east-2",
        "ap-southeast-7",
        "ca-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-central-2",
        "il-central-1",
    }
)

# --- instance classes (Aurora User Guide, "Supported instance classes") -----------------------------------
_SIZES = r"(?:\d*x)?large"
SUPPORTED_CLASSES = {
    "aurora-mysql": re.compile(rf"^db\.(?:(?:r8g|r7g|r7i|r6g|r6i|r5)\.{_SIZES}|x2g\.[a-z0-9]+)$"),
    "aurora-postgresql": re.compile(rf"^db\.(?:(?:r8g|r7i|r7g|r6g|r6i|r6id|r5|r4)\.{_SIZES}|x2g\.[a-z0-9]+)$"),
}


def check_engine(cluster: ClusterInfo) -> Finding | None:
    if cluster.engine == "aurora":
        return Finding(
            "UnsupportedEngine",
            "Aurora MySQL 1 (engine 'aurora', MySQL 5.6 compatible) does not support database activity streams",
            "Upgrade the cluster to Aurora MySQL 3.",
        )
    return None


def check_region(cluster: ClusterInfo) -> Finding | None:
    if cluster.region in UNSUPPORTED_REGIONS:
        return Finding(
            "UnsupportedRegion",
            f"database activity streams are not available for Aurora in {cluster.region}",
            "Audit this cluster another way (e.g. pgAudit / advanced auditing to CloudWatch Logs), or run "
            "regulated workloads in a region that supports activity streams.",
        )
    return None


def check_engine_mode(cluster: ClusterInfo) -> Finding | None:
    if cluster.engine_mode == "provisioned":
        return None
    if cluster.engine_mode == "serverless":
        detail = "Aurora Serverless v1 clusters (engine mode 'serverless') do not support database activity streams"
    else:
        detail = f"engine mode {cluster.engine_mode!r} does not support database activity streams"
    return Finding("UnsupportedEngineMode", detail, "Use a provisioned cluster with supported instance classes.")


def check_engine_version(cluster: ClusterInfo) -> Finding | None:
    version = cluster.engine_version
    if cluster.engine == "aurora-mysql":
        m = _MYSQL_VERSION.match(version)
        if m and (int(m.group(1)), int(m.group(2))) >= AURORA_MYSQL_MINIMUM:
            return None
        return Finding(
            "UnsupportedEngineVersion",
            f"Aurora MySQL {version} does not support database activity streams (needs 2.11 or later, or 3.x)",
            "Upgrade the cluster to Aurora MySQL 3 (or 2.11+).",
        )
    if cluster.engine == "aurora-postgresql":
        m = _POSTGRES_VERSION.match(version)
        if m:
            major, minor = int(m.group(1)), int(m.group(2))
            lowest_major = min(AURORA_POSTGRESQL_MINIMUM_MINOR)
            minimum = AURORA_POSTGRESQL_MINIMUM_MINOR.get(major)
            if major > max(AURORA_POSTGRESQL_MINIMUM_MINOR) or (minimum is not None and minor >= minimum):
                return None
            needed = f"{major}.{minimum} or later" if minimum is not None else f"{lowest_major}.x or later"
        else:
            needed = "a recognised version"
        return Finding(
            "UnsupportedEngineVersion",
            f"Aurora PostgreSQL {version} does not support database activity streams (needs {needed})",
            "Upgrade the cluster to a supported minor version.",
        )
    return None


def check_instance_classes(cluster: ClusterInfo, instances: Iterable[InstanceInfo]) -> Finding | None:
    """Every instance must be of a supported class: the stream audits all of them, readers included."""
    pattern = SUPPORTED_CLASSES.get(cluster.engine)
    if pattern is None:
        return None
    bad = sorted({f"{i.identifier} ({i.instance_class})" for i in instances if not pattern.match(i.instance_class)})
    if not bad:
        return None
    serverless = any("db.serverless" in b for b in bad)
    return Finding(
        "UnsupportedInstanceClass",
        "instance class not supported by database activity streams: "
        + ", ".join(bad)
        + (" (Aurora Serverless v2 is not supported)" if serverless else ""),
        "Modify these instances to a supported memory-optimized class (e.g. db.r6g.large or db.r7g.large); "
        "burstable (db.t*) and db.serverless classes are not supported.",
    )


def effective_mode(cluster: ClusterInfo, wanted: StreamMode) -> tuple[StreamMode, Finding | None]:
    """`sync` exists for Aurora PostgreSQL only; Aurora MySQL gets `async` and a warning saying so."""
    if wanted is StreamMode.SYNC and cluster.engine == "aurora-mysql":
        return StreamMode.ASYNC, Finding(
            "ModeDowngraded",
            "the policy asks for mode 'sync', which Aurora MySQL does not support; started with 'async'",
            "Use mode 'async' for rules that match Aurora MySQL clusters to silence this warning.",
        )
    return wanted, None


def check_kms_key(lookup: KeyLookup, region: str) -> Finding | None:
    """The stream is always encrypted with a customer managed, enabled, symmetric key in the cluster's region."""
    ref = lookup.reference
    key = lookup.key
    if key is None:
        if lookup.error_code in {"NotFoundException", "NotFound"}:
            return Finding(
                "KmsKeyNotFound",
                f"KMS key {ref} does not exist in {region}",
                "Point the policy at an existing customer managed key in this region.",
            )
        return Finding(
            "KmsKeyNotAccessible",
            f"KMS key {ref} could not be read: {lookup.error_code or 'error'} {lookup.error_message}".strip(),
            "Allow the DAS Guard role kms:DescribeKey and kms:CreateGrant on the key (key policy and the "
            "stack's KmsKeyArns parameter).",
        )
    if key.manager != "CUSTOMER":
        return Finding(
            "KmsKeyAwsManaged",
            f"KMS key {ref} is AWS managed ({key.arn})",
            "Use a customer managed key; AWS managed keys such as aws/rds cannot encrypt a stream.",
        )
    if key.region and region and key.region != region:
        return Finding(
            "KmsKeyWrongRegion",
            f"KMS key {key.arn} is in {key.region}, the cluster is in {region}",
            "Use a key (or a multi-Region replica key) in the cluster's region.",
        )
    if key.state != "Enabled":
        return Finding(
            "KmsKeyNotEnabled",
            f"KMS key {key.arn} is {key.state}",
            "Enable the key (or cancel its deletion), or point the policy at another key.",
        )
    if key.spec != "SYMMETRIC_DEFAULT" or key.usage != "ENCRYPT_DECRYPT":
        return Finding(
            "KmsKeyWrongType",
            f"KMS key {key.arn} is {key.spec}/{key.usage}",
            "Use a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).",
        )
    return None


def readiness(cluster: ClusterInfo) -> Finding | None:
    """A stream can only start on an available cluster with at least one available instance."""
    if cluster.status != "available":
        return Finding("ClusterNotAvailable", f"cluster status is {cluster.status!r}")
    if not cluster.member_ids:
        return Finding("NoInstances", "the cluster has no DB instance yet")
    if not any(i.status == "available" for i in cluster.instances):
        states = ", ".join(f"{i.identifier}={i.status}" for i in cluster.instances) or "none described"
        return Finding("NoAvailableInstance", f"no instance is available yet ({states})")
    return None
