"""Policy features for a cluster's whole life: exemptions with expiry, who may stop a stream, on_stop."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from das_guard.policy import OnStop, PolicyError, parse_policy

KEY = "alias/das-guard"


def doc(**extra: Any) -> str:
    return json.dumps({"version": 1, "defaults": {"kms_key": KEY}, **extra})


def exemption(**fields: Any) -> dict[str, Any]:
    return {
        "name": "legacy",
        "match": {"cluster_ids": ["legacy-*"]},
        "reason": "migration PROJ-88",
        "expires": "2026-12-31",
        **fields,
    }


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value.problems


class TestExemptions:
    def test_active_until_and_including_the_expiry_day(self) -> None:
        policy = parse_policy(doc(exemptions=[exemption()]))
        assert policy.exemption_for("legacy-db", {}, date(2026, 12, 31))[0] is not None
        active, expired = policy.exemption_for("legacy-db", {}, date(2027, 1, 1))
        assert active is None
        assert [e.name for e in expired] == ["legacy"]

    def test_match_by_identifier_pattern_and_tags(self) -> None:
        policy = parse_policy(
            doc(
                exemptions=[
                    exemption(name="both", match={"cluster_ids": ["etl-*"], "tags": {"team": "data"}}),
                    exemption(name="tagged", match={"tags": {"ticket": {"present": True}}}),
                ]
            )
        )
        today = date(2026, 11, 25)
        assert policy.exemption_for("etl-1", {"team": "data"}, today)[0].name == "both"  # type: ignore[union-attr]
        assert policy.exemption_for("etl-1", {"team": "web"}, today)[0] is None
        assert policy.exemption_for("other", {"ticket": "CHG-1"}, today)[0].name == "tagged"  # type: ignore[union-attr]
        assert policy.exemption_for("ETL-1".lower(), {"team": "data"}, today)[0] is not None

    def test_expiring_within_seven_days(self) -> None:
        policy = parse_policy(
            doc(
                exemptions=[
                    exemption(name="soon", expires="2026-12-01"),
                    exemption(name="later", expires="2026-12-03"),
                    exemption(name="gone", expires="2026-11-24"),
                ]
            )
        )
        assert [e.name for e in policy.expiring(date(2026, 11, 25))] == ["soon"]

    @pytest.mark.parametrize("field", ["reason", "expires"])
    def test_reason_and_expiry_are_mandatory(self, field: str) -> None:
        entry = exemption()
        del entry[field]
        assert problems(doc(exemptions=[entry])) == [f"exemptions[0].{field}: required field is missing"]

    def test_an_exemption_must_say_what_it_matches(self) -> None:
        assert problems(doc(exemptions=[exemption(match={})])) == [
            "exemptions[0].match: an exemption must match 'cluster_ids' or 'tags' (or both)"
        ]

    def test_dates_are_validated(self) -> None:
        assert "exemptions[0].expires" in problems(doc(exemptions=[exemption(expires="next year")]))[0]

    def test_names_are_unique_across_rules_and_exemptions(self) -> None:
        text = doc(rules=[{"name": "legacy", "match": {"tags": {"a": "b"}}}], exemptions=[exemption()])
        assert problems(text) == ["name 'legacy' is used twice; rule and exemption names must be unique"]


class TestStopPolicy:
    def test_allowed_principals_are_shell_patterns_over_every_identity_arn(self) -> None:
        policy = parse_policy(
            doc(
                stop_allowed={
                    "allowed_principals": ["arn:aws:sts::111122223333:assumed-role/BreakGlass/*"],
                    "hold_hours": 4,
                }
            )
        )
        allows = policy.stop_allowed.allows
        assert allows(("arn:aws:sts::111122223333:assumed-role/BreakGlass/carol",))
        assert not allows(("arn:aws:sts::111122223333:assumed-role/BreakGlassX/carol",))
        assert not allows(("arn:aws:sts::999999999999:assumed-role/BreakGlass/carol",))
        assert not allows(())
        assert policy.stop_allowed.hold_hours == 4

    def test_nobody_may_stop_by_default(self) -> None:
        policy = parse_policy(doc())
        assert policy.stop_allowed.allowed_principals == []
        assert policy.stop_allowed.hold_hours == 24

    @pytest.mark.parametrize(
        "principal",
        [
            "*",
            "BreakGlass",
            "arn:aws:s3:::bucket",
            "arn:aws:sts::*:assumed-role/BreakGlass/*",  # any account
            "arn:aws:iam::111122223333:*",  # any principal of the account
            "arn:aws:sts::111122223333:assumed-role/*",  # any role
            "arn:aws:iam::111122223333:root",
        ],
    )
    def test_principals_must_be_iam_or_sts_arns(self, principal: str) -> None:
        assert (
            "stop_allowed.allowed_principals[0]" in problems(doc(stop_allowed={"allowed_principals": [principal]}))[0]
        )

    @pytest.mark.parametrize(
        "principal",
        [
            "arn:aws:iam::111122223333:role/BreakGlass",
            "arn:aws:sts::111122223333:assumed-role/BreakGlass/*",
            "arn:aws-us-gov:sts::111122223333:assumed-role/ops/BreakGlass/alice",
            "arn:aws:iam::111122223333:user/dba-oncall",
        ],
    )
    def test_one_role_or_user_in_one_account_is_accepted(self, principal: str) -> None:
        assert parse_policy(doc(stop_allowed={"allowed_principals": [principal]})).stop_allowed.allowed_principals

    def test_on_stop_defaults_to_restart_and_rules_may_choose_report(self) -> None:
        policy = parse_policy(doc(rules=[{"name": "lab", "match": {"tags": {"env": "lab"}}, "on_stop": "report"}]))
        assert policy.rule_for({}).on_stop is OnStop.RESTART
        assert policy.rule_for({"env": "lab"}).on_stop is OnStop.REPORT
        assert problems(json.dumps({"version": 1, "defaults": {"kms_key": KEY, "on_stop": "ignore"}})) == [
            "defaults.on_stop: must be one of 'restart' or 'report' (got 'ignore')"
        ]


class TestExemptionsAreTimeBoxed:
    TODAY = date(2026, 12, 1)

    def test_an_exemption_ending_in_9999_is_refused_naming_the_field(self) -> None:
        with pytest.raises(PolicyError) as caught:
            parse_policy(doc(exemptions=[exemption(expires="9999-12-31")]), today=self.TODAY)
        [problem] = caught.value.problems
        assert problem.startswith("exemptions[0].expires: expires 9999-12-31 is more than 365 days after today")

    def test_the_maximum_is_the_deployments_choice(self) -> None:
        text = doc(exemptions=[exemption(expires="2027-03-01")])  # 90 days after TODAY
        assert parse_policy(text, today=self.TODAY, max_exemption_days=90).exemptions
        with pytest.raises(PolicyError, match="more than 89 days"):
            parse_policy(text, today=self.TODAY, max_exemption_days=89)

    def test_an_exemption_within_the_maximum_stays_valid_as_time_passes(self) -> None:
        text = doc(exemptions=[exemption(expires="2027-11-30")])
        for day in (self.TODAY, self.TODAY + timedelta(days=200), self.TODAY + timedelta(days=800)):
            assert parse_policy(text, today=day).exemptions
