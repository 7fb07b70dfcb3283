"""The only module that calls AWS. Everything else receives plain data from here.

Errors are mapped once: an `AwsError` carries the API error code and whether retrying later may help
(throttling, 5xx, timeouts, connection failures) after botocore's own retries are exhausted.
Clients are created lazily so a cold start only loads the service models an invocation actually uses.
Caches (the policy text, KMS key lookups) expire by the injected clock, so a local scenario that lets an
hour pass sees a changed policy exactly as a Lambda container would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .clock import Clock
from .findings import FindingRecord
from .gateway import AwsError
from .model import (
    AURORA_ENGINES,
    ClusterInfo,
    Hold,
    KeyInfo,
    KeyLookup,
    Protection,
    StartRequest,
    StreamMark,
    StreamRecord,
)

T = TypeVar("T")
STREAM_RECORD_STATES = frozenset({"on", "reported", "allowed", "scheduled"})

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottledException",
        "SlowDown",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "KMSInternalException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
SUPPORT_CACHE_SECONDS = (
    6 * 3600
)  # what AWS supports per engine/version/class changes with AWS releases, not by the minute
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    user_agent_extra="das-guard/0.1",
)


def _pages(client: Any, operation: str, method: str, key: str, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
    """A paged RDS listing, 100 items a request, its errors mapped like every other call's."""
    pages = client.get_paginator(method).paginate(PaginationConfig={"PageSize": 100}, **kwargs)
    iterator = iter(pages)
    while True:
        try:
            page = next(iterator)
        except StopIteration:
            return
        except (ClientError, BotoCoreError) as err:
            raise as_aws_error(operation, err) from err
        yield list(page.get(key, []))


