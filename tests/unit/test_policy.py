"""The policy document: what compliance teams write, and the clear errors they get when it is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from das_guard.policy import Action, PolicyError, StreamMode, parse_policy

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def doc(*rules: dict[str, Any], **defaults: Any) -> str:
    return json.dumps({"version": 1, "defaults": {"kms_key": KEY, **defaults}, "rules": list(rules)})


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value.problems


class TestMatching:
    policy = parse_policy(
        doc(
            {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt", "reason": "no data"},
            {"name": "regulated", "match": {"tags": {"data-class": ["pci", "pii"]}}, "mode": "sync"},
            {
                "name": "owned-trial",
                "match": {"tags": {"owner": {"present": True}, "trial": "yes"}},
                "action": "report-only",
                "apply_immediately": False,
            },
            {
                "name": "untagged",
                "match": {"tags": {"owner": {"present": False}, "team": "legacy"}},
                "kms_key": "alias/legacy",
            },
        )
    )

    def test_no_matching_rule_means_the_defaults(self) -> None:
        rule = self.policy.rule_for({"team": "orders"})
        assert (rule.name, rule.action, rule.mode, rule.kms_key, rule.apply_immediately) == (
            "default",
            Action.ENFORCE,
            StreamMode.ASYNC,
            KEY,
            "new-clusters",  # immediately only where nothing runs yet: a start restarts the cluster
        )

    def test_exact_value(self) -> None:
        assert self.policy.rule_for({"env": "sandbox"}).action is Action.EXEMPT
        assert self.policy.rule_for({"env": "sandbox-2"}).name == "default"

    def test_list_of_values_matches_any_of_them(self) -> None:
        assert self.policy.rule_for({"data-class": "pii"}).name == "regulated"
        assert self.policy.rule_for({"data-class": "public"}).name == "default"

    def test_tags_are_case_sensitive_like_aws(self) -> None:
        assert self.policy.rule_for({"env": "Sandbox"}).name == "default"
        assert self.policy.rule_for({"Env": "sandbox"}).name == "default"

    def test_key_present_and_all_conditions_must_hold(self) -> None:
        rule = self.policy.rule_for({"owner": "", "trial": "yes"})
        assert (rule.name, rule.action, rule.apply_immediately) == ("owned-trial", Action.REPORT_ONLY, False)
        assert self.policy.rule_for({"trial": "yes"}).name == "default"

    def test_key_absent(self) -> None:
        assert self.policy.rule_for({"team": "legacy"}).kms_key == "alias/legacy"
        assert self.policy.rule_for({"team": "legacy", "owner": "bob"}).name == "default"

    def test_first_match_wins(self) -> None:
        # both sandboxes and regulated match; the earlier rule decides
        assert self.policy.rule_for({"env": "sandbox", "data-class": "pci"}).name == "sandboxes"

    def test_rules_inherit_omitted_fields_from_defaults(self) -> None:
        rule = self.policy.rule_for({"data-class": "pci"})
        assert (rule.mode, rule.kms_key, rule.action) == (StreamMode.SYNC, KEY, Action.ENFORCE)


class TestAcceptedDocuments:
    @pytest.mark.parametrize(
        "key",
        [
            "alias/das-guard",
            "alias/team/audit_key",
            KEY,
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:alias/das",
            "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ],
    )
    def test_every_kind_of_key_reference(self, key: str) -> None:
        assert parse_policy(doc(kms_key=key)).defaults.kms_key == key

    def test_a_rule_that_exempts_needs_no_key(self) -> None:
        text = doc({"name": "lab", "match": {"tags": {"env": "lab"}}, "action": "exempt", "reason": "no data"})
        assert parse_policy(text).rule_for({"env": "lab"}).action is Action.EXEMPT


class TestRejectedDocuments:
    def test_an_exempt_default_is_refused(self) -> None:
        """With ssm:PutParameter an insider could otherwise switch auditing off for every untagged cluster."""
        [problem] = problems(json.dumps({"version": 1, "defaults": {"action": "exempt"}}))
        assert problem.startswith("defaults.action: 'exempt' as the default would leave every cluster")
        assert "use 'report-only'" in problem

    def test_a_key_given_twice_is_refused_not_the_last_one_taken(self) -> None:
        text = (
            '{"version": 1, "defaults": {"kms_key": "alias/das-guard", "action": "enforce", "action": "report-only"}}'
        )
        assert problems(text) == ["key 'action' appears twice in one object; only one value may be given"]

    def test_invalid_json_names_line_and_column(self) -> None:
        assert problems('{"version": 1,\n  "defaults": {,}}') == [
            "not valid JSON at line 2 column 16: Expecting property name enclosed in double quotes"
        ]

    def test_not_an_object(self) -> None:
        assert problems("[1, 2]") == ["the document must be a JSON object, not list"]

    def test_unknown_keys_are_errors_not_ignored(self) -> None:
        # a typo must not silently turn an exemption into enforcement (or the reverse)
        text = doc({"name": "a", "match": {"tags": {"env": "x"}}, "actoin": "exempt", "reason": "r"})
        assert problems(text) == ["rules[0].actoin: unknown field 'actoin' (did you mean 'action'?)"]

    def test_unsupported_schema_version(self) -> None:
        assert problems(json.dumps({"version": 2, "defaults": {"kms_key": KEY}})) == ["version: Input should be 1"]

    def test_unknown_action_names_the_field_and_allowed_values(self) -> None:
        assert problems(doc(action="stop")) == [
            "defaults.action: must be one of 'enforce', 'report-only' or 'exempt' (got 'stop')"
        ]

    def test_aws_managed_key_is_refused_with_the_reason(self) -> None:
        assert problems(doc(kms_key="alias/aws/rds")) == [
            "defaults.kms_key: 'alias/aws/rds' is an AWS managed key; database activity streams need a "
            "customer managed key"
        ]

    def test_garbage_key_reference(self) -> None:
        assert "is not a key ID, key ARN, alias name" in problems(doc(kms_key="my key"))[0]

    def test_streams_need_a_key_somewhere(self) -> None:
        text = json.dumps(
            {
                "version": 1,
                "defaults": {"action": "report-only"},
                "rules": [{"name": "prod", "match": {"tags": {"env": "prod"}}, "action": "enforce"}],
            }
        )
        assert len(problems(text)) == 1
        assert "would start streams but no kms_key is set (set it on the rule or in 'defaults')" in problems(text)[0]

    def test_exemptions_need_a_reason(self) -> None:
        text = doc({"name": "quiet", "match": {"tags": {"env": "x"}}, "action": "exempt"})
        assert problems(text) == ["rules[0]: rule 'quiet' exempts clusters, so it needs a 'reason'"]

    def test_rule_names_are_unique(self) -> None:
        rule = {"name": "a", "match": {"tags": {"env": "x"}}}
        assert problems(doc(rule, rule)) == ["name 'a' is used twice; rule and exemption names must be unique"]

    def test_a_bad_tag_condition_gets_one_clear_message(self) -> None:
        text = doc({"name": "a", "match": {"tags": {"data-class": {"present": "maybe"}}}})
        assert problems(text) == [
            "rules[0].match.tags.data-class: must be a tag value (string), a list of "
            'values, or {"present": true} / {"present": false}'
        ]

    def test_every_problem_is_reported_at_once(self) -> None:
        text = doc({"name": "bad name", "match": {"tags": {}}}, {"name": "b", "match": {"tags": {"x": 1}}})
        assert len(problems(text)) == 3

    def test_empty_match_is_refused(self) -> None:
        # a rule matching everything by accident would shadow every later rule
        assert (
            "rules[0].match.tags: Dictionary should have at least 1 item"
            in problems(doc({"name": "a", "match": {"tags": {}}}))[0]
        )
