"""The reconciliation sweep: every cluster of the region, through the same decide() as every event.

It catches what events missed (a trail misconfigured, a throttled function, a region added later, a stream
stopped while DAS Guard was down) and reports the state of the whole region once per run.

API calls grow by pages, not by clusters: DescribeDBClusters already carries tags and stream status (100 a
page), the instances' classes come from DescribeDBInstances filtered to Aurora engines (100 a page), break-glass
holds from one scan of the state table, and each KMS key is described once. Only StartActivityStream is per
cluster, and only for clusters that need a stream. When the Lambda clock runs low, the clusters not yet decided
are handed to the queue (ten per SendMessageBatch) and evaluated there one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from .clock import Clock
from .decision.decide import decide
from .decision.protection import protection_lowered
from .decision.stops import assess_lost_stream
from .enforcer import Enforcer
from .gateway import AwsError, RegionClusters, SweepState
from .model import (
    ACTIVE_STREAM_STATES,
    ClusterInfo,
    Decision,
    MalformedCluster,
    Outcome,
    Protection,
    StreamMark,
    StreamRecord,
)
from .outputs.channels import SweepReport
from .outputs.report import Reporter
from .reasons import Compliance, verdict
from .triggers import Target

if TYPE_CHECKING:
    from .aws.watch import WatchRules
    from .policy import PolicyDocument  # pydantic loads with the first policy read

TRIGGER = "Sweep"
UNSEEN_CHANGE = "a change no event reported (tags, name or policy; see CloudTrail)"
RESERVE_MS = 20_000  # stop deciding with this much Lambda time left, to hand off the rest safely


@dataclass
class SweepSummary:
    sweep_id: str
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    compliance: Counter[str] = field(default_factory=Counter)  # by catalogue state: pass, fail, pending, ...
    handed_off: int = 0
    violations: list[str] = field(default_factory=list)
    expiring_exemptions: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # streams found stopped that DAS Guard had seen running
    softened: list[str] = field(default_factory=list)  # running streams now guarded by a softer rule
    uncovered: list[str] = field(default_factory=list)  # regions with Aurora clusters and no DAS Guard
    unwatched: list[str] = field(default_factory=list)  # DAS Guard's own watch rules found not enabled

    def add(self, evaluation: Decision) -> None:
        judged = verdict(evaluation)
        if judged.compliance is not None:
            self.compliance[judged.compliance.value] += 1
        self.outcomes[evaluation.outcome.value] += 1
        self.reasons[f"{evaluation.outcome.value}:{evaluation.reason}"] += 1
        if evaluation.outcome in (Outcome.VIOLATION, Outcome.FAILED):
            self.violations.append(f"{evaluation.cluster_id}: {evaluation.reason}: {evaluation.detail}")

    @property
    def seen(self) -> int:
        return sum(self.outcomes.values()) + self.handed_off

    @property
    def compliant(self) -> int:
        """Clusters that pass (catalogue: the stream is started with the rule's key and mode, the key vouched for)."""
        return self.compliance[Compliance.PASS.value]

    def as_dict(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "clusters_seen": self.seen,
            "compliant": self.compliant,
            "started": self.outcomes[Outcome.STARTED.value],
            "scheduled": self.outcomes[Outcome.SCHEDULED.value],
            "violations": self.outcomes[Outcome.VIOLATION.value] + self.outcomes[Outcome.FAILED.value],
            "exempt": self.outcomes[Outcome.EXEMPT.value],
            "would_start": self.outcomes[Outcome.WOULD_START.value],
            "deferred": self.outcomes[Outcome.DEFERRED.value],
            "not_applicable": self.outcomes[Outcome.NOT_APPLICABLE.value],
            "handed_off": self.handed_off,
            "streams_lost": len(self.lost),
            "protection_lowered": len(self.softened),
            "uncovered_regions": self.uncovered,
            "watch_rules_off": self.unwatched,
            "expiring_exemptions": self.expiring_exemptions,
            "outcomes": dict(self.outcomes),
            "reasons": dict(self.reasons),
            "compliance": dict(self.compliance),
        }


class Sweeper:
    def __init__(
        self,
        clusters: RegionClusters,
        state: SweepState,
        enforcer: Enforcer,
        load_policy: Callable[[], PolicyDocument],
        reporter: Reporter,
        *,
        hand_off: Callable[[list[str]], None],
        logger: Logger,
        clock: Clock,
        enforcer_function: str | None = None,
        watch_rules: WatchRules | None = None,
    ) -> None:
        """`enforcer_function`: the name DAS Guard's enforcer has in every region of this deployment; with it, each
        sweep also lists the regions enabled in the account that hold Aurora clusters and no such function.
        `watch_rules`: the rules that watch DAS Guard itself; each sweep names those not enabled."""
        self._enforcer_function = enforcer_function
        self._watch_rules = watch_rules
        self._clusters = clusters
        self._state = state
        self._hand_off = hand_off
        self._enforcer = enforcer
        self._load_policy = load_policy
        self._reporter = reporter
        self._logger = logger
        self._clock = clock

    def run(self, sweep_id: str, remaining_ms: Callable[[], int]) -> SweepSummary:
        """Evaluate every cluster of the region. Raises PolicyError/AwsError if it cannot start at all."""
        now = self._clock.now()
        summary = SweepSummary(sweep_id)
        listing = self._clusters.region_clusters()  # its client is made here; its pages are read on the side
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="das-guard-listing") as side:
            # The region's pages are read while the policy and the state table are: the waits overlap. If either
            # read fails, leaving the block waits for the listing, and nothing is decided on half a picture.
            clusters = side.submit(list, listing)
            policy = self._load_policy()
            holds, streams = self._state.sweep_state(now)
            region = clusters.result()
        summary.expiring_exemptions = [
            f"{e.name} (expires {e.expires.isoformat()}: {e.reason})" for e in policy.expiring(now.date())
        ]
        inputs = self._enforcer.inputs(check_holds=True, holds=holds, records=streams)
        leftover: list[str] = []
        live: list[str] = []
        running: list[StreamMark] = []  # streams seen running whose record is missing or old: written in batches
        for cluster in region:
            if isinstance(cluster, MalformedCluster):
                malformed = cluster.decision()
                summary.add(malformed)
                self._reporter.record(malformed, trigger=TRIGGER, event_id=sweep_id, summarised=True)
                continue
            live.append(cluster.resource_id)
            if leftover or remaining_ms() < RESERVE_MS:
                leftover.append(cluster.identifier)
                continue
            decision = decide(cluster, policy, inputs)
            record = streams.get(cluster.resource_id)
            state = record.state if record else None
            lost = assess_lost_stream(cluster, state, policy) if decision.reason != "BreakGlassHold" else None
            if lost is not None:
                summary.lost.append(f"{cluster.identifier}: {lost.detail}")
                self._reporter.record(lost, trigger=TRIGGER, event_id=sweep_id)  # HIGH alert, metric: news
                self._remember(cluster, "reported", decision.protection)
            elif cluster.stream_status in ACTIVE_STREAM_STATES and decision.protection is not None:
                lowered = protection_lowered(record, decision.protection, UNSEEN_CHANGE)
                if lowered is not None:  # told once, in the summary alert (a policy edit may soften hundreds)
                    decision = replace(decision, warnings=(*decision.warnings, lowered))
                    summary.softened.append(f"{cluster.identifier}: {lowered.detail}")
                if StreamRecord.outdated(record, decision.protection):
                    running.append(StreamMark(cluster.resource_id, cluster.arn, "on", now, decision.protection))
            # A not-ready cluster has its own creation events and deferral chain; the sweep only counts it.
            try:
                evaluation = self._enforcer.act(decision, policy, inputs)
            except AwsError as err:  # one cluster's failure must not end the sweep; the next sweep retries
                evaluation = replace(
                    decision,
                    outcome=Outcome.FAILED,
                    reason="AwsCallFailed",  # the catalogue's; the AWS code is in the detail
                    start=None,
                    detail=f"{err}; the next sweep tries again",
                )
            summary.add(evaluation)
            self._reporter.record(evaluation, trigger=TRIGGER, event_id=sweep_id, summarised=True)
        self._remember_running(running)
        if leftover:
            self._hand_off(
                [Target(TRIGGER, sweep_id, now, cluster_id=cluster_id).retry_message() for cluster_id in leftover]
            )
            summary.handed_off = len(leftover)
        return self._finish(summary, live)

    def _finish(self, summary: SweepSummary, live: list[str]) -> SweepSummary:
        """Look for regions without DAS Guard and report the summary (the channels archive the findings of clusters
        gone, publish the summary event and send the day's message)."""
        summary.uncovered = self._uncovered()
        summary.unwatched = self._unwatched()
        self._reporter.sweep_summary(
            SweepReport(
                summary.as_dict(),
                summary.violations + summary.lost + summary.uncovered + summary.unwatched,
                summary.softened,
                live,
            )
        )
        return summary

    def _unwatched(self) -> list[str]:
        """The watch rules that report changes to DAS Guard itself, if one is off (a burst can beat them both)."""
        if self._watch_rules is None:
            return []
        try:
            return self._watch_rules.not_watching()
        except AwsError as err:  # said, not guessed
            self._logger.warning("could not read the watch rules", extra={"error": str(err)})
            return [f"(watch rules: not checked: {err})"]

    def _uncovered(self) -> list[str]:
        """Nothing unseen: Aurora clusters in enabled regions where no DAS Guard runs (listed in the digest)."""
        if not self._enforcer_function:
            return []
        try:
            gaps = self._clusters.uncovered_regions(self._enforcer_function)
        except AwsError as err:  # said, not guessed: the digest names what could not be checked
            self._logger.warning("could not look for regions without DAS Guard", extra={"error": str(err)})
            return [f"(other regions: not checked: {err})"]
        return [f"{region}: {count} Aurora cluster(s) and no DAS Guard stack in this region" for region, count in gaps]

    def _remember_running(self, marks: list[StreamMark]) -> None:
        """Record the running streams the sweep saw; a failure is logged and the next sweep tries again."""
        if self._enforcer.dry_run or not marks:
            return
        try:
            self._state.mark_streams(marks)
        except AwsError:
            self._logger.exception("could not record the running streams", extra={"streams": len(marks)})

    def _remember(self, cluster: ClusterInfo, state: str, protection: Protection | None) -> None:
        """Record what the sweep learnt of a stream; a failure is logged and the next sweep tries again."""
        if self._enforcer.dry_run:
            return
        try:
            self._state.mark_stream(cluster.resource_id, cluster.arn, state, self._clock.now(), protection)
        except AwsError:
            self._logger.exception("could not record the stream state", extra={"cluster_arn": cluster.arn})
