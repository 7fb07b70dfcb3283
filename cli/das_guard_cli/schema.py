"""The policy document's JSON Schema, generated from the pydantic model (one source), shipped as
docs/policy.schema.json so editors validate a policy as people type.

    python -m das_guard_cli.schema > docs/policy.schema.json       # `make schema`; a test fails when it is stale
"""

from __future__ import annotations

import json
from typing import Any

from das_guard.policy import PolicyDocument

SCHEMA_ID = "https://das-guard.example/policy.schema.json"


def policy_schema() -> dict[str, Any]:
    schema = PolicyDocument.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": "DAS Guard policy document (docs/policy.md). Generated from the policy model; "
        "semantic checks (shadowed rules, expired exemptions, keys) are `das-guard policy validate`'s.",
        **schema,
    }


def render() -> str:
    return json.dumps(policy_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
