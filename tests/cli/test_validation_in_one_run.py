"""`policy validate` reports every problem of a file in one run, each at file:line:column with its field, what
was expected and the fix; duplicate keys and names are errors where they are repeated."""

from __future__ import annotations

from pathlib import Path

from .test_cli import cli

BROKEN = """version: 1
defaults:
  actoin: enforce
  kms_key: alias/x
  kms_key: alias/y
rules:
  - name: a
    match: {tags: {env: prod}}
  - name: a
    match: {tags: {env: dev}}
exemptions:
  - name: e
    match: {cluster_ids: [x]}
    expires: 31/12/2026
    reason: because
    approved_by: ciso
"""


def test_every_problem_in_one_run_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(BROKEN)
    result = cli("policy", "validate", str(path), "--no-check-keys")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:3:3: error: defaults.actoin: unknown field 'actoin' (did you mean 'action'?)",
        f"{path}:5:3: error: defaults.kms_key: given twice in one mapping; only one value may be given",
        f"{path}:9:5: error: rules[1].name: 'a' is already the name of rules[0]; rule and exemption names must be "
        "unique",
        f"{path}:14:5: error: exemptions[0].expires: must be a date written YYYY-MM-DD, e.g. 2027-03-31 "
        "(got '31/12/2026')",
        f"{path}: invalid (4 error(s), 0 other remark(s))",
    ]


def test_duplicate_keys_in_json_are_errors_too(tmp_path: Path) -> None:
    path = tmp_path / "team.json"
    path.write_text(
        '{"version": 1,\n "defaults": {"action": "exempt",\n  "action": "enforce", "kms_key": "alias/x"}}\n'
    )
    result = cli("policy", "validate", str(path), "--no-check-keys")
    assert result.exit_code == 1
    assert f"{path}:3:3: error: defaults.action: given twice in one mapping" in result.stdout


def test_a_duplicate_name_in_a_valid_document_is_reported_where_it_is_repeated(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "version: 1\ndefaults:\n  kms_key: alias/x\nrules:\n  - name: a\n    match: {tags: {env: prod}}\n"
        "exemptions:\n  - name: a\n    match: {cluster_ids: [x]}\n    expires: 2027-01-01\n    reason: because\n"
    )
    lines = cli("policy", "validate", str(path), "--no-check-keys").stdout.splitlines()
    assert lines[0] == (
        f"{path}:8:5: error: exemptions[0].name: 'a' is already the name of rules[0]; "
        "rule and exemption names must be unique"
    )
    assert len([line for line in lines if "error:" in line]) == 1  # not a second time at line 1


def test_an_empty_file_says_what_a_policy_needs(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    result = cli("policy", "validate", str(path))
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        f"{path}:1:1: error: the file is empty: a policy needs at least `version: 1` and `defaults` (docs/policy.md)"
    )


def test_an_unknown_value_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("version: 1\ndefaults:\n  action: stop\n  kms_key: alias/x\n")
    out = cli("policy", "validate", str(path), "--no-check-keys").stdout
    assert (
        f"{path}:3:3: error: defaults.action: must be one of 'enforce', 'report-only' or 'exempt' (got 'stop')" in out
    )


def test_semantic_problems_come_in_the_same_run_as_schema_errors(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "version: 1\ndefaults:\n  actoin: enforce\n  kms_key: alias/x\nrules:\n"
        "  - name: prod\n    match: {tags: {env: [prod, staging]}}\n"
        "  - name: gold\n    match: {tags: {env: prod, tier: gold}}\n"
        "exemptions:\n  - name: old\n    match: {cluster_ids: [x]}\n    expires: 2020-01-01\n    reason: because\n"
    )
    lines = cli("policy", "validate", str(path), "--no-check-keys").stdout.splitlines()
    assert lines[0] == f"{path}:3:3: error: defaults.actoin: unknown field 'actoin' (did you mean 'action'?)"
    assert lines[1].startswith(f"{path}:9:5: error: rule 'gold' can never apply: rule 'prod' (rules[0])")
    assert lines[2].startswith(f"{path}:13:5: warning: exemption 'old' expired on 2020-01-01")
