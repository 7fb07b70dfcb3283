"""Every message on the queue, reduced to *a cluster to evaluate* or to a reason to do nothing.

Messages are EventBridge events (CloudTrail API calls and native RDS events) or DAS Guard's own retry
messages for deferred clusters. Nothing here trusts the event's description of the cluster: it only says
*which* cluster; the enforcer then reads the live cluster. That is what makes duplicate, late and
out-of-order events converge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .model import Arn, Outcome, StopInfo

CLOUDTRAIL = "AWS API Call via CloudTrail"
CLUSTER_CREATING_CALLS = frozenset(
    {"CreateDBCluster", "RestoreDBClusterFromSnapshot", "RestoreDBClusterToPointInTime", "RestoreDBClusterFromS3"}
)
INSTANCE_CREATING_CALLS = frozenset({"CreateDBInstance"})
# A member's class changed or a member went away: the cluster may have become eligible (or ineligible)
INSTANCE_CHANGING_CALLS = frozenset({"ModifyDBInstance", "DeleteDBInstance"})
TAG_CALLS = frozenset({"AddTagsToResource", "RemoveTagsFromResource"})
BLUE_GREEN_CALLS = frozenset({"CreateBlueGreenDeployment", "SwitchoverBlueGreenDeployment"})
BLUE_GREEN_EVENT_TYPE = "RDS Blue Green Deployment Event"
# created (the green cluster now exists), switchover completed (green holds the production name), and the
# cluster-level switchover completed
BLUE_GREEN_EVENTS = frozenset({"RDS-EVENT-0244", "RDS-EVENT-0248", "RDS-EVENT-0260"})
RENAME_CALL = "ModifyDBCluster"  # routed only with newDBClusterIdentifier: a new name can match an exemption
STOP_CALL = "StopActivityStream"
CLUSTER_EVENTS = {"RDS-EVENT-0170", "RDS-EVENT-0172"}  # DB cluster created; renamed
INSTANCE_EVENTS = {"RDS-EVENT-0005", "RDS-EVENT-0014"}  # DB instance created; its class changed
STREAM_STOPPED_EVENT = "RDS-EVENT-0180"  # Database Activity Streams is stopped on your database cluster
CREATION_TRIGGERS = frozenset(
    {f"CloudTrail:{c}" for c in CLUSTER_CREATING_CALLS | INSTANCE_CREATING_CALLS}
    | {"RDS:RDS-EVENT-0170", "RDS:RDS-EVENT-0005"}
)


RETRY_KEY = "dasGuard"
RETRY_FORMAT = 1


@dataclass(frozen=True)
class Target:
    """A cluster to evaluate (or an instance whose cluster must be looked up first)."""

    trigger: str
    event_id: str
    first_seen: datetime
    cluster_id: str | None = None
    instance_id: str | None = None
    attempt: int = 0
    stop: StopInfo | None = None
    changed_by: str | None = None  # who changed the tags or the name (these choose the rule), from CloudTrail
    blue_green_id: str | None = None  # a blue/green deployment: evaluate its blue and green clusters, as they are now
    serves_no_one: bool = False  # a green cluster before switchover: starting its stream at once restarts no workload

    @property
    def is_creation(self) -> bool:
        """Creation events (and their retries) concern a cluster nobody can have stopped a stream on yet."""
        return self.trigger in CREATION_TRIGGERS

    @property
    def key(self) -> str:
        if self.blue_green_id:
            return f"blue-green:{self.blue_green_id}"
        return f"cluster:{self.cluster_id}" if self.cluster_id else f"instance:{self.instance_id}"

    def retry_message(self) -> str:
        """The body of the delayed message that brings a deferred cluster back."""
        return json.dumps(
            {
                RETRY_KEY: {
                    "format": RETRY_FORMAT,
                    "clusterId": self.cluster_id,
                    "trigger": self.trigger,
                    "eventId": self.event_id,
                    "firstSeen": self.first_seen.isoformat(),
                    "attempt": self.attempt + 1,
                    **({"blueGreenId": self.blue_green_id} if self.blue_green_id else {}),
                }
            }
        )


@dataclass(frozen=True)
class PolicyChange:
    """The policy parameter was written (CloudTrail PutParameter). Not about a cluster: DAS Guard reads the versions
    from SSM itself (never from the event) and announces what changed."""

    trigger: str
    event_id: str
    changed_by: str
    version: int | None  # the version the call created, if the event says


@dataclass(frozen=True)
class Dismissal:
    """A message that needs no evaluation, with the outcome and reason to record for it."""

    outcome: Outcome
    reason: str
    detail: str
    trigger: str = "unknown"
    event_id: str = ""


def parse_message(
    body: str, *, region: str, account: str, now: datetime, policy_parameter: str | None = None
) -> Target | PolicyChange | Dismissal:
    """Reduce one queue message body to a Target (or a PolicyChange), or explain why there is nothing to do."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, integers past 4,300 digits
        return Dismissal(Outcome.IGNORED, "MalformedMessage", f"message body is not JSON: {body[:200]!r}")
    if not isinstance(event, dict):
        return Dismissal(Outcome.IGNORED, "MalformedMessage", f"message body is a JSON {type(event).__name__}")
    if RETRY_KEY in event:
        return _parse_retry(event[RETRY_KEY], now)
    if event.get("source") == "aws.ssm" and policy_parameter:
        return _policy_change(event, policy_parameter, account=account)
    return _parse_eventbridge(event, region=region, account=account, now=now)


