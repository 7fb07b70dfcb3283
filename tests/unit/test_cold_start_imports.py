"""What a new Lambda container loads before its first event: no tracing code unless tracing is on, no policy
schema (pydantic) until a policy is read. The milliseconds are measured by `make bench` (docs/benchmarks.md);
here, in fresh interpreters, only which modules are loaded - a fact that does not vary with machine load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("aws_xray_sdk", "pydantic", "das_guard.policy.schema", "das_guard.policy.document")


def loaded_after_import(**environment: str) -> set[str]:
    code = (
        f"import json, sys\nimport das_guard.handlers\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA_"))}
    env |= {"PYTHONPATH": str(ROOT / "functions"), "AWS_DEFAULT_REGION": "us-east-1", **environment}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)  # noqa: S603 - our own interpreter
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_container_with_tracing_off_loads_neither_the_xray_sdk_nor_the_policy_schema() -> None:
    assert loaded_after_import(AWS_LAMBDA_FUNCTION_NAME="das-guard-enforcer", POWERTOOLS_TRACE_DISABLED="true") == set()


def test_a_container_with_tracing_active_loads_the_xray_sdk() -> None:
    loaded = loaded_after_import(AWS_LAMBDA_FUNCTION_NAME="das-guard-enforcer", POWERTOOLS_TRACE_DISABLED="false")
    assert "aws_xray_sdk" in loaded
    assert "pydantic" not in loaded


def test_outside_lambda_tracing_is_off_whatever_the_variable_says() -> None:
    assert "aws_xray_sdk" not in loaded_after_import(POWERTOOLS_TRACE_DISABLED="false")
