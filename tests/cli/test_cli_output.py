"""Output that survives being piped, and one set of exit codes (0 good, 1 findings, 2 usage or input error)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from typer.testing import CliRunner

from das_guard_cli import common
from das_guard_cli.main import app

from .test_cli import REGION, cli, demo_account

__all__ = ["demo_account"]  # the fixture, shared with test_cli.py

runner = CliRunner()


def test_text_in_square_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "[bold]team.yaml"
    principal = "'[red]arn:aws:iam::*:role/x'"
    path.write_text(f"version: 1\ndefaults:\n  kms_key: alias/k\nstop_allowed:\n  allowed_principals: [{principal}]\n")
    result = cli("policy", "validate", str(path), "--no-check-keys")
    assert result.exit_code == 1
    assert f"{path}:5:24: error:" in result.stdout  # the file name, brackets included
    assert "'[red]arn:aws:iam::*:role/x' must be the ARN of one role or user" in result.stdout


def test_the_table_off_a_terminal_is_full_width_and_never_folded(demo_account: Any) -> None:
    text = cli("audit", *REGION).stdout
    title, header, *rows = text.splitlines()
    assert title == "DAS Guard audit: 27 clusters"
    assert header.split() == ["cluster", "engine", "stream", "rule", "verdict", "reason"]  # one region, one account
    assert len(rows) == 27
    assert "shop-pg-green-abcdef" in {row.split()[0] for row in rows}  # whole, not aur/ora/-po/stg
    assert all(len(row.split()) >= 6 for row in rows), "every row keeps every column on one line"
    assert "│" not in text  # no box drawing in a file or CI log


def test_exit_codes_are_the_same_across_commands(demo_account: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ndefaults:\n  action: stop\n")
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\ndefaults:\n  kms_key: alias/das-guard\n")
    event = str(Path(__file__).resolve().parents[2] / "events/eventbridge/cloudtrail-create-db-cluster.json")
    assert cli("audit", *REGION, "--policy", str(broken)).exit_code == 2  # an invalid policy used as input
    assert cli("audit", *REGION).exit_code == 1  # clusters without the stream they need
    assert cli("policy", "validate", str(broken), "--no-check-keys").exit_code == 1  # the file's own findings
    assert cli("policy", "validate", str(good), "--no-check-keys").exit_code == 0
    assert cli("simulate", event, *REGION, "--policy", str(broken)).exit_code == 2
    assert cli("simulate", event, *REGION).exit_code == 0  # DAS Guard would start it: nothing for a person
    assert cli("policy", "explain", "dev-burst", *REGION).exit_code == 1  # a violation
    assert cli("policy", "explain", "no-such-cluster", *REGION).exit_code == 2
    assert cli("audit", "--format", "xml", *REGION).exit_code == 2


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip().startswith("das-guard ")
    assert result.stdout.split()[1][0].isdigit()


def test_json_output_is_the_same_whatever_the_terminal(demo_account: Any) -> None:
    rows = json.loads(cli("audit", *REGION, "--format", "json").stdout)["clusters"]
    assert len(rows) == 27
    assert {"region", "cluster", "verdict", "reason", "account"} <= set(rows[0])


def test_the_table_on_a_100_column_terminal_fits_and_keeps_names_whole(demo_account: Any, monkeypatch: Any) -> None:
    """A person at an ordinary terminal: every line fits 100 columns, cluster names and verdicts are never broken
    (a reason too long for what is left folds inside its own cell instead), and the failing rows are there to read."""
    screen = io.StringIO()
    terminal = Console(file=screen, width=100, force_terminal=True, color_system=None, markup=False, highlight=False)
    monkeypatch.setattr(common, "out", terminal)
    result = cli("audit", *REGION)
    assert result.exit_code == 1
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 100, "\n".join(line for line in lines if len(line) > 100)
    words = screen.getvalue().split()
    whole = ("shop-pg-green-abcdef", "dev-burst", "orders-pg-clone", "mysql", "3.05.2", "regulated-data")
    for name in whole:
        assert name in words, f"{name} broken across lines"
    assert "Violation" in words
