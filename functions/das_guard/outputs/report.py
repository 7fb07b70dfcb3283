"""Every decision becomes one structured log line, CloudWatch metrics (EMF), and whatever its channels make of it:
an SNS alert where a person must act, a result event, a Security Hub finding. The reporter only routes: what an
alert says is in `alerts.py`, and a decision is turned into data once (`result_detail`), which is both the result
event's detail and the log line's fields.

Channels have one shape (`channels.Channel`) and are handed to the reporter by the composition root: alerts
(`Alerts`, always; with no topic they go nowhere), result events (`ResultEvents`, only with a bus), Security Hub
findings (`findings.SecurityHubChannel`, only with SecurityHubFindings=true). No channel can fail the decision it
reports: a failure is logged and counted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..model import Decision, Finding, Outcome
from ..policy import PolicyError
from ..reasons import NOTICES, verdict
from . import alerts
from .alerts import Where
from .channels import Channel, Signals, SweepReport

ALERT_REPEAT_SECONDS = 3600.0
RESULT_SOURCE = "das-guard"
RESULT_DETAIL_TYPE = "DAS Guard Enforcement Result"
SWEEP_DETAIL_TYPE = "DAS Guard Sweep Summary"
RESULT_FORMAT = 1
# The sweep publishes results only where something changed or a person must act; a daily event for every
# cluster whose stream is simply on would make the sweep's calls grow with the number of clusters.
STEADY_OUTCOMES = frozenset({Outcome.ALREADY_ACTIVE, Outcome.NOT_APPLICABLE, Outcome.EXEMPT, Outcome.DEFERRED})
# A log line has these always; the rest of a result detail only where it says something. Account, region and
# time are on every log line already (Powertools' function fields and timestamp).
LOGGED_ALWAYS = (
    "outcome",
    "reason",
    "compliance",
    "severity",
    "detail",
    "cluster_id",
    "cluster_arn",
    "rule",
    "trigger",
    "event_id",
)
NOT_LOGGED = frozenset({"version", "account", "region", "decided_at"})
SWEEP_METRICS = (
    ("SweepClustersSeen", "clusters_seen"),
    ("SweepCompliant", "compliant"),
    ("SweepStarted", "started"),
    ("SweepScheduled", "scheduled"),
    ("SweepViolations", "violations"),
    ("SweepExempt", "exempt"),
    ("SweepWouldStart", "would_start"),
    ("SweepHandedOff", "handed_off"),
    ("SweepStreamsLost", "streams_lost"),
    ("SweepProtectionLowered", "protection_lowered"),
)


def result_detail(
    evaluation: Decision, *, trigger: str, event_id: str, where: Where, decided_at: datetime
) -> dict[str, Any]:
    """The `detail` of the result event for one evaluation (schema in docs/evidence.md, "Result events")."""
    judged = verdict(evaluation)
    return {
        "version": RESULT_FORMAT,
        "outcome": evaluation.outcome.value,
        "reason": evaluation.reason,
        "compliance": judged.compliance.value if judged.compliance else None,
        "severity": judged.severity.value,
        "detail": evaluation.detail,
        "fix": judged.fix or None,
        "cluster_id": evaluation.cluster_id,
        "cluster_arn": evaluation.cluster_arn,
        "cluster_resource_id": evaluation.resource_id,
        "rule": evaluation.rule,
        "trigger": trigger,
        "event_id": event_id or None,
        "account": where.account,
        "region": where.region,
        "warnings": [asdict(w) for w in evaluation.warnings],
        "stopped_by": asdict(evaluation.actor) if evaluation.actor else None,
        "start_request": asdict(evaluation.start) if evaluation.start else None,
        "stream": evaluation.stream,
        "decided_at": decided_at.isoformat(),
    }


def log_fields(detail: dict[str, Any]) -> dict[str, Any]:
    """The log line of a decision: its result detail, without what every log line carries and without empty parts."""
    return {
        k: v for k, v in detail.items() if k not in NOT_LOGGED and (k in LOGGED_ALWAYS or v not in (None, [], {}, ""))
    }


class Alerts:
    """The SNS channel. A decision that needs a person pages (the same alert at most once an hour from one container:
    duplicate events do not page twice); a softer rule on a running stream is told at once; an expired exemption once
    across all containers (`first_notice`: a conditional write to the state table - kept rather than Powertools
    Idempotency, which would add a second write per notice, load its module on a cold start and expire by the wall
    clock instead of the injected one); a sweep sends its one message a day. A publish that fails is logged and
    counted (AlertFailed, which the template alarms on), never raised: the alert is also in the decision's log line."""

    def __init__(
        self,
        publish: Callable[[str, str], Any],
        clock: Clock,
        signals: Signals,
        *,
        where: Where,
        first_notice: Callable[[str], bool] = lambda _key: True,
        report_only: bool = False,
        repeat_seconds: float = ALERT_REPEAT_SECONDS,
    ) -> None:
        self._publish = publish
        self._clock = clock
        self._signals = signals
        self._where = where
        self._first_notice = first_notice
        self._report_only = report_only
        self._repeat_seconds = repeat_seconds
        self._sent: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, evaluation: Decision, detail: Mapping[str, Any], *, summarised: bool) -> None:
        trigger, event_id = str(detail.get("trigger") or ""), str(detail.get("event_id") or "")
        for warning in evaluation.warnings:
            if warning.code == "ExemptionExpired":
                self._notice_expired_exemption(evaluation, warning)
            if warning.code == "ProtectionLowered" and not summarised:  # the sweep lists these in its summary instead
                self.send(
                    *alerts.softer_rule_notice(
                        evaluation, warning, trigger=trigger, event_id=event_id, where=self._where
                    )
                )
        if not summarised and (evaluation.outcome.needs_a_person or evaluation.reason in NOTICES):
            who = evaluation.actor.principal if evaluation.actor else ""
            cluster = evaluation.resource_id or evaluation.cluster_arn or evaluation.cluster_id
            if self.sent_recently(f"{cluster}|{evaluation.reason}|{who}"):
                self._signals.logger.info(
                    "alert suppressed: the same alert was sent from this container within the hour"
                )
                return
            self.send(*alerts.render_alert(evaluation, trigger=trigger, event_id=event_id, where=self._where))

    def sweep_done(self, report: SweepReport) -> None:
        """The day's one message: the digest of what needs a person, or the heartbeat that says all is well."""
        self.send(
            *alerts.sweep_digest(
                dict(report.summary),
                report.needs_a_person,
                report.softened,
                report_only=self._report_only,
                where=self._where,
            )
        )

    def flush(self) -> None:
        """Alerts are published as they come: nothing waits."""

    def send(self, subject: str, body: str) -> bool:
        """Publish one alert; False (logged and counted) if it could not be."""
        try:
            self._publish(alerts.safe_subject(subject), alerts.safe_body(body))
        except Exception:  # the alert is also in the log line above
            self._signals.logger.exception("could not publish alert", extra={"alert_subject": subject})
            self._signals.count("AlertFailed", "Publish")
            return False
        return True

    def sent_recently(self, key: str) -> bool:
        """True if this container sent the alert `key` within the hour; otherwise remembers it as sent now."""
        now = self._clock.now().timestamp()
        with self._lock:
            if self._sent.get(key, float("-inf")) > now:
                return True
            self._sent[key] = now + self._repeat_seconds
            return False

    def _notice_expired_exemption(self, evaluation: Decision, warning: Finding) -> None:
        """Told once, across all containers (the state table remembers), not on every event."""
        try:
            cluster = evaluation.resource_id or evaluation.cluster_arn
            first = self._first_notice(f"ExemptionExpired|{cluster}|{warning.detail}")
        except Exception:  # the warning is in the log line; a failed notice must not fail the decision
            self._signals.logger.exception("could not record the expired-exemption notice")
            return
        if first:
            self.send(*alerts.expired_exemption_notice(evaluation, warning, where=self._where))