def _policy_change(event: dict[str, Any], policy_parameter: str, *, account: str) -> PolicyChange | Dismissal:
    detail = _object(event.get("detail"))
    event_id = _text(event.get("id"))[:128]
    name = _text(detail.get("eventName"))
    trigger = f"CloudTrail:{name or '?'}"
    request, response = _object(detail.get("requestParameters")), _object(detail.get("responseElements"))
    if name != "PutParameter" or detail.get("errorCode") or event.get("account") not in (None, account):
        return Dismissal(Outcome.IGNORED, "UnrecognisedEvent", f"SSM call {name!r} is not handled", trigger, event_id)
    if _text(request.get("name")) != policy_parameter:
        return Dismissal(
            Outcome.IGNORED,
            "NotThePolicy",
            f"parameter {_text(request.get('name'))!r} is not the policy",
            trigger,
            event_id,
        )
    version = response.get("version")
    return PolicyChange(trigger, event_id, _caller(detail), version if type(version) is int else None)


def _parse_retry(payload: Any, now: datetime) -> Target | Dismissal:
    if not isinstance(payload, dict) or payload.get("format") != RETRY_FORMAT:
        return Dismissal(Outcome.IGNORED, "MalformedMessage", "retry message in an unknown format")
    cluster_id = payload.get("clusterId")
    attempt = payload.get("attempt")
    if not isinstance(cluster_id, str) or not cluster_id or not isinstance(attempt, int):
        return Dismissal(Outcome.IGNORED, "MalformedMessage", "retry message without clusterId/attempt")
    blue_green = _text(payload.get("blueGreenId"))
    return Target(
        trigger=_text(payload.get("trigger"))[:64] or "Retry",
        event_id=_text(payload.get("eventId"))[:128],
        first_seen=_timestamp(payload.get("firstSeen"), now),
        cluster_id=cluster_id,
        attempt=attempt,
        # a deferred green cluster comes back through its deployment, read live again: a retry message claims
        # nothing about which cluster is green
        blue_green_id=blue_green[:64] if blue_green.startswith("bgd-") else None,
    )


