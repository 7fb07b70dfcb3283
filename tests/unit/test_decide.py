"""decide(): the whole decision about one cluster, as a pure function of live state + policy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from das_guard.decision.decide import Inputs, decide
from das_guard.model import KeyLookup, Outcome, StartRequest
from das_guard.policy import PolicyDocument, parse_policy

from .factories import KEY_ARN, cluster, lookup

TODAY = date(2026, 12, 1)  # decide() is told the day; nothing here depends on the real one

POLICY = parse_policy(
    json.dumps(
        {
            "version": 1,
            "defaults": {"action": "enforce", "mode": "async", "kms_key": "alias/das-guard", "apply_immediately": True},
            "rules": [
                {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt", "reason": "no data"},
                {
                    "name": "regulated",
                    "match": {"tags": {"data-class": "pci"}},
                    "mode": "sync",
                    "apply_immediately": False,
                },
                {"name": "trial", "match": {"tags": {"team": "analytics"}}, "action": "report-only"},
                {"name": "lost-key", "match": {"tags": {"team": "lost"}}, "kms_key": "alias/missing"},
            ],
        }
    )
)


class Keys:
    """A recording key lookup: the decision must only look keys up when it needs them."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, reference: str) -> KeyLookup:
        self.asked.append(reference)
        if reference == "alias/missing":
            return KeyLookup(reference, None, "NotFoundException", "Alias alias/missing is not found.")
        if reference.startswith("arn:aws:kms:") and reference != KEY_ARN:  # another key of the account
            return lookup(reference, arn=reference, key_id=reference.rsplit("/", 1)[1])
        return lookup(reference)


def run(c: object, policy: PolicyDocument = POLICY, **inputs: object) -> tuple[object, Keys]:
    keys = Keys()
    return decide(c, policy, Inputs(keys, **{"today": TODAY, **inputs}), cluster_id="c1"), keys  # type: ignore[arg-type]


def test_supported_cluster_starts_with_the_designated_key_and_mode() -> None:
    evaluation, keys = run(cluster())
    assert evaluation.outcome is Outcome.STARTED
    assert evaluation.start == StartRequest("arn:aws:rds:us-east-1:123456789012:cluster:c1", "async", KEY_ARN, True)
    assert evaluation.rule == "default"
    assert keys.asked == ["alias/das-guard"]


def test_rule_settings_reach_the_start_request() -> None:
    evaluation, _ = run(cluster(tags={"data-class": "pci"}))
    assert evaluation.start is not None
    assert (evaluation.start.mode, evaluation.start.apply_immediately) == ("sync", False)
    assert evaluation.rule == "regulated"


def test_sync_on_mysql_starts_async_with_a_warning() -> None:
    evaluation, _ = run(cluster("aurora-mysql", "8.0.mysql_aurora.3.05.2", tags={"data-class": "pci"}))
    assert evaluation.outcome is Outcome.SCHEDULED  # the regulated rule starts in the maintenance window
    assert evaluation.start is not None
    assert evaluation.start.mode == "async"
    assert [w.code for w in evaluation.warnings] == ["ModeDowngraded"]


def test_unknown_cluster_is_not_applicable() -> None:
    evaluation, keys = run(None)
    assert (evaluation.outcome, evaluation.reason, evaluation.cluster_id) == (
        Outcome.NOT_APPLICABLE,
        "ClusterNotFound",
        "c1",
    )
    assert keys.asked == []


@pytest.mark.parametrize("engine", ["docdb", "neptune", "postgres", "mysql"])
def test_non_aurora_engines_are_not_applicable_and_cost_no_key_lookup(engine: str) -> None:
    evaluation, keys = run(cluster(engine, "1.0"))
    assert (evaluation.outcome, evaluation.reason) == (Outcome.NOT_APPLICABLE, "NotAurora")
    assert engine in evaluation.detail
    assert keys.asked == []


def test_deleting_cluster_is_not_applicable() -> None:
    evaluation, _ = run(cluster(status="deleting"))
    assert (evaluation.outcome, evaluation.reason) == (Outcome.NOT_APPLICABLE, "ClusterDeleting")


@pytest.mark.parametrize(("status", "reason"), [("starting", "StreamStarting"), ("started", "StreamActive")])
def test_active_stream_is_left_alone(status: str, reason: str) -> None:
    evaluation, _ = run(cluster(stream_status=status, stream_mode="async", stream_kms_key_id=KEY_ARN))
    assert (evaluation.outcome, evaluation.reason, evaluation.start) == (Outcome.ALREADY_ACTIVE, reason, None)
    assert evaluation.warnings == ()


def test_a_stream_on_another_key_or_mode_fails_and_is_never_stopped() -> None:
    other_key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    evaluation, _ = run(
        cluster(stream_status="started", stream_mode="async", stream_kms_key_id=other_key, tags={"data-class": "pci"})
    )
    assert (evaluation.outcome, evaluation.reason, evaluation.start) == (
        Outcome.VIOLATION,
        "StreamKeyNotDesignated",
        None,
    )
    assert other_key in evaluation.detail
    assert "runs in mode async; rule 'regulated' says sync" in evaluation.detail
    assert "stop-activity-stream" in evaluation.fix
    assert "never stops a stream" in evaluation.fix


