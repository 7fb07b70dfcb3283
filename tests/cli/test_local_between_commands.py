"""`das-guard local start`: a local AWS that lasts between commands, so `policy push --local` then
`audit --local` shows the pushed policy (real processes: the commands as a person runs them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def das_guard(tmp_path: Path) -> Iterator[Run]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DAS_GUARD_"))}
    env |= {"DAS_GUARD_LOCAL_STATE": str(tmp_path / "local.json"), "AWS_DEFAULT_REGION": "us-east-1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from das_guard_cli.main import main; main()", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False)  # noqa: S603

    yield run
    run("local", "stop")


def test_a_pushed_policy_is_seen_by_the_next_command(das_guard: Run, tmp_path: Path) -> None:
    assert das_guard("local", "status").returncode == 1
    started = das_guard("local", "start")
    assert started.returncode == 0, started.stderr
    assert "local AWS running at http://127.0.0.1:" in started.stdout
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "version: 1\ndefaults:\n  kms_key: alias/das-guard\n"
        "rules:\n  - name: pushed-rule\n    match: {tags: {team: orders}}\n"
    )
    pushed = das_guard("policy", "push", str(policy), "--local", "--yes")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    audited = das_guard("audit", "--local", "--format", "json")
    rows = json.loads(audited.stdout)["clusters"]
    assert "pushed-rule" in {r["rule"] for r in rows}
    assert {r["policy"].split(" sha256:")[0] for r in rows} == {"/das-guard/policy v2"}
    assert das_guard("local", "status").returncode == 0
    stopped = das_guard("local", "stop")
    assert "stopped the local AWS" in stopped.stdout
    assert das_guard("local", "status").returncode == 1
    assert not (tmp_path / "local.json").exists()


def test_the_local_aws_is_found_from_any_directory_with_no_aws_configuration(tmp_path: Path) -> None:
    """After `local start`, every `--local` command works from another directory and another shell, with no region
    and no variable set; `local status` and `local stop` find the server too (its state is per user)."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DAS_GUARD_", "XDG_"))} | {
        "HOME": str(home)
    }
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()

    def run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from das_guard_cli.main import main; main()", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=where, timeout=180, check=False)  # noqa: S603

    try:
        assert run(here, "local", "start").returncode == 0
        assert run(elsewhere, "local", "status").returncode == 0
        audited = run(elsewhere, "audit", "--local", "--format", "json")
        assert audited.returncode in (0, 1), audited.stderr
        assert len(json.loads(audited.stdout)["clusters"]) == 27
        assert (home / ".local" / "state" / "das-guard" / "local.json").exists()
    finally:
        assert "stopped the local AWS" in run(elsewhere, "local", "stop").stdout
