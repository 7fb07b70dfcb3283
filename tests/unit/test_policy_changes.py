"""The policy-change notice says what an edit changed, and marks what weakens enforcement."""

from __future__ import annotations

import json
from typing import Any

from das_guard.policy.changes import WEAKER, summarise

BASE: dict[str, Any] = {
    "version": 1,
    "defaults": {"action": "enforce", "kms_key": "alias/das"},
    "rules": [
        {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt", "reason": "no data"},
        {"name": "regulated", "match": {"tags": {"data-class": "pci"}}},
    ],
    "exemptions": [{"name": "legacy", "match": {"cluster_ids": ["legacy-*"]}, "reason": "r", "expires": "2027-01-31"}],
    "stop_allowed": {"allowed_principals": ["arn:aws:iam::1:role/BreakGlass"], "hold_hours": 8},
}


def edited(**changes: Any) -> str:
    return json.dumps({**BASE, **changes})


def test_reordering_rules_is_weaker_because_the_first_match_wins() -> None:
    [line] = summarise(json.dumps(BASE), edited(rules=BASE["rules"][::-1]))
    assert line == "WEAKER: rule order changed (the first match wins): ['sandboxes', 'regulated'] -> " + (
        "['regulated', 'sandboxes']"
    )


def test_a_longer_exemption_and_longer_holds_are_weaker_a_shorter_one_is_not() -> None:
    later = [{**BASE["exemptions"][0], "expires": "2027-06-30"}]
    assert summarise(json.dumps(BASE), edited(exemptions=later)) == [
        'WEAKER: exemption \'legacy\' expires: "2027-01-31" -> "2027-06-30"'
    ]
    sooner = [{**BASE["exemptions"][0], "expires": "2026-12-31"}]
    assert summarise(json.dumps(BASE), edited(exemptions=sooner)) == [
        'exemption \'legacy\' expires: "2027-01-31" -> "2026-12-31"'
    ]
    longer = {**BASE["stop_allowed"], "hold_hours": 720}
    assert summarise(json.dumps(BASE), edited(stop_allowed=longer)) == ["WEAKER: stop_allowed.hold_hours: 8 -> 720"]


def test_stricter_changes_are_listed_without_the_mark() -> None:
    lines = summarise(json.dumps(BASE), edited(rules=BASE["rules"][1:], exemptions=[]))
    assert lines == ["rule 'sandboxes' removed", "exemption 'legacy' removed"]


def test_rewriting_the_same_document_and_broken_documents_are_described() -> None:
    assert summarise(json.dumps(BASE), json.dumps(BASE, indent=4)) == [
        "the document was written again without a change in its content"
    ]
    assert summarise(json.dumps(BASE), "{not json")[0].startswith("the new document is not a JSON object")
    assert summarise("[1, 2]", json.dumps(BASE)) == ["new policy document with 2 rule(s) and 1 exemption(s)"]


def test_letting_copies_keep_a_softer_rule_is_weaker() -> None:
    refuse = json.dumps({"version": 1, "defaults": {"kms_key": "alias/k"}, "softer_copies": "refuse"})
    notify = json.dumps({"version": 1, "defaults": {"kms_key": "alias/k"}})
    assert summarise(refuse, notify) == [f'{WEAKER}softer_copies: "refuse" -> "notify"']
    assert summarise(notify, refuse) == ['softer_copies: "notify" -> "refuse"']
