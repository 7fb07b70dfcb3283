"""The I/O around the decision: observe the live cluster, decide (`decision/decide.py`), act, and answer a stop
(`decision/stops.py`, carried out by `stop_responder.py`). `Enforcer.evaluate()` is what a queue message and the
CLI run for one cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from .clock import Clock
from .decision.decide import Inputs, decide, overdue
from .decision.protection import protection, protection_lowered, softer_than_its_source
from .decision.stops import HoldLookupFn
from .gateway import AwsError, Clusters, Keys, Records, StreamState
from .model import (
    ACTIVE_STREAM_STATES,
    ClusterInfo,
    Decision,
    Finding,
    Hold,
    MalformedCluster,
    MalformedRecord,
    Outcome,
    StreamMark,
    StreamRecord,
)
from .stop_responder import StopResponder
from .triggers import Target

if TYPE_CHECKING:
    from .policy import PolicyDocument  # pydantic loads with the first policy read


class _ClusterState:
    """A cluster's hold and stream record, read together once per evaluation (one BatchGetItem), however many steps
    of the decision consult them.

    An evaluation may first *suppose* the cluster has neither (a new cluster: the common case). If the decision is
    then a start, `StreamState.claim_start` confirms the supposition and records the start in one conditional write
    (or answers with what is there, and the decision is made again with it); if it is anything else and the
    supposition was consulted, the memory is read and the decision made again."""

    def __init__(self, state: StreamState, now: datetime) -> None:
        self._state = state
        self._now = now
        self._read: dict[str, tuple[Hold | None, StreamRecord | None]] = {}
        self.supposed: str | None = None  # the resource id whose memory is supposed empty, not read
        self.consulted = False  # whether the decision asked for the supposed memory

    def suppose_nothing(self, resource_id: str) -> None:
        self._read[resource_id] = (None, None)
        self.supposed = resource_id

    def learn(self, resource_id: str, found: tuple[Hold | None, StreamRecord | None] | None) -> None:
        """What is known instead of the supposition: `found`, or (None) what the table holds, read when asked."""
        if found is None:
            self._read.pop(resource_id, None)
        else:
            self._read[resource_id] = found
        self.supposed = None

    def _both(self, resource_id: str) -> tuple[Hold | None, StreamRecord | None]:
        if resource_id == self.supposed:
            self.consulted = True
        if resource_id not in self._read:
            self._read[resource_id] = self._state.cluster_state(resource_id, self._now)
        return self._read[resource_id]

    def hold(self, resource_id: str) -> Hold | None:
        return self._both(resource_id)[0]

    def record(self, resource_id: str) -> StreamRecord | None:
        return self._both(resource_id)[1]


# Refusals that re-reading the cluster resolves: another evaluation started the stream first, or a member is still
# being created or modified (AWS error codes as on the wire).
TRANSIENT_REFUSALS = frozenset({"InvalidDBClusterStateFault", "InvalidDBInstanceState"})


def _recorded_as(start: Decision) -> str:
    """What the state table records for a start, whether claimed before the call or written after it: `on`, or
    `scheduled` for a start in the maintenance window."""
    return "on" if start.outcome is Outcome.STARTED else "scheduled"


def _fails_too(decision: Decision, problem: Finding) -> Decision:
    """The decision, failing for `problem` as well: named in the detail of one that fails already, else its reason."""
    if decision.outcome is Outcome.VIOLATION:
        return replace(decision, detail=f"{decision.detail}; {problem.detail}")
    return replace(
        decision,
        outcome=Outcome.VIOLATION,
        reason=problem.code,
        detail=f"{decision.detail}; {problem.detail}",
        fix=problem.fix,
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
        readiness_timeout: timedelta | None = None,
        upgrade_grace: timedelta = timedelta(minutes=15),
        records: Records | None = None,
    ) -> None:
        """`dry_run` (the CLI's simulate): decide exactly as in production, but never start a stream or write a
        hold; a Started decision then describes the call that would be made. `new_cluster_window`: how recently a
        cluster must have been created for `apply_immediately: new-clusters` to start its stream at once.
        `readiness_timeout`: how long an event may wait for its cluster to get ready (None: the CLI, which has
        no queue to wait in)."""
        self._new_cluster_window = new_cluster_window
        self._readiness_timeout = readiness_timeout
        self._upgrade_grace = upgrade_grace
        self._records = records  # None: records are not checked (the CLI without Kinesis access, older tests)
        self._stops = StopResponder(state, clock, dry_run=dry_run)
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
        waiting_since: datetime | None = None,
        memory: _ClusterState | None = None,
    ) -> Inputs:
        """Lookups for decide(). `holds` and `records` (from one scan) replace per-cluster reads in the sweep."""
        now = self._clock.now()
        together = memory or _ClusterState(self._state, now)
        lookup_hold: HoldLookupFn | None = None
        if holds is not None:
            lookup_hold = holds.get
        elif check_holds:
            lookup_hold = together.hold
        return Inputs(
            self._keys.describe_key,
            now.date(),
            self._report_only,
            lookup_hold,
            now,
            self._clusters.activity_stream_modes,
            records.get if records is not None else together.record,
            self._new_cluster_window,
            self._clusters.babelfish_enabled,
            waiting_since,
            self._readiness_timeout,
            self._dry_run,
            self._clusters.has_kms_endpoint,
            self._upgrade_grace,
            cache(self._records.facts) if self._records is not None else None,  # once per evaluation, asked twice
            self._records is not None and self._records.archive is not None,
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
            green = index == 1
            decisions += self._evaluate(
                replace(
                    target,
                    cluster_id=name.lower(),
                    blue_green_id=None,
                    serves_no_one=green and not switched,
                    lineage=clusters[0].lower() if green else None,  # green holds blue's data (and, later, its name)
                )
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
        try:
            cluster = self._clusters.describe_cluster(cluster_id)
            if (
                target.stop is not None
                and target.stop.resource_id
                and (cluster is None or cluster.resource_id != target.stop.resource_id)
            ):
                # stopped, then renamed (or another cluster renamed into its name): follow the stopped stream's
                # cluster by the identity a rename does not move
                renamed = self._clusters.name_of(target.stop.resource_id)
                if renamed is not None:
                    cluster_id = renamed
                    cluster = self._clusters.describe_cluster(renamed)
        except MalformedRecord as err:  # reported once, not retried: the same record would come back
            return [MalformedCluster(cluster_id, str(err)).decision()]
        # Holds are always consulted: a creation event (or a retry claiming to be one) can be forged by anyone who
        # may send to the queue, and must not lift a genuine break-glass hold.
        memory = _ClusterState(self._state, self._clock.now())
        inputs = self.inputs(check_holds=True, waiting_since=target.first_seen, memory=memory)
        reports: list[Decision] = []
        if target.stop is not None:
            reports, go_on = self._stops.respond(target.stop, cluster, policy)
            if not go_on:
                return [overdue(report, inputs) for report in reports]
        if target.serves_no_one:  # whatever its age, a restart of a green cluster before switchover harms nobody
            inputs = replace(inputs, new_cluster_window=timedelta.max)
        claim, decided = self._decide(cluster, policy, inputs, memory=memory, target=target, cluster_id=cluster_id)
        self._remember_upgrade(cluster, decided)
        lineage = target.lineage
        if lineage is None and target.lineage_snapshot and cluster is not None:
            lineage = self._clusters.snapshot_source(target.lineage_snapshot)
        if lineage and cluster is not None:
            decided = self._compare_with_source(
                cluster, decided, lineage, who=target.changed_by, policy=policy, inputs=inputs
            )
        decision = self.act(decided, policy, inputs, claim=claim)
        if target.changed_by is not None and cluster is not None and cluster.stream_status in ACTIVE_STREAM_STATES:
            decision = self._watch_protection(cluster, decision, target.changed_by)
        return [*reports, decision]

    def _decide(
        self,
        cluster: ClusterInfo | None,
        policy: PolicyDocument,
        inputs: Inputs,
        *,
        memory: _ClusterState,
        target: Target,
        cluster_id: str,
    ) -> tuple[StreamMark | None, Decision]:
        """The decision, and the claim already written for its start (None: no claim). An event that is not about
        a stop or a copy supposes the cluster new (no hold, no record): the common case costs one state-table call."""
        if (
            cluster is None
            or not cluster.resource_id
            or target.stop is not None
            or target.lineage is not None
            or target.lineage_snapshot
            or self._dry_run
        ):
            return None, decide(cluster, policy, inputs, cluster_id=cluster_id)
        memory.suppose_nothing(cluster.resource_id)
        decided = decide(cluster, policy, inputs, cluster_id=cluster_id)
        return self._claim(cluster, decided, memory=memory, policy=policy, inputs=inputs, cluster_id=cluster_id)

    def _claim(
        self,
        cluster: ClusterInfo,
        decided: Decision,
        *,
        memory: _ClusterState,
        policy: PolicyDocument,
        inputs: Inputs,
        cluster_id: str,
    ) -> tuple[StreamMark | None, Decision]:
        """The decision made supposing the cluster has no hold and no stream record, made true: a start claims the
        cluster (the record written before the call, in the one conditional write that also checks for a hold);
        anything else that consulted the supposition is decided again with the memory as it is."""
        starts = decided.outcome in (Outcome.STARTED, Outcome.SCHEDULED) and decided.start is not None
        if starts and decided.resource_id and decided.cluster_arn and inputs.now is not None:
            mark = StreamMark(
                decided.resource_id, decided.cluster_arn, _recorded_as(decided), inputs.now, decided.protection
            )
            found = self._state.claim_start(mark, inputs.now)
            if found is None:
                return mark, decided
            memory.learn(cluster.resource_id, found)
        elif memory.consulted:
            memory.learn(cluster.resource_id, None)
        else:
            return None, decided  # the decision never asked: what the table holds cannot change it
        return None, decide(cluster, policy, inputs, cluster_id=cluster_id)

    def _remember_upgrade(self, cluster: ClusterInfo | None, decided: Decision) -> None:
        """Where a stopped PostgreSQL stream waited for a major upgrade and the upgrade began: remember it (the
        StoppedForUpgrade decision itself is the notice; the stream starts when the upgrade completes)."""
        if cluster is not None and not self._dry_run and decided.reason == "StoppedForUpgrade":
            self._state.mark_stream(cluster.resource_id, cluster.arn, "upgrade", self._clock.now(), decided.protection)

    def _compare_with_source(
        self,
        cluster: ClusterInfo,
        decided: Decision,
        source_id: str,
        *,
        who: str | None,
        policy: PolicyDocument,
        inputs: Inputs,
    ) -> Decision:
        """A clone, restore or green cluster under a softer rule than the cluster whose data it holds: a notice, and
        where the policy says `softer_copies: refuse`, the decision the source's tags give it (the same data, the same
        audit)."""
        source = self._clusters.describe_cluster(source_id, instances=False)  # its tags and name decide its rule
        if source is None or source.resource_id == cluster.resource_id:
            return decided
        today = self._clock.now().date()
        softer = softer_than_its_source(
            cluster.identifier,
            protection(cluster, policy, today),
            source.identifier,
            protection(source, policy, today),
            who or "someone (an RDS event; CloudTrail names who)",
        )
        if softer is None:
            return decided
        if policy.softer_copies == "refuse":
            as_its_source = decide(replace(cluster, tags=source.tags), policy, inputs, cluster_id=cluster.identifier)
            refused = replace(softer, detail=f"{softer.detail}; the policy refuses it: audited as {source.identifier}")
            return replace(as_its_source, warnings=(*as_its_source.warnings, refused))
        return replace(decided, warnings=(*decided.warnings, softer))

    def _watch_protection(self, cluster: ClusterInfo, decision: Decision, changed_by: str) -> Decision:
        """After a tag change or rename of a cluster with a running stream: compare the rule with the one DAS Guard
        last recorded for it, warn if it is softer, and record the new one (so the same change is told once)."""
        record = self._state.stream_record(cluster.resource_id)
        lowered = protection_lowered(record, decision.protection, changed_by)
        if not self._dry_run and StreamRecord.outdated(record, decision.protection):
            self._state.mark_stream(cluster.resource_id, cluster.arn, "on", self._clock.now(), decision.protection)
        return replace(decision, warnings=(*decision.warnings, lowered)) if lowered else decision

    def act(
        self, decision: Decision, policy: PolicyDocument, inputs: Inputs, *, claim: StreamMark | None = None
    ) -> Decision:
        """Carry out a decision: call StartActivityStream for Started; for a started stream, raise its Kinesis
        retention and create its archive where the rule says so; nothing otherwise. `claim`: the stream record
        already written for this start (taken back if the start fails)."""
        if decision.raise_retention is not None:
            decision = self._keep_longer(decision, *decision.raise_retention)
        if decision.create_archive is not None:
            return self._archive(decision, *decision.create_archive)
        if decision.outcome not in (Outcome.STARTED, Outcome.SCHEDULED) or decision.start is None or self._dry_run:
            return decision
        try:
            stream = self._clusters.start_activity_stream(decision.start)
        except AwsError as err:
            unreleased = self._release(claim) if claim is not None else ()
            if err.transient:
                raise
            rejected = self._rejected(decision, err, policy, inputs)
            return replace(rejected, warnings=rejected.warnings + unreleased)
        return replace(
            decision,
            warnings=decision.warnings + (() if claim is not None else self._remember(decision)),
            stream=stream,
            detail=f"{decision.detail}: stream {stream.get('KinesisStreamName', '?')} is {stream.get('Status', '?')}",
        )

    def _keep_longer(self, decision: Decision, stream_name: str, hours: int) -> Decision:
        """IncreaseStreamRetentionPeriod (raising never loses records); a refusal fails the cluster, said as is."""
        if self._records is None or self._dry_run:
            return decision
        try:
            self._records.raise_retention(stream_name, hours)
        except AwsError as err:
            if err.transient:
                raise
            unraised = (
                f"the Kinesis stream {stream_name} keeps records for less than the rule's {hours} hours and DAS Guard "
                f"could not raise it: {err}"
            )
            fix = (
                f"aws kinesis increase-stream-retention-period --stream-name {stream_name} "
                f"--retention-period-hours {hours}"
            )
            return replace(_fails_too(decision, Finding("RecordsRetentionShort", unraised, fix)), raise_retention=None)
        raised = Finding(
            "RecordsRetentionRaised",
            f"the Kinesis stream {stream_name} kept records for less than the rule's {hours} hours; DAS Guard raised "
            f"its retention to {hours} hours",
        )
        return replace(decision, warnings=(*decision.warnings, raised), raise_retention=None)

    def _archive(self, decision: Decision, name: str, stream_arn: str, resource_id: str) -> Decision:
        """DAS Guard's archive for this Kinesis stream; a refusal (the Firehose quota, most likely) fails the cluster,
        said with what to do - the Kinesis retention keeps the records meanwhile."""
        if self._records is None or self._dry_run:
            return replace(decision, create_archive=None)
        try:
            self._records.create_archive(name, stream_arn, resource_id)
        except AwsError as err:
            quota = err.code == "LimitExceededException"  # Firehose's quota of delivery streams, not a throttle
            if err.transient and not quota:
                raise
            detail = (
                f"DAS Guard could not create its archive {name}: "
                + ("the region's quota of Firehose delivery streams is reached" if quota else str(err))
                + "; until it exists, the records are kept only as long as the Kinesis stream's retention"
            )
            problem = Finding(
                "RecordsNotArchived",
                detail,
                "Request a higher Firehose quota of delivery streams for this region (Service Quotas), or delete "
                "unused ones; the next evaluation creates the archive."
                if quota
                else "Check the archive role and bucket (template ArchiveDeliveryRole, RecordsArchiveBucket).",
            )
            return replace(_fails_too(decision, problem), create_archive=None)
        created = Finding(
            "RecordsArchiveCreated",
            f"DAS Guard created {name}: Firehose now copies the records of {stream_arn.rsplit('/', 1)[-1]} into "
            f"the archive bucket under {resource_id}/, as RDS wrote them",
        )
        return replace(decision, warnings=(*decision.warnings, created), create_archive=None)

    def _remember(self, decision: Decision) -> tuple[Finding, ...]:
        if not (decision.resource_id and decision.cluster_arn) or self._dry_run:
            return ()
        try:
            self._state.mark_stream(
                decision.resource_id,
                decision.cluster_arn,
                _recorded_as(decision),
                self._clock.now(),
                decision.protection,
            )
        except AwsError as err:  # the stream is started; the sweep records it next time
            return (
                Finding("StreamNotRecorded", f"the started stream could not be recorded in the state table: {err}"),
            )
        return ()

    def _release(self, claim: StreamMark) -> tuple[Finding, ...]:
        """Take back the record of a start that did not happen, so that no one later reads it as a stream that ran."""
        try:
            self._state.release_start(claim)
        except AwsError as err:
            return (
                Finding(
                    "StreamRecordNotReleased",
                    f"the start failed, and its record in the state table (written before the call) could not be "
                    f"taken back: {err}",
                ),
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
                changed = replace(
                    again,
                    outcome=Outcome.DEFERRED,
                    reason="ClusterStateChanged",
                    start=None,
                    detail=f"StartActivityStream refused: {err.message}; will try again",
                )
                return overdue(changed, inputs)
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
                start=None,
                detail=f"RDS cannot use the KMS key: {err.message}",
                fix="Let the DAS Guard role use the key: kms:DescribeKey, and kms:CreateGrant with "
                "kms:GrantIsForAWSResource, in the key policy (docs: the key policy to copy).",
            )
        return _undocumented_refusal(decision, err)


# Refusals AWS does not document for StartActivityStream, seen in practice, by what their message says.
ALREADY = ("already starting", "already started", "already running", "expected to be stopped")
IN_THIS_CONFIGURATION = "in this configuration"


def _undocumented_refusal(decision: Decision, err: AwsError) -> Decision:
    """A classified outcome for a refusal AWS does not document, with a fix that names what AWS said."""
    said = f"{err.code}: {err.message}"
    lowered = err.message.lower()
    if any(phrase in lowered for phrase in ALREADY):
        return replace(
            decision,
            outcome=Outcome.DEFERRED,
            reason="AlreadyStarting",
            start=None,
            detail=f"StartActivityStream refused ({said}): a start is already under way; DAS Guard checks again",
        )
    if IN_THIS_CONFIGURATION in lowered:
        return replace(
            decision,
            outcome=Outcome.VIOLATION,
            reason="UnsupportedConfiguration",
            start=None,
            detail=f"AWS refuses activity streams for this cluster's configuration ({said})",
            fix="AWS's words above name no field; compare the engine version (for Aurora PostgreSQL, its patch "
            "level: apply the latest patch) and every instance class with aws rds "
            "describe-orderable-db-instance-options, change what AWS does not list, and DAS Guard starts the stream.",
        )
    patch = " Aurora PostgreSQL's minimums are patch levels: apply the latest patch." if "version" in lowered else ""
    return replace(
        decision,
        outcome=Outcome.FAILED,
        reason="StartRefused",
        start=None,
        detail=f"StartActivityStream was refused: {said}",
        fix=f"AWS said: {err.message!r} ({err.code}). Change what it names, then the next sweep (or "
        f"'das-guard simulate') tries again.{patch}",
    )
