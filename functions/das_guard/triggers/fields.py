"""Reading fields of events anyone who may send to the queue can forge: every value's type is checked, every
ARN is checked against this deployment's account and region, and a missing or broken field is a reason, not a
crash."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ..model import Arn, Outcome, StopInfo
from .targets import Dismissal


def _principals(detail: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """(the caller's ARNs: session and role, the identity type) from a CloudTrail record, however broken."""
    identity = json_object(detail.get("userIdentity"))
    issuer = json_object(json_object(identity.get("sessionContext")).get("sessionIssuer"))
    principals = tuple(p for p in (text(identity.get("arn")), text(issuer.get("arn"))) if p)
    return principals, text(identity.get("type"))


def caller(detail: dict[str, Any]) -> str:
    principals, kind = _principals(detail)
    return cut(principals[0] if principals else kind or "unknown", PRINCIPAL_LIMIT)


# The longest value each forgeable field can have in a genuine record (an IAM ARN is at most 2,048 characters; a
# source address an IP or a service's host name). A longer one is forged: it is cut, and the cut is said, so that a
# 1 MB sourceIPAddress can never make SNS refuse the HIGH alert that names it.
PRINCIPAL_LIMIT = 2048
SHORT_LIMIT = 256


def cut(value: str, limit: int) -> str:
    """`value`, or its first `limit` characters and a marker saying how much was cut."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...[cut by DAS Guard: {len(value) - limit} more characters]"


# The Kinesis stream of a cluster's activity stream is named after its DbClusterResourceId (Aurora UG, "Monitoring
# database activity streams"); StopActivityStream's response names it.
STREAM_NAME = re.compile(r"^aws-rds-das-(cluster-[A-Z0-9]{1,64})$")


def stopped_by(detail: dict[str, Any]) -> StopInfo:
    principals, kind = _principals(detail)
    principals = tuple(cut(p, PRINCIPAL_LIMIT) for p in principals)
    stream = STREAM_NAME.match(text(json_object(detail.get("responseElements")).get("kinesisStreamName")))
    return StopInfo(
        principal=principals[0] if principals else cut(kind, SHORT_LIMIT) or "unknown",
        principals=principals,
        source_ip=cut(text(detail.get("sourceIPAddress")), SHORT_LIMIT),
        time=cut(text(detail.get("eventTime")), SHORT_LIMIT),
        via="CloudTrail:StopActivityStream",
        resource_id=stream.group(1) if stream else "",
    )


def identifier_from_arn(value: Any, resource_type: str, region: str, account: str) -> str | Dismissal | None:
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


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object from an event, or {} where a hostile or broken event has something else."""
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def timestamp(value: Any, now: datetime) -> datetime:
    """When the event (or the retry chain) began; never later than now, so a forged time in the future cannot
    postpone the readiness alert forever."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return now
        return min(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), now)
    return now
