"""What happens to a cluster: the whole decision, as one pure function. Read this file to know what DAS Guard does.

`decide()` takes the live cluster, the policy and a few lookups, and returns the outcome and, if a stream should
start, the exact StartActivityStream request. Whatever event woke DAS Guard up - a creation, a tag change, a stop,
a retry or the sweep - the same live state gives the same decision, so duplicate and out-of-order events
converge. Stops have their own verdict (`stops.py`); `das_guard.enforcer` does the I/O around both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from ..model import (
    ACTIVE_STREAM_STATES,
    ClusterInfo,
    Decision,
    Finding,
    KeyLookup,
    KinesisFacts,
    Outcome,
    StartRequest,
    StreamRecord,
)
from ..policy import NEW_CLUSTERS, Action, EffectiveRule, Reader
from . import checks, windows
from .protection import protection
from .records import KINESIS_PREFIX, judge_records
from .stops import HoldLookupFn, held

if TYPE_CHECKING:
    from ..policy import PolicyDocument  # pydantic loads with the first policy read

KeyLookupFn = Callable[[str], KeyLookup]


@dataclass(frozen=True)
class Inputs:
    """What decide() may consult besides the cluster and the policy. Lookups are only called when needed."""

    lookup_key: KeyLookupFn
    today: date
    report_only: bool = False  # the whole deployment only reports (template parameter EnforcementMode)
    lookup_hold: HoldLookupFn | None = None  # None: no state table, so no hold can exist
    now: datetime | None = None  # holds ending later than now + the policy's hold_hours are not honoured
    lookup_modes: checks.ModesLookup | None = None  # AWS's answer on support; None: the static table decides
    lookup_record: Callable[[str], StreamRecord | None] | None = None  # by DbClusterResourceId: a start requested?
    new_cluster_window: timedelta = timedelta(hours=4)  # "new-clusters": created this recently, nothing runs on it yet
    lookup_babelfish: Callable[[str], bool | None] | None = None  # by cluster parameter group
    waiting_since: datetime | None = None  # when the event that is still waiting for the cluster was first seen
    readiness_timeout: timedelta | None = None  # how long a cluster may take to get ready; None: no deadline
    dry_run: bool = False  # the CLI: the start is described as one that would be made ("would start ...")
    lookup_kms_endpoint: checks.KmsEndpointLookup | None = None  # by VPC: an interface endpoint for KMS there?
    upgrade_grace: timedelta = timedelta(minutes=15)  # how long a stopped PostgreSQL stream waits for its upgrade
    lookup_records: Callable[[str, bool], KinesisFacts] | None = None  # (Kinesis stream, list its readers?)
    can_archive: bool = False  # the stack has a records archive DAS Guard may create delivery streams into


# A start requested for the maintenance window must show `started` this long after the window's end (RDS may
# take some minutes past the window); a window that cannot be read gets a week and a day.
WINDOW_GRACE = timedelta(hours=1)
UNKNOWN_WINDOW_DEADLINE = timedelta(days=8)


# Step 4's first checks, in the order their problems are reported (the first is the decision's reason, a metric
# dimension): what rules a cluster out before AWS is asked about its version and classes. Add a check: a function in
# checks.py returning a Finding whose code is in the catalogue (reasons.py), and a row here (docs/contributing.md).
FIRST_CHECKS: tuple[Callable[[ClusterInfo, Inputs], Finding | None], ...] = (
    lambda cluster, _: checks.check_cluster_type(cluster),
    lambda cluster, inputs: checks.check_babelfish(cluster, inputs.lookup_babelfish),
    lambda cluster, _: checks.check_engine(cluster),
    lambda cluster, _: checks.check_engine_mode(cluster),
)


def decide(
    cluster: ClusterInfo | None, policy: PolicyDocument, inputs: Inputs, *, cluster_id: str | None = None
) -> Decision:
    """The whole decision, in order. Pure: no AWS calls other than through the lookups in `inputs`."""
    if cluster is None:
        return Decision(
            Outcome.NOT_APPLICABLE,
            "ClusterNotFound",
            "the cluster does not exist (deleted before it was evaluated)",
            cluster_id=cluster_id,
        )
    base = Decision.about(cluster, Outcome.NOT_APPLICABLE, "", "")

    # 1. Only Aurora clusters that exist and run something have activity streams of this kind.
    out_of_scope = _out_of_scope(cluster)
    if out_of_scope is not None:
        return replace(base, reason=out_of_scope.code, detail=out_of_scope.detail)

    rule = policy.rule_for(cluster.tags)
    base = replace(base, rule=rule.name, protection=protection(cluster, policy, inputs.today))

    # 2. A running stream is audited only when it is started with the rule's key and mode, on a key that is enabled,
    #    not pending deletion, and that DAS Guard can describe. DAS Guard never stops a stream: whatever is wrong
    #    with a running one is a failing reason with a fix a person carries out.
    if cluster.stream_status in ACTIVE_STREAM_STATES:
        return _running(base, cluster, policy, rule, inputs)
    if cluster.stream_status == "stopping":
        return overdue(
            replace(
                base,
                outcome=Outcome.DEFERRED,
                reason="StreamStopping",
                detail="activity stream is stopping; it will be started again once stopped",
            ),
            inputs,
        )

    # 3. The central policy may exempt the cluster: a time-boxed exemption, or an exempt rule. Only the policy
    #    can; tags merely select. An expired exemption no longer applies and says so (once, in an alert).
    exempt, expired = _exemption(base, cluster, policy, rule, inputs.today)
    if exempt is not None:
        return exempt
    base = replace(base, warnings=expired)

    # 4. Validate everything that does not depend on timing. Problems here will not fix themselves.
    assert rule.kms_key is not None  # guaranteed by PolicyDocument validation for non-exempt rules
    key = inputs.lookup_key(rule.kms_key)
    first = [finding for check in FIRST_CHECKS if (finding := check(cluster, inputs)) is not None]
    # AWS is only asked about versions and classes when nothing more basic already rules the cluster out
    support = checks.check_support(cluster, None if first else inputs.lookup_modes)
    key_problem = checks.check_kms_key(key, cluster.region)
    problems = [*first, *support.problems, *([key_problem] if key_problem else [])]
    network = checks.check_kms_network(cluster, inputs.lookup_kms_endpoint) if not problems else None
    base = replace(base, warnings=(*base.warnings, *support.warnings, *([network] if network else [])))
    if problems:
        return _violation(base, problems)

    # 5. Aurora PostgreSQL's documented major-upgrade procedure stops the stream first: the restart waits for the
    #    upgrade (a short grace for it to begin, then until it completes), never in the middle of it.
    waiting = _upgrade(base, cluster, inputs)
    if waiting is not None:
        return overdue(waiting, inputs)

    # 6. Readiness: a new cluster has no instance yet; come back later rather than fail.
    not_ready = checks.readiness(cluster)
    if not_ready is not None:
        return overdue(replace(base, outcome=Outcome.DEFERRED, reason=not_ready.code, detail=not_ready.detail), inputs)

    # 7. A stream stopped by an allowed (break-glass) principal stays stopped until its hold ends.
    holding = held(base, cluster, policy, inputs.lookup_hold, inputs.now)
    if holding.outcome is Outcome.EXEMPT:
        return holding

    # 8. Start (or, in report-only, say that we would have).
    assert key.key is not None
    return _start(holding, cluster, rule, key_arn=key.key.arn, support=support, inputs=inputs)


def overdue(deferred: Decision, inputs: Inputs) -> Decision:
    """A cluster still not ready after the readiness window will not get ready by waiting: Failed, so a person
    is told, instead of one more re-check. (`deferred` unchanged while there is time, or nothing is waiting.)"""
    deadline, since, now = inputs.readiness_timeout, inputs.waiting_since, inputs.now
    if deferred.outcome is not Outcome.DEFERRED or deadline is None or since is None or now is None:
        return deferred
    waited = now - since
    if waited <= deadline:
        return deferred
    if deferred.reason in UPGRADE_REASONS:
        return replace(
            deferred,
            outcome=Outcome.FAILED,
            reason="MajorUpgradeOverdue",
            detail=f"the stream was stopped for a major version upgrade, and after {int(waited.total_seconds() // 60)} "
            f"minutes the cluster is still not back ({deferred.detail})",
            fix="Finish (or roll back) the upgrade; DAS Guard starts the stream as soon as the cluster is available. "
            "If nobody is upgrading it, find who stopped the stream (CloudTrail StopActivityStream).",
        )
    return replace(
        deferred,
        outcome=Outcome.FAILED,
        reason="ReadinessTimeout",
        detail=f"still not ready after {int(waited.total_seconds() // 60)} minutes ({deferred.reason}: "
        f"{deferred.detail})",
        fix="Make the cluster available with at least one available instance of a supported class. "
        "DAS Guard will start the stream on the next instance-created event.",
    )


def _start(
    base: Decision,
    cluster: ClusterInfo,
    rule: EffectiveRule,
    *,
    key_arn: str,
    support: checks.Support,
    inputs: Inputs,
) -> Decision:
    """Starting immediately restarts the cluster: only where the rule says so, or the cluster is still new;
    otherwise in its maintenance window (Scheduled), requested once."""
    mode, downgrade = checks.effective_mode(cluster, rule.mode, support.modes)
    immediately = _immediately(cluster, rule, inputs)
    request = StartRequest(cluster.arn, mode.value, key_arn, immediately)
    window = cluster.maintenance_window or "the cluster's own"
    when = "" if immediately else f" in the maintenance window ({window})"
    article = "an" if mode.value[:1] in "aeiou" else "a"  # an async stream, a sync stream
    plan = f"{article} {mode.value} stream with {key_arn}{when}"
    report_only = inputs.report_only or rule.action is Action.REPORT_ONLY
    why = "the deployment is report-only" if inputs.report_only else "rule is report-only"
    warnings = base.warnings + ((downgrade,) if downgrade else ())
    if report_only:
        restart = "; starting it now would restart the cluster" if immediately else ""
        return replace(
            base,
            outcome=Outcome.WOULD_START,
            reason="ReportOnly",
            detail=f"would start {plan} ({why}){restart}",
            start=request,
            warnings=warnings,
        )
    if immediately:
        return replace(
            base,
            outcome=Outcome.STARTED,
            reason="StreamStarted",
            detail=f"{'would start' if inputs.dry_run else 'starting'} {plan}",
            start=request,
            warnings=warnings,
        )
    record = _record(cluster, inputs)
    if record and record.state == "scheduled" and record.at and inputs.now:
        return _scheduled(base, cluster, record.at, inputs.now, warnings)
    return replace(
        base,
        outcome=Outcome.SCHEDULED,
        reason="MaintenanceWindow",
        detail=f"{'would request' if inputs.dry_run else 'requesting'} {plan}: the cluster already carries workload, "
        "and starting a stream at once restarts it",
        fix="Nothing to do. To start it at once (a restart), set apply_immediately: true on the rule that applies.",
        start=request,
        warnings=warnings,
    )


# A stream DAS Guard last knew as running (or stopped by someone) is restarted at once: a stop is not a first start,
# and leaving it to the maintenance window - which whoever stopped it may move - would leave it unaudited for a week.
WAS_RUNNING = frozenset({"on", "reported", "allowed", "awaiting-upgrade", "upgrade"})


def _immediately(cluster: ClusterInfo, rule: EffectiveRule, inputs: Inputs) -> bool:
    """Whether to start with ApplyImmediately (a restart). A stream that ran before (stopped by someone, lost, held,
    stopped for an upgrade): always - `apply_immediately` is about first starts, and a stop is not one. Otherwise as
    the rule says; `new-clusters`: only a cluster created within the new-cluster window (read from the live cluster,
    so no forged event can make an old one restart)."""
    if rule.apply_immediately is True:
        return True
    new = rule.apply_immediately == NEW_CLUSTERS and cluster.created_at is not None and inputs.now is not None
    if new and inputs.now - cluster.created_at <= inputs.new_cluster_window:  # type: ignore[operator]
        return True
    record = _record(cluster, inputs)
    return record is not None and record.state in WAS_RUNNING


STOPPED_CLUSTER_STATES = frozenset({"stopped", "stopping"})
UPGRADE_REASONS = frozenset({"StoppedForUpgrade", "MajorUpgradeInProgress"})


def _upgrade(base: Decision, cluster: ClusterInfo, inputs: Inputs) -> Decision | None:
    """A stream stopped on Aurora PostgreSQL (recorded `awaiting-upgrade` by the stop's report, `upgrade` once the
    upgrade was seen): Deferred while the upgrade may begin or is under way; None once it is over, or the grace passed
    with no upgrade (then the stream starts again, at once: it ran before)."""
    if cluster.engine != "aurora-postgresql":
        return None
    record = _record(cluster, inputs)
    if record is None or record.state not in ("awaiting-upgrade", "upgrade"):
        return None
    stopped = f"the stream was stopped{f' at {record.at.isoformat()}' if record.at else ''}"
    if cluster.major_upgrade_under_way:
        first = record.state == "awaiting-upgrade"
        return replace(
            base,
            outcome=Outcome.DEFERRED,
            reason="StoppedForUpgrade" if first else "MajorUpgradeInProgress",
            detail=f"{stopped} for a major version upgrade (Aurora's documented procedure): {cluster.engine_version} "
            f"-> {cluster.pending_engine_version or 'the new major version'}, cluster {cluster.status}; DAS Guard "
            "starts it again when the upgrade completes",
        )
    in_grace = record.at is not None and inputs.now is not None and inputs.now - record.at < inputs.upgrade_grace
    if record.state == "awaiting-upgrade" and in_grace and record.at:
        return replace(
            base,
            outcome=Outcome.DEFERRED,
            reason="AwaitingUpgrade",
            detail=f"{stopped} on Aurora PostgreSQL; a major version upgrade may follow (AWS's procedure), so the "
            f"restart waits until {(record.at + inputs.upgrade_grace).isoformat()}",
        )
    return None


def _out_of_scope(cluster: ClusterInfo) -> Finding | None:
    """Clusters that are NotApplicable: not Aurora, being deleted, or a global database's cluster without instances
    (a headless secondary may stay so for good: nothing runs to audit, nothing to page about; its first instance's
    creation event, or the sweep, brings it back)."""
    if not cluster.is_aurora and cluster.engine != "aurora":
        return Finding(
            "NotAurora",
            f"engine {cluster.engine!r} is not Aurora (DocumentDB, Neptune and Multi-AZ DB clusters have no "
            "database activity streams)",
        )
    if cluster.status == "deleting":
        return Finding("ClusterDeleting", "the cluster is being deleted")
    if cluster.status in STOPPED_CLUSTER_STATES:
        return Finding(
            "ClusterStopped",
            f"the cluster is {cluster.status} (Aurora stops a cluster for up to 7 days): nothing runs to audit; DAS "
            "Guard evaluates it again when it starts (RDS-EVENT-0151 or 0153)",
        )
    if cluster.global_cluster_identifier and not cluster.member_ids and cluster.status == "available":
        return Finding(
            "HeadlessGlobalCluster",
            f"cluster of global database {cluster.global_cluster_identifier} has no DB instance, so nothing runs "
            "to audit; DAS Guard starts the stream when an instance is created",
        )
    return None


def _record(cluster: ClusterInfo, inputs: Inputs) -> StreamRecord | None:
    """What DAS Guard last knew of the cluster's stream (read once per evaluation, however often it is asked)."""
    return inputs.lookup_record(cluster.resource_id) if inputs.lookup_record else None


