"""What happens to a cluster: observe -> decide -> act. Read this file to know what DAS Guard does.

`decide()` is pure: given the live cluster, the policy and a few lookups, it returns the outcome and, if a
stream should start, the exact StartActivityStream request. `assess_stop()` is the pure verdict on a stopped
stream. `Enforcer.evaluate()` does the I/O around both: read the live cluster, decide, and make the call.
Whatever event woke us up — a creation, a tag change, a stop, a retry or the sweep — the same live state gives
the same decision, so duplicate and out-of-order events converge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from . import checks
from .clock import Clock
from .gateway import AwsError, Clusters, Keys, StreamState
from .model import (
    ACTIVE_STREAM_STATES,
    ClusterInfo,
    Decision,
    Finding,
    Hold,
    KeyLookup,
    Outcome,
    Protection,
    StartRequest,
    StopInfo,
    StreamRecord,
)
from .policy_terms import NEW_CLUSTERS, Action, EffectiveRule, OnStop
from .triggers import Target

if TYPE_CHECKING:
    from .policy import PolicyDocument  # the schema loads with the first policy read (policy_terms)

KeyLookupFn = Callable[[str], KeyLookup]
HoldLookupFn = Callable[[str], Hold | None]


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
        return replace(
            base,
            outcome=Outcome.DEFERRED,
            reason="StreamStopping",
            detail="activity stream is stopping; it will be started again once stopped",
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
        return replace(base, outcome=Outcome.DEFERRED, reason=not_ready.code, detail=not_ready.detail)

    # 6. A stream stopped by an allowed (break-glass) principal stays stopped until its hold ends.
    held = _held(base, cluster, policy, inputs)
    if held.outcome is Outcome.EXEMPT:
        return held

    # 7. Start (or, in report-only, say that we would have).
    assert key.key is not None
    return _start(held, cluster, rule, key_arn=key.key.arn, support=support, inputs=inputs)


def _held(base: Decision, cluster: ClusterInfo, policy: PolicyDocument, inputs: Inputs) -> Decision:
    """Exempt/BreakGlassHold while a hold lasts; otherwise `base`, with a warning if a hold was not honoured. A hold
    is only honoured if the policy still allows its principal and it ends within hold_hours: the state table is not
    trusted beyond what the policy confirms."""
    hold = inputs.lookup_hold(cluster.resource_id) if inputs.lookup_hold else None
    if hold is None:
        return base
    problem = _hold_problem(hold, policy, inputs.now)
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
            detail=f"starting {plan}",
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
        detail=f"requesting {plan}: the cluster already carries workload, and starting a stream at once restarts it",
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


def protection(cluster: ClusterInfo, policy: PolicyDocument, today: date) -> Protection:
    """How firmly the policy guards this cluster's stream today (tags and name choose; see model.Protection)."""
    exemption, _ = policy.exemption_for(cluster.identifier, cluster.tags, today)
    if exemption is not None:
        return Protection(0, f"exemption {exemption.name!r} until {exemption.expires.isoformat()}")
    rule = policy.rule_for(cluster.tags)
    if rule.action is Action.EXEMPT:
        return Protection(0, f"rule {rule.name!r} (exempt)")
    if rule.action is Action.REPORT_ONLY:
        return Protection(1, f"rule {rule.name!r} (report-only)")
    if rule.on_stop is OnStop.REPORT:
        return Protection(2, f"rule {rule.name!r} (enforce, on_stop: report)")
    return Protection(3, f"rule {rule.name!r} (enforce)")


