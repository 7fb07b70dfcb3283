"""RDS: the live clusters and their instances, what AWS supports for them, and the one write DAS Guard makes
(StartActivityStream; it can never stop a stream)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

import boto3

from ..clock import Clock
from ..gateway import AwsError
from ..model import ACTIVE_STREAM_STATES, AURORA_ENGINES, ClusterInfo, MalformedCluster, MalformedRecord, StartRequest
from .calls import CLIENT_CONFIG, TtlCache, call, pages

# What AWS supports per engine, version and class changes with AWS releases, not by the minute.
SUPPORT_CACHE_SECONDS = 6 * 3600


class RdsClusters:
    """Cluster reads for one evaluation and for the whole region, support lookups, and the start."""

    def __init__(self, session: boto3.Session, clock: Clock) -> None:
        self._session = session
        self._support = TtlCache(SUPPORT_CACHE_SECONDS, clock)

    @cached_property
    def _rds(self) -> Any:
        return self._session.client("rds", config=CLIENT_CONFIG)

    @cached_property
    def _ec2(self) -> Any:
        return self._session.client("ec2", config=CLIENT_CONFIG)

    def has_kms_endpoint(self, vpc_id: str) -> bool | None:
        """Whether the VPC has an available interface endpoint for KMS (the network prerequisite of older Aurora MySQL
        streams); None where EC2 cannot be asked. Cached per container like the other support answers."""
        try:
            return self._support.get_or_load(f"kms-endpoint|{vpc_id}", lambda: self._kms_endpoint(vpc_id))
        except AwsError:
            return None

    def _kms_endpoint(self, vpc_id: str) -> bool:
        service = f"com.amazonaws.{self._session.region_name}.kms"
        listing = pages(
            self._ec2,
            "ec2:DescribeVpcEndpoints",
            "VpcEndpoints",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "service-name", "Values": [service]}],
        )
        return any(
            str(endpoint.get("State", "")).lower() == "available"
            and str(endpoint.get("VpcEndpointType", "Interface")) == "Interface"
            for page in listing
            for endpoint in page
        )

    def describe_cluster(self, cluster_id: str, *, instances: bool = True) -> ClusterInfo | None:
        """The live cluster with its instances' classes and states where its verdict may need them (an Aurora
        cluster whose stream is not running: a running stream is judged by its key, mode and records alone), so an
        event about a cluster already streaming costs one call; `instances=False`: never, for a question about its
        name and tags only. None if it does not exist (any more)."""
        try:
            response = call("rds:DescribeDBClusters", self._rds.describe_db_clusters, DBClusterIdentifier=cluster_id)
        except AwsError as err:
            if err.code == "DBClusterNotFoundFault":
                return None
            raise
        clusters = response.get("DBClusters", [])
        if not clusters:
            return None
        cluster = clusters[0]
        members: list[dict[str, Any]] = []
        if instances and needs_instances(cluster):  # the sweep's predicate: both paths give one cluster one verdict
            # One call for all members (a cluster has at most 16), filtered server-side.
            response = call(
                "rds:DescribeDBInstances",
                self._rds.describe_db_instances,
                Filters=[{"Name": "db-cluster-id", "Values": [cluster["DBClusterIdentifier"]]}],
            )
            members = response.get("DBInstances", [])
        return ClusterInfo.from_api(cluster, members)  # MalformedRecord: the enforcer reports it

    def name_of(self, resource_id: str) -> str | None:
        """The name a cluster has now, found by its DbClusterResourceId (which a rename does not change); None if no
        cluster has it (any more)."""
        response = call(
            "rds:DescribeDBClusters",
            self._rds.describe_db_clusters,
            Filters=[{"Name": "db-cluster-resource-id", "Values": [resource_id]}],
        )
        found = [c.get("DBClusterIdentifier") for c in response.get("DBClusters", []) if isinstance(c, dict)]
        return str(found[0]) if found and found[0] else None

    def snapshot_source(self, snapshot: str) -> str | None:
        """The cluster a cluster snapshot of this account was taken from (by identifier or ARN); None if there is no
        such snapshot here (deleted, or shared from another account: its ARN names another account or region)."""
        parts = snapshot.split(":")
        if snapshot.startswith("arn:"):
            if len(parts) < 7 or parts[5] != "cluster-snapshot" or parts[3] != self._session.region_name:
                return None
            snapshot = ":".join(parts[6:])  # automated snapshots are named rds:<cluster>-<date>
        try:
            response = call(
                "rds:DescribeDBClusterSnapshots",
                self._rds.describe_db_cluster_snapshots,
                DBClusterSnapshotIdentifier=snapshot,
                **({"SnapshotType": "automated"} if snapshot.startswith("rds:") else {}),
            )
        except AwsError as err:
            if err.code in {"DBClusterSnapshotNotFoundFault", "InvalidParameterValue"}:
                return None
            raise
        found = [s.get("DBClusterIdentifier") for s in response.get("DBClusterSnapshots", []) if isinstance(s, dict)]
        return str(found[0]).lower() if found and found[0] else None

    def cluster_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every cluster in the region, a page (up to 100) at a time. DescribeDBClusters carries tags and DAS status."""
        yield from pages(self._rds, "rds:DescribeDBClusters", "DBClusters")

    def region_clusters(self, *, every_instance: bool = False) -> Iterator[ClusterInfo | MalformedCluster]:
        """Every cluster of the region, from paged bulk reads (the sweep and the CLI's audit).

        Instances (classes, states, network) are read only for the clusters whose verdict needs them: those without a
        running stream, 100 clusters to a DescribeDBInstances (`db-cluster-id` takes at most 100 identifiers) - or
        every Aurora instance of the region, where that listing takes fewer pages (the clusters' member counts say).
        A running stream is judged by its key, mode and records, never by its instances, so the daily sweep of an
        enforced fleet reads almost no instance at all. `every_instance` (the CLI's audit, whose rows show each
        cluster's classes): every Aurora instance, listed in a second thread while this one reads the cluster pages
        (the client is shared: boto3 clients are thread-safe once created, and it is created here first).

        The client is made when this is called, on the caller's thread, and nothing is read until the first item is
        asked for: the sweep reads the listing in a thread of its own while it reads the policy and the state table
        (a boto3 session may not make clients on two threads at once; a client may be used from any)."""
        return self._region_clusters(self._rds, every_instance=every_instance)

    def _region_clusters(self, rds: Any, *, every_instance: bool) -> Iterator[ClusterInfo | MalformedCluster]:
        if every_instance:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="das-guard-instances") as side:
                instances_read = side.submit(aurora_instances_by_cluster, rds)
                cluster_pages = list(self.cluster_pages())  # if this fails, leaving the block waits for the other
                instances = instances_read.result()
        else:
            cluster_pages = list(self.cluster_pages())
            listed = [raw for page in cluster_pages for raw in page]
            wanted = [raw for raw in listed if needs_instances(raw)]
            if targeted_reads(wanted) <= -(-sum(members(raw) for raw in listed if is_aurora(raw)) // 100):
                instances = instances_of_clusters(rds, [str(raw["DBClusterIdentifier"]) for raw in wanted])
            else:  # most clusters need theirs (a fleet not yet enforced): the whole listing costs fewer pages
                instances = aurora_instances_by_cluster(rds)
        for page in cluster_pages:
            for raw in page:
                name = str(raw.get("DBClusterIdentifier") or "") if isinstance(raw, dict) else ""
                try:
                    yield ClusterInfo.from_api(raw, instances.get(name, []))
                except MalformedRecord as err:  # one odd record never costs the others
                    yield MalformedCluster(name, str(err))

    def uncovered_regions(self, enforcer_function: str) -> list[tuple[str, int]]:
        """(region, Aurora clusters there) for every region enabled in the account, other than this one, that has
        Aurora clusters and no DAS Guard enforcer (`enforcer_function`, the name every stack of this deployment
        gives it). A region that cannot be read is left out: it is said, not guessed (the caller logs it)."""
        here = self._session.region_name
        enabled = call("ec2:DescribeRegions", self._ec2.describe_regions).get("Regions", [])
        gaps: list[tuple[str, int]] = []
        for region in sorted(
            {str(r.get("RegionName")) for r in enabled if isinstance(r, dict) and r.get("RegionName")}
        ):
            if region == here:
                continue
            rds = self._session.client("rds", region_name=region, config=CLIENT_CONFIG)
            aurora = sum(
                len(page)
                for page in pages(
                    rds,
                    "rds:DescribeDBClusters",
                    "DBClusters",
                    Filters=[{"Name": "engine", "Values": sorted(AURORA_ENGINES)}],
                )
            )
            if not aurora:
                continue
            lam = self._session.client("lambda", region_name=region, config=CLIENT_CONFIG)
            try:
                call("lambda:GetFunction", lam.get_function, FunctionName=enforcer_function)
            except AwsError as err:
                if err.code != "ResourceNotFoundException":
                    raise
                gaps.append((region, aurora))
        return gaps

    def instance_cluster(self, instance_id: str) -> tuple[bool, str | None]:
        """(exists, cluster identifier or None for a standalone instance)."""
        try:
            response = call(
                "rds:DescribeDBInstances", self._rds.describe_db_instances, DBInstanceIdentifier=instance_id
            )
        except AwsError as err:
            if err.code in {"DBInstanceNotFound", "DBInstanceNotFoundFault"}:
                return False, None
            raise
        instances = response.get("DBInstances", [])
        if not instances:
            return False, None
        return True, instances[0].get("DBClusterIdentifier")

    def blue_green_clusters(self, deployment_id: str) -> tuple[list[str], bool] | None:
        """(the names the deployment's blue (source) and green (target) clusters have now - a switchover renames
        both -, blue first; whether the switchover completed). None if the deployment does not exist (any more)."""
        try:
            response = call(
                "rds:DescribeBlueGreenDeployments",
                self._rds.describe_blue_green_deployments,
                BlueGreenDeploymentIdentifier=deployment_id,
            )
        except AwsError as err:
            if err.code == "BlueGreenDeploymentNotFoundFault":
                return None
            raise
        names: list[str] = []
        switched = False
        for deployment in response.get("BlueGreenDeployments", [])[:1]:
            switched = str(deployment.get("Status", "")) == "SWITCHOVER_COMPLETED"
            for arn in (deployment.get("Source"), deployment.get("Target")):
                parts = str(arn or "").split(":")
                if len(parts) == 7 and parts[5] == "cluster":
                    names.append(parts[6])
        return names, switched

    def activity_stream_modes(self, engine: str, version: str, instance_class: str) -> tuple[str, ...] | None:
        """AWS's SupportedActivityStreamModes for an engine version on an instance class in this region: () where
        DAS is unsupported, None where AWS could not be asked or knows no such combination (the caller falls back
        to its own table and says so). Cached per container, one call per distinct combination."""
        key = f"{engine}|{version}|{instance_class}"
        try:
            return self._support.get_or_load(key, lambda: self._orderable_modes(engine, version, instance_class))
        except AwsError:
            return None  # not cached: the next evaluation asks again

    def _orderable_modes(self, engine: str, version: str, instance_class: str) -> tuple[str, ...] | None:
        options = [
            option
            for page in pages(
                self._rds,
                "rds:DescribeOrderableDBInstanceOptions",
                "OrderableDBInstanceOptions",
                Engine=engine,
                EngineVersion=version,
                DBInstanceClass=instance_class,
            )
            for option in page
        ]
        modes = {str(m) for option in options for m in option.get("SupportedActivityStreamModes") or []}
        return tuple(sorted(modes)) if options else None

    def babelfish_enabled(self, parameter_group: str) -> bool | None:
        """Whether `rds.babelfish_status` is `on` in a cluster parameter group (Babelfish clusters have no DAS); None
        where it cannot be read. Default groups cannot enable it and are not read. Cached per container."""
        if not parameter_group or parameter_group.startswith("default."):
            return False
        try:
            return self._support.get_or_load(f"babelfish|{parameter_group}", lambda: self._babelfish(parameter_group))
        except AwsError:
            return None

    def _babelfish(self, parameter_group: str) -> bool:
        listing = pages(
            self._rds,
            "rds:DescribeDBClusterParameters",
            "Parameters",
            DBClusterParameterGroupName=parameter_group,
        )
        for page in listing:
            for parameter in page:
                if parameter.get("ParameterName") == "rds.babelfish_status":
                    return str(parameter.get("ParameterValue", "")).lower() == "on"
        return False

    def start_activity_stream(self, request: StartRequest) -> dict[str, Any]:
        response = call(
            "rds:StartActivityStream",
            self._rds.start_activity_stream,
            ResourceArn=request.cluster_arn,
            Mode=request.mode,
            KmsKeyId=request.kms_key_id,
            ApplyImmediately=request.apply_immediately,
        )
        response.pop("ResponseMetadata", None)
        return dict(response)


# DescribeDBInstances' and DescribeDBClusters' `db-cluster-id` filter: "Only up to 100 unique filter DB Cluster
# Identifiers may be specified per filter" (InvalidParameterCombination)
CLUSTER_FILTER_VALUES = 100


def is_aurora(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("DBClusterIdentifier"), str)
        and raw.get("Engine") in AURORA_ENGINES
    )