def _violation(base: Decision, problems: list[Finding]) -> Decision:
    """Every problem in the detail and the fix; the first one is the reason (a metric dimension)."""
    return replace(
        base,
        outcome=Outcome.VIOLATION,
        reason=problems[0].code,
        detail="; ".join(p.detail for p in problems),
        fix=" ".join(dict.fromkeys(p.fix for p in problems if p.fix)),
    )


def _exemption(
    base: Decision, cluster: ClusterInfo, policy: PolicyDocument, rule: EffectiveRule, today: date
) -> tuple[Decision | None, tuple[Finding, ...]]:
    """(the Exempt decision, or None; warnings for exemptions that expired)."""
    exemption, expired = policy.exemption_for(cluster.identifier, cluster.tags, today)
    if exemption is not None:
        return replace(
            base,
            outcome=Outcome.EXEMPT,
            reason="ExemptionActive",
            rule=exemption.name,
            detail=f"exempt until {exemption.expires.isoformat()} by exemption {exemption.name!r}: {exemption.reason}",
        ), ()
    warnings = tuple(
        Finding(
            "ExemptionExpired",
            f"exemption {e.name!r} expired on {e.expires.isoformat()}; the cluster is "
            f"enforced by rule {rule.name!r} again",
            "Renew the exemption in the policy if it is still needed.",
        )
        for e in expired
    )
    if rule.action is Action.EXEMPT:
        return replace(
            base,
            outcome=Outcome.EXEMPT,
            reason="ExemptByPolicy",
            detail=f"exempt by rule {rule.name!r}: {rule.reason}",
            warnings=warnings,
        ), warnings
    return None, warnings


