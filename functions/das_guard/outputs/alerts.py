"""What every alert says: subject and body, as pure functions of a decision (or a summary) and where it happened,
so their wording is tested without AWS. No Powertools and no boto3 here: the organisation's notifier (`central.py`,
a Lambda of its own that loads nothing but SNS) uses `safe_subject` too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..model import Decision, Finding, Outcome
from ..reasons import NOTICES, verdict


@dataclass(frozen=True)
class Where:
    """Where a deployment reports from: every alert and result event names it."""

    account: str
    region: str
    policy_parameter: str

    def __str__(self) -> str:
        return f"{self.account}/{self.region}"


def render_alert(evaluation: Decision, *, trigger: str, event_id: str, where: Where) -> tuple[str, str]:
    """Subject and body of the alert for one evaluation (pure, so its wording is tested)."""
    cluster = evaluation.cluster_id or "unknown cluster"
    account, region, policy_parameter = where.account, where.region, where.policy_parameter
    judged = verdict(evaluation)
    subject = f"DAS Guard {evaluation.outcome.value}: {cluster} ({evaluation.reason}) in {account}/{region}"
    headline = f"Database activity stream NOT started for Aurora cluster {cluster}."
    if evaluation.reason in NOTICES:
        subject = f"DAS Guard notice: {evaluation.reason} on {cluster} in {account}/{region}"
        headline = f"Notice about the database activity stream of Aurora cluster {cluster}."
    elif evaluation.outcome is Outcome.VIOLATION and evaluation.reason.startswith("Stream"):
        headline = f"The database activity stream of Aurora cluster {cluster} is NOT as the policy requires."
    elif evaluation.outcome is Outcome.FAILED and evaluation.reason == "ScheduledStartMissed":
        headline = f"The maintenance window passed and the activity stream of Aurora cluster {cluster} did NOT start."
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
        f"Reason:   {evaluation.reason} ({judged.meaning})",
        f"Verdict:  {judged.compliance.value if judged.compliance else '-'}, severity {judged.severity.value}",
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
        f"How to fix: {judged.fix or 'see the detail above and the outcome catalogue, docs/outcomes.md.'}",
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


# SNS refuses a message over 256 KB (262,144 bytes, UTF-8). An alert is cut well below that, and says so.
SNS_MESSAGE_LIMIT = 262_144
BODY_LIMIT = 200_000


def safe_body(text: str) -> str:
    """An SNS message body that cannot be refused for its size: at most BODY_LIMIT bytes of UTF-8, and where it was
    cut, a last line saying how much (the full decision is in the function's log line)."""
    data = text.encode("utf-8")
    if len(data) <= BODY_LIMIT:
        return text
    kept = data[:BODY_LIMIT].decode("utf-8", errors="ignore")
    return (
        f"{kept}\n\n[DAS Guard cut this alert: {len(data) - BODY_LIMIT} of {len(data)} bytes are not shown, to stay "
        "within SNS's 256 KB; the whole decision is in the DAS Guard log line]"
    )


def _short(principal: str) -> str:
    """arn:aws:sts::1:assumed-role/BreakGlass/alice -> BreakGlass/alice; anything else unchanged."""
    return principal.split(":assumed-role/", 1)[-1] if ":assumed-role/" in principal else principal


def softer_rule_notice(
    evaluation: Decision, warning: Finding, *, trigger: str, event_id: str, where: Where
) -> tuple[str, str]:
    return (
        f"DAS Guard notice: softer rule for {evaluation.cluster_id} in {where}",
        f"{warning.detail}.\n\nCluster: {evaluation.cluster_arn}\nTrigger: {trigger} (event {event_id})"
        f"\nDecision now: {evaluation.outcome.value} ({evaluation.reason}): {evaluation.detail}"
        f"\n\nHow to fix: {warning.fix}",
    )


def expired_exemption_notice(evaluation: Decision, warning: Finding, *, where: Where) -> tuple[str, str]:
    return (
        f"DAS Guard: exemption expired for {evaluation.cluster_id} in {where}",
        f"{warning.detail}.\n\nCluster: {evaluation.cluster_arn}\nDecision now: "
        f"{evaluation.outcome.value} ({evaluation.reason}): {evaluation.detail}\n\n{warning.fix}",
    )


def sweep_digest(
    summary: dict[str, Any], violations: Sequence[str], softened: Sequence[str], *, report_only: bool, where: Where
) -> tuple[str, str]:
    """The sweep's one message a day: the digest of what needs a person, or - when nothing does - the heartbeat that
    says all is well. Its absence is news the recipient can notice (a sweep that did not run, a topic or subscription
    tampered with), which no alert about an attack on the alert path itself can be."""
    expiring = summary["expiring_exemptions"]
    if not violations and not expiring and not softened and not report_only:
        return (
            f"DAS Guard sweep: all is well in {where} ({summary['compliant']} of {summary['clusters_seen']} clusters "
            "pass)",
            f"DAS Guard sweep {summary['sweep_id']} of {where}: {summary['clusters_seen']} clusters, "
            f"{summary['compliant']} audited as the policy requires, {summary['exempt']} exempt, nothing needs a "
            "person.\n\nThis message comes once a day. If a day passes without it (or without a sweep digest), "
            "DAS Guard's sweep, its alert topic or your subscription has stopped working: look now.",
        )
    lines = [
        *(
            [
                "This deployment is REPORT-ONLY (EnforcementMode): it starts no stream. Clusters counted as "
                "'would start' stay unaudited until it enforces.",
                "",
            ]
            if report_only
            else []
        ),
        f"DAS Guard sweep {summary['sweep_id']} of {where}:",
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
    mode = " [REPORT-ONLY]" if report_only else ""
    soft = f", {len(softened)} softened" if softened else ""
    subject = (
        f"DAS Guard sweep{mode}: {len(violations)} violation(s){soft}, {len(expiring)} exemption(s) expiring in {where}"
    )
    return subject, "\n".join(lines)


def policy_invalid(source: str, problems: Sequence[str], *, where: Where) -> tuple[str, str]:
    listed = "\n".join(f"  - {p}" for p in problems)
    return (
        f"DAS Guard policy invalid in {where}",
        f"The DAS Guard policy document ({source}) failed validation, so no cluster can be "
        f"evaluated. Events are kept and retried, then parked in the dead-letter queue.\n\n"
        f"Problems:\n{listed}\n\nHow to fix: correct the fields above and save the parameter. "
        f"Redrive the dead-letter queue afterwards if messages reached it.",
    )


def policy_changed(
    changes: Sequence[str], problems: Sequence[str], *, who: str, version: int, where: Where
) -> tuple[str, str]:
    """The policy-change notice: who, what changed (weaker lines first), and whether it is still valid."""
    ordered = sorted(changes, key=lambda line: not line.startswith("WEAKER: "))
    weaker = any(line.startswith("WEAKER: ") for line in changes)
    kind = "HIGH: policy INVALID" if problems else ("policy weakened" if weaker else "policy changed")
    lines = [
        f"The DAS Guard policy ({where.policy_parameter}) was written by {who}: version {version}.",
        "",
        "What changed:",
        *(f"  - {line}" for line in ordered[:50]),
    ]
    if problems:
        lines += ["", "The new document is INVALID, so no cluster can be evaluated:", *(f"  - {p}" for p in problems)]
    lines += [
        "",
        "If this change was not agreed with the compliance team, restore the previous version "
        f"(SSM parameter history of {where.policy_parameter}) and find out why this principal may write it.",
    ]
    return f"DAS Guard {kind} by {_short(who)} in {where}", "\n".join(lines)
