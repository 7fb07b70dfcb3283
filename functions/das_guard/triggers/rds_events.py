"""Native RDS events (EventBridge "RDS DB Cluster Event", "RDS DB Instance Event", blue/green deployment events):
a table of "event id -> what it is about". A new event is one row, and the template's rule must route it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from ..model import Outcome, StopInfo
from .fields import identifier_from_arn, text
from .targets import Dismissal, Target

About = Literal["cluster", "instance", "stream-stopped", "blue-green"]
# RDS event id -> what it is about (the event's source is a cluster, an instance, or a blue/green deployment)
RDS_EVENTS: dict[str, About] = {
    "RDS-EVENT-0170": "cluster",  # DB cluster created
    "RDS-EVENT-0172": "cluster",  # DB cluster renamed
    "RDS-EVENT-0005": "instance",  # DB instance created
    "RDS-EVENT-0014": "instance",  # the instance's class changed
    "RDS-EVENT-0180": "stream-stopped",  # Database Activity Streams is stopped on your database cluster
    "RDS-EVENT-0179": "cluster",  # ... is started: its Kinesis stream exists now (records kept? retention raised)
    "RDS-EVENT-0150": "cluster",  # DB cluster stopped: its own non-failing state (ClusterStopped)
    "RDS-EVENT-0151": "cluster",  # DB cluster started: evaluated again
    "RDS-EVENT-0153": "cluster",  # started because it exceeded the maximum stop time (7 days)
    "RDS-EVENT-0176": "cluster",  # major version upgraded: a stream stopped for the upgrade starts again
    "RDS-EVENT-0173": "cluster",  # version upgraded
    "RDS-EVENT-0244": "blue-green",  # blue/green deployment created: the green cluster now exists
    "RDS-EVENT-0248": "blue-green",  # switchover completed: green holds the production name
    "RDS-EVENT-0260": "blue-green",  # the cluster-level switchover completed
}
SOURCE_ARN_TYPE = {"cluster": "cluster", "stream-stopped": "cluster", "instance": "db"}


def from_rds_event(
    detail: dict[str, Any], event_id: str, first_seen: datetime, *, region: str, account: str
) -> Target | Dismissal:
    """The cluster (or instance, or deployment) an RDS event is about, by its row in RDS_EVENTS."""
    rds_event = str(detail.get("EventID", ""))
    trigger = f"RDS:{rds_event}"
    about = RDS_EVENTS.get(rds_event)
    if about is None:
        return Dismissal(
            Outcome.IGNORED, "UnrecognisedEvent", f"RDS event {rds_event!r} is not handled", trigger, event_id
        )
    if about == "blue-green":
        deployment = text(detail.get("SourceIdentifier")) or text(detail.get("SourceArn")).rsplit(":", 1)[-1]
        if not deployment.startswith("bgd-"):
            return Dismissal(Outcome.IGNORED, "MalformedEvent", f"{rds_event} names no deployment", trigger, event_id)
        return Target(trigger, event_id, first_seen, blue_green_id=deployment[:64])
    name = identifier_from_arn(detail.get("SourceArn"), SOURCE_ARN_TYPE[about], region, account)
    if isinstance(name, Dismissal):
        return replace(name, trigger=trigger, event_id=event_id)
    name = (name or text(detail.get("SourceIdentifier")).removeprefix("rds:")).lower()
    if not name:
        return Dismissal(Outcome.IGNORED, "MalformedEvent", f"{rds_event} names no source", trigger, event_id)
    if about == "stream-stopped":
        stop = StopInfo("unknown (reported by RDS)", (), "", str(detail.get("Date", "")), trigger)
        return Target(trigger, event_id, first_seen, cluster_id=name, stop=stop)
    if about == "cluster":
        return Target(trigger, event_id, first_seen, cluster_id=name)
    return Target(trigger, event_id, first_seen, instance_id=name)