def _running(
    base: Decision, cluster: ClusterInfo, policy: PolicyDocument, rule: EffectiveRule, inputs: Inputs
) -> Decision:
    """A stream that is starting or started. A key going away fails it whatever the policy says (every record it
    sealed becomes unreadable); an exempt cluster is Exempt (its other stream problems as warnings); otherwise the
    stream must be the rule's: its key, vouched for by DAS Guard, and its mode."""
    doomed, problems = _stream_problems(cluster, rule, inputs.lookup_key)
    if doomed is not None:
        return replace(base, outcome=Outcome.VIOLATION, reason=doomed.code, detail=doomed.detail, fix=doomed.fix)
    exempt, expired = _exemption(base, cluster, policy, rule, inputs.today)
    if exempt is not None:
        return replace(exempt, warnings=(*exempt.warnings, *problems))
    base = replace(base, warnings=expired)
    if problems:
        return _violation(base, problems)
    running = (
        f"activity stream is {cluster.stream_status} (mode {cluster.stream_mode}, key {cluster.stream_kms_key_id})"
    )
    if cluster.stream_status != "started":
        record = _record(cluster, inputs)
        if record and record.state == "scheduled" and record.at and inputs.now:
            return _scheduled(base, cluster, record.at, inputs.now, base.warnings, starting=True)
        return replace(base, outcome=Outcome.ALREADY_ACTIVE, reason="StreamStarting", detail=running)
    return _kept(
        replace(base, outcome=Outcome.ALREADY_ACTIVE, reason="StreamActive", detail=running), cluster, rule, inputs
    )


