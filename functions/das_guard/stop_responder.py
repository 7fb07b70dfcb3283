"""Carrying out a stop's verdict (decision/stops.py decides it): the break-glass hold, the stream record, and
whether to start the stream again now. The one part of stop handling that writes state and reads the clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .clock import Clock
from .decision.protection import protection
from .decision.stops import assess_stop
from .gateway import StreamState
from .model import ClusterInfo, Decision, Hold, Outcome, StopInfo

if TYPE_CHECKING:
    from .policy import PolicyDocument  # pydantic loads with the first policy read


class StopResponder:
    """Carries out a stop's verdict: the break-glass hold for an allowed stop, the stream record for every stop
    DAS Guard believes (never for one the live cluster contradicts), and whether to start the stream again now."""

    def __init__(self, state: StreamState, clock: Clock, *, dry_run: bool) -> None:
        self._state = state
        self._clock = clock
        self._dry_run = dry_run

    def respond(
        self, stop: StopInfo, cluster: ClusterInfo | None, policy: PolicyDocument
    ) -> tuple[list[Decision], bool]:
        """(the decisions so far: the Tampered report, and a deferral while CloudTrail has not said who stopped it;
        whether the evaluation goes on to start the stream again)."""
        now = self._clock.now()
        tampered, restart = assess_stop(cluster, policy, stop, now.date())
        if tampered is None:
            return [], True  # no stream to speak of (gone, or not Aurora): decide as for any event
        if restart and cluster is not None and cluster.engine == "aurora-postgresql":
            return self._upgrade_stop(tampered, cluster, stop, policy, now), False
        if not self._dry_run and cluster is not None and tampered.reason != "StopNotConfirmed":
            allowed = tampered.reason == "StoppedByAllowedPrincipal"
            if allowed:
                until = now + timedelta(hours=policy.stop_allowed.hold_hours)
                self._state.place_hold(Hold(cluster.resource_id, stop.principal, until, cluster_arn=cluster.arn))
            state = "allowed" if allowed else "reported"
            self._state.mark_stream(
                cluster.resource_id, cluster.arn, state, now, protection(cluster, policy, now.date())
            )
        if not restart:
            return [tampered], False
        if not stop.known:
            # RDS's event has no principal and often arrives before CloudTrail's. Wait for the CloudTrail event
            # (which may place a break-glass hold) instead of restarting at once.
            return [
                tampered,
                _waiting(tampered, "AwaitingAttribution", "waiting for CloudTrail to say who stopped the stream"),
            ], False
        return [tampered], True

    def _upgrade_stop(
        self, tampered: Decision, cluster: ClusterInfo, stop: StopInfo, policy: PolicyDocument, now: datetime
    ) -> list[Decision]:
        """Aurora PostgreSQL: AWS's major-upgrade procedure stops the stream first. Where the upgrade is already under
        way, the stop is an upgrade stop (a notice, not tampering). Otherwise it is reported as tampering at once, as
        every stop is - but the restart waits a short grace, so that an upgrade that begins meanwhile is not broken by
        a restart in the middle of it (then a StoppedForUpgrade notice follows, decide.py)."""
        upgrading = cluster.major_upgrade_under_way
        if not self._dry_run:
            state = "upgrade" if upgrading else "awaiting-upgrade"
            self._state.mark_stream(
                cluster.resource_id, cluster.arn, state, now, protection(cluster, policy, now.date())
            )
        if upgrading:
            who = f"by {stop.principal}" if stop.known else "(RDS reports it; CloudTrail names who)"
            return [
                replace(
                    tampered,
                    outcome=Outcome.DEFERRED,
                    reason="StoppedForUpgrade",
                    detail=f"activity stream stopped {who} for a major version upgrade ({cluster.engine_version} -> "
                    f"{cluster.pending_engine_version or 'the new major version'}, cluster {cluster.status}); DAS "
                    "Guard starts it again when the upgrade completes",
                    fix="Nothing, if this upgrade is planned. If it is not, find who stopped the stream and why.",
                )
            ]
        waits = (
            "DAS Guard starts it again after a short grace unless a major version upgrade begins (Aurora PostgreSQL's "
            "upgrade procedure stops the stream first)"
        )
        reported = replace(tampered, detail=tampered.detail.replace("DAS Guard is starting it again", waits))
        grace = "the stream stays stopped for a short grace in case a major version upgrade follows"
        return [reported, _waiting(tampered, "AwaitingUpgrade", grace)]


def _waiting(tampered: Decision, reason: str, detail: str) -> Decision:
    """The restart after a reported stop, put off (the pipeline checks the cluster again later): about the same
    cluster, without the stop's fix or actor, which the report carries."""
    return replace(tampered, outcome=Outcome.DEFERRED, reason=reason, detail=detail, fix="", actor=None)