class ResultEvents:
    """The EventBridge channel: result events queued per invocation and sent ten per PutEvents. The sweep publishes
    results only where something changed or a person must act, and its summary as one event of its own."""

    def __init__(
        self, put_events: Callable[[list[dict[str, Any]]], list[str]], bus: str, signals: Signals, *, where: Where
    ) -> None:
        self._put_events = put_events
        self._bus = bus
        self._signals = signals
        self._where = where
        self._pending: list[dict[str, Any]] = []

    def take(self, evaluation: Decision, detail: Mapping[str, Any], *, summarised: bool) -> None:
        if not summarised or evaluation.outcome not in STEADY_OUTCOMES:
            self._add(RESULT_DETAIL_TYPE, evaluation.cluster_arn, detail)

    def sweep_done(self, report: SweepReport) -> None:
        where = {"account": self._where.account, "region": self._where.region}
        self._add(SWEEP_DETAIL_TYPE, None, {"version": RESULT_FORMAT, **where, **report.summary})

    def flush(self) -> None:
        """Publish the queued entries, emptying the queue whatever happens."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            refused = self._put_events(pending)
        except Exception as err:  # noqa: BLE001 - the decisions are in the log lines; a lost result event must not redo them
            self._signals.problem(
                "ResultEventsFailed",
                "could not publish result events",
                err,
                {"result_events": len(pending)},
                len(pending),
            )
            return
        if refused:
            self._signals.problem(
                "ResultEventsFailed", "EventBridge refused result events", None, {"error_codes": refused}, len(refused)
            )

    def _add(self, detail_type: str, resource: str | None, detail: Mapping[str, Any]) -> None:
        self._pending.append(
            {
                "Source": RESULT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": [resource] if resource else [],
                "EventBusName": self._bus,
            }
        )


class Reporter:
    """Routes every decision: its log line and metrics here, the rest through the channels."""

    def __init__(
        self,
        signals: Signals,
        clock: Clock,
        *,
        where: Where,
        alerts: Alerts,
        channels: Sequence[Channel] = (),
    ) -> None:
        self._signals = signals
        self._logger = signals.logger
        self._clock = clock
        self._where = where
        self._alerts = alerts  # also the channel of the messages that are about no decision (policy, sweep)
        self._channels: tuple[Channel, ...] = (alerts, *channels)

    def record(self, evaluation: Decision, *, trigger: str, event_id: str, summarised: bool = False) -> None:
        """One log line, metrics, and every channel's share: a result event, a finding, an alert where a person must
        act. `summarised`: the sweep reports this decision in its summary instead - no metrics or alert of its own,
        a result event only where something changed or a person must act, and a failing cluster's finding
        refreshed."""
        detail = result_detail(
            evaluation, trigger=trigger, event_id=event_id, where=self._where, decided_at=self._clock.now()
        )
        log = self._logger.warning if evaluation.outcome.needs_a_person else self._logger.info
        log(
            f"{evaluation.outcome.value}: {evaluation.cluster_id or '-'}: {evaluation.reason}", extra=log_fields(detail)
        )
        if not summarised:
            self.count(evaluation.outcome.value, evaluation.reason)
            if detail["compliance"] is not None:
                self.count("Compliance", detail["compliance"], dimension="ComplianceState")
        for warning in evaluation.warnings:
            self._logger.warning(
                f"Warning: {evaluation.cluster_id}: {warning.code}",
                extra={"warning": asdict(warning), "cluster_arn": evaluation.cluster_arn},
            )
            if not summarised:
                self.count("Warning", warning.code)
        for channel in self._channels:
            channel.take(evaluation, detail, summarised=summarised)

    def flush_results(self) -> None:
        """Every channel sends what it queued (result events ten per PutEvents, findings 100 per import). Never fails
        the decisions they describe."""
        for channel in self._channels:
            channel.flush()

    def sweep_summary(self, report: SweepReport) -> None:
        """One log line, the summary metric set, and every channel's share: the summary event, the findings of
        clusters gone archived, and one message - the digest, or the heartbeat."""
        summary = report.summary
        self._logger.info("sweep summary", extra={"sweep": dict(summary)})
        for name, key in SWEEP_METRICS:
            self._signals.metric(name, summary[key])
        self._signals.metric("ExemptionsExpiringSoon", len(summary["expiring_exemptions"]))
        for channel in self._channels:
            channel.sweep_done(report)
        self.flush_results()

    def policy_broken(self, err: PolicyError) -> None:
        """Log and alert (once per distinct set of problems) that no cluster can be evaluated."""
        self._logger.error(
            "policy document is invalid; events are kept and retried",
            extra={"problems": err.problems, "policy_parameter": self._where.policy_parameter},
        )
        if not self._alerts.sent_recently("policy:" + hashlib.sha256(str(err).encode()).hexdigest()[:12]):
            self._alerts.send(*alerts.policy_invalid(err.source, err.problems, where=self._where))

    def policy_changed(self, changes: Sequence[str], problems: Sequence[str], *, who: str, version: int) -> None:
        """The policy-change notice: who, what changed (weaker lines first), and whether it is still valid."""
        self._alerts.send(*alerts.policy_changed(changes, problems, who=who, version=version, where=self._where))

    def count(self, name: str, reason: str, *, dimension: str = "Reason") -> None:
        self._signals.count(name, reason, dimension=dimension)


__all__ = ["Alerts", "Outcome", "Reporter", "ResultEvents", "result_detail"]
