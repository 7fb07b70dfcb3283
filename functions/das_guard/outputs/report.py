"""Every decision becomes one structured log line, CloudWatch metrics (EMF), a result event and, where a person
must act, an SNS alert. The reporter only routes: what an alert says is in `alerts.py`, and a decision is turned
into data once (`result_detail`), which is both the result event's detail and the log line's fields.

Channels are explicit and optional where the deployment may leave them out: alerts (`Alerts`, always; with no
topic they go nowhere), result events (`ResultEvents`, only with a bus), Security Hub findings (only with
SecurityHubFindings=true). No channel can fail the decision it reports: a failure is logged and counted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..clock import Clock
from ..model import Decision, Finding, Outcome
from ..policy import PolicyError
from ..reasons import NOTICES, verdict
from . import alerts
from .alerts import Where
from .findings import SecurityHubChannel

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
    """SNS alerts. The same alert is sent once an hour at most from one container (duplicate events do not page
    twice); a once-only notice is remembered across containers by `first_notice` (a conditional write to the state
    table - kept rather than Powertools Idempotency, which would add a second write per notice, load its module on
    a cold start and expire by the wall clock instead of the injected one). A publish that fails is logged, never
    raised: the alert is also in the decision's log line."""

    def __init__(
        self,
        publish: Callable[[str, str], Any],
        clock: Clock,
        logger: Logger,
        *,
        first_notice: Callable[[str], bool] = lambda _key: True,
        repeat_seconds: float = ALERT_REPEAT_SECONDS,
    ) -> None:
        self._publish = publish
        self._clock = clock
        self._logger = logger
        self._first_notice = first_notice
        self._repeat_seconds = repeat_seconds
        self._sent: dict[str, float] = {}
        self._lock = threading.Lock()

    def send(self, subject: str, body: str) -> bool:
        try:
            self._publish(alerts.safe_subject(subject), alerts.safe_body(body))
        except Exception:  # the alert is also in the log line above
            self._logger.exception("could not publish alert", extra={"alert_subject": subject})
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

    def first_notice(self, key: str) -> bool:
        """True the first time `key` is noticed by any container (raises where the state table cannot say)."""
        return self._first_notice(key)


class ResultEvents:
    """Result events for the EventBridge bus, queued per invocation and sent ten per PutEvents."""

    def __init__(self, put_events: Callable[[list[dict[str, Any]]], list[str]], bus: str) -> None:
        self._put_events = put_events
        self._bus = bus
        self._pending: list[dict[str, Any]] = []

    def add(self, detail_type: str, resource: str | None, detail: dict[str, Any]) -> None:
        self._pending.append(
            {
                "Source": RESULT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": [resource] if resource else [],
                "EventBusName": self._bus,
            }
        )

    @property
    def queued(self) -> int:
        return len(self._pending)

    def send(self) -> list[str]:
        """Publish the queued entries, emptying the queue whatever happens; the error codes EventBridge refused.
        Raises what PutEvents raises."""
        pending, self._pending = self._pending, []
        return self._put_events(pending) if pending else []