def _kept(active: Decision, cluster: ClusterInfo, rule: EffectiveRule, inputs: Inputs) -> Decision:
    """A started stream passes only if its records are kept as the rule's `records` says (records.py)."""
    if rule.records is None or inputs.lookup_records is None:
        return active
    name = cluster.stream_kinesis_name or f"{KINESIS_PREFIX}{cluster.resource_id}"
    enforce = rule.action is Action.ENFORCE and not inputs.report_only and not inputs.dry_run
    facts = inputs.lookup_records(name, rule.records.reader is not Reader.NONE)
    judged = judge_records(
        facts, rule.records, enforce=enforce, resource_id=cluster.resource_id, can_archive=inputs.can_archive
    )
    decided = _violation(active, list(judged.problems)) if judged.problems else active
    # raising never loses records: done whatever else is wrong (it buys time while a reader is missing)
    if judged.raise_to is not None:
        decided = replace(decided, raise_retention=(name, judged.raise_to))
    if judged.archive is not None and facts.arn:
        decided = replace(decided, create_archive=(judged.archive, facts.arn, cluster.resource_id))
    return decided


KEY_GOING_AWAY = {
    "Disabled": "StreamKeyDisabled",
    "Unavailable": "StreamKeyDisabled",  # its custom key store is disconnected
    "PendingImport": "StreamKeyDisabled",
    "PendingDeletion": "StreamKeyPendingDeletion",
    "PendingReplicaDeletion": "StreamKeyPendingDeletion",
}


