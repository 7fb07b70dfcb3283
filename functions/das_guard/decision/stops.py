"""Stops: who stopped a stream, whether that was allowed, and what DAS Guard does about it.

A stop is always news. `assess_stop()` is the pure verdict on a stop event against the live cluster and the
policy (Tampered, with the reason; whether to start the stream again); `assess_lost_stream()` the sweep's verdict
on a stream found stopped that no event reported; `held()` whether a break-glass hold keeps a stream stopped
for now. `StopResponder` carries out a verdict - the hold for an allowed stop, the stream record - and says
whether the evaluation goes on to start the stream again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from ..model import ACTIVE_STREAM_STATES, ClusterInfo, Decision, Finding, Hold, Outcome, StopInfo
from ..policy import Action, OnStop
from .checks import needs_kms_network

if TYPE_CHECKING:
    from ..policy import PolicyDocument  # pydantic loads with the first policy read

HoldLookupFn = Callable[[str], Hold | None]


def assess_stop(
    cluster: ClusterInfo | None, policy: PolicyDocument, stop: StopInfo, today: date
) -> tuple[Decision | None, bool]:
    """Somebody (or RDS) stopped a stream. (The Tampered report, or None for a cluster without activity streams
    or one being deleted; whether to start the stream again.)

    A stop is always news: whatever rule or exemption applies *now* (a tag or a rename may just have moved the
    cluster to a softer one), a stop by anyone not in stop_allowed is Tampered. The rule only decides whether
    DAS Guard starts the stream again."""
    if cluster is None or not cluster.is_aurora or cluster.status == "deleting":
        return None, False  # a deleted cluster's stream stops with it
    rule = policy.rule_for(cluster.tags)
    exemption, _ = policy.exemption_for(cluster.identifier, cluster.tags, today)
    where = f" from {stop.source_ip}" if stop.source_ip else ""
    when = f" at {stop.time}" if stop.time else ""
    base = Decision.about(cluster, Outcome.TAMPERED, "", "", rule=rule.name, actor=stop)
    live = cluster.stream_status
    if policy.stop_allowed.allows(stop.principals):
        if live in ACTIVE_STREAM_STATES:
            # The stream runs: this event is stale or forged. A forged break-glass stop must not buy a hold.
            return replace(
                base,
                reason="StopNotConfirmed",
                detail=f"an event says {stop.principal}{where}{when}, an allowed principal, stopped the activity "
                f"stream, but the stream is {live}: the event is stale or forged; no hold is placed",
                fix="Look for this StopActivityStream call in CloudTrail. If there is none, someone can send to "
                "DAS Guard's queue or invoke its function: find out who and remove that permission.",
            ), False
        hours = policy.stop_allowed.hold_hours
        return replace(
            base,
            reason="StoppedByAllowedPrincipal",
            detail=f"activity stream stopped by {stop.principal}{where}{when}, an allowed principal "
            f"(policy stop_allowed); not restarted for {hours} h",
            fix="Nothing, if this stop was planned (e.g. a PostgreSQL major upgrade). DAS Guard starts "
            "the stream again when the hold ends.",
        ), False
    if exemption is not None:
        restart, then = False, f"exemption {exemption.name!r} applies now, so DAS Guard does not start it again"
    elif rule.action is not Action.ENFORCE:
        restart, then = False, f"rule {rule.name!r} is {rule.action.value} now, so DAS Guard does not start it again"
    elif rule.on_stop is OnStop.RESTART:
        restart, then = True, "DAS Guard is starting it again"
    else:
        restart, then = False, "the policy says on_stop: report, so it stays stopped"
    if not stop.known:
        # Only the Aurora MySQL versions AWS names stop their stream when instances cannot reach KMS
        network = needs_kms_network(cluster)
        cause = " - or because its instances could not reach KMS" if network else ""
        check = (
            f"; Aurora MySQL {cluster.engine_version} also needs its instances to reach the KMS endpoint (NAT or a "
            f"com.amazonaws.{cluster.region}.kms VPC endpoint)"
            if network
            else ""
        )
        return replace(
            base,
            reason="StreamStoppedUnattributed",
            detail=f"RDS reports the activity stream stopped{when} (by a person - see CloudTrail "
            f"StopActivityStream{cause}); {then}",
            fix=f"Find who stopped it in CloudTrail{check}.",
        ), restart
    return replace(
        base,
        reason="StoppedByUnauthorizedPrincipal",
        detail=f"activity stream stopped by {stop.principal}{where}{when}; {then}",
        fix="Find out why this principal could stop the stream and remove rds:StopActivityStream from "
        "it; add it to the policy's stop_allowed if it is a break-glass role.",
    ), restart


def assess_lost_stream(cluster: ClusterInfo, record: str | None, policy: PolicyDocument) -> Decision | None:
    """The sweep finds stopped a stream DAS Guard had last seen running, and no stop ever reached it.

    That is what a stop looks like when DAS Guard's own plumbing was starved first (rules disabled, function
    throttled, queue purged): it must be news, not a quiet Started. (None: nothing was lost.)"""
    if record != "on" or not cluster.is_aurora or cluster.status == "deleting":
        return None
    if cluster.stream_status in ACTIVE_STREAM_STATES:
        return None
    return Decision.about(
        cluster,
        Outcome.TAMPERED,
        "StreamLost",
        f"the activity stream is {cluster.stream_status}, but it was running when DAS Guard last saw it, and no "
        "stop event reached DAS Guard",
        rule=policy.rule_for(cluster.tags).name,
        fix="Find the StopActivityStream call in CloudTrail and who made it. Check that DAS Guard's EventBridge rules "
        "are enabled and its queue and functions are intact: the stop should have been reported within minutes.",
    )


def held(
    base: Decision, cluster: ClusterInfo, policy: PolicyDocument, lookup_hold: HoldLookupFn | None, now: datetime | None
) -> Decision:
    """Exempt/BreakGlassHold while a hold lasts; otherwise `base`, with a warning if a hold was not honoured. A hold
    is only honoured if the policy still allows its principal and it ends within hold_hours: the state table is not
    trusted beyond what the policy confirms."""
    hold = lookup_hold(cluster.resource_id) if lookup_hold else None
    if hold is None:
        return base
    problem = _hold_problem(hold, policy, now)
    if not problem:
        return replace(
            base,
            outcome=Outcome.EXEMPT,
            reason="BreakGlassHold",
            detail=f"stream stopped by {hold.principal}, an allowed principal; held until {hold.until.isoformat()}",
        )
    ignored = Finding(
        "HoldIgnored",
        f"a break-glass hold for this cluster in the state table is not honoured: {problem}",
        "Only DAS Guard writes holds; find out who wrote this item (CloudTrail dynamodb:PutItem on the state table) "
        "and delete it.",
    )
    return replace(base, warnings=(*base.warnings, ignored))


def _hold_problem(hold: Hold, policy: PolicyDocument, now: datetime | None) -> str:
    """Why a hold read from the state table must not be honoured ('' if it may)."""
    if hold.problem:
        return hold.problem
    if not policy.stop_allowed.allows((hold.principal,)):
        return f"its principal {hold.principal} is not in the policy's stop_allowed"
    if now is not None and hold.until > now + timedelta(hours=policy.stop_allowed.hold_hours):
        return f"it lasts until {hold.until.isoformat()}, longer than the policy's {policy.stop_allowed.hold_hours} h"
    return ""
