"""Audit rows an auditor can file as evidence, and the self-contained HTML report."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from das_guard_cli import report
from das_guard_cli.audit import AuditRow

from ..evidence_validators import asff_problems, ocsf_problems
from .test_cli import REGION, cli, demo_account

__all__ = ["demo_account"]
EVIDENCE = ("account", "region", "cluster_arn", "checked_at", "policy", "rule", "verdict", "reason", "fix", "warnings")


def test_every_row_carries_what_an_auditor_files(demo_account: Any) -> None:
    rows = json.loads(cli("audit", *REGION, "--format", "json").stdout)
    assert len(rows) == 27
    for row in rows:
        assert set(EVIDENCE) <= set(row)
        assert row["account"] == "123456789012"
        assert row["cluster_arn"] == f"arn:aws:rds:us-east-1:123456789012:cluster:{row['cluster']}"
        assert datetime.fromisoformat(row["checked_at"]).tzinfo is not None
        assert row["policy"] == "/das-guard/policy v1"  # the parameter and the version that decided
    [burst] = [r for r in rows if r["cluster"] == "dev-burst"]
    assert burst["verdict"] == "Violation"
    assert burst["fix"] != "-"  # the fix text, not only the reason
    header = next(csv.reader(io.StringIO(cli("audit", *REGION, "--format", "csv").stdout)))
    assert set(EVIDENCE) <= set(header)


def test_a_local_policy_file_is_named_with_its_digest(demo_account: Any, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\ndefaults:\n  kms_key: alias/das-guard\n")
    rows = json.loads(cli("audit", *REGION, "--policy", str(path), "--format", "json").stdout)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert {r["policy"] for r in rows} == {f"{path} sha256:{digest}"}


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.scripts = 0
        self.external = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script":
            self.scripts += 1
        if any(k in ("src", "href") for k, _ in attrs):
            self.external += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_the_html_report_summarises_and_lists_every_cluster(demo_account: Any) -> None:
    result = cli("audit", *REGION, "--format", "html")
    assert result.exit_code == 1
    parsed = _Report()
    parsed.feed(result.stdout)
    assert (parsed.scripts, parsed.external) == (0, 0)  # one self-contained file
    by_verdict, by_rule, by_account, clusters = parsed.tables
    assert by_verdict[0] == ["verdict", "clusters", "failing"]
    assert sum(int(r[1]) for r in by_verdict[1:]) == 27
    assert sum(int(r[1]) for r in by_rule[1:]) == 27
    assert by_account[1][:2] == ["123456789012", "27"]
    assert len(clusters) == 1 + 27
    assert "<h1>DAS Guard audit: 27 clusters, 15 without the stream the policy requires</h1>" in result.stdout


def test_text_from_aws_or_the_policy_cannot_inject_markup() -> None:
    row = AuditRow(
        "us-east-1",
        "x",
        "aurora-postgresql",
        "16.1",
        "-",
        "stopped",
        "<b>rule</b>",
        "Violation",
        "R",
        "<script>alert(1)</script>",
        fix="<img src=x onerror=alert(1)>",
        cluster_arn='arn:"x',
        checked_at="t",
    )
    page = report.html([row])
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'title="arn:&quot;x"' in page


def test_findings_for_one_account_pass_their_consumers_validators(demo_account: Any) -> None:
    """`--format asff|ocsf` for one account (no --org): Security Hub's BatchImportFindings shape and OCSF 1.5.0, with
    the same compliance as the rows; exit 1 because clusters fail."""
    rows = {r["cluster"]: r for r in json.loads(cli("audit", *REGION, "--format", "json").stdout)}
    asff_result = cli("audit", *REGION, "--format", "asff")
    ocsf_result = cli("audit", *REGION, "--format", "ocsf")
    assert (asff_result.exit_code, ocsf_result.exit_code) == (1, 1)
    asff, ocsf = json.loads(asff_result.stdout), json.loads(ocsf_result.stdout)
    assert asff_problems(asff) == ""
    assert all(ocsf_problems(event) == [] for event in ocsf)
    status = {"pass": "PASSED", "fail": "FAILED", "pending": "WARNING", "exempt": "WARNING"}
    by_cluster = {f["Resources"][0]["Details"]["AwsRdsDbCluster"]["DbClusterIdentifier"]: f for f in asff}
    assert by_cluster, "every Aurora cluster with a verdict gets a finding"
    for name, found in by_cluster.items():
        assert found["Compliance"]["Status"] == status[rows[name]["compliance"]], name
        assert found["AwsAccountId"] == "123456789012"
    assert {e["resources"][0]["name"] for e in ocsf} == set(by_cluster)
    assert by_cluster["dev-burst"]["Compliance"]["Status"] == "FAILED"
    assert [r for r in rows.values() if r["compliance"] == "pass"], "the demo has audited clusters too"