def _stream_problems(
    cluster: ClusterInfo, rule: EffectiveRule, lookup_key: KeyLookupFn
) -> tuple[Finding | None, list[Finding]]:
    """(the running stream's key going away, or None; every other way the stream is not the rule's)."""
    problems: list[Finding] = []
    reference = cluster.stream_kms_key_id
    stream_key = lookup_key(reference) if reference else None
    if stream_key is None or stream_key.key is None:
        why = (
            f"{stream_key.error_code or 'error'} {stream_key.error_message}".strip()
            if stream_key is not None
            else "RDS reports no key for it"
        )
        problems.append(
            Finding(
                "StreamKeyUnverifiable",
                f"the activity stream is {cluster.stream_status}, but DAS Guard cannot describe its KMS key "
                f"{reference or '(none reported)'}: {why}; nobody can vouch that its records stay readable",
                f"Let the DAS Guard role describe the key (kms:DescribeKey for the role in the key policy of "
                f"{reference or 'the stream key'}), or have a person restart the stream on the rule's key.",
            )
        )
    elif stream_key.key.state != "Enabled":
        key = stream_key.key
        return Finding(
            KEY_GOING_AWAY.get(key.state, "StreamKeyDisabled"),
            f"the activity stream is {cluster.stream_status}, but its KMS key {key.arn} is {key.state}: the audit "
            "records it encrypts cannot be read while it is disabled, and never again once it is deleted",
            f"Re-enable the key (kms:EnableKey), or cancel its deletion (kms:CancelKeyDeletion) now, and find out who "
            f"changed it (CloudTrail, kms.amazonaws.com). Key: {key.arn}.",
        ), problems
    if rule.action is Action.EXEMPT or rule.kms_key is None:
        return None, problems
    wanted = lookup_key(rule.kms_key)
    if wanted.key is None:
        broken = checks.check_kms_key(wanted, cluster.region)
        problems += [broken] if broken else []
    elif stream_key is not None and stream_key.key is not None and stream_key.key.arn != wanted.key.arn:
        problems.append(
            Finding(
                "StreamKeyNotDesignated",
                f"the activity stream runs on KMS key {stream_key.key.arn}; rule {rule.name!r} designates "
                f"{wanted.key.arn}",
                f"A person stops the stream (aws rds stop-activity-stream --resource-arn {cluster.arn}) and starts "
                f"it again with the rule's key ({wanted.key.arn}); DAS Guard never stops a stream, and starts it on "
                "the right key once it is stopped.",
            )
        )
    mode, _ = checks.effective_mode(cluster, rule.mode)
    if cluster.stream_mode != mode.value:
        problems.append(
            Finding(
                "StreamModeDiffers",
                f"the activity stream runs in mode {cluster.stream_mode or '(not reported)'}; rule {rule.name!r} "
                f"says {mode.value}",
                f"A person stops the stream and starts it again in mode {mode.value}; DAS Guard never stops a stream.",
            )
        )
    return None, problems