def test_a_stream_key_das_guard_cannot_describe_is_not_vouched_for() -> None:
    def refused(reference: str) -> KeyLookup:
        if reference == "alias/das-guard":
            return lookup(reference)
        return KeyLookup(reference, None, "AccessDeniedException", "not authorized to perform kms:DescribeKey")

    evaluation = decide(
        cluster(stream_status="started", stream_mode="async", stream_kms_key_id="key/their-own"),
        POLICY,
        Inputs(refused, TODAY),
    )
    assert (evaluation.outcome, evaluation.reason) == (Outcome.VIOLATION, "StreamKeyUnverifiable")
    assert "AccessDeniedException" in evaluation.detail
    assert "kms:DescribeKey" in evaluation.fix


def test_an_exempt_cluster_with_an_odd_stream_stays_exempt_with_warnings() -> None:
    other_key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    evaluation, _ = run(
        cluster(stream_status="started", stream_mode="async", stream_kms_key_id=other_key, tags={"env": "sandbox"})
    )
    assert (evaluation.outcome, evaluation.reason) == (Outcome.EXEMPT, "ExemptByPolicy")


def test_active_stream_wins_over_validation_problems() -> None:
    # a burstable cluster whose stream somebody got running anyway is not reported as a violation
    evaluation, _ = run(
        cluster(
            "aurora-postgresql",
            "15.4",
            "db.t4g.medium",
            stream_status="started",
            stream_mode="async",
            stream_kms_key_id=KEY_ARN,
        )
    )
    assert (evaluation.outcome, evaluation.reason) == (Outcome.ALREADY_ACTIVE, "StreamActive")


def test_stopping_stream_is_deferred() -> None:
    evaluation, _ = run(cluster(stream_status="stopping"))
    assert (evaluation.outcome, evaluation.reason) == (Outcome.DEFERRED, "StreamStopping")


def test_exemption_comes_from_the_policy_rule() -> None:
    evaluation, keys = run(cluster("aurora-postgresql", "15.4", "db.t4g.medium", tags={"env": "sandbox"}))
    assert (evaluation.outcome, evaluation.reason, evaluation.rule) == (Outcome.EXEMPT, "ExemptByPolicy", "sandboxes")
    assert "no data" in evaluation.detail
    assert keys.asked == []


def test_a_tag_alone_cannot_exempt() -> None:
    # tags that no exempt rule selects change nothing, whatever they say
    evaluation, _ = run(cluster(tags={"das-guard": "exempt", "exempt": "true", "env": "Sandbox"}))
    assert evaluation.outcome is Outcome.STARTED


def test_violations_are_found_before_waiting_for_readiness() -> None:
    # Serverless v1 never gets instances; it must be reported now, not after a two-hour deferral
    evaluation, _ = run(
        cluster(
            "aurora-mysql",
            "5.7.mysql_aurora.2.11.4",
            engine_mode="serverless",
            instances=(),
            member_ids=(),
            status="creating",
        )
    )
    assert (evaluation.outcome, evaluation.reason) == (Outcome.VIOLATION, "UnsupportedEngineMode")
    assert evaluation.fix


def test_all_problems_are_reported_the_first_is_the_reason() -> None:
    evaluation, _ = run(cluster("aurora-postgresql", "10.21", "db.t3.medium", tags={"team": "lost"}))
    assert evaluation.outcome is Outcome.VIOLATION
    assert evaluation.reason == "UnsupportedEngineVersion"
    for fragment in ("10.21", "db.t3.medium", "alias/missing"):
        assert fragment in evaluation.detail


def test_bad_key_is_a_violation() -> None:
    evaluation, _ = run(cluster(tags={"team": "lost"}))
    assert (evaluation.outcome, evaluation.reason) == (Outcome.VIOLATION, "KmsKeyNotFound")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": "creating", "instances": (), "member_ids": ()}, "ClusterNotAvailable"),
        ({"instances": (), "member_ids": ()}, "NoInstances"),
        ({"instance_status": "creating"}, "NoAvailableInstance"),
    ],
)
def test_not_ready_clusters_are_deferred(fields: dict[str, object], reason: str) -> None:
    evaluation, _ = run(cluster(**fields))
    assert (evaluation.outcome, evaluation.reason) == (Outcome.DEFERRED, reason)


def test_report_only_rule_would_start_but_does_not() -> None:
    evaluation, _ = run(cluster(tags={"team": "analytics"}))
    assert (evaluation.outcome, evaluation.reason, evaluation.rule) == (Outcome.WOULD_START, "ReportOnly", "trial")
    assert evaluation.start is not None  # what would have been called, for the report


def test_same_state_same_decision() -> None:
    c = cluster(tags={"data-class": "pci"})
    assert run(c)[0] == run(replace(c))[0]