def _parse_eventbridge(event: dict[str, Any], *, region: str, account: str, now: datetime) -> Target | Dismissal:
    detail = event.get("detail")
    detail_type = event.get("detail-type")
    event_id = _text(event.get("id"))[:128]  # an id is a UUID; anything else must not flood every log line
    if event.get("source") != "aws.rds" or not isinstance(detail, dict) or not isinstance(detail_type, str):
        return Dismissal(
            Outcome.IGNORED,
            "UnrecognisedEvent",
            f"not an RDS event (source={event.get('source')!r}, detail-type={detail_type!r})",
            event_id=event_id,
        )
    if event.get("account") not in (None, account):
        return Dismissal(
            Outcome.IGNORED, "ForeignAccount", f"event from account {event.get('account')}", event_id=event_id
        )
    if event.get("region") not in (None, region):
        return Dismissal(
            Outcome.IGNORED, "ForeignRegion", f"event from region {event.get('region')}", event_id=event_id
        )
    first_seen = _timestamp(event.get("time"), now)
    if detail_type == CLOUDTRAIL:
        return _from_cloudtrail(detail, event_id, first_seen, region=region, account=account)
    return _from_rds_event(detail, event_id, first_seen, region=region, account=account)


@dataclass(frozen=True)
class _Call:
    """One CloudTrail record, as the per-call readers below need it."""

    name: str
    detail: dict[str, Any]
    request: dict[str, Any]
    response: dict[str, Any]
    event_id: str
    first_seen: datetime
    region: str
    account: str

    @property
    def trigger(self) -> str:
        return f"CloudTrail:{self.name}"

    def target(self, **fields: Any) -> Target:
        return Target(self.trigger, self.event_id, self.first_seen, **fields)

    def dismiss(self, outcome: Outcome, reason: str, detail: str) -> Dismissal:
        return Dismissal(outcome, reason, detail, self.trigger, self.event_id)

    def ours(self, value: Any, resource_type: str) -> str | Dismissal | None:
        found = _identifier_from_arn(value, resource_type, self.region, self.account)
        return replace(found, trigger=self.trigger, event_id=self.event_id) if isinstance(found, Dismissal) else found


def _from_cloudtrail(
    detail: dict[str, Any], event_id: str, first_seen: datetime, *, region: str, account: str
) -> Target | Dismissal:
    name = str(detail.get("eventName", ""))
    trigger = f"CloudTrail:{name}"
    if detail.get("errorCode"):
        return Dismissal(
            Outcome.IGNORED, "FailedApiCall", f"{name} failed: {detail.get('errorCode')}", trigger, event_id
        )
    request = detail.get("requestParameters") or {}
    response = detail.get("responseElements") or {}
    if not isinstance(request, dict) or not isinstance(response, dict):
        return Dismissal(
            Outcome.IGNORED, "MalformedEvent", f"{name} without request/response objects", trigger, event_id
        )
    reader = next((read for calls, read in _CALL_READERS if name in calls), None)
    if reader is None:
        return Dismissal(
            Outcome.IGNORED, "UnrecognisedEvent", f"CloudTrail call {name!r} is not handled", trigger, event_id
        )
    return reader(_Call(name, detail, request, response, event_id, first_seen, region, account))


def _cluster_created(call: _Call) -> Target | Dismissal:
    cluster = call.ours(call.response.get("dBClusterArn"), "cluster")
    if isinstance(cluster, Dismissal):
        return cluster
    cluster = (
        cluster or _text(call.response.get("dBClusterIdentifier")) or _text(call.request.get("dBClusterIdentifier"))
    )
    if not cluster:
        return call.dismiss(Outcome.IGNORED, "MalformedEvent", f"{call.name} names no cluster")
    return call.target(cluster_id=cluster.lower())


def _tags_changed(call: _Call) -> Target | Dismissal:
    target = _from_tag_change(
        call.request, call.name, call.trigger, call.event_id, call.first_seen, region=call.region, account=call.account
    )
    return replace(target, changed_by=_caller(call.detail)) if isinstance(target, Target) else target


def _renamed(call: _Call) -> Target | Dismissal:
    return _from_rename(call.detail, call.request, call.trigger, call.event_id, call.first_seen)