def as_aws_error(operation: str, err: ClientError | BotoCoreError) -> AwsError:
    """Classify a botocore failure once, for every call."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return AwsError(
            operation, code, str(error.get("Message", "")), transient=code in TRANSIENT_CODES or status >= 500
        )
    # connection errors, timeouts: nothing was decided by AWS
    return AwsError(operation, type(err).__name__, str(err), transient=True)


BATCH_WRITE_ATTEMPTS = 4


def _stream_item(mark: StreamMark) -> dict[str, Any]:
    assert mark.state in STREAM_RECORD_STATES
    item = {
        "pk": {"S": f"stream#{mark.resource_id}"},
        "state": {"S": mark.state},
        "cluster_arn": {"S": mark.cluster_arn},
        "at": {"S": mark.at.isoformat()},
    }
    if mark.protection is not None:
        item |= {"rule": {"S": mark.protection.label}, "rank": {"N": str(mark.protection.rank)}}
    return item


def _call(operation: str, fn: Callable[..., T], **kwargs: Any) -> T:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise as_aws_error(operation, err) from err


@dataclass
class _TtlCache:
    """A tiny per-container cache. KMS keys and the policy change rarely; a minute of staleness is fine."""

    ttl_seconds: float
    clock: Clock
    _items: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get_or_load(self, key: str, load: Callable[[], T]) -> T:
        now = self.clock.now().timestamp()
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > now:
                return hit[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            self._items[key] = (now + self.ttl_seconds, value)
        return value

    def offer(self, key: str, value: Any) -> None:
        """Cache `value` under `key` too, unless a fresh entry is there already."""
        now = self.clock.now().timestamp()
        with self._lock:
            hit = self._items.get(key)
            if not hit or hit[0] <= now:
                self._items[key] = (now + self.ttl_seconds, value)


class AwsGateway:
    def __init__(
        self,
        session: boto3.Session,
        clock: Clock,
        *,
        policy_parameter: str,
        alert_topic_arn: str | None,
        queue_url: str | None,
        cache_seconds: float = 60.0,
        state_table: str | None = None,
    ) -> None:
        self._session = session
        self.state_table = state_table
        self.policy_parameter = policy_parameter
        self.alert_topic_arn = alert_topic_arn
        self.queue_url = queue_url
        self._keys = _TtlCache(cache_seconds, clock)
        self._policy = _TtlCache(cache_seconds, clock)
        self._support = _TtlCache(SUPPORT_CACHE_SECONDS, clock)
        self.policy_version: int | None = None  # of the policy text last read

    # -- clients (lazy) -----------------------------------------------------------------------------------
    @cached_property
    def _rds(self) -> Any:
        return self._session.client("rds", config=CLIENT_CONFIG)

    @cached_property
    def _kms(self) -> Any:
        return self._session.client("kms", config=CLIENT_CONFIG)

    @cached_property
    def _sns(self) -> Any:
        return self._session.client("sns", config=CLIENT_CONFIG)

    @cached_property
    def _sqs(self) -> Any:
        return self._session.client("sqs", config=CLIENT_CONFIG)

    @cached_property
    def _events(self) -> Any:
        return self._session.client("events", config=CLIENT_CONFIG)

    @cached_property
    def _dynamodb(self) -> Any:
        return self._session.client("dynamodb", config=CLIENT_CONFIG)

    @cached_property
    def _ssm(self) -> Any:
        """In the policy parameter's own region: an organisation's policy is one parameter, shared through AWS RAM
        from the security account, and a shared parameter is read by its ARN in the region it lives in."""
        return self._session.client("ssm", config=CLIENT_CONFIG, region_name=parameter_region(self.policy_parameter))

    @cached_property
    def _securityhub(self) -> Any:
        return self._session.client("securityhub", config=CLIENT_CONFIG)

    # -- reads --------------------------------------------------------------------------------------------
    def policy_text(self) -> str:
        """The policy document, cached for `cache_seconds` (by the injected clock, hence not Powertools
        Parameters, whose cache follows the wall clock).

        Every failure to read it is reported as transient: the cure (creating or fixing the parameter,
        or its IAM permission) happens outside this function, and the events must wait for it, not be lost.
        """
        return self._policy.get_or_load(self.policy_parameter, self._read_policy)

    def _read_policy(self) -> str:
        try:
            response = _call("ssm:GetParameter", self._ssm.get_parameter, Name=self.policy_parameter)
        except AwsError as err:
            raise AwsError(err.operation, err.code, err.message, transient=True) from err
        self.policy_version = int(response["Parameter"].get("Version") or 0)  # for evidence (the CLI's audit)
        return str(response["Parameter"]["Value"])

    def policy_versions(self, version: int | None) -> tuple[str | None, str, int]:
        """(the text before `version`, the text of `version`, its number) from the parameter's history, read
        live; the newest version when `version` is None or unknown. None: there was no earlier version."""
        history: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Name": self.policy_parameter, "MaxResults": 50}
        while True:
            page = _call("ssm:GetParameterHistory", self._ssm.get_parameter_history, **kwargs)
            history += page.get("Parameters", [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        history.sort(key=lambda p: int(p.get("Version", 0)))
        if not history:
            raise AwsError("ssm:GetParameterHistory", "ParameterNotFound", self.policy_parameter, transient=True)
        index = next((i for i, p in enumerate(history) if p.get("Version") == version), len(history) - 1)
        before = str(history[index - 1]["Value"]) if index > 0 else None
        return before, str(history[index]["Value"]), int(history[index]["Version"])

    def describe_cluster(self, cluster_id: str) -> ClusterInfo | None:
        """The live cluster with its instances' classes and states; None if it does not exist (any more)."""
        try:
            response = _call("rds:DescribeDBClusters", self._rds.describe_db_clusters, DBClusterIdentifier=cluster_id)
        except AwsError as err:
            if err.code == "DBClusterNotFoundFault":
                return None
            raise
        clusters = response.get("DBClusters", [])
        if not clusters:
            return None
        cluster = clusters[0]
        instances: list[dict[str, Any]] = []
        if cluster.get("DBClusterMembers") and cluster.get("Engine") in AURORA_ENGINES | {"aurora"}:
            # One call for all members (a cluster has at most 16), filtered server-side.
            response = _call(
                "rds:DescribeDBInstances",
                self._rds.describe_db_instances,
                Filters=[{"Name": "db-cluster-id", "Values": [cluster["DBClusterIdentifier"]]}],
            )
            instances = response.get("DBInstances", [])
        return ClusterInfo.from_api(cluster, instances)

    def cluster_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every cluster in the region, a page (up to 100) at a time. DescribeDBClusters carries tags and DAS status."""
        yield from _pages(self._rds, "rds:DescribeDBClusters", "describe_db_clusters", "DBClusters")

    def region_clusters(self) -> Iterator[ClusterInfo]:
        """Every cluster of the region with its instances' classes, from paged bulk reads (the sweep and the
        CLI's audit). The two listings are read side by side - the instances (filtered to Aurora engines) in a
        second thread while this one reads the cluster pages - so a large region waits for the longer of the two
        listings, not for both one after the other. The client is shared: boto3 clients are thread-safe once
        created, and it is created here, before the second thread starts."""
        rds = self._rds
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="das-guard-instances") as side:
            instances_read = side.submit(self.aurora_instances_by_cluster, rds)
            try:
                pages = list(self.cluster_pages())
            except BaseException:
                instances_read.cancel()
                raise
            instances = instances_read.result()
        for page in pages:
            for raw in page:
                yield ClusterInfo.from_api(raw, instances.get(raw["DBClusterIdentifier"], []))

    def aurora_instances_by_cluster(self, rds: Any) -> dict[str, list[dict[str, Any]]]:
        """All Aurora instances of the region, grouped by cluster: a few paged calls instead of one per cluster."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for page in _pages(
            rds,
            "rds:DescribeDBInstances",
            "describe_db_instances",
            "DBInstances",
            Filters=[{"Name": "engine", "Values": sorted(AURORA_ENGINES)}],
        ):
            for instance in page:
                if instance.get("DBClusterIdentifier"):
                    grouped.setdefault(instance["DBClusterIdentifier"], []).append(instance)
        return grouped

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
        modes: set[str] = set()
        seen = False
        kwargs: dict[str, Any] = {"Engine": engine, "EngineVersion": version, "DBInstanceClass": instance_class}
        while True:
            page = _call(
                "rds:DescribeOrderableDBInstanceOptions", self._rds.describe_orderable_db_instance_options, **kwargs
            )
            for option in page.get("OrderableDBInstanceOptions", []):
                seen = True
                modes.update(str(m) for m in option.get("SupportedActivityStreamModes") or [])
            if not page.get("Marker"):
                break
            kwargs["Marker"] = page["Marker"]
        return tuple(sorted(modes)) if seen else None

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
        kwargs: dict[str, Any] = {"DBClusterParameterGroupName": parameter_group}
        while True:
            page = _call("rds:DescribeDBClusterParameters", self._rds.describe_db_cluster_parameters, **kwargs)
            for parameter in page.get("Parameters", []):
                if parameter.get("ParameterName") == "rds.babelfish_status":
                    return str(parameter.get("ParameterValue", "")).lower() == "on"
            if not page.get("Marker"):
                return False
            kwargs["Marker"] = page["Marker"]

    def blue_green_clusters(self, deployment_id: str) -> tuple[list[str], bool] | None:
        """(the names the deployment's blue (source) and green (target) clusters have now - a switchover renames
        both -, blue first; whether the switchover completed). None if the deployment does not exist (any more)."""
        try:
            response = _call(
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

    def instance_cluster(self, instance_id: str) -> tuple[bool, str | None]:
        """(exists, cluster identifier or None for a standalone instance)."""
        try:
            response = _call(
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

    def describe_key(self, reference: str) -> KeyLookup:
        """Resolve a key ID, key ARN, alias or alias ARN; cached per container, under the reference asked and the
        key's ARN (running streams name their key by ARN: the policy's alias answers for them too)."""
        lookup = self._keys.get_or_load(reference, lambda: self._describe_key(reference))
        if lookup.key is not None and lookup.key.arn != reference:
            self._keys.offer(lookup.key.arn, replace(lookup, reference=lookup.key.arn))
        return lookup

    def _describe_key(self, reference: str) -> KeyLookup:
        try:
            response = _call("kms:DescribeKey", self._kms.describe_key, KeyId=reference)
        except AwsError as err:
            if err.transient:
                raise
            return KeyLookup(reference, None, err.code, err.message)
        return KeyLookup(reference, KeyInfo.from_api(response["KeyMetadata"]))

    # -- state: break-glass holds and once-only notices (DynamoDB, items expire by TTL) --------------------
    def _state_item(self, key: str) -> dict[str, Any] | None:
        """One item of the state table (consistent read); None when absent or there is no table."""
        if not self.state_table:
            return None
        response = _call(
            "dynamodb:GetItem",
            self._dynamodb.get_item,
            TableName=self.state_table,
            Key={"pk": {"S": key}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def hold_for(self, resource_id: str, now: datetime) -> Hold | None:
        hold = _hold_from_item(self._state_item(f"hold#{resource_id}")) if resource_id else None
        return hold if hold and (hold.problem or hold.until > now) else None

    def holds(self, now: datetime) -> dict[str, Hold]:
        """Every active hold (one paginated scan instead of a read per cluster)."""
        return self.sweep_state(now)[0]

    def sweep_state(self, now: datetime) -> tuple[dict[str, Hold], dict[str, StreamRecord]]:
        """One paginated scan of the state table: the active holds and the stream records (what DAS Guard last
        knew of each stream, see `mark_stream`), both by DbClusterResourceId."""
        holds: dict[str, Hold] = {}
        streams: dict[str, StreamRecord] = {}
        if not self.state_table:
            return holds, streams
        kwargs: dict[str, Any] = {"TableName": self.state_table}
        while True:
            page = _call("dynamodb:Scan", self._dynamodb.scan, **kwargs)
            for item in page.get("Items", []):
                key = _string(item, "pk") or ""
                if key.startswith("stream#"):
                    record = _record_from_item(item)
                    if record is not None:
                        streams[key.removeprefix("stream#")] = record
                    continue
                hold = _hold_from_item(item)
                if hold and (hold.problem or hold.until > now):
                    holds[hold.resource_id] = hold
            if "LastEvaluatedKey" not in page:
                return holds, streams
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_stream(
        self, resource_id: str, cluster_arn: str, state: str, now: datetime, protection: Protection | None = None
    ) -> None:
        """Remember what DAS Guard knows of a cluster's stream (`on`: it started it or saw it running; `reported`: a
        stop was reported; `allowed`: stopped by a break-glass principal) and the rule guarding it then, keyed by
        the resource id, which stays with the cluster through renames. No state table: nothing to remember."""
        if not self.state_table or not resource_id:
            return
        item = _stream_item(StreamMark(resource_id, cluster_arn, state, now, protection))
        _call("dynamodb:PutItem", self._dynamodb.put_item, TableName=self.state_table, Item=item)

    def mark_streams(self, marks: Sequence[StreamMark]) -> None:
        """Many stream records in BatchWriteItem requests of 25 (the first sweep of a region records every running
        stream: 25 times fewer requests than one PutItem each). Items DynamoDB leaves unprocessed are sent again, a
        few times; what is still left raises, and the next sweep writes it."""
        items = [_stream_item(m) for m in marks if m.resource_id]
        if not self.state_table or not items:
            return
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            unprocessed: list[dict[str, Any]] = []
            for first in range(0, len(pending), 25):
                answer = _call(
                    "dynamodb:BatchWriteItem",
                    self._dynamodb.batch_write_item,
                    RequestItems={self.state_table: pending[first : first + 25]},
                )
                unprocessed += answer.get("UnprocessedItems", {}).get(self.state_table, [])
            if not unprocessed:
                return
            pending = unprocessed
            if attempt + 1 < BATCH_WRITE_ATTEMPTS:
                time.sleep(0.05 * 2**attempt)
        raise AwsError(
            "dynamodb:BatchWriteItem",
            "UnprocessedItems",
            f"{len(pending)} stream record(s) still unprocessed after {BATCH_WRITE_ATTEMPTS} attempts",
            transient=True,
        )

    def stream_record(self, resource_id: str) -> StreamRecord | None:
        return _record_from_item(self._state_item(f"stream#{resource_id}") or {}) if resource_id else None

    def place_hold(self, hold: Hold) -> None:
        if not self.state_table:
            raise AwsError("dynamodb:PutItem", "NoStateTable", "DAS_GUARD_STATE_TABLE is not set", transient=False)
        _call(
            "dynamodb:PutItem",
            self._dynamodb.put_item,
            TableName=self.state_table,
            Item={
                "pk": {"S": f"hold#{hold.resource_id}"},
                "cluster_arn": {"S": hold.cluster_arn},
                "principal": {"S": hold.principal},
                "until": {"S": hold.until.isoformat()},
                "expires_at": {"N": str(int(hold.until.timestamp()) + 86400)},
            },
        )

    def first_notice(self, key: str, keep_seconds: int, now: datetime) -> bool:
        """True the first time `key` is noticed (across all containers); False while it is remembered."""
        if not self.state_table:
            return True
        try:
            _call(
                "dynamodb:PutItem",
                self._dynamodb.put_item,
                TableName=self.state_table,
                Item={"pk": {"S": f"notice#{key}"}, "expires_at": {"N": str(int(now.timestamp()) + keep_seconds)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except AwsError as err:
            if err.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- Security Hub findings: the last import per cluster, and the import itself ------------------------
    def finding_record(self, resource_id: str) -> FindingRecord | None:
        return _finding_from_item(self._state_item(f"finding#{resource_id}") or {})

    def finding_records(self) -> list[FindingRecord]:
        """Every cluster's last import (one paginated scan, for the sweep); malformed items are skipped."""
        if not self.state_table:
            return []
        records: list[FindingRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self.state_table,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": "finding#"}},
        }
        while True:
            page = _call("dynamodb:Scan", self._dynamodb.scan, **kwargs)
            records += [r for r in map(_finding_from_item, page.get("Items", [])) if r is not None]
            if "LastEvaluatedKey" not in page:
                return records
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remember_finding(self, record: FindingRecord) -> None:
        if not self.state_table:
            return
        item = {
            "pk": {"S": f"finding#{record.resource_id}"},
            "fingerprint": {"S": record.fingerprint},
            "compliance": {"S": record.compliance},
            "asff": {"S": json.dumps(record.asff)},
        }
        _call("dynamodb:PutItem", self._dynamodb.put_item, TableName=self.state_table, Item=item)

    def forget_finding(self, resource_id: str) -> None:
        if not self.state_table:
            return
        _call(
            "dynamodb:DeleteItem",
            self._dynamodb.delete_item,
            TableName=self.state_table,
            Key={"pk": {"S": f"finding#{resource_id}"}},
        )

    def import_findings(self, findings: list[dict[str, Any]]) -> list[str]:
        """BatchImportFindings (at most 100); returns the ids Security Hub refused."""
        response = _call("securityhub:BatchImportFindings", self._securityhub.batch_import_findings, Findings=findings)
        return [str(f.get("Id")) for f in response.get("FailedFindings", [])]

    # -- writes -------------------------------------------------------------------------------------------
    def start_activity_stream(self, request: StartRequest) -> dict[str, Any]:
        response = _call(
            "rds:StartActivityStream",
            self._rds.start_activity_stream,
            ResourceArn=request.cluster_arn,
            Mode=request.mode,
            KmsKeyId=request.kms_key_id,
            ApplyImmediately=request.apply_immediately,
        )
        response.pop("ResponseMetadata", None)
        return dict(response)

    def publish_alert(self, subject: str, message: str) -> str | None:
        if not self.alert_topic_arn:
            return None
        response = _call(
            "sns:Publish", self._sns.publish, TopicArn=self.alert_topic_arn, Subject=subject[:100], Message=message
        )
        return str(response.get("MessageId", ""))

    def hand_off(self, bodies: list[str]) -> None:
        """Queue evaluations the sweep had no time for (SendMessageBatch, ten per call)."""
        if not self.queue_url:
            raise AwsError(
                "sqs:SendMessageBatch", "NoQueueConfigured", "DAS_GUARD_QUEUE_URL is not set", transient=False
            )
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
            response = _call(
                "sqs:SendMessageBatch", self._sqs.send_message_batch, QueueUrl=self.queue_url, Entries=entries
            )
            if response.get("Failed"):
                failed = response["Failed"][0]
                raise AwsError(
                    "sqs:SendMessageBatch", str(failed.get("Code")), str(failed.get("Message")), transient=True
                )

    def put_events(self, entries: list[dict[str, Any]]) -> list[str]:
        """PutEvents, ten entries a call (its limit); returns the error codes of entries EventBridge refused."""
        refused: list[str] = []
        for start in range(0, len(entries), 10):
            response = _call("events:PutEvents", self._events.put_events, Entries=entries[start : start + 10])
            refused += [str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")]
        return refused

    def schedule_retry(self, body: str, delay_seconds: int) -> None:
        if not self.queue_url:
            raise AwsError(
                "sqs:SendMessage", "NoQueueConfigured", "DAS_GUARD_QUEUE_URL is not set; cannot defer", transient=False
            )
        _call(
            "sqs:SendMessage",
            self._sqs.send_message,
            QueueUrl=self.queue_url,
            MessageBody=body,
            DelaySeconds=max(0, min(delay_seconds, 900)),
        )


def parameter_region(parameter: str) -> str | None:
    """The region of a parameter given by ARN (arn:aws:ssm:<region>:<account>:parameter/...); None for a name."""
    parts = parameter.split(":")
    return parts[3] if parameter.startswith("arn:") and len(parts) > 5 and parts[3] else None


def _string(item: dict[str, Any], name: str) -> str | None:
    """A DynamoDB string attribute, or None where the item (perhaps written by someone else) has anything else."""
    value = item.get(name)
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def _record_from_item(item: dict[str, Any]) -> StreamRecord | None:
    """A stream record as DAS Guard writes it; an unknown state is no record, a broken rule no protection."""
    state = _string(item, "state")
    if state not in STREAM_RECORD_STATES:
        return None
    label = _string(item, "rule")
    rank = item.get("rank")
    number = rank.get("N") if isinstance(rank, dict) else None
    try:
        at: datetime | None = datetime.fromisoformat(_string(item, "at") or "")
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        at = None
    if label is None or not isinstance(number, str) or number not in {"0", "1", "2", "3"}:
        return StreamRecord(str(state), at=at)
    return StreamRecord(str(state), Protection(int(number), label), at)


def _finding_from_item(item: dict[str, Any]) -> FindingRecord | None:
    key = _string(item, "pk") or ""
    fingerprint, compliance, text = (_string(item, n) for n in ("fingerprint", "compliance", "asff"))
    if not key.startswith("finding#") or fingerprint is None or compliance is None or text is None:
        return None
    try:
        asff = json.loads(text)
    except ValueError:
        return None
    return (
        FindingRecord(key.removeprefix("finding#"), fingerprint, compliance, asff) if isinstance(asff, dict) else None
    )


def _hold_from_item(item: dict[str, Any] | None) -> Hold | None:
    """A hold item as DAS Guard writes it; anything else becomes a Hold with `problem` set (reported, ignored)."""
    if not item:
        return None
    key = _string(item, "pk")
    if key is None or not key.startswith("hold#"):
        return None
    resource_id = key.removeprefix("hold#")
    arn = _string(item, "cluster_arn") or ""
    principal = _string(item, "principal")
    until_text = _string(item, "until")
    try:
        until = datetime.fromisoformat(str(until_text))
    except ValueError:
        until = None
    if principal is None or until is None or until.tzinfo is None:
        shown = {k: v for k, v in item.items() if k != "pk"}
        return Hold(
            resource_id,
            str(principal or "?"),
            datetime.min.replace(tzinfo=UTC),
            problem=f"malformed item {shown}"[:300],
            cluster_arn=arn,
        )
    return Hold(resource_id, principal, until, cluster_arn=arn)
