"""The shipped JSON Schema is the policy model's, and it accepts and refuses what the model does."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from das_guard_cli import schema
from localaws import scenario

SHIPPED = Path(__file__).resolve().parents[2] / "docs" / "policy.schema.json"


def test_the_shipped_schema_is_generated_from_the_model() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == schema.render(), "run: make schema"


def test_it_accepts_the_demo_policy_and_is_a_valid_schema() -> None:
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(shipped)
    jsonschema.validate(scenario.DEMO_POLICY, shipped)


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1, "defaults": {"actoin": "enforce"}},  # unknown field: editors underline it
        {"version": 1, "defaults": {"action": "stop"}},  # not one of the actions
        {"defaults": {"action": "enforce"}},  # version missing
    ],
)
def test_it_refuses_what_an_editor_should_underline(document: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SHIPPED.read_text(encoding="utf-8")))
