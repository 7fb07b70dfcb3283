"""decide() and assess_stop() for tag changes, stops, holds, exemptions and a report-only deployment."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from das_guard.decision.decide import Inputs, decide
from das_guard.decision.stops import assess_stop
from das_guard.model import ClusterInfo, Hold, Outcome, StopInfo
from das_guard.policy import parse_policy

from .factories import cluster, lookup

TODAY = date(2026, 11, 25)
BREAK_GLASS = "arn:aws:sts::123456789012:assumed-role/BreakGlass/carol"
POLICY = parse_policy(
    json.dumps(
        {
            "version": 1,
            "defaults": {"kms_key": "alias/das-guard", "apply_immediately": True},
            "rules": [
                {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt", "reason": "no data"},
                {"name": "trial", "match": {"tags": {"team": "analytics"}}, "action": "report-only"},
                {"name": "lab", "match": {"tags": {"env": "lab"}}, "on_stop": "report"},
            ],
            "exemptions": [
                {
                    "name": "migration",
                    "match": {"cluster_ids": ["legacy-*"]},
                    "reason": "PROJ-88",
                    "expires": "2026-12-31",
                },
                {"name": "old", "match": {"tags": {"ticket": "CHG-1"}}, "reason": "CHG-1", "expires": "2026-11-01"},
            ],
            "stop_allowed": {
                "allowed_principals": ["arn:aws:sts::123456789012:assumed-role/BreakGlass/*"],
                "hold_hours": 8,
            },
        }
    )
)


def inputs(**fields: object) -> Inputs:
    return Inputs(lookup, **{"today": TODAY, **fields})  # type: ignore[arg-type]


class TestExemptions:
    def test_a_valid_exemption_exempts_until_it_expires(self) -> None:
        c = cluster(identifier="legacy-orders")
        assert (decide(c, POLICY, inputs()).outcome, decide(c, POLICY, inputs()).reason) == (
            Outcome.EXEMPT,
            "ExemptionActive",
        )
        assert "2026-12-31" in decide(c, POLICY, inputs()).detail
        later = decide(c, POLICY, inputs(today=date(2027, 1, 1)))
        assert later.outcome is Outcome.STARTED

    def test_an_expired_exemption_is_enforced_and_says_so(self) -> None:
        evaluation = decide(cluster(tags={"ticket": "CHG-1"}), POLICY, inputs())
        assert evaluation.outcome is Outcome.STARTED
        assert [w.code for w in evaluation.warnings] == ["ExemptionExpired"]
        assert "'old' expired on 2026-11-01" in evaluation.warnings[0].detail

    def test_an_expired_exemption_warns_on_violations_too(self) -> None:
        evaluation = decide(
            cluster("aurora-postgresql", "15.4", "db.t3.medium", tags={"ticket": "CHG-1"}), POLICY, inputs()
        )
        assert evaluation.outcome is Outcome.VIOLATION
        assert [w.code for w in evaluation.warnings] == ["ExemptionExpired"]


class TestHolds:
    def test_a_break_glass_hold_keeps_the_stream_stopped(self) -> None:
        hold = Hold(
            "arn:aws:rds:us-east-1:123456789012:cluster:c1", BREAK_GLASS, datetime(2026, 11, 25, 18, tzinfo=UTC)
        )
        evaluation = decide(cluster(), POLICY, inputs(lookup_hold=lambda arn: hold))
        assert (evaluation.outcome, evaluation.reason) == (Outcome.EXEMPT, "BreakGlassHold")
        assert BREAK_GLASS in evaluation.detail

    def test_no_hold_means_start(self) -> None:
        assert decide(cluster(), POLICY, inputs(lookup_hold=lambda arn: None)).outcome is Outcome.STARTED

    def test_holds_are_not_read_for_clusters_that_cannot_start_anyway(self) -> None:
        asked: list[str] = []
        decide(cluster("docdb", "5.0.0"), POLICY, inputs(lookup_hold=asked.append))  # type: ignore[arg-type]
        decide(cluster(stream_status="started"), POLICY, inputs(lookup_hold=asked.append))  # type: ignore[arg-type]
        decide(cluster(status="creating"), POLICY, inputs(lookup_hold=asked.append))  # type: ignore[arg-type]
        assert asked == []


def test_report_only_deployment_overrides_enforce_rules() -> None:
    evaluation = decide(cluster(), POLICY, inputs(report_only=True))
    assert (evaluation.outcome, evaluation.reason) == (Outcome.WOULD_START, "ReportOnly")
    assert "the deployment is report-only" in evaluation.detail
    assert evaluation.start is not None


class TestTagChanges:
    """A tag change is just a re-evaluation: the policy, not the tag, decides."""

    def test_tag_that_selects_an_exempt_rule_exempts_a_cluster_without_stream(self) -> None:
        assert decide(cluster(tags={"env": "sandbox"}), POLICY, inputs()).outcome is Outcome.EXEMPT

    def test_tag_never_stops_a_running_stream(self) -> None:
        evaluation = decide(cluster(tags={"env": "sandbox"}, stream_status="started"), POLICY, inputs())
        assert evaluation.outcome in (Outcome.ALREADY_ACTIVE, Outcome.EXEMPT)
        assert evaluation.start is None

    def test_tag_the_policy_does_not_know_changes_nothing(self) -> None:
        assert decide(cluster(tags={"das-guard": "off"}), POLICY, inputs()).outcome is Outcome.STARTED


def stop(principal: str | None = "arn:aws:sts::123456789012:assumed-role/DBA/bob") -> StopInfo:
    principals = (principal, "arn:aws:iam::123456789012:role/DBA") if principal else ()
    return StopInfo(
        principal or "unknown (reported by RDS)",
        principals,
        "198.51.100.7" if principal else "",
        "2026-11-25T10:05:09Z",
        "CloudTrail:StopActivityStream" if principal else "RDS:RDS-EVENT-0180",
    )


class TestAssessStop:
    def test_unauthorized_stop_is_tampering_and_is_reverted(self) -> None:
        report, restart = assess_stop(cluster(stream_status="stopping"), POLICY, stop(), TODAY)
        assert report is not None
        assert (report.outcome, report.reason, restart) == (Outcome.TAMPERED, "StoppedByUnauthorizedPrincipal", True)
        for fragment in ("DBA/bob", "198.51.100.7", "2026-11-25T10:05:09Z", "starting it again"):
            assert fragment in report.detail

    def test_break_glass_stop_is_reported_not_reverted(self) -> None:
        report, restart = assess_stop(cluster(), POLICY, stop(BREAK_GLASS), TODAY)
        assert report is not None
        assert (report.reason, restart) == ("StoppedByAllowedPrincipal", False)
        assert "8 h" in report.detail

    def test_on_stop_report_only_reports(self) -> None:
        report, restart = assess_stop(cluster(tags={"env": "lab"}), POLICY, stop(), TODAY)
        assert report is not None
        assert (report.reason, restart) == ("StoppedByUnauthorizedPrincipal", False)
        assert "on_stop: report" in report.detail

    def test_rds_event_without_principal(self) -> None:
        report, restart = assess_stop(cluster(), POLICY, stop(None), TODAY)
        assert report is not None
        assert (report.reason, restart) == ("StreamStoppedUnattributed", True)
        assert "KMS" not in report.fix, "Aurora PostgreSQL has no KMS network prerequisite"

    @pytest.mark.parametrize(
        ("c", "why"),
        [
            (cluster(tags={"env": "sandbox"}), "rule 'sandboxes' is exempt now"),
            (cluster(tags={"team": "analytics"}), "rule 'trial' is report-only now"),
            (cluster(identifier="legacy-x"), "exemption 'migration' applies now"),
        ],
        ids=["exempt-rule", "report-only-rule", "exemption"],
    )
    def test_a_stop_is_news_whatever_rule_applies_now_but_only_enforced_clusters_are_restarted(
        self, c: ClusterInfo, why: str
    ) -> None:
        """Tagging a cluster into a softer rule, then stopping its stream, must not keep the stop quiet."""
        report, restart = assess_stop(c, POLICY, stop(), TODAY)
        assert report is not None
        assert (report.outcome, report.reason) == (Outcome.TAMPERED, "StoppedByUnauthorizedPrincipal")
        assert why in report.detail
        assert restart is False

    @pytest.mark.parametrize(
        "c", [cluster(status="deleting"), cluster("docdb", "5.0.0"), None], ids=["deleting", "not-aurora", "gone"]
    )
    def test_stops_on_clusters_without_streams_of_their_own_are_not_tampering(self, c: object) -> None:
        assert assess_stop(c, POLICY, stop(), TODAY) == (None, False)  # type: ignore[arg-type]