def _scheduled(
    base: Decision,
    cluster: ClusterInfo,
    requested: datetime,
    now: datetime,
    warnings: tuple[Finding, ...],
    *,
    starting: bool = False,
) -> Decision:
    """A start requested for the maintenance window counts only when RDS says `started`. Until the window has
    passed it is Scheduled; after it (and a grace), a person is told: the stream did not start."""
    window = windows.next_window(cluster.maintenance_window, requested)
    deadline = window[1] + WINDOW_GRACE if window else requested + UNKNOWN_WINDOW_DEADLINE
    status = "starting" if starting else cluster.stream_status
    if now <= deadline:
        return replace(
            base,
            outcome=Outcome.SCHEDULED,
            reason="AlreadyScheduled",
            detail=f"a start was requested on {requested.isoformat()} for the maintenance window "
            f"({cluster.maintenance_window or '?'}); the stream is {status}; it must be started by "
            f"{deadline.isoformat()}",
            warnings=warnings,
        )
    return replace(
        base,
        outcome=Outcome.FAILED,
        reason="ScheduledStartMissed",
        detail=f"a start was requested on {requested.isoformat()} for the maintenance window "
        f"({cluster.maintenance_window or '?'}), which ended by {deadline.isoformat()}, and the stream is still "
        f"{status}: the cluster is not audited",
        fix="Find out why the window passed without a start (was the window moved, or the cluster modified?); "
        "start the stream by hand, or set apply_immediately: true on the rule to start it at once (a restart).",
        warnings=warnings,
    )
