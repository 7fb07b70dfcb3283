"""The README's first command: the demo runs the real handler against moto's server and shows what it did, saying
each phase on a terminal while the person waits."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

from demos import demo
from demos.progress import Progress
from localaws import scenario

DEMO_OUTPUT = Path(__file__).with_name("demo.golden.txt")


def test_demo_reaches_every_expected_outcome_and_shows_it(tmp_path: Path) -> None:
    out, terminal = io.StringIO(), io.StringIO()
    result = demo.run(tmp_path / "das-guard.log", out=out, progress=Progress(terminal))
    text = out.getvalue()
    said = terminal.getvalue().splitlines()
    assert len(said) == 3, "a line per phase, on the terminal (stderr), none in the result"
    assert said[0].startswith("... starting a local AWS")
    assert said[-1].startswith("... database activity")
    assert not [line for line in text.splitlines() if line.startswith("... ")]

    expected = {
        name: [e.cluster if e.reason != "StandaloneInstance" else "-", e.outcome, e.reason]
        for name, e in scenario.DEMO_EXPECTATIONS.items()
    }
    assert {row[0]: row[1:4] for row in result["rows"]} == expected
    # a record written as Aurora writes it (encrypted, a heartbeat first) read back by `das-guard records`
    assert [(e["dbUserName"], e["command"]) for e in result["records"]] == [
        ("bob", "SELECT"),
        ("carol", "UPDATE"),
        ("bob", "GRANT"),
    ]
    assert "7) records read back: das-guard records vault-pg (3 event(s); the heartbeat dropped)" in text
    # the policy asks regulated-data to archive its records: one archive per regulated stream, and what arrives
    # after it exists is read back from the Object Lock bucket
    assert "vault-pg" in result["archived"]
    assert [(e["dbUserName"], e["command"]) for e in result["from_archive"]] == [("bob", "SELECT")]

    # streams went from stopped to started where the policy enforces, the tampered one was restarted, and the
    # one stopped by the break-glass role stayed stopped
    changed = {
        c: (result["before"][c], result["after"][c])
        for c in result["before"]
        if result["before"][c] != result["after"][c]
    }
    started = ["orders-pg", "billing-mysql", "orders-pg-dr", "payments-pg", "ledger-pg"]
    started += ["catalog-pg", "search-pg", "geo-pg", "crm-pg"]  # fixed or renamed: evaluated at once
    started += ["shop-pg-green-abcdef", "cart-pg", "pay-pg"]  # blue/green: green audited before / at once after
    assert changed == {
        **dict.fromkeys(started, ("stopped", "started")),
        "reports-pg": ("stopping", "started"),
        "warehouse-pg": ("stopping", "stopped"),
    }
    assert result["after"]["audit-pg"] == "started"

    # the sweep saw every cluster, started nothing new, and kept the break-glass hold
    sweep = result["sweep"]
    assert (sweep["clusters_seen"], sweep["started"], sweep["violations"]) == (27, 0, 3)
    assert sweep["reasons"]["Exempt:BreakGlassHold"] == 1

    # the deferred cluster was picked up by its delayed retry
    retried = [d for d in result["decisions"] if d.get("cluster_id") == "payments-pg" and d["trigger"] != "Sweep"]
    assert [d["outcome"] for d in retried] == ["Deferred", "Started"]

    subjects = sorted(a["Subject"] for a in result["alerts"])
    assert [s for s in subjects if "Violation" in s] == [
        f"DAS Guard Violation: {c} ({r}) in 123456789012/us-east-1"
        for c, r in (
            ("dev-burst", "UnsupportedInstanceClass"),
            ("legacy-import", "UnsupportedEngineVersion"),
            ("sessions-sls", "UnsupportedEngineMode"),
        )
    ]
    assert "DAS Guard HIGH: activity stream STOPPED on reports-pg by DBA/bob in 123456789012/us-east-1" in subjects
    assert "DAS Guard notice: allowed stop on warehouse-pg by BreakGlass/carol in 123456789012/us-east-1" in subjects
    assert "DAS Guard: exemption expired for legacy-import in 123456789012/us-east-1" in subjects
    [digest] = [
        a for a in result["alerts"] if a["Subject"].startswith("DAS Guard sweep") and "demo-sweep" in a["Message"]
    ]
    assert digest["Subject"] == "DAS Guard sweep: 3 violation(s), 0 exemption(s) expiring in 123456789012/us-east-1"
    assert "legacy-import: UnsupportedEngineVersion" in digest["Message"]
    assert result["dlq"] == 0

    for fragment in (
        "ActivityStreamStatus of every cluster",
        "UnsupportedEngineMode",
        "ModeDowngraded",
        "payments-pg",
        "reconciliation sweep: 27 clusters",
        "Dead-letter queue: 0",
    ):
        assert fragment in text
    log_lines = [
        json.loads(line) for line in (tmp_path / "das-guard.log").read_text().splitlines() if line.startswith("{")
    ]
    assert any("_aws" in line for line in log_lines), "EMF metrics are written with the logs"

    # Word for word what the README's first command shows (but the server's port and the log's path), so that a
    # change of code layout cannot change it unnoticed. DAS_GUARD_WRITE_BEHAVIOUR=1 accepts a change on purpose.
    shown = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text.replace(str(tmp_path), "<dir>"))
    if os.environ.get("DAS_GUARD_WRITE_BEHAVIOUR"):
        DEMO_OUTPUT.write_text(shown, encoding="utf-8")
    assert shown == DEMO_OUTPUT.read_text(encoding="utf-8")
