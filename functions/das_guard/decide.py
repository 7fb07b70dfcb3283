"""What happens to a cluster: the whole decision, as one pure function. Read this file to know what DAS Guard does.

`decide()` takes the live cluster, the policy and a few lookups, and returns the outcome and, if a stream should
start, the exact StartActivityStream request. Whatever event woke DAS Guard up - a creation, a tag change, a stop,
a retry or the sweep - the same live state gives the same decision, so duplicate and out-of-order events
converge. Stops have their own verdict (`stops.py`); `enforcer.py` does the I/O around both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from . import checks
from .model import ACTIVE_STREAM_STATES, ClusterInfo, Decision, Finding, KeyLookup, Outcome, StartRequest, StreamRecord
from .policy_terms import NEW_CLUSTERS, Action, EffectiveRule
from .protection import protection
from .stops import HoldLookupFn, held

if TYPE_CHECKING:
    from .policy import PolicyDocument  # the schema loads with the first policy read (policy_terms)

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


# A start requested for the maintenance window is not requested again for this long (a window comes weekly).
SCHEDULED_FOR = timedelta(days=8)


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

    # 2. A stream that is already there (or on its way) is left alone, whatever the rule says - unless its key is
    #    going away: a disabled key, or one scheduled for deletion, makes every audit record it sealed unreadable.
    if cluster.stream_status in ACTIVE_STREAM_STATES:
        doomed = _stream_key_problem(cluster, inputs.lookup_key)
        if doomed is not None:
            return replace(base, outcome=Outcome.VIOLATION, reason=doomed.code, detail=doomed.detail, fix=doomed.fix)
        return replace(
            base,
            outcome=Outcome.ALREADY_ACTIVE,
            reason="StreamActive",
            detail=f"activity stream is {cluster.stream_status} (mode {cluster.stream_mode})",
            warnings=_drift(cluster, rule, inputs.lookup_key),
        )
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
    exemption, expired = policy.exemption_for(cluster.identifier, cluster.tags, inputs.today)
    if exemption is not None:
        return replace(
            base,
            outcome=Outcome.EXEMPT,
            reason="ExemptionActive",
            rule=exemption.name,
            detail=f"exempt until {exemption.expires.isoformat()} by exemption {exemption.name!r}: {exemption.reason}",
        )
    base = replace(
        base,
        warnings=tuple(
            Finding(
                "ExemptionExpired",
                f"exemption {e.name!r} expired on {e.expires.isoformat()}; the cluster is "
                f"enforced by rule {rule.name!r} again",
                "Renew the exemption in the policy if it is still needed.",
            )
            for e in expired
        ),
    )
    if rule.action is Action.EXEMPT:
        return replace(
            base, outcome=Outcome.EXEMPT, reason="ExemptByPolicy", detail=f"exempt by rule {rule.name!r}: {rule.reason}"
        )

    # 4. Validate everything that does not depend on timing. Problems here will not fix themselves.
    assert rule.kms_key is not None  # guaranteed by PolicyDocument validation for non-exempt rules
    key = inputs.lookup_key(rule.kms_key)
    first = [
        finding
        for finding in (
            checks.check_region(cluster),
            checks.check_cluster_type(cluster),
            checks.check_babelfish(cluster, inputs.lookup_babelfish),
            checks.check_engine(cluster),
            checks.check_engine_mode(cluster),
        )
        if finding is not None
    ]
    # AWS is only asked about versions and classes when nothing more basic already rules the cluster out
    support = checks.check_support(cluster, None if first else inputs.lookup_modes)
    key_problem = checks.check_kms_key(key, cluster.region)
    problems = [*first, *support.problems, *([key_problem] if key_problem else [])]
    base = replace(base, warnings=(*base.warnings, *support.warnings))
    if problems:
        return replace(
            base,
            outcome=Outcome.VIOLATION,
            reason=problems[0].code,
            detail="; ".join(p.detail for p in problems),
            fix=" ".join(dict.fromkeys(p.fix for p in problems if p.fix)),
        )

    # 5. Readiness: a new cluster has no instance yet; come back later rather than fail.
    not_ready = checks.readiness(cluster)
    if not_ready is not None:
        return overdue(replace(base, outcome=Outcome.DEFERRED, reason=not_ready.code, detail=not_ready.detail), inputs)

    # 6. A stream stopped by an allowed (break-glass) principal stays stopped until its hold ends.
    holding = held(base, cluster, policy, inputs.lookup_hold, inputs.now)
    if holding.outcome is Outcome.EXEMPT:
        return holding

    # 7. Start (or, in report-only, say that we would have).
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
    record = inputs.lookup_record(cluster.resource_id) if inputs.lookup_record else None
    if record and record.state == "scheduled" and record.at and inputs.now and inputs.now - record.at < SCHEDULED_FOR:
        return replace(
            base,
            outcome=Outcome.SCHEDULED,
            reason="AlreadyScheduled",
            detail=f"a start was requested on {record.at.isoformat()} for the maintenance window "
            f"({cluster.maintenance_window or '?'}); not requested again before {(record.at + SCHEDULED_FOR).date()}",
            warnings=warnings,
        )
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


def _immediately(cluster: ClusterInfo, rule: EffectiveRule, inputs: Inputs) -> bool:
    """Whether to start with ApplyImmediately (a restart). `new-clusters`: only a cluster created within the new-cluster
    window (read from the live cluster, so no forged event can make an old one restart)."""
    if rule.apply_immediately is True or rule.apply_immediately is False:
        return rule.apply_immediately
    assert rule.apply_immediately == NEW_CLUSTERS
    if cluster.created_at is None or inputs.now is None:
        return False
    return inputs.now - cluster.created_at <= inputs.new_cluster_window


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
    if cluster.global_cluster_identifier and not cluster.member_ids and cluster.status == "available":
        return Finding(
            "HeadlessGlobalCluster",
            f"cluster of global database {cluster.global_cluster_identifier} has no DB instance, so nothing runs "
            "to audit; DAS Guard starts the stream when an instance is created",
        )
    return None


STREAM_KEY_PROBLEMS = {
    "Disabled": "StreamKeyDisabled",
    "PendingDeletion": "StreamKeyPendingDeletion",
    "PendingReplicaDeletion": "StreamKeyPendingDeletion",
}


def _stream_key_problem(cluster: ClusterInfo, lookup_key: KeyLookupFn) -> Finding | None:
    """The key of a running stream is disabled or scheduled for deletion (someone with kms:* can do either)."""
    if not cluster.stream_kms_key_id:
        return None
    key = lookup_key(cluster.stream_kms_key_id).key
    if key is None or key.state not in STREAM_KEY_PROBLEMS:
        return None
    return Finding(
        STREAM_KEY_PROBLEMS[key.state],
        f"the activity stream is {cluster.stream_status}, but its KMS key {key.arn} is {key.state}: the audit "
        "records it encrypts cannot be read while it is disabled, and never again once it is deleted",
        f"Re-enable the key (kms:EnableKey), or cancel its deletion (kms:CancelKeyDeletion) now, and find out who "
        f"changed it (CloudTrail, kms.amazonaws.com). Key: {key.arn}.",
    )


def _drift(cluster: ClusterInfo, rule: EffectiveRule, lookup_key: KeyLookupFn) -> tuple[Finding, ...]:
    """An active stream whose mode or key differs from what the policy designates is worth a warning."""
    if rule.action is Action.EXEMPT or rule.kms_key is None:
        return ()
    differences = []
    wanted_mode, _ = checks.effective_mode(cluster, rule.mode)
    if cluster.stream_mode and cluster.stream_mode != wanted_mode.value:
        differences.append(f"mode is {cluster.stream_mode}, policy says {wanted_mode.value}")
    key = lookup_key(rule.kms_key).key
    if key and cluster.stream_kms_key_id and cluster.stream_kms_key_id not in {key.arn, key.key_id, rule.kms_key}:
        differences.append(f"key is {cluster.stream_kms_key_id}, policy says {key.arn}")
    if not differences:
        return ()
    return (
        Finding(
            "StreamSettingsDiffer",
            "; ".join(differences),
            "Stop and restart the stream with the designated settings if the policy requires them.",
        ),
    )
