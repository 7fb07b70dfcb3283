"""docs/contributing.md's scenario script ("Replaying a scenario") runs as printed, and prints what the page says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_block(section: str) -> str:
    text = (ROOT / "docs" / "contributing.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", body, re.DOTALL)
    assert match, f"no python block under {section!r}"
    return match.group(1)


def test_the_replay_scenario_in_the_readme_runs_and_says_what_the_readme_says() -> None:
    script = readme_block("Replaying a scenario")
    assert len(script.strip().splitlines()) <= 12, "the page promises a scenario in about ten lines"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script, "docs/contributing.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own docs
    outcomes, status, heartbeat, *subjects = out.getvalue().splitlines()
    assert outcomes == str(["Started", "Tampered", "Deferred", "Tampered", "Deferred", "Started"])
    assert status == "starting"
    assert heartbeat.startswith("DAS Guard sweep: all is well in 123456789012/us-east-1")
    assert len(subjects) == 2
    assert all(s.startswith("DAS Guard HIGH: activity stream STOPPED on orders-pg") for s in subjects)
    assert any("by DBA/bob" in s for s in subjects)
