"""What happens to a cluster: observe -> decide -> act. Read this file to know what DAS Guard does.

`decide()` is pure: given the live cluster, the policy and a way to look up KMS keys, it returns the
outcome and, if a stream should start, the exact StartActivityStream request. `Enforcer.evaluate()` does
the I/O around it: read the live cluster, decide, and make the call. Whatever event woke us up, the same
live state gives the same decision, so duplicate and out-of-order events converge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from . import checks
from .aws import AwsError
from .model import ACTIVE_STREAM_STATES, ClusterInfo, Finding, KeyLookup, Outcome, StartRequest
from .policy import Action, EffectiveRule, PolicyDocument
from .triggers import Target


@dataclass(frozen=True)
class Evaluation:
    """The decision about one cluster, with everything a log line, metric or alert needs."""

    outcome: Outcome
    reason: str
    detail: str
    cluster_id: str | None = None
    cluster_arn: str | None = None
    rule: str | None = None
    fix: str = ""
    warnings: tuple[Finding, ...] = ()
    start: StartRequest | None = None
    stream: dict[str, Any] | None = None


KeyLookupFn = Callable[[str], KeyLookup]


def decide(
    cluster: ClusterInfo | None, policy: PolicyDocument, lookup_key: KeyLookupFn, *, cluster_id: str | None = None
) -> Evaluation:
    """The whole decision, in order. Pure: no AWS calls other than through `lookup_key`."""
    if cluster is None:
        return Evaluation(
            Outcome.NOT_APPLICABLE,
            "ClusterNotFound",
            "the cluster does not exist (deleted before it was evaluated)",
            cluster_id=cluster_id,
        )
    base = Evaluation(Outcome.NOT_APPLICABLE, "", "", cluster_id=cluster.identifier, cluster_arn=cluster.arn)

    # 1. Only Aurora clusters have activity streams of this kind.
    if not cluster.is_aurora and cluster.engine != "aurora":
        return replace(
            base,
            reason="NotAurora",
            detail=f"engine {cluster.engine!r} is not Aurora (DocumentDB, Neptune and Multi-AZ DB "
            "clusters have no database activity streams)",
        )
    if cluster.status == "deleting":
        return replace(base, reason="ClusterDeleting", detail="the cluster is being deleted")

    rule = policy.rule_for(cluster.tags)
    base = replace(base, rule=rule.name)

    # 2. A stream that is already there (or on its way) is left alone, whatever the rule says.
    if cluster.stream_status in ACTIVE_STREAM_STATES:
        return replace(
            base,
            outcome=Outcome.ALREADY_ACTIVE,
            reason="StreamActive",
            detail=f"activity stream is {cluster.stream_status} (mode {cluster.stream_mode})",
            warnings=_drift(cluster, rule, lookup_key),
        )
    if cluster.stream_status == "stopping":
        return replace(
            base,
            outcome=Outcome.DEFERRED,
            reason="StreamStopping",
            detail="activity stream is stopping; it will be started again once stopped",
        )

    # 3. The central policy may exempt the cluster (only the policy can; tags merely select the rule).
    if rule.action is Action.EXEMPT:
        return replace(
            base, outcome=Outcome.EXEMPT, reason="ExemptByPolicy", detail=f"exempt by rule {rule.name!r}: {rule.reason}"
        )

    # 4. Validate everything that does not depend on timing. Problems here will not fix themselves.
    assert rule.kms_key is not None  # guaranteed by PolicyDocument validation for non-exempt rules
    key = lookup_key(rule.kms_key)
    problems = [
        finding
        for finding in (
            checks.check_region(cluster),
            checks.check_engine(cluster),
            checks.check_engine_mode(cluster),
            checks.check_engine_version(cluster),
            checks.check_instance_classes(cluster, cluster.instances),
            checks.check_kms_key(key, cluster.region),
        )
        if finding is not None
    ]
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

    # 6. Start (or, in report-only, say that we would have).
    mode, downgrade = checks.effective_mode(cluster, rule.mode)
    assert key.key is not None
    request = StartRequest(cluster.arn, mode.value, key.key.arn, rule.apply_immediately)
    plan = f"a {mode.value} stream with {key.key.arn}"
    report_only = rule.action is Action.REPORT_ONLY
    return replace(
        base,
        outcome=Outcome.WOULD_START if report_only else Outcome.STARTED,
        reason="ReportOnly" if report_only else "StreamStarted",
        detail=f"would start {plan} (rule is report-only)" if report_only else f"starting {plan}",
        start=request,
        warnings=(downgrade,) if downgrade else (),
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


class Gateway(Protocol):
    """What the enforcer needs from AWS (implemented by aws.AwsGateway)."""

    def describe_cluster(self, cluster_id: str) -> ClusterInfo | None: ...
    def instance_cluster(self, instance_id: str) -> tuple[bool, str | None]: ...
    def describe_key(self, reference: str) -> KeyLookup: ...
    def start_activity_stream(self, request: StartRequest) -> dict[str, Any]: ...


class Enforcer:
    def __init__(self, gateway: Gateway, load_policy: Callable[[], PolicyDocument]) -> None:
        self._aws = gateway
        self._load_policy = load_policy

    def evaluate(self, target: Target) -> Evaluation:
        """Observe, decide, act. Raises AwsError (transient) or PolicyError when it cannot decide now."""
        cluster_id = target.cluster_id
        if cluster_id is None:
            assert target.instance_id is not None
            exists, cluster_id = self._aws.instance_cluster(target.instance_id)
            if not exists:
                return Evaluation(
                    Outcome.NOT_APPLICABLE,
                    "InstanceNotFound",
                    f"DB instance {target.instance_id} does not exist (deleted before evaluation)",
                )
            if cluster_id is None:
                return Evaluation(
                    Outcome.NOT_APPLICABLE,
                    "StandaloneInstance",
                    f"DB instance {target.instance_id} is not part of a cluster",
                )
        policy = self._load_policy()
        decision = decide(self._aws.describe_cluster(cluster_id), policy, self._aws.describe_key, cluster_id=cluster_id)
        if decision.outcome is Outcome.STARTED and decision.start is not None:
            return self._start(decision, decision.start, policy)
        return decision

    def _start(self, decision: Evaluation, request: StartRequest, policy: PolicyDocument) -> Evaluation:
        try:
            stream = self._aws.start_activity_stream(request)
        except AwsError as err:
            if err.transient:
                raise
            return self._rejected(decision, err, policy)
        return replace(
            decision,
            stream=stream,
            detail=f"{decision.detail}: stream {stream.get('KinesisStreamName', '?')} is {stream.get('Status', '?')}",
        )

    def _rejected(self, decision: Evaluation, err: AwsError, policy: PolicyDocument) -> Evaluation:
        """StartActivityStream said no. Some refusals are races that re-reading the cluster resolves."""
        if err.code == "InvalidDBClusterStateFault":
            # Typically another invocation started the stream first, or the cluster changed state since we
            # read it. Re-read and decide again, but never call Start twice for one evaluation.
            assert decision.cluster_id is not None
            again = decide(
                self._aws.describe_cluster(decision.cluster_id),
                policy,
                self._aws.describe_key,
                cluster_id=decision.cluster_id,
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
