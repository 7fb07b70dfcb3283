"""Can this cluster have a database activity stream, and with which settings? Pure functions.

The support matrix below is from the Aurora User Guide (see shared/reference/das-facts.md):
supported engine versions, instance classes per engine, engine mode, and the KMS key requirements. Each
check returns `None` when the cluster passes, or a `Finding` whose `code` is a low-cardinality reason (a
metric dimension) and whose `fix` tells a person what to change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..model import ClusterInfo, Finding, InstanceInfo, KeyLookup
from ..policy import StreamMode

# --- engine versions -------------------------------------------------------------------------------------
# Aurora MySQL: every 3.x, and 2.x from 2.11. Later majors (8.4 = Aurora MySQL 4) are treated as supported.
AURORA_MYSQL_MINIMUM = (2, 11)
# Aurora PostgreSQL: lowest supported minor per major. The guide's minimums are *patch* levels (e.g. 16.1.7,
# "apply the latest patch"), but DescribeDBClusters reports only major.minor, so the patch level cannot be checked
# here; an unsupported patch is left to StartActivityStream to reject (StartRefused, with AWS's words and a
# patch-upgrade fix). Majors above the table are newer than the guide and treated as supported; below it, not.
AURORA_POSTGRESQL_MINIMUM_MINOR = {11: 9, 12: 9, 13: 9, 14: 6, 15: 3, 16: 1}

_MYSQL_VERSION = re.compile(r"^\d+\.\d+\.mysql_aurora\.(\d+)\.(\d+)(?:\.(\d+))?$")
_POSTGRES_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")

# Regions where Aurora has no database activity streams (Aurora User Guide, "Supported Regions"):
# Malaysia, Melbourne, New Zealand, Taipei, Thailand, Calgary, the two China regions, Zurich, Tel Aviv; and the
# whole AWS GovCloud (US) partition ("Database activity streams are not supported in AWS GovCloud (US)").
UNSUPPORTED_PARTITIONS = {"aws-us-gov": "AWS GovCloud (US)"}
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
    partition = UNSUPPORTED_PARTITIONS.get(cluster.partition)
    if partition is not None:
        return Finding(
            "UnsupportedRegion",
            f"database activity streams are not available in {partition} ({cluster.region})",
            "Audit this cluster another way (pgAudit or Aurora MySQL advanced auditing to CloudWatch Logs); "
            "DAS Guard cannot start a stream anywhere in this partition.",
        )
    if cluster.region in UNSUPPORTED_REGIONS:
        return Finding(
            "UnsupportedRegion",
            f"database activity streams are not available for Aurora in {cluster.region}",
            "Audit this cluster another way (e.g. pgAudit / advanced auditing to CloudWatch Logs), or run "
            "regulated workloads in a region that supports activity streams.",
        )
    return None


def check_babelfish(cluster: ClusterInfo, babelfish: Callable[[str], bool | None] | None) -> Finding | None:
    """Babelfish for Aurora PostgreSQL (`rds.babelfish_status = on` in the cluster parameter group) has no DAS."""
    if babelfish is None or cluster.engine != "aurora-postgresql" or babelfish(cluster.parameter_group) is not True:
        return None
    return Finding(
        "BabelfishNotSupported",
        f"Babelfish is on (rds.babelfish_status in cluster parameter group {cluster.parameter_group}); database "
        "activity streams do not support Babelfish for Aurora PostgreSQL",
        "Audit it another way (pgAudit, or Babelfish's own T-SQL audit to CloudWatch Logs), or exempt it in the "
        "policy with that reason.",
    )


def check_cluster_type(cluster: ClusterInfo) -> Finding | None:
    """Features without DAS, whatever the version: a reason that is true and a fix that is not "upgrade"."""
    if cluster.is_limitless:
        return Finding(
            "LimitlessNotSupported",
            "Aurora PostgreSQL Limitless Database does not support database activity streams (a feature, not a "
            "version: no upgrade adds them)",
            "Audit it another way (pgAudit to CloudWatch Logs), or exempt it in the policy with that reason.",
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
    if cluster.is_limitless:
        return None  # "16.4-limitless": the feature is the reason (check_cluster_type), not the version
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
            f"Aurora PostgreSQL {version} does not support database activity streams (needs {needed}, at the "
            "patch level the Aurora User Guide names)",
            "Upgrade the engine to a supported minor version and apply its latest patch (Aurora PostgreSQL's "
            "minimums are patch levels).",
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


# (engine, engine version, instance class) -> AWS's SupportedActivityStreamModes ([] where DAS is unsupported), or None
# when AWS could not be asked (DescribeOrderableDBInstanceOptions refused or failed).
ModesLookup = Callable[[str, str, str], tuple[str, ...] | None]


@dataclass(frozen=True)
class Support:
    """What decides whether this cluster's version and classes can have a stream, and which modes."""

    problems: tuple[Finding, ...]
    warnings: tuple[Finding, ...] = ()
    modes: frozenset[str] | None = None  # the modes AWS offers for every class of the cluster (None: not asked)


def _region_first(cluster: ClusterInfo, findings: list[Finding]) -> list[Finding]:
    """Where AWS could not be asked, the static region list (the only thing that can say the region is the reason)."""
    region = check_region(cluster)
    return [region, *findings] if region else findings