def protection_lowered(record: StreamRecord | None, now: Protection | None, changed_by: str) -> Finding | None:
    """A running stream's cluster moved to a softer rule (a tag, a rename, or an edit of the rules themselves).

    Not a violation - the stream still runs - but the usual first step of someone who wants to stop it next
    without DAS Guard restarting it. The stop itself is reported whatever the rule; this tells who prepared it."""
    before = record.protection if record else None
    if before is None or now is None or now.rank >= before.rank:
        return None
    consequence = {
        0: "a missing stream would no longer be started and a stop no longer restarted",
        1: "a missing stream would only be reported and a stop no longer restarted",
    }.get(now.rank, "a stop would be reported but no longer restarted")
    return Finding(
        "ProtectionLowered",
        f"{changed_by} moved the cluster from {before.label} to {now.label} while its activity stream runs: "
        f"{consequence}",
        "If the compliance team did not agree to this, restore the cluster's tags or name (CloudTrail shows the "
        "call and its caller) and find out why this principal may change them.",
    )


def _hold_problem(hold: Hold, policy: PolicyDocument, now: datetime | None) -> str:
    """Why a hold read from the state table must not be honoured ('' if it may)."""
    if hold.problem:
        return hold.problem
    if not policy.stop_allowed.allows((hold.principal,)):
        return f"its principal {hold.principal} is not in the policy's stop_allowed"
    if now is not None and hold.until > now + timedelta(hours=policy.stop_allowed.hold_hours):
        return f"it lasts until {hold.until.isoformat()}, longer than the policy's {policy.stop_allowed.hold_hours} h"
    return ""


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
        return replace(
            base,
            reason="StreamStoppedUnattributed",
            detail=f"RDS reports the activity stream stopped{when} (by a person — see CloudTrail "
            f"StopActivityStream — or because instances could not reach KMS); {then}",
            fix="Find who stopped it in CloudTrail; on Aurora MySQL check that instances reach the KMS "
            "endpoint (NAT or a com.amazonaws.<region>.kms VPC endpoint).",
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


# Refusals that re-reading the cluster resolves: another evaluation started the stream first, or a member is still
# being created or modified (AWS error codes as on the wire).
TRANSIENT_REFUSALS = frozenset({"InvalidDBClusterStateFault", "InvalidDBInstanceState"})

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


class Enforcer:
    def __init__(
        self,
        clusters: Clusters,
        keys: Keys,
        state: StreamState,
        load_policy: Callable[[], PolicyDocument],
        clock: Clock,
        *,
        report_only: bool = False,
        dry_run: bool = False,
        new_cluster_window: timedelta = timedelta(hours=4),
    ) -> None:
        """`dry_run` (the CLI's simulate): decide exactly as in production, but never start a stream or write a
        hold; a Started decision then describes the call that would be made. `new_cluster_window`: how recently a
        cluster must have been created for `apply_immediately: new-clusters` to start its stream at once."""
        self._new_cluster_window = new_cluster_window
        self._clusters = clusters
        self._keys = keys
        self._state = state
        self._load_policy = load_policy
        self._report_only = report_only
        self._clock = clock
        self._dry_run = dry_run

    @property
    def dry_run(self) -> bool:
        return self._dry_run

    def inputs(
        self,
        *,
        check_holds: bool,
        holds: dict[str, Hold] | None = None,
        records: dict[str, StreamRecord] | None = None,
    ) -> Inputs:
        """Lookups for decide(). `holds` and `records` (from one scan) replace per-cluster reads in the sweep."""
        now = self._clock.now()
        lookup_hold: HoldLookupFn | None = None
        if holds is not None:
            lookup_hold = holds.get
        elif check_holds:
            lookup_hold = lambda resource_id: self._state.hold_for(resource_id, now)  # noqa: E731
        return Inputs(
            self._keys.describe_key,
            now.date(),
            self._report_only,
            lookup_hold,
            now,
            self._clusters.activity_stream_modes,
            records.get if records is not None else self._state.stream_record,
            self._new_cluster_window,
            self._clusters.babelfish_enabled,
        )

    def evaluate(self, target: Target) -> list[Decision]:
        """Observe, decide, act. The last evaluation is the enforcement decision; a stop adds its report first.

        Raises AwsError or PolicyError when it cannot decide now (the message is then redelivered).
        """
        if target.blue_green_id is not None:
            return self._blue_green(target, target.blue_green_id)
        return self._evaluate(target)

    def _blue_green(self, target: Target, deployment_id: str) -> list[Decision]:
        """A blue/green deployment: both clusters, under the names they have now. The green one is a new cluster
        (its own resource id, no stream, no hold) and gets its stream before a switchover makes it production; after
        the switchover the cluster holding the production name is evaluated at once. Green comes last, so a green
        cluster still being created is the decision that is deferred and checked again."""
        found = self._clusters.blue_green_clusters(deployment_id)
        if not found or not found[0]:
            return [
                Decision(
                    Outcome.NOT_APPLICABLE,
                    "BlueGreenDeploymentNotFound",
                    f"blue/green deployment {deployment_id} does not exist (deleted, or of DB instances only)",
                )
            ]
        clusters, switched = found
        decisions: list[Decision] = []
        for index, name in enumerate(clusters):
            green_before_switchover = index == 1 and not switched
            decisions += self._evaluate(
                replace(target, cluster_id=name.lower(), blue_green_id=None, serves_no_one=green_before_switchover)
            )
        return decisions

    def _evaluate(self, target: Target) -> list[Decision]:
        cluster_id = target.cluster_id
        if cluster_id is None:
            assert target.instance_id is not None
            exists, cluster_id = self._clusters.instance_cluster(target.instance_id)
            if not exists:
                return [
                    Decision(
                        Outcome.NOT_APPLICABLE,
                        "InstanceNotFound",
                        f"DB instance {target.instance_id} does not exist (deleted before evaluation)",
                    )
                ]
            if cluster_id is None:
                return [
                    Decision(
                        Outcome.NOT_APPLICABLE,
                        "StandaloneInstance",
                        f"DB instance {target.instance_id} is not part of a cluster",
                    )
                ]
        policy = self._load_policy()
        cluster = self._clusters.describe_cluster(cluster_id)
        reports: list[Decision] = []
        if target.stop is not None:
            tampered, restart = assess_stop(cluster, policy, target.stop, self._clock.now().date())
            if tampered is not None:
                reports.append(tampered)
                if not self._dry_run and cluster is not None and tampered.reason != "StopNotConfirmed":
                    allowed = tampered.reason == "StoppedByAllowedPrincipal"
                    if allowed:
                        until = self._clock.now() + timedelta(hours=policy.stop_allowed.hold_hours)
                        self._state.place_hold(
                            Hold(cluster.resource_id, target.stop.principal, until, cluster_arn=cluster.arn)
                        )
                    state = "allowed" if allowed else "reported"
                    guarded = protection(cluster, policy, self._clock.now().date())
                    self._state.mark_stream(cluster.resource_id, cluster.arn, state, self._clock.now(), guarded)
                if not restart:
                    return reports
                if not target.stop.known:
                    # RDS's event has no principal and often arrives before CloudTrail's. Wait for the CloudTrail
                    # event (which may place a break-glass hold) instead of restarting at once.
                    return [
                        *reports,
                        replace(
                            tampered,
                            outcome=Outcome.DEFERRED,
                            reason="AwaitingAttribution",
                            detail="waiting for CloudTrail to say who stopped the stream",
                            fix="",
                            actor=None,
                        ),
                    ]
        # Holds are always consulted: a creation event (or a retry claiming to be one) can be forged by anyone who
        # may send to the queue, and must not lift a genuine break-glass hold.
        inputs = self.inputs(check_holds=True)
        if target.serves_no_one:  # whatever its age, a restart of a green cluster before switchover harms nobody
            inputs = replace(inputs, new_cluster_window=timedelta.max)
        decision = self.act(decide(cluster, policy, inputs, cluster_id=cluster_id), policy, inputs)
        if target.changed_by is not None and cluster is not None and cluster.stream_status in ACTIVE_STREAM_STATES:
            decision = self._watch_protection(cluster, decision, target.changed_by)
        return [*reports, decision]

    def _watch_protection(self, cluster: ClusterInfo, decision: Decision, changed_by: str) -> Decision:
        """After a tag change or rename of a cluster with a running stream: compare the rule with the one DAS Guard
        last recorded for it, warn if it is softer, and record the new one (so the same change is told once)."""
        record = self._state.stream_record(cluster.resource_id)
        lowered = protection_lowered(record, decision.protection, changed_by)
        if not self._dry_run and StreamRecord.outdated(record, decision.protection):
            self._state.mark_stream(cluster.resource_id, cluster.arn, "on", self._clock.now(), decision.protection)
        return replace(decision, warnings=(*decision.warnings, lowered)) if lowered else decision

    def act(self, decision: Decision, policy: PolicyDocument, inputs: Inputs) -> Decision:
        """Carry out a decision: call StartActivityStream for Started, nothing otherwise."""
        if decision.outcome not in (Outcome.STARTED, Outcome.SCHEDULED) or decision.start is None or self._dry_run:
            return decision
        try:
            stream = self._clusters.start_activity_stream(decision.start)
        except AwsError as err:
            if err.transient:
                raise
            return self._rejected(decision, err, policy, inputs)
        state = "on" if decision.outcome is Outcome.STARTED else "scheduled"
        return replace(
            decision,
            warnings=decision.warnings + self._remember(decision, state),
            stream=stream,
            detail=f"{decision.detail}: stream {stream.get('KinesisStreamName', '?')} is {stream.get('Status', '?')}",
        )

    def _remember(self, decision: Decision, state: str) -> tuple[Finding, ...]:
        if not (decision.resource_id and decision.cluster_arn) or self._dry_run:
            return ()
        try:
            self._state.mark_stream(
                decision.resource_id, decision.cluster_arn, state, self._clock.now(), decision.protection
            )
        except AwsError as err:  # the stream is started; the sweep records it next time
            return (
                Finding("StreamNotRecorded", f"the started stream could not be recorded in the state table: {err}"),
            )
        return ()

    def _rejected(self, decision: Decision, err: AwsError, policy: PolicyDocument, inputs: Inputs) -> Decision:
        """StartActivityStream said no. Some refusals are races that re-reading the cluster resolves."""
        if err.code in TRANSIENT_REFUSALS:
            # Typically another invocation started the stream first, or the cluster changed state since we
            # read it. Re-read and decide again, but never call Start twice for one evaluation.
            assert decision.cluster_id is not None
            again = decide(
                self._clusters.describe_cluster(decision.cluster_id), policy, inputs, cluster_id=decision.cluster_id
            )
            if again.outcome is Outcome.STARTED:
                return replace(
                    again,
                    outcome=Outcome.DEFERRED,
                    reason="ClusterStateChanged",
                    start=None,
                    detail=f"StartActivityStream refused: {err.message}; will try again",
                )
            return again
        if err.code == "DBClusterNotFoundFault":
            return replace(
                decision,
                outcome=Outcome.NOT_APPLICABLE,
                reason="ClusterNotFound",
                start=None,
                detail="the cluster was deleted before its stream could start",
            )
        if err.code == "KMSKeyNotAccessibleFault":
            return replace(
                decision,
                outcome=Outcome.VIOLATION,
                reason="KmsKeyNotAccessible",
                detail=f"RDS cannot use the KMS key: {err.message}",
                fix="Let RDS use the key: allow kms:CreateGrant (GrantIsForAWSResource) and "
                "kms:DescribeKey for the DAS Guard role in the key policy.",
            )
        return replace(
            decision,
            outcome=Outcome.FAILED,
            reason=err.code,
            detail=f"StartActivityStream was refused: {err.code}: {err.message}",
            fix="Check the cluster configuration against the DAS requirements; the refusal above is AWS's own reason.",
        )
