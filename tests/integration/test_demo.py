"""The README's first command: the demo runs the real handler against moto's server and shows what it did."""

from __future__ import annotations

import io
import json
from pathlib import Path

from localaws import demo, scenario


def test_demo_reaches_every_expected_outcome_and_shows_it(tmp_path: Path) -> None:
    out = io.StringIO()
    result = demo.run(tmp_path / "das-guard.log", out=out)
    text = out.getvalue()

    expected = {
        name: [e.cluster if e.reason != "StandaloneInstance" else "-", e.outcome, e.reason]
        for name, e in scenario.DEMO_EXPECTATIONS.items()
    }
    assert {row[0]: row[1:4] for row in result["rows"]} == expected

    # streams went from stopped to started where the policy enforces, and nowhere else
    changed = {
        c: (result["before"][c][1], result["after"][c][1])
        for c in result["before"]
        if result["before"][c] != result["after"][c]
    }
    assert changed == dict.fromkeys(
        ("orders-pg", "billing-mysql", "orders-pg-dr", "payments-pg"), ("stopped", "started")
    )
    assert result["after"]["audit-pg"][1] == "started"

    # the deferred cluster was picked up by its delayed retry
    retried = [d for d in result["decisions"] if d.get("cluster_id") == "payments-pg"]
    assert [d["outcome"] for d in retried] == ["Deferred", "Started"]

    assert sorted(a["Subject"].split(":")[1].split()[0] for a in result["alerts"]) == [
        "dev-burst",
        "legacy-import",
        "sessions-sls",
    ]
    assert result["dlq"] == 0

    for fragment in (
        "ActivityStreamStatus of every cluster",
        "UnsupportedEngineMode",
        "ModeDowngraded",
        "payments-pg",
        "3 alert(s)",
        "Dead-letter queue: 0",
    ):
        assert fragment in text
    log_lines = [
        json.loads(line) for line in (tmp_path / "das-guard.log").read_text().splitlines() if line.startswith("{")
    ]
    assert any("_aws" in line for line in log_lines), "EMF metrics are written with the logs"
