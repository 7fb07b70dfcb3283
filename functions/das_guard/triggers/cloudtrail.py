"""CloudTrail API calls (EventBridge "AWS API Call via CloudTrail"): a table of "call -> where its record names
the cluster" (Cloud Custodian keeps the same kind of table in c7n/cwe.py). A new call is one reader and one row,
and the template's EventBridge rule must route it (tests/template checks both ways)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..model import Arn, Outcome
from .fields import caller, identifier_from_arn, json_object, stopped_by, text
from .targets import Dismissal, PolicyChange, Target

CLOUDTRAIL = "AWS API Call via CloudTrail"


def policy_change(event: dict[str, Any], policy_parameter: str, *, account: str) -> PolicyChange | Dismissal:
    detail = json_object(event.get("detail"))
    event_id = text(event.get("id"))[:128]
    name = text(detail.get("eventName"))
    trigger = f"CloudTrail:{name or '?'}"
    request, response = json_object(detail.get("requestParameters")), json_object(detail.get("responseElements"))
    if name != "PutParameter" or detail.get("errorCode") or event.get("account") not in (None, account):
        return Dismissal(Outcome.IGNORED, "UnrecognisedEvent", f"SSM call {name!r} is not handled", trigger, event_id)
    if text(request.get("name")) != policy_parameter:
        return Dismissal(
            Outcome.IGNORED,
            "NotThePolicy",
            f"parameter {text(request.get('name'))!r} is not the policy",
            trigger,
            event_id,
        )
    version = response.get("version")
    return PolicyChange(trigger, event_id, caller(detail), version if type(version) is int else None)


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
        found = identifier_from_arn(value, resource_type, self.region, self.account)
        return replace(found, trigger=self.trigger, event_id=self.event_id) if isinstance(found, Dismissal) else found


def from_cloudtrail(
    detail: dict[str, Any], event_id: str, first_seen: datetime, *, region: str, account: str
) -> Target | Dismissal:
    """The cluster a CloudTrail record of an RDS call is about, found where the call's row says."""
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
    reader = CALL_READERS.get(name)
    if reader is None:
        return Dismissal(
            Outcome.IGNORED, "UnrecognisedEvent", f"CloudTrail call {name!r} is not handled", trigger, event_id
        )
    return reader(_Call(name, detail, request, response, event_id, first_seen, region, account))


def _cluster_created(call: _Call) -> Target | Dismissal:
    cluster = call.ours(call.response.get("dBClusterArn"), "cluster")
    if isinstance(cluster, Dismissal):
        return cluster
    cluster = cluster or text(call.response.get("dBClusterIdentifier")) or text(call.request.get("dBClusterIdentifier"))
    if not cluster:
        return call.dismiss(Outcome.IGNORED, "MalformedEvent", f"{call.name} names no cluster")
    # a clone or point-in-time restore holds another cluster's data: its rule is compared with that cluster's
    source = text(call.request.get("sourceDBClusterIdentifier")).lower()
    if source:
        return call.target(cluster_id=cluster.lower(), lineage=source[:63], changed_by=caller(call.detail))
    snapshot = text(call.request.get("snapshotIdentifier"))
    if snapshot:  # a restore from a snapshot: the snapshot names the cluster whose data it holds
        return call.target(cluster_id=cluster.lower(), lineage_snapshot=snapshot[:1011], changed_by=caller(call.detail))
    return call.target(cluster_id=cluster.lower())


def _tags_changed(call: _Call) -> Target | Dismissal:
    """Tags select the policy rule, so a tag change on a cluster (or one of its instances) re-evaluates it."""
    resource = text(call.request.get("resourceName"))
    arn = Arn.parse(resource)
    if arn is None or arn.service != "rds" or arn.resource_type not in {"cluster", "db"}:
        return call.dismiss(
            Outcome.IGNORED,
            "NotAClusterResource",
            f"{call.name} on {resource or '?'}: only clusters and their instances matter",
        )
    owned = call.ours(resource, arn.resource_type)
    if isinstance(owned, Dismissal):
        return owned
    name = arn.resource_id.lower()
    who = caller(call.detail)
    return (
        call.target(cluster_id=name, changed_by=who)
        if arn.resource_type == "cluster"
        else call.target(instance_id=name, changed_by=who)
    )


def _renamed(call: _Call) -> Target | Dismissal:
    """A new name can match a policy exemption's cluster_ids: evaluate the cluster under it, and keep who did it."""
    new_name = text(call.request.get("newDBClusterIdentifier"))
    if not new_name:
        return call.dismiss(Outcome.IGNORED, "UnrecognisedEvent", f"{call.name} without a new name is not handled")
    return call.target(cluster_id=new_name.lower(), changed_by=caller(call.detail))


def _blue_green(call: _Call) -> Target | Dismissal:
    deployment = text(json_object(call.response.get("blueGreenDeployment")).get("blueGreenDeploymentIdentifier"))
    deployment = deployment or text(call.request.get("blueGreenDeploymentIdentifier"))
    if not deployment.startswith("bgd-"):
        return call.dismiss(Outcome.IGNORED, "MalformedEvent", f"{call.name} names no deployment")
    return call.target(blue_green_id=deployment[:64], changed_by=caller(call.detail))


def _stream_stopped(call: _Call) -> Target | Dismissal:
    cluster = call.ours(call.request.get("resourceArn") or call.request.get("ResourceArn"), "cluster")
    if isinstance(cluster, Dismissal):
        return cluster
    if not cluster:
        return call.dismiss(Outcome.IGNORED, "MalformedEvent", f"{call.name} names no cluster")
    return call.target(cluster_id=cluster.lower(), stop=stopped_by(call.detail))


def _instance_changed(call: _Call) -> Target | Dismissal:
    cluster = text(call.response.get("dBClusterIdentifier")) or text(call.request.get("dBClusterIdentifier"))
    instance = text(call.response.get("dBInstanceIdentifier")) or text(call.request.get("dBInstanceIdentifier"))
    if cluster:
        return call.target(cluster_id=cluster.lower())
    return call.dismiss(
        Outcome.NOT_APPLICABLE,
        "StandaloneInstance",
        f"DB instance {instance or '?'} is not part of a cluster; activity streams for Aurora are per cluster",
    )


# CloudTrail call -> where its record names the cluster
CALL_READERS: dict[str, Callable[[_Call], Target | Dismissal]] = {
    "CreateDBCluster": _cluster_created,
    "RestoreDBClusterFromSnapshot": _cluster_created,
    "RestoreDBClusterToPointInTime": _cluster_created,
    "RestoreDBClusterFromS3": _cluster_created,
    "AddTagsToResource": _tags_changed,
    "RemoveTagsFromResource": _tags_changed,
    "ModifyDBCluster": _renamed,  # routed only with newDBClusterIdentifier: a new name can match an exemption
    "CreateBlueGreenDeployment": _blue_green,
    "SwitchoverBlueGreenDeployment": _blue_green,
    "StopActivityStream": _stream_stopped,
    "CreateDBInstance": _instance_changed,
    # a member's class changed or a member went away: the cluster may have become eligible (or ineligible)
    "ModifyDBInstance": _instance_changed,
    "DeleteDBInstance": _instance_changed,
}