class Reporter:
    def __init__(
        self,
        logger: Logger,
        metrics: Metrics,
        clock: Clock,
        *,
        where: Where,
        alerts: Alerts,
        results: ResultEvents | None = None,
        findings: SecurityHubChannel | None = None,
        report_only: bool = False,
        service: str = "das-guard",
    ) -> None:
        self._logger = logger
        self._metrics = metrics
        self._clock = clock
        self._where = where
        self._alerts = alerts
        self._results = results  # None: no bus configured, so no result event is even built
        self.findings = findings  # Security Hub (SecurityHubFindings=true); None: no finding is built
        self._report_only = report_only
        self._service = service

    def record(self, evaluation: Decision, *, trigger: str, event_id: str, summarised: bool = False) -> None:
        """One log line, metrics, a result event and an alert where a person must act. `summarised`: the sweep
        reports this decision in its summary instead - no metrics or alert of its own, a result event only where
        something changed or a person must act, and a failing cluster's finding refreshed."""
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
            self._warned(evaluation, warning, trigger=trigger, event_id=event_id, summarised=summarised)
        if self._results is not None and (not summarised or evaluation.outcome not in STEADY_OUTCOMES):
            self._results.add(RESULT_DETAIL_TYPE, evaluation.cluster_arn, detail)
        if self.findings is not None:
            self.findings.add(evaluation, refresh_failing=summarised)
        if not summarised and (evaluation.outcome.needs_a_person or evaluation.reason in NOTICES):
            self.alert(evaluation, trigger=trigger, event_id=event_id)

    def _warned(self, evaluation: Decision, warning: Finding, *, trigger: str, event_id: str, summarised: bool) -> None:
        self._logger.warning(
            f"Warning: {evaluation.cluster_id}: {warning.code}",
            extra={"warning": asdict(warning), "cluster_arn": evaluation.cluster_arn},
        )
        if not summarised:
            self.count("Warning", warning.code)
        if warning.code == "ExemptionExpired":
            self._notice_expired_exemption(evaluation, warning)
        if warning.code == "ProtectionLowered" and not summarised:  # the sweep lists these in its summary instead
            self.send(
                *alerts.softer_rule_notice(evaluation, warning, trigger=trigger, event_id=event_id, where=self._where)
            )

    def alert(self, evaluation: Decision, *, trigger: str, event_id: str) -> None:
        who = evaluation.actor.principal if evaluation.actor else ""
        cluster = evaluation.resource_id or evaluation.cluster_arn or evaluation.cluster_id
        if self._alerts.sent_recently(f"{cluster}|{evaluation.reason}|{who}"):
            self._logger.info("alert suppressed: the same alert was sent from this container within the hour")
            return
        self.send(*alerts.render_alert(evaluation, trigger=trigger, event_id=event_id, where=self._where))

    def _notice_expired_exemption(self, evaluation: Decision, warning: Finding) -> None:
        """Told once, across all containers (the state table remembers), not on every event."""
        try:
            cluster = evaluation.resource_id or evaluation.cluster_arn
            first = self._alerts.first_notice(f"ExemptionExpired|{cluster}|{warning.detail}")
        except Exception:  # the warning is in the log line; a failed notice must not fail the decision
            self._logger.exception("could not record the expired-exemption notice")
            return
        if first:
            self.send(*alerts.expired_exemption_notice(evaluation, warning, where=self._where))

    def flush_results(self) -> None:
        """Publish the queued result events (ten per PutEvents) and Security Hub findings (100 per import).
        Never fails the decisions they describe."""
        if self.findings is not None:
            self.findings.flush()
        if self._results is None:
            return
        queued = self._results.queued
        if not queued:
            return
        try:
            refused = self._results.send()
        except Exception:  # the decisions are in the log lines; a lost result event must not redo them
            self._logger.exception("could not publish result events", extra={"result_events": queued})
            self._metrics.add_metric(name="ResultEventsFailed", unit=MetricUnit.Count, value=queued)
            return
        if refused:
            self._logger.error("EventBridge refused result events", extra={"error_codes": refused})
            self._metrics.add_metric(name="ResultEventsFailed", unit=MetricUnit.Count, value=len(refused))

    def finding_problem(self, message: str, err: Exception | None, fields: dict[str, Any]) -> None:
        """A Security Hub import or its bookkeeping failed: logged and counted, the decision stands."""
        if err is not None:
            self._logger.exception(message, extra=fields)
        else:
            self._logger.error(message, extra=fields)
        self._metrics.add_metric(name="FindingsFailed", unit=MetricUnit.Count, value=1)

    def sweep_summary(self, summary: dict[str, Any], violations: list[str], softened: Sequence[str] = ()) -> None:
        """One log line, the summary metric set, one result event, and one message: the digest, or the heartbeat."""
        self._logger.info("sweep summary", extra={"sweep": summary})
        if self._results is not None:
            where = {"account": self._where.account, "region": self._where.region}
            self._results.add(SWEEP_DETAIL_TYPE, None, {"version": RESULT_FORMAT, **where, **summary})
        self.flush_results()
        for name, key in SWEEP_METRICS:
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=summary[key])
        expiring = summary["expiring_exemptions"]
        self._metrics.add_metric(name="ExemptionsExpiringSoon", unit=MetricUnit.Count, value=len(expiring))
        self.send(*alerts.sweep_digest(summary, violations, softened, report_only=self._report_only, where=self._where))

    def policy_broken(self, err: PolicyError) -> None:
        """Log and alert (once per distinct set of problems) that no cluster can be evaluated."""
        self._logger.error(
            "policy document is invalid; events are kept and retried",
            extra={"problems": err.problems, "policy_parameter": self._where.policy_parameter},
        )
        if not self._alerts.sent_recently("policy:" + hashlib.sha256(str(err).encode()).hexdigest()[:12]):
            self.send(*alerts.policy_invalid(err.source, err.problems, where=self._where))

    def policy_changed(self, changes: Sequence[str], problems: Sequence[str], *, who: str, version: int) -> None:
        """The policy-change notice: who, what changed (weaker lines first), and whether it is still valid."""
        self.send(*alerts.policy_changed(changes, problems, who=who, version=version, where=self._where))

    def send(self, subject: str, body: str) -> None:
        """Publish an alert; one that cannot be published is logged and counted (AlertFailed)."""
        if not self._alerts.send(subject, body):
            self.count("AlertFailed", "Publish")

    def count(self, name: str, reason: str, *, dimension: str = "Reason") -> None:
        """One metric per outcome (for alarms) plus a per-reason breakdown (for dashboards); `Compliance` is counted
        by state (pass, fail, pending, exempt, not-applicable) the same way."""
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=1,
            namespace=self._metrics.namespace,
            default_dimensions={"service": self._service},
        ) as metric:
            metric.add_dimension(name=dimension, value=reason or "None")


__all__ = ["Alerts", "Outcome", "Reporter", "ResultEvents", "result_detail"]
