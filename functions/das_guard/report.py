"""Every decision becomes one structured log line, CloudWatch metrics (EMF) and, where a person must act,
an SNS alert whose subject and body say what happened, where, why and how to fix it."""

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

from .clock import Clock
from .findings import SecurityHubChannel
from .model import Decision, Finding, Outcome
from .policy_terms import PolicyError

ALERT_REPEAT_SECONDS = 3600.0
RESULT_SOURCE = "das-guard"
RESULT_DETAIL_TYPE = "DAS Guard Enforcement Result"
SWEEP_DETAIL_TYPE = "DAS Guard Sweep Summary"
RESULT_FORMAT = 1
# The sweep publishes results only where something changed or a person must act; a daily event for every
# cluster whose stream is simply on would make the sweep's calls grow with the number of clusters.
STEADY_OUTCOMES = frozenset({Outcome.ALREADY_ACTIVE, Outcome.NOT_APPLICABLE, Outcome.EXEMPT, Outcome.DEFERRED})


def result_detail(
    evaluation: Decision, *, trigger: str, event_id: str, account: str, region: str, decided_at: datetime
) -> dict[str, Any]:
    """The `detail` of the result event for one evaluation (schema in README, "Result events")."""
    return {
        "version": RESULT_FORMAT,
        "outcome": evaluation.outcome.value,
        "reason": evaluation.reason,
        "detail": evaluation.detail,
        "fix": evaluation.fix or None,
        "cluster_id": evaluation.cluster_id,
        "cluster_arn": evaluation.cluster_arn,
        "cluster_resource_id": evaluation.resource_id,
        "rule": evaluation.rule,
        "trigger": trigger,
        "event_id": event_id or None,
        "account": account,
        "region": region,
        "warnings": [{"code": w.code, "detail": w.detail} for w in evaluation.warnings],
        "stopped_by": asdict(evaluation.actor) if evaluation.actor else None,
        "start_request": asdict(evaluation.start) if evaluation.start else None,
        "stream": evaluation.stream,
        "decided_at": decided_at.isoformat(),
    }


def render_alert(
    evaluation: Decision, *, trigger: str, event_id: str, account: str, region: str, policy_parameter: str
) -> tuple[str, str]:
    """Subject and body of the alert for one evaluation (pure, so its wording is tested)."""
    cluster = evaluation.cluster_id or "unknown cluster"
    subject = f"DAS Guard {evaluation.outcome.value}: {cluster} ({evaluation.reason}) in {account}/{region}"
    headline = f"Database activity stream NOT started for Aurora cluster {cluster}."
    stop = evaluation.actor
    if evaluation.outcome is Outcome.TAMPERED and stop is None:  # found by the sweep: no stop event reached us
        subject = f"DAS Guard HIGH: activity stream STOPPED on {cluster} (unseen) in {account}/{region}"
        headline = f"The database activity stream of Aurora cluster {cluster} was STOPPED, and no event said so."
    if evaluation.outcome is Outcome.TAMPERED and stop is not None:
        allowed = evaluation.reason == "StoppedByAllowedPrincipal"
        kind = "notice: allowed stop" if allowed else "HIGH: activity stream STOPPED"
        if evaluation.reason == "StopNotConfirmed":
            kind = "HIGH: STOP event, stream is up"  # stale or forged; the subject has 100 characters
        who = f"by {_short(stop.principal)}" if stop.known else "(RDS event)"
        subject = f"DAS Guard {kind} on {cluster} {who} in {account}/{region}"
        headline = f"The database activity stream of Aurora cluster {cluster} was STOPPED."
    lines = [
        headline,
        "",
        f"Outcome:  {evaluation.outcome.value}",
        f"Reason:   {evaluation.reason}",
        f"Detail:   {evaluation.detail}",
        f"Cluster:  {evaluation.cluster_arn or cluster}",
        f"Account:  {account}",
        f"Region:   {region}",
        f"Rule:     {evaluation.rule or '-'} (policy in SSM parameter {policy_parameter})",
        f"Trigger:  {trigger} (event {event_id or '-'})",
        *(
            [f"Stopped by: {stop.principal}", f"From:       {stop.source_ip or '-'}", f"At:         {stop.time or '-'}"]
            if stop
            else []
        ),
        "",
        f"How to fix: {evaluation.fix or 'see the detail above and the DAS Guard README (outcome catalogue).'}",
    ]
    if evaluation.cluster_id and region:
        lines += [
            "",
            "Console: https://console.aws.amazon.com/rds/home?region="
            f"{region}#database:id={evaluation.cluster_id};is-cluster=true",
        ]
    lines += [
        "",
        "DAS Guard re-evaluates the cluster on its next creation/instance event, "
        "or when the message is redriven from the dead-letter queue.",
    ]
    return subject[:100], "\n".join(lines)