def _blue_green(call: _Call) -> Target | Dismissal:
    deployment = _text(_object(call.response.get("blueGreenDeployment")).get("blueGreenDeploymentIdentifier"))
    deployment = deployment or _text(call.request.get("blueGreenDeploymentIdentifier"))
    if not deployment.startswith("bgd-"):
        return call.dismiss(Outcome.IGNORED, "MalformedEvent", f"{call.name} names no deployment")
    return call.target(blue_green_id=deployment[:64])


def _stream_stopped(call: _Call) -> Target | Dismissal:
    cluster = call.ours(call.request.get("resourceArn") or call.request.get("ResourceArn"), "cluster")
    if isinstance(cluster, Dismissal):
        return cluster
    if not cluster:
        return call.dismiss(Outcome.IGNORED, "MalformedEvent", f"{call.name} names no cluster")
    return call.target(cluster_id=cluster.lower(), stop=_stopped_by(call.detail))


def _instance_changed(call: _Call) -> Target | Dismissal:
    cluster = _text(call.response.get("dBClusterIdentifier")) or _text(call.request.get("dBClusterIdentifier"))
    instance = _text(call.response.get("dBInstanceIdentifier")) or _text(call.request.get("dBInstanceIdentifier"))
    if cluster:
        return call.target(cluster_id=cluster.lower())
    return call.dismiss(
        Outcome.NOT_APPLICABLE,
        "StandaloneInstance",
        f"DB instance {instance or '?'} is not part of a cluster; activity streams for Aurora are per cluster",
    )


# CloudTrail call -> where its record names the cluster (c7n keeps the same kind of table in c7n/cwe.py)
_CALL_READERS: tuple[tuple[frozenset[str], Callable[[_Call], Target | Dismissal]], ...] = (
    (CLUSTER_CREATING_CALLS, _cluster_created),
    (TAG_CALLS, _tags_changed),
    (frozenset({RENAME_CALL}), _renamed),
    (BLUE_GREEN_CALLS, _blue_green),
    (frozenset({STOP_CALL}), _stream_stopped),
    (INSTANCE_CREATING_CALLS | INSTANCE_CHANGING_CALLS, _instance_changed),
)


def _from_rds_event(
    detail: dict[str, Any], event_id: str, first_seen: datetime, *, region: str, account: str
) -> Target | Dismissal:
    rds_event = str(detail.get("EventID", ""))
    trigger = f"RDS:{rds_event}"
    if rds_event in BLUE_GREEN_EVENTS:
        deployment = _text(detail.get("SourceIdentifier")) or _text(detail.get("SourceArn")).rsplit(":", 1)[-1]
        if not deployment.startswith("bgd-"):
            return Dismissal(Outcome.IGNORED, "MalformedEvent", f"{rds_event} names no deployment", trigger, event_id)
        return Target(trigger, event_id, first_seen, blue_green_id=deployment[:64])
    if rds_event in CLUSTER_EVENTS or rds_event == STREAM_STOPPED_EVENT:
        kind, expected = "cluster", "cluster"
    elif rds_event in INSTANCE_EVENTS:
        kind, expected = "instance", "db"
    else:
        return Dismissal(
            Outcome.IGNORED,
            "UnrecognisedEvent",
            f"RDS event {rds_event!r} is not handled",
            trigger,
            event_id,
        )
    name = _identifier_from_arn(detail.get("SourceArn"), expected, region, account)
    if isinstance(name, Dismissal):
        return replace(name, trigger=trigger, event_id=event_id)
    name = name or _text(detail.get("SourceIdentifier")).removeprefix("rds:")
    if not name:
        return Dismissal(Outcome.IGNORED, "MalformedEvent", f"{rds_event} names no source", trigger, event_id)
    if rds_event == STREAM_STOPPED_EVENT:
        stop = StopInfo("unknown (reported by RDS)", (), "", str(detail.get("Date", "")), trigger)
        return Target(trigger, event_id, first_seen, cluster_id=name.lower(), stop=stop)
    if kind == "cluster":
        return Target(trigger, event_id, first_seen, cluster_id=name.lower())
    return Target(trigger, event_id, first_seen, instance_id=name.lower())