def members(raw: Any) -> int:
    """How many instances a DescribeDBClusters item lists (one where the list is missing or odd: ask)."""
    listed = raw.get("DBClusterMembers") if isinstance(raw, dict) else None
    return len(listed) if isinstance(listed, list) else 1


def needs_instances(raw: Any) -> bool:
    """Whether a DescribeDBClusters item's verdict may depend on its instances: an Aurora cluster with members whose
    stream is not running (starting or started). Defensive: an odd record is read with its instances, if it has any."""
    return is_aurora(raw) and raw.get("ActivityStreamStatus") not in ACTIVE_STREAM_STATES and members(raw) > 0


def targeted_reads(wanted: list[Any]) -> int:
    """The DescribeDBInstances pages `instances_of_clusters` takes for these clusters (100 clusters a filter, 100
    instances a page)."""
    chunks = [wanted[first : first + CLUSTER_FILTER_VALUES] for first in range(0, len(wanted), CLUSTER_FILTER_VALUES)]
    return sum(max(1, -(-sum(members(raw) for raw in chunk) // 100)) for chunk in chunks)


def instances_of_clusters(rds: Any, clusters: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The instances of `clusters`, grouped by cluster: one paged DescribeDBInstances per 100 clusters."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for first in range(0, len(clusters), CLUSTER_FILTER_VALUES):
        chunk = clusters[first : first + CLUSTER_FILTER_VALUES]
        _group_instances(rds, grouped, [{"Name": "db-cluster-id", "Values": chunk}])
    return grouped


def aurora_instances_by_cluster(rds: Any) -> dict[str, list[dict[str, Any]]]:
    """All Aurora instances of the region, grouped by cluster: a few paged calls instead of one per cluster."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    _group_instances(rds, grouped, [{"Name": "engine", "Values": sorted(AURORA_ENGINES)}])
    return grouped


def _group_instances(rds: Any, grouped: dict[str, list[dict[str, Any]]], filters: list[dict[str, Any]]) -> None:
    """Every page of DescribeDBInstances with `filters`, added to `grouped` by cluster (an odd item is skipped)."""
    for page in pages(rds, "rds:DescribeDBInstances", "DBInstances", Filters=filters):
        for instance in page:
            if isinstance(instance, dict) and instance.get("DBClusterIdentifier"):
                grouped.setdefault(str(instance["DBClusterIdentifier"]), []).append(instance)