def safe_subject(text: str) -> str:
    """An SNS subject that cannot be refused: SNS rejects line breaks and control characters and 100 characters or
    more, and e-mail clients mangle the rest of Unicode. A principal or cluster name chosen by an insider must not
    cost the HIGH alert that reports them, so the subject is one line of printable ASCII, at most 99 characters."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return " ".join(printable.split())[:99] or "DAS Guard alert"


def _short(principal: str) -> str:
    """arn:aws:sts::1:assumed-role/BreakGlass/alice -> BreakGlass/alice; anything else unchanged."""
    return principal.split(":assumed-role/", 1)[-1] if ":assumed-role/" in principal else principal


class _Once:
    """Remembers which alerts this container sent recently, so duplicate events do not page twice."""

    def __init__(self, seconds: float, clock: Clock) -> None:
        self._seconds = seconds
        self._clock = clock
        self._sent: dict[str, float] = {}
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        now = self._clock.now().timestamp()
        with self._lock:
            if self._sent.get(key, float("-inf")) > now:
                return False
            self._sent[key] = now + self._seconds
            return True


class Reporter:
    def __init__(
        self,
        logger: Logger,
        metrics: Metrics,
        publish: Callable[[str, str], Any],
        clock: Clock,
        *,
        account: str,
        region: str,
        policy_parameter: str,
        service: str = "das-guard",
        repeat_seconds: float = ALERT_REPEAT_SECONDS,
        first_notice: Callable[[str], bool] = lambda _key: True,
        put_events: Callable[[list[dict[str, Any]]], list[str]] | None = None,
        event_bus: str | None = None,
        report_only: bool = False,
        findings: SecurityHubChannel | None = None,
    ) -> None:
        self._logger = logger
        self._metrics = metrics
        self._publish = publish
        self._account = account
        self._region = region
        self._policy_parameter = policy_parameter
        self._service = service
        self._once = _Once(repeat_seconds, clock)
        self._first_notice = first_notice
        self._put_events = put_events
        self._event_bus = event_bus
        self._report_only = report_only
        self._clock = clock
        self._results: list[dict[str, Any]] = []
        self.findings = findings  # Security Hub (SecurityHubFindings=true); None: no finding is built

    def record(
        self, evaluation: Decision, *, trigger: str, event_id: str, alert: bool = True, metrics: bool = True
    ) -> None:
        """One log line; metrics and an alert unless the caller (the sweep) summarises them itself."""
        fields: dict[str, Any] = {
            "outcome": evaluation.outcome.value,
            "reason": evaluation.reason,
            "detail": evaluation.detail,
            "cluster_id": evaluation.cluster_id,
            "cluster_arn": evaluation.cluster_arn,
            "rule": evaluation.rule,
            "trigger": trigger,
            "event_id": event_id,
        }
        if evaluation.fix:
            fields["fix"] = evaluation.fix
        if evaluation.warnings:
            fields["warnings"] = [asdict(w) for w in evaluation.warnings]
        if evaluation.start:
            fields["start_request"] = asdict(evaluation.start)
        if evaluation.stream:
            fields["stream"] = evaluation.stream
        log = self._logger.warning if evaluation.outcome.needs_a_person else self._logger.info
        log(f"{evaluation.outcome.value}: {evaluation.cluster_id or '-'}: {evaluation.reason}", extra=fields)

        if metrics:
            self.count(evaluation.outcome.value, evaluation.reason)
        for warning in evaluation.warnings:
            self._logger.warning(
                f"Warning: {evaluation.cluster_id}: {warning.code}",
                extra={"warning": asdict(warning), "cluster_arn": evaluation.cluster_arn},
            )
            if metrics:
                self.count("Warning", warning.code)
            if warning.code == "ExemptionExpired":
                self._notice_expired_exemption(evaluation, warning)
            if warning.code == "ProtectionLowered" and alert:  # the sweep lists these in its summary instead
                self.send(
                    f"DAS Guard notice: softer rule for {evaluation.cluster_id} in {self._account}/{self._region}",
                    f"{warning.detail}.\n\nCluster: {evaluation.cluster_arn}\nTrigger: {trigger} (event {event_id})"
                    f"\nDecision now: {evaluation.outcome.value} ({evaluation.reason}): {evaluation.detail}"
                    f"\n\nHow to fix: {warning.fix}",
                )

        if self._publishing and (metrics or evaluation.outcome not in STEADY_OUTCOMES):
            self._queue_result(
                RESULT_DETAIL_TYPE,
                evaluation.cluster_arn,
                result_detail(
                    evaluation,
                    trigger=trigger,
                    event_id=event_id,
                    account=self._account,
                    region=self._region,
                    decided_at=self._clock.now(),
                ),
            )
        if self.findings is not None:  # the sweep (metrics=False) also refreshes failing clusters' findings
            self.findings.add(evaluation, refresh_failing=not metrics)
        if alert and evaluation.outcome.needs_a_person:
            self.alert(evaluation, trigger=trigger, event_id=event_id)

    def alert(self, evaluation: Decision, *, trigger: str, event_id: str) -> None:
        who = evaluation.actor.principal if evaluation.actor else ""
        cluster = evaluation.resource_id or evaluation.cluster_arn or evaluation.cluster_id
        if not self._once.first(f"{cluster}|{evaluation.reason}|{who}"):
            self._logger.info("alert suppressed: the same alert was sent from this container within the hour")
            return
        subject, body = render_alert(
            evaluation,
            trigger=trigger,
            event_id=event_id,
            account=self._account,
            region=self._region,
            policy_parameter=self._policy_parameter,
        )
        self.send(subject, body)

    def _notice_expired_exemption(self, evaluation: Decision, warning: Finding) -> None:
        """Told once, across all containers (the state table remembers), not on every event."""
        try:
            cluster = evaluation.resource_id or evaluation.cluster_arn
            first = self._first_notice(f"ExemptionExpired|{cluster}|{warning.detail}")
        except Exception:  # the warning is in the log line; a failed notice must not fail the decision
            self._logger.exception("could not record the expired-exemption notice")
            return
        if first:
            self.send(
                f"DAS Guard: exemption expired for {evaluation.cluster_id} in {self._account}/{self._region}",
                f"{warning.detail}.\n\nCluster: {evaluation.cluster_arn}\nDecision now: "
                f"{evaluation.outcome.value} ({evaluation.reason}): {evaluation.detail}\n\n{warning.fix}",
            )

    @property
    def _publishing(self) -> bool:
        """Result events go out only with a bus configured; otherwise none is even built."""
        return self._put_events is not None and bool(self._event_bus)

    def _queue_result(self, detail_type: str, resource: str | None, detail: dict[str, Any]) -> None:
        if not self._publishing:
            return
        self._results.append(
            {
                "Source": RESULT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": [resource] if resource else [],
                "EventBusName": self._event_bus,
            }
        )

    def flush_results(self) -> None:
        """Publish the queued result events (ten per PutEvents) and Security Hub findings (100 per import).
        Never fails the decisions they describe."""
        if self.findings is not None:
            self.findings.flush()
        pending, self._results = self._results, []
        if not pending or self._put_events is None:
            return
        try:
            refused = self._put_events(pending)
        except Exception:  # the decisions are in the log lines; a lost result event must not redo them
            self._logger.exception("could not publish result events", extra={"result_events": len(pending)})
            self._metrics.add_metric(name="ResultEventsFailed", unit=MetricUnit.Count, value=len(pending))
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
        """One log line, the summary metric set, one result event, and one alert if anything needs a person."""
        self._logger.info("sweep summary", extra={"sweep": summary})
        self._queue_result(
            SWEEP_DETAIL_TYPE,
            None,
            {"version": RESULT_FORMAT, "account": self._account, "region": self._region, **summary},
        )
        self.flush_results()
        for name, key in (
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
        ):
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=summary[key])
        expiring = summary["expiring_exemptions"]
        self._metrics.add_metric(name="ExemptionsExpiringSoon", unit=MetricUnit.Count, value=len(expiring))
        if not violations and not expiring and not softened and not self._report_only:
            return
        lines = [
            *(
                [
                    "This deployment is REPORT-ONLY (EnforcementMode): it starts no stream. Clusters counted as "
                    "'would start' stay unaudited until it enforces.",
                    "",
                ]
                if self._report_only
                else []
            ),
            f"DAS Guard sweep {summary['sweep_id']} of {self._account}/{self._region}:",
            f"{summary['clusters_seen']} clusters, {summary['compliant']} with an activity stream, "
            f"{summary['started']} started now, {summary['scheduled']} starting in their maintenance window, "
            f"{summary['exempt']} exempt, {summary['violations']} in violation.",
            "",
        ]
        if violations:
            lines += [
                "Clusters without a stream that need a person (first 100):",
                *(f"  - {v}" for v in violations[:100]),
                "",
            ]
        if softened:
            lines += [
                "Running streams now guarded by a softer rule (first 100; a stop would no longer be restarted):",
                *(f"  - {s}" for s in softened[:100]),
                "",
            ]
        if expiring:
            lines += ["Exemptions expiring within 7 days:", *(f"  - {e}" for e in expiring), ""]
        mode = " [REPORT-ONLY]" if self._report_only else ""
        soft = f", {len(softened)} softened" if softened else ""
        self.send(
            f"DAS Guard sweep{mode}: {len(violations)} violation(s){soft}, {len(expiring)} exemption(s) expiring in "
            f"{self._account}/{self._region}",
            "\n".join(lines),
        )

    def policy_broken(self, err: PolicyError) -> None:
        """Log and alert (once per distinct set of problems) that no cluster can be evaluated."""
        problems = "\n".join(f"  - {p}" for p in err.problems)
        self._logger.error(
            "policy document is invalid; events are kept and retried",
            extra={"problems": err.problems, "policy_parameter": self._policy_parameter},
        )
        self.alert_once(
            "policy:" + hashlib.sha256(str(err).encode()).hexdigest()[:12],
            f"DAS Guard policy invalid in {self._account}/{self._region}",
            f"The DAS Guard policy document ({err.source}) failed validation, so no cluster can be "
            f"evaluated. Events are kept and retried, then parked in the dead-letter queue.\n\n"
            f"Problems:\n{problems}\n\nHow to fix: correct the fields above and save the parameter. "
            f"Redrive the dead-letter queue afterwards if messages reached it.",
        )

    def policy_changed(
        self, announced: Decision, changes: Sequence[str], problems: Sequence[str], *, who: str, version: int
    ) -> None:
        """The policy-change notice: who, what changed (weaker lines first), and whether it is still valid."""
        ordered = sorted(changes, key=lambda line: not line.startswith("WEAKER: "))
        weaker = any(line.startswith("WEAKER: ") for line in changes)
        kind = "HIGH: policy INVALID" if problems else ("policy weakened" if weaker else "policy changed")
        lines = [
            f"The DAS Guard policy ({self._policy_parameter}) was written by {who}: version {version}.",
            "",
            "What changed:",
            *(f"  - {line}" for line in ordered[:50]),
        ]
        if problems:
            lines += [
                "",
                "The new document is INVALID, so no cluster can be evaluated:",
                *(f"  - {p}" for p in problems),
            ]
        lines += [
            "",
            "If this change was not agreed with the compliance team, restore the previous version "
            f"(SSM parameter history of {self._policy_parameter}) and find out why this principal may write it.",
        ]
        self.send(f"DAS Guard {kind} by {_short(who)} in {self._account}/{self._region}", "\n".join(lines))

    def alert_once(self, key: str, subject: str, body: str) -> None:
        if self._once.first(key):
            self.send(subject, body)

    def send(self, subject: str, body: str) -> None:
        """Publish an alert. A failed alert must not fail the decision it reports: log it loudly instead."""
        try:
            self._publish(safe_subject(subject), body)
        except Exception:  # the alert is also in the log line above
            self._logger.exception("could not publish alert", extra={"alert_subject": subject})
            self.count("AlertFailed", "Publish")

    def count(self, name: str, reason: str) -> None:
        """One metric per outcome (for alarms) plus a per-reason breakdown (for dashboards)."""
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=1,
            namespace=self._metrics.namespace,
            default_dimensions={"service": self._service},
        ) as metric:
            metric.add_dimension(name="Reason", value=reason or "None")


__all__ = ["Outcome", "Reporter", "render_alert"]
