"""Every message on the queue, reduced to *a cluster to evaluate* or to a reason to do nothing.

Messages are EventBridge events (CloudTrail API calls and native RDS events) or DAS Guard's own retry
messages for deferred clusters. Nothing here trusts the event's description of the cluster: it only says
*which* cluster; the enforcer then reads the live cluster. That is what makes duplicate, late and
out-of-order events converge.

    targets.py      what a message becomes: Target (a cluster to evaluate), PolicyChange, Dismissal
    cloudtrail.py   CloudTrail API calls: a table of "call -> where its record names the cluster"
    rds_events.py   native RDS events: a table of "event id -> what it is about"
    fields.py       reading fields of events anyone may forge: types checked, ARNs checked against ours

Powertools' event data classes and parser were considered: the data classes are typed views that raise or
return the wrong type on a hostile event, and the parser rejects a whole event where DAS Guard names the
reason it ignores it; both need the same field checks as `fields.py` on top.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..model import Outcome
from .cloudtrail import CLOUDTRAIL, from_cloudtrail, policy_change
from .fields import text, timestamp
from .rds_events import from_rds_event
from .targets import RETRY_FORMAT, RETRY_KEY, Dismissal, PolicyChange, Target

__all__ = ["Dismissal", "PolicyChange", "Target", "parse_message"]


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
        return policy_change(event, policy_parameter, account=account)
    return _parse_eventbridge(event, region=region, account=account, now=now)


def _parse_retry(payload: Any, now: datetime) -> Target | Dismissal:
    if not isinstance(payload, dict) or payload.get("format") != RETRY_FORMAT:
        return Dismissal(Outcome.IGNORED, "MalformedMessage", "retry message in an unknown format")
    cluster_id = payload.get("clusterId")
    attempt = payload.get("attempt")
    if not isinstance(cluster_id, str) or not cluster_id or not isinstance(attempt, int):
        return Dismissal(Outcome.IGNORED, "MalformedMessage", "retry message without clusterId/attempt")
    blue_green = text(payload.get("blueGreenId"))
    return Target(
        trigger=text(payload.get("trigger"))[:64] or "Retry",
        event_id=text(payload.get("eventId"))[:128],
        first_seen=timestamp(payload.get("firstSeen"), now),
        cluster_id=cluster_id,
        attempt=attempt,
        # a deferred green cluster comes back through its deployment, read live again: a retry message claims
        # nothing about which cluster is green
        blue_green_id=blue_green[:64] if blue_green.startswith("bgd-") else None,
    )


def _parse_eventbridge(event: dict[str, Any], *, region: str, account: str, now: datetime) -> Target | Dismissal:
    detail = event.get("detail")
    detail_type = event.get("detail-type")
    event_id = text(event.get("id"))[:128]  # an id is a UUID; anything else must not flood every log line
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
    first_seen = timestamp(event.get("time"), now)
    if detail_type == CLOUDTRAIL:
        return from_cloudtrail(detail, event_id, first_seen, region=region, account=account)
    return from_rds_event(detail, event_id, first_seen, region=region, account=account)
