"""Audit rows an auditor can file as evidence, and the self-contained HTML report."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3

from das_guard.reasons import Compliance
from das_guard_cli import audit, report
from das_guard_cli.audit import AuditRow

from ..evidence_validators import asff_problems, ocsf_problems
from .test_cli import REGION, cli, demo_account

__all__ = ["demo_account"]
EVIDENCE = ("account", "region", "cluster_arn", "checked_at", "policy", "rule", "verdict", "reason", "fix", "warnings")


def test_every_row_carries_what_an_auditor_files(demo_account: Any) -> None:
    rows = json.loads(cli("audit", *REGION, "--format", "json").stdout)["clusters"]
    assert len(rows) == 27
    for row in rows:
        assert set(EVIDENCE) <= set(row)
        assert row["account"] == "123456789012"
        assert row["cluster_arn"] == f"arn:aws:rds:us-east-1:123456789012:cluster:{row['cluster']}"
        assert datetime.fromisoformat(row["checked_at"]).tzinfo is not None
        # the parameter, the version that decided and the digest of its text
        assert row["policy"] == f"/das-guard/policy v1 sha256:{deployed_digest()}"
        assert row["das_guard_version"] == metadata.version("das-guard")
    [burst] = [r for r in rows if r["cluster"] == "dev-burst"]
    assert burst["verdict"] == "Violation"
    assert burst["fix"] != "-"  # the fix text, not only the reason
    header = next(csv.reader(io.StringIO(cli("audit", *REGION, "--format", "csv").stdout)))
    assert set(EVIDENCE) <= set(header)


def deployed_digest() -> str:
    text = boto3.client("ssm").get_parameter(Name="/das-guard/policy")["Parameter"]["Value"]
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_every_format_carries_the_scope_version_and_policy(demo_account: Any, tmp_path: Path) -> None:
    """One run, every format into a directory; each file says which account and regions were audited, what was
    not and why, the policy and its digest, the das-guard version and when."""
    result = cli("audit", *REGION, *(a for f in audit.FORMATS for a in ("-f", f)), "--output", str(tmp_path))
    assert result.exit_code == 1, result.stderr
    files = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    assert sorted(files) == sorted(f"das-guard-audit.{audit.FORMATS[f].extension}" for f in audit.FORMATS)
    policy = f"/das-guard/policy v1 sha256:{deployed_digest()}"
    version = metadata.version("das-guard")
    scope = json.loads(files["das-guard-audit.json"])["scope"]
    assert (scope["accounts"], scope["regions"], scope["policies"]) == (["123456789012"], ["us-east-1"], [policy])
    assert (scope["das_guard_version"], scope["not_audited"]) == (version, [])
    assert datetime.fromisoformat(scope["generated_at"]).tzinfo is not None
    for name in ("das-guard-audit.txt", "das-guard-audit.md", "das-guard-audit.html"):
        text = files[name]
        assert all(part in text for part in ("123456789012", "us-east-1", policy, version)), name
    assert {r["das_guard_version"] for r in csv.DictReader(io.StringIO(files["das-guard-audit.csv"]))} == {version}
    asff = json.loads(files["das-guard-audit.asff.json"])
    assert {f["ProductFields"]["das-guard/version"] for f in asff} == {version}
    assert {f["ProductFields"]["das-guard/policy"] for f in asff} == {policy}
    ocsf = json.loads(files["das-guard-audit.ocsf.json"])
    assert {e["metadata"]["product"]["version"] for e in ocsf} == {version}
    assert all(e["unmapped"]["scope"]["accounts"] == ["123456789012"] for e in ocsf)
    assert asff_problems(asff) == ""
    assert all(ocsf_problems(event) == [] for event in ocsf)


def test_what_was_not_audited_is_in_every_format(demo_account: Any, tmp_path: Path) -> None:
    """--all-regions: the regions without DAS Guard are in the scope, with why, and in the rows of csv and markdown
    (a reader who only loads the rows still sees them)."""
    result = cli("audit", *REGION, "--all-regions", "-f", "json", "-f", "csv", "-f", "html", "-o", str(tmp_path))
    assert result.exit_code == 1
    scope = json.loads((tmp_path / "das-guard-audit.json").read_text())["scope"]
    skipped = {s["region"]: s["why"] for s in scope["not_audited"]}
    assert "ap-southeast-2" in skipped
    assert skipped["ap-southeast-2"] == "DAS Guard is not deployed here (no policy parameter /das-guard/policy)"
    assert "ap-southeast-2" not in scope["regions"]
    assert "us-east-1" in scope["regions"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "das-guard-audit.csv").read_text())))
    gaps = {r["region"]: r for r in rows if r["verdict"] == audit.NOT_AUDITED}
    assert set(gaps) == set(skipped)
    assert gaps["ap-southeast-2"]["compliance"] == "fail"
    page = (tmp_path / "das-guard-audit.html").read_text()
    parsed = _Report()
    parsed.feed(page)
    [not_audited] = [t for t in parsed.tables if t[0] == ["account", "region", "why"]]
    assert {r[1] for r in not_audited[1:]} == set(skipped)


def test_failing_only_keeps_the_failing_clusters_and_says_so(demo_account: Any) -> None:
    every = json.loads(cli("audit", *REGION, "-f", "json").stdout)["clusters"]
    result = cli("audit", *REGION, "-f", "json", "--failing-only")
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["scope"]["failing_only"] is True
    assert [r["cluster"] for r in document["clusters"]] == [r["cluster"] for r in every if r["compliance"] == "fail"]
    assert len(document["clusters"]) == 15


def test_several_formats_need_a_directory(demo_account: Any) -> None:
    result = cli("audit", *REGION, "-f", "json", "-f", "csv")
    assert result.exit_code == 2
    assert "several --format values need --output DIR" in result.stderr
    unknown = cli("audit", *REGION, "-f", "xml")
    assert unknown.exit_code == 2
    assert "--format must be one of table, json, csv, markdown, html, asff, ocsf" in unknown.stderr


def test_a_local_policy_file_is_named_with_its_digest(demo_account: Any, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\ndefaults:\n  kms_key: alias/das-guard\n")
    rows = json.loads(cli("audit", *REGION, "--policy", str(path), "--format", "json").stdout)["clusters"]
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


def test_the_html_report_is_one_file_an_auditor_can_file(demo_account: Any) -> None:
    result = cli("audit", *REGION, "--format", "html")
    assert result.exit_code == 1
    parsed = _Report()
    parsed.feed(result.stdout)
    assert (parsed.scripts, parsed.external) == (0, 0)  # one self-contained file
    legend, by_verdict, by_rule, by_account, failing, clusters = parsed.tables
    assert [row[0] for row in legend[1:]] == [state.value for state in Compliance]  # every state explained
    assert by_verdict[0] == ["verdict", "clusters", "failing"]
    assert sum(int(r[1]) for r in by_verdict[1:]) == 27
    assert sum(int(r[1]) for r in by_rule[1:]) == 27
    assert by_account[1][:2] == ["123456789012", "27"]
    assert failing[0] == ["cluster", "where", "verdict", "why", "fix"]
    assert len(failing) == 1 + 15
    for row in failing[1:]:  # every failing row: its ARN, why and a fix
        assert ":cluster:" in row[0], row
        assert row[3] not in ("", "-"), row
        assert row[4] not in ("", "-"), row
    assert len(clusters) == 1 + 27
    compliance = [r[8] for r in clusters[1:]]
    assert compliance[:15] == ["fail"] * 15  # failing first
    assert "fail" not in compliance[15:]
    assert "<h1>DAS Guard audit: 27 clusters, 15 without the stream the policy requires</h1>" in result.stdout
    assert "@media print" in result.stdout


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
        compliance="fail",
        cluster_arn='arn:"x',
        checked_at="t",
    )
    scope = audit.Scope("t", "1", ("1",), ("us-east-1",), ("<i>p</i>",), (audit.NotAuditedScope("1", "x", "<u>"),))
    page = report.html([row], scope)
    assert "<i>" not in page
    assert "<u>" not in page
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "title='arn:&quot;x'" in page


def test_findings_for_one_account_pass_their_consumers_validators(demo_account: Any) -> None:
    """`--format asff|ocsf` for one account (no --org): Security Hub's BatchImportFindings shape and OCSF 1.5.0, with
    the same compliance as the rows; exit 1 because clusters fail."""
    rows = {r["cluster"]: r for r in json.loads(cli("audit", *REGION, "--format", "json").stdout)["clusters"]}
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
