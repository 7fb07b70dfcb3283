"""Support facts that real accounts hit (issue 11): the reason and the fix must be true for the case."""

from __future__ import annotations

import json
from datetime import date

from das_guard.decision.decide import Inputs, decide
from das_guard.model import Outcome
from das_guard.policy import parse_policy

from .factories import cluster, lookup

POLICY = parse_policy(json.dumps({"version": 1, "defaults": {"kms_key": "alias/das-guard", "apply_immediately": True}}))
INPUTS = Inputs(lookup, date(2026, 12, 1))


def test_govcloud_has_no_activity_streams_and_no_start_is_attempted() -> None:
    gov = cluster(arn="arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:c1")
    decision = decide(gov, POLICY, INPUTS)
    assert (decision.outcome, decision.reason, decision.start) == (Outcome.VIOLATION, "UnsupportedRegion", None)
    assert "AWS GovCloud (US)" in decision.detail


def test_limitless_is_a_feature_without_streams_not_an_old_version() -> None:
    limitless = cluster(version="16.4-limitless", scalability_type="limitless", instances=(), member_ids=())
    decision = decide(limitless, POLICY, INPUTS)
    assert (decision.outcome, decision.reason) == (Outcome.VIOLATION, "LimitlessNotSupported")
    assert "upgrade" not in decision.fix.lower()
    assert "version" not in decision.reason.lower()


def test_a_global_cluster_without_instances_is_quiet_not_a_deferral_that_pages_later() -> None:
    headless = cluster(global_cluster_identifier="orders-global", instances=(), member_ids=())
    decision = decide(headless, POLICY, INPUTS)
    assert (decision.outcome, decision.reason) == (Outcome.NOT_APPLICABLE, "HeadlessGlobalCluster")
    assert "orders-global" in decision.detail
    still_creating = cluster(global_cluster_identifier="orders-global", instances=(), member_ids=(), status="creating")
    assert decide(still_creating, POLICY, INPUTS).outcome is Outcome.DEFERRED


def asking(answers: dict[str, tuple[str, ...] | None]) -> Inputs:
    return Inputs(lookup, date(2026, 12, 1), lookup_modes=lambda _engine, _version, cls: answers.get(cls))


def test_aws_decides_where_it_answers_even_against_the_static_table() -> None:
    newer_family = cluster("aurora-postgresql", "16.1", "db.r9g.large")  # unknown to the static table
    decision = decide(newer_family, POLICY, asking({"db.r9g.large": ("async", "sync")}))
    assert decision.outcome is Outcome.STARTED
    said_no = cluster("aurora-postgresql", "16.1", "db.r6g.large")  # the static table says yes
    refused = decide(said_no, POLICY, asking({"db.r6g.large": ()}))
    assert (refused.outcome, refused.reason) == (Outcome.VIOLATION, "UnsupportedConfiguration")
    assert "AWS lists no activity stream mode for aurora-postgresql 16.1 on db.r6g.large" in refused.detail


def test_where_aws_says_no_the_reason_names_what_is_unsupported() -> None:
    burstable = cluster("aurora-postgresql", "16.1", "db.t4g.medium")
    decision = decide(burstable, POLICY, asking({"db.t4g.medium": ()}))
    assert (decision.outcome, decision.reason) == (Outcome.VIOLATION, "UnsupportedInstanceClass")
    assert "AWS lists no activity stream mode" in decision.detail
    assert "db.r6g.large" in decision.fix


def test_when_aws_cannot_be_asked_the_static_table_decides_and_says_so() -> None:
    decision = decide(cluster("aurora-postgresql", "16.1", "db.t4g.medium"), POLICY, asking({}))
    assert (decision.outcome, decision.reason) == (Outcome.VIOLATION, "UnsupportedInstanceClass")
    assert [w.code for w in decision.warnings] == ["SupportFromStaticTable"]
    fine = decide(cluster("aurora-postgresql", "16.1", "db.r6g.large"), POLICY, asking({}))
    assert fine.outcome is Outcome.STARTED
    assert [w.code for w in fine.warnings] == ["SupportFromStaticTable"]


def test_the_modes_aws_offers_decide_the_mode() -> None:
    sync = {"kms_key": "alias/das-guard", "mode": "sync", "apply_immediately": True}
    sync_policy = parse_policy(json.dumps({"version": 1, "defaults": sync}))
    decision = decide(cluster("aurora-postgresql", "16.1"), sync_policy, asking({"db.r6g.large": ("async",)}))
    assert decision.start is not None
    assert decision.start.mode == "async"
    assert [w.code for w in decision.warnings] == ["ModeDowngraded"]