def check_support(cluster: ClusterInfo, ask: ModesLookup | None) -> Support:
    """AWS's own answer first (DescribeOrderableDBInstanceOptions, per region, engine, version and class); the
    static table of the User Guide only where AWS cannot be asked, and the decision says so. Where AWS says no, the
    static table only helps to say *what* is unsupported (the version or the class) and how to fix it."""
    static = [f for f in (check_engine_version(cluster), check_instance_classes(cluster, cluster.instances)) if f]
    classes = sorted({i.instance_class for i in cluster.instances})
    if ask is None or not classes or cluster.is_limitless:
        return Support(tuple(_region_first(cluster, static)))
    answers = {c: ask(cluster.engine, cluster.engine_version, c) for c in classes}
    unknown = [c for c, modes in answers.items() if modes is None]
    refused = [c for c, modes in answers.items() if modes == ()]
    warnings: tuple[Finding, ...] = ()
    problems: list[Finding] = []
    if unknown and not refused and not any(answers.values()):
        problems += _region_first(cluster, [])
    if unknown:
        warnings = (
            Finding(
                "SupportFromStaticTable",
                f"AWS could not be asked whether {cluster.engine} {cluster.engine_version} on {', '.join(unknown)} "
                "supports activity streams (DescribeOrderableDBInstanceOptions failed); DAS Guard's own table was used",
                "Allow rds:DescribeOrderableDBInstanceOptions for the DAS Guard role (the template grants it).",
            ),
        )
        version = check_engine_version(cluster)
        problems += [version] if version else []
        bad = check_instance_classes(cluster, [i for i in cluster.instances if i.instance_class in unknown])
        problems += [bad] if bad else []
    if refused:
        region = check_region(cluster) if not any(answers.values()) else None
        explained = (
            ([region] if region else [])
            or [f for f in static if f.code == "UnsupportedEngineVersion"]
            or [f for f in static if f.code == "UnsupportedInstanceClass"]
        )
        members = ", ".join(
            f"{i.identifier} ({i.instance_class})" for i in cluster.instances if i.instance_class in refused
        )
        said = (
            f"AWS lists no activity stream mode for {cluster.engine} {cluster.engine_version} on {', '.join(refused)} "
            f"in {cluster.region} (DescribeOrderableDBInstanceOptions)"
        )
        if explained:
            problems += [Finding(explained[0].code, f"{explained[0].detail}; {said}", explained[0].fix)]
        else:
            problems.append(
                Finding(
                    "UnsupportedConfiguration",
                    f"{said}: instances {members}",
                    "Change these instances to a class AWS lists with SupportedActivityStreamModes for this engine "
                    "version (aws rds describe-orderable-db-instance-options), or upgrade the engine version.",
                )
            )
    known = [frozenset(m) for m in answers.values() if m]
    modes = frozenset.intersection(*known) if known else None
    return Support(tuple(dict.fromkeys(problems)), warnings, modes)


def effective_mode(
    cluster: ClusterInfo, wanted: StreamMode, offered: frozenset[str] | None = None
) -> tuple[StreamMode, Finding | None]:
    """`sync` exists for Aurora PostgreSQL only; Aurora MySQL gets `async` and a warning saying so. Where AWS said
    which modes it offers for this cluster, that answer decides."""
    if wanted is StreamMode.SYNC and offered is not None and "sync" not in offered and "async" in offered:
        return StreamMode.ASYNC, Finding(
            "ModeDowngraded",
            f"the policy asks for mode 'sync', which AWS does not offer for {cluster.engine} {cluster.engine_version} "
            "(DescribeOrderableDBInstanceOptions); started with 'async'",
            "Use mode 'async' for rules that match these clusters to silence this warning.",
        )
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


# --- Aurora MySQL's network prerequisite (Aurora UG, "Network prerequisites for Aurora MySQL database activity
# streams"): only these versions need their instances to reach the KMS endpoint, or "the activity stream stops".
def needs_kms_network(cluster: ClusterInfo) -> bool:
    """Aurora MySQL 2 up to 2.11.3, 2.12.0, and Aurora MySQL 3 up to 3.04.2. Never Aurora PostgreSQL."""
    if cluster.engine != "aurora-mysql":
        return False
    m = _MYSQL_VERSION.match(cluster.engine_version)
    if not m:
        return False
    version = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    return version <= (2, 11, 3) or version == (2, 12, 0) or (3, 0, 0) <= version <= (3, 4, 2)


# vpc id -> whether a com.amazonaws.<region>.kms interface endpoint is available there (None: could not be asked)
KmsEndpointLookup = Callable[[str], bool | None]


def check_kms_network(cluster: ClusterInfo, has_kms_endpoint: KmsEndpointLookup | None) -> Finding | None:
    """For the affected Aurora MySQL versions: a publicly accessible instance or a KMS interface endpoint in the
    cluster's VPC confirms the route; a NAT route cannot be seen from here, so what is not confirmed is a warning
    (the start goes ahead), never a refusal."""
    if not needs_kms_network(cluster):
        return None
    if any(i.publicly_accessible for i in cluster.instances):
        return None
    vpcs = sorted({i.vpc_id for i in cluster.instances if i.vpc_id})
    answers = [has_kms_endpoint(vpc) for vpc in vpcs] if has_kms_endpoint is not None else []
    if answers and all(answers):
        return None
    where = f"VPC {', '.join(vpcs)}" if vpcs else "the cluster's VPC"
    asked = "could not be asked about VPC endpoints" if None in answers or not answers else "found none"
    return Finding(
        "KmsNetworkUnconfirmed",
        f"Aurora MySQL {cluster.engine_version} needs its instances to reach the KMS endpoint, or the activity stream "
        f"stops; no instance is publicly accessible and DAS Guard {asked} (com.amazonaws.{cluster.region}.kms in "
        f"{where}); a NAT route may still exist",
        f"Add an interface endpoint com.amazonaws.{cluster.region}.kms to {where} (or make sure a NAT route exists), "
        "or upgrade past Aurora MySQL 3.04.2, which no longer needs the route.",
    )