def _from_rename(
    detail: dict[str, Any], request: dict[str, Any], trigger: str, event_id: str, first_seen: datetime
) -> Target | Dismissal:
    """A new name can match a policy exemption's cluster_ids: evaluate the cluster under it, and keep who did it."""
    new_name = _text(request.get("newDBClusterIdentifier"))
    if not new_name:
        return Dismissal(
            Outcome.IGNORED, "UnrecognisedEvent", f"{RENAME_CALL} without a new name is not handled", trigger, event_id
        )
    return Target(trigger, event_id, first_seen, cluster_id=new_name.lower(), changed_by=_caller(detail))


def _from_tag_change(
    request: dict[str, Any], name: str, trigger: str, event_id: str, first_seen: datetime, *, region: str, account: str
) -> Target | Dismissal:
    """Tags select the policy rule, so a tag change on a cluster (or one of its instances) re-evaluates it."""
    resource = _text(request.get("resourceName"))
    arn = Arn.parse(resource)
    if arn is None or arn.service != "rds" or arn.resource_type not in {"cluster", "db"}:
        return Dismissal(
            Outcome.IGNORED,
            "NotAClusterResource",
            f"{name} on {resource or '?'}: only clusters and their instances matter",
            trigger,
            event_id,
        )
    owned = _identifier_from_arn(resource, arn.resource_type, region, account)
    if isinstance(owned, Dismissal):
        return replace(owned, trigger=trigger, event_id=event_id)
    if arn.resource_type == "cluster":
        return Target(trigger, event_id, first_seen, cluster_id=arn.resource_id.lower())
    return Target(trigger, event_id, first_seen, instance_id=arn.resource_id.lower())


def _principals(detail: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """(the caller's ARNs: session and role, the identity type) from a CloudTrail record, however broken."""
    identity = _object(detail.get("userIdentity"))
    issuer = _object(_object(identity.get("sessionContext")).get("sessionIssuer"))
    principals = tuple(p for p in (_text(identity.get("arn")), _text(issuer.get("arn"))) if p)
    return principals, _text(identity.get("type"))


def _caller(detail: dict[str, Any]) -> str:
    principals, kind = _principals(detail)
    return principals[0] if principals else kind or "unknown"


def _stopped_by(detail: dict[str, Any]) -> StopInfo:
    principals, kind = _principals(detail)
    return StopInfo(
        principal=principals[0] if principals else kind or "unknown",
        principals=principals,
        source_ip=_text(detail.get("sourceIPAddress")),
        time=_text(detail.get("eventTime")),
        via="CloudTrail:StopActivityStream",
    )


def _identifier_from_arn(value: Any, resource_type: str, region: str, account: str) -> str | Dismissal | None:
    """The resource name in an ARN of ours; a Dismissal for another account/region; None when absent."""
    if not isinstance(value, str) or not value:
        return None
    arn = Arn.parse(value)
    if arn is None or arn.service != "rds" or arn.resource_type != resource_type:
        return Dismissal(Outcome.IGNORED, "MalformedEvent", f"{value!r} is not an RDS {resource_type} ARN")
    if arn.account != account:
        return Dismissal(Outcome.IGNORED, "ForeignAccount", f"{value} belongs to account {arn.account}")
    if arn.region != region:
        return Dismissal(
            Outcome.IGNORED,
            "ForeignRegion",
            f"{value} is in {arn.region}; each region's DAS Guard evaluates its own clusters",
        )
    return arn.resource_id


def _object(value: Any) -> dict[str, Any]:
    """A JSON object from an event, or {} where a hostile or broken event has something else."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _timestamp(value: Any, now: datetime) -> datetime:
    """When the event (or the retry chain) began; never later than now, so a forged time in the future cannot
    postpone the readiness alert forever."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return now
        return min(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), now)
    return now
