"""checkov (from PyPI, in its own venv) over every template DAS Guard ships - the one SAM deploys, the StackSet's member
template, the organisation's central stack and its artifact bucket: no failed check, every skip justified beside
its resource."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from .conftest import ROOT, installed_tool


def checkov() -> str:
    return installed_tool("DAS_GUARD_CHECKOV", ROOT / ".venv-tools" / "bin" / "checkov", "checkov")


SHIPPED = ("single-account", "member", "central", "artifact-bucket")


@pytest.fixture(scope="module")
def scans(transformed: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One checkov run over the four templates (checkov starts slowly), its results split per template."""
    from org import package as org_package  # noqa: PLC0415 - builds the member template (a zip) only when scanned

    folder = tmp_path_factory.mktemp("scan")
    files = {
        "single-account": folder / "single-account.json",
        "member": folder / "member.json",
        "central": ROOT / "org" / "central.yaml",
        "artifact-bucket": ROOT / "org" / "artifact-bucket.yaml",
    }
    files["single-account"].write_text(json.dumps(transformed), encoding="utf-8")
    files["member"].write_text(org_package.build("1.0.0").template_body, encoding="utf-8")
    command = [checkov(), "--framework", "cloudformation", "-o", "json", "--skip-download"]
    for path in files.values():
        command += ["-f", str(path)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert completed.stdout, completed.stderr
    report = json.loads(completed.stdout)
    report = report if isinstance(report, dict) else report[0]
    split: dict[str, dict[str, Any]] = {name: {"passed": [], "failed": [], "skipped": []} for name in files}
    for kind in ("passed", "failed", "skipped"):
        for check in report["results"][f"{kind}_checks"]:
            [name] = [n for n, path in files.items() if check["file_path"].endswith(path.name)]
            split[name][kind].append(check)
    return split


@pytest.mark.parametrize("shipped", SHIPPED)
def test_no_failed_checks(scans: dict[str, dict[str, Any]], shipped: str) -> None:
    scan = scans[shipped]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in scan["failed"]]
    assert failed == []
    assert len(scan["passed"]) >= (30 if shipped in ("single-account", "member") else 5), "it really looked"


@pytest.mark.parametrize("shipped", SHIPPED)
def test_every_skip_is_justified_next_to_its_resource(scans: dict[str, dict[str, Any]], shipped: str) -> None:
    skipped = scans[shipped]["skipped"]
    # the records archive bucket (issue 25): access logging (CKV_AWS_18), cross-region replication (CKV_AWS_144) and
    # KMS default encryption (CKV_AWS_145); the central results log's key (CKV_AWS_158) - each justified beside it
    assert {c["check_id"] for c in skipped} <= {
        "CKV_AWS_27",
        "CKV_AWS_116",
        "CKV_AWS_117",
        "CKV_AWS_173",
        "CKV_AWS_18",
        "CKV_AWS_144",
        "CKV_AWS_145",
        "CKV_AWS_158",
    }
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "")) > 40, check["check_id"]
