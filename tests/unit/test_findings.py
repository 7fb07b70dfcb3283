"""The ASFF finding DAS Guard imports for a decision: pure mapping, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from das_guard.model import Decision, Outcome
from das_guard.outputs import findings

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
ARN = "arn:aws:rds:eu-west-1:111122223333:cluster:orders-pg"


def decision(outcome: Outcome, reason: str = "R", **fields: Any) -> Decision:
    base: dict[str, Any] = {
        "outcome": outcome,
        "reason": reason,
        "detail": "detail text",
        "cluster_id": "orders-pg",
        "cluster_arn": ARN,
        "resource_id": "cluster-ABC",
        "fix": "do this",
    }
    return Decision(**(base | fields))


def asff(d: Decision) -> dict[str, Any]:
    result = findings.finding(d, account="111122223333", region="eu-west-1", now=NOW)
    assert result is not None
    return result


@pytest.mark.parametrize(
    ("outcome", "reason", "status", "severity"),
    [
        (Outcome.STARTED, "StreamStarted", "WARNING", "INFORMATIONAL"),  # starting: not audited yet
        (Outcome.ALREADY_ACTIVE, "StreamActive", "PASSED", "INFORMATIONAL"),
        (Outcome.ALREADY_ACTIVE, "StreamStarting", "WARNING", "INFORMATIONAL"),
        (Outcome.VIOLATION, "StreamKeyNotDesignated", "FAILED", "HIGH"),
        (Outcome.SCHEDULED, "MaintenanceWindow", "FAILED", "LOW"),  # no stream until the window
        (Outcome.EXEMPT, "ExemptByPolicy", "WARNING", "INFORMATIONAL"),
        (Outcome.WOULD_START, "ReportOnly", "FAILED", "MEDIUM"),
        (Outcome.VIOLATION, "UnsupportedInstanceClass", "FAILED", "HIGH"),
        (Outcome.TAMPERED, "StoppedByUnauthorizedPrincipal", "FAILED", "CRITICAL"),
        (Outcome.TAMPERED, "StoppedByAllowedPrincipal", "WARNING", "MEDIUM"),
    ],
)
def test_compliance_and_severity_follow_the_outcome(outcome: Outcome, reason: str, status: str, severity: str) -> None:
    result = asff(decision(outcome, reason))
    assert (result["Compliance"]["Status"], result["FindingProviderFields"]["Severity"]["Label"]) == (status, severity)
    assert "Severity" not in result, "a provider sets FindingProviderFields; the top-level Severity is the customer's"
    assert result["ProductFields"]["das-guard/outcome"] == outcome.value


def test_the_finding_is_the_account_s_own_about_its_cluster() -> None:
    result = asff(decision(Outcome.VIOLATION, stream={"Status": "stopped"}))
    assert result["Id"] == "das-guard/eu-west-1/cluster-ABC"
    assert result["ProductArn"] == "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
    assert result["AwsAccountId"] == "111122223333"
    assert (result["CreatedAt"], result["UpdatedAt"]) == ("2030-05-06T07:08:09Z", "2030-05-06T07:08:09Z")
    [resource] = result["Resources"]
    assert (resource["Type"], resource["Id"], resource["Partition"]) == ("AwsRdsDbCluster", ARN, "aws")
    assert resource["Details"]["AwsRdsDbCluster"] == {
        "DbClusterIdentifier": "orders-pg",
        "DbClusterResourceId": "cluster-ABC",
        "ActivityStreamStatus": "stopped",
    }
    assert result["Remediation"]["Recommendation"]["Text"] == "do this"


def test_a_china_cluster_s_finding_is_in_its_partition() -> None:
    d = decision(Outcome.VIOLATION, cluster_arn="arn:aws-cn:rds:cn-north-1:111122223333:cluster:x")
    result = findings.finding(d, account="111122223333", region="cn-north-1", now=NOW)
    assert result is not None
    assert result["ProductArn"].startswith("arn:aws-cn:securityhub:cn-north-1:")


@pytest.mark.parametrize("outcome", [Outcome.NOT_APPLICABLE, Outcome.IGNORED])
def test_no_finding_for_what_is_not_an_aurora_audit(outcome: Outcome) -> None:
    assert findings.finding(decision(outcome), account="1", region="r", now=NOW) is None
    assert findings.finding(decision(Outcome.VIOLATION, resource_id=""), account="1", region="r", now=NOW) is None


def test_fields_security_hub_limits_are_cut_to_size() -> None:
    result = asff(decision(Outcome.VIOLATION, detail="x" * 5000, fix="y" * 5000, cluster_id="c" * 300))
    assert (len(result["Description"]), len(result["Remediation"]["Recommendation"]["Text"])) == (1024, 512)
    assert len(result["Title"]) == 256


def test_the_fingerprint_ignores_time_and_sees_state() -> None:
    first = asff(decision(Outcome.VIOLATION, "A"))
    later = findings.finding(
        decision(Outcome.VIOLATION, "A"), account="111122223333", region="eu-west-1", now=NOW.replace(year=2031)
    )
    assert later is not None
    assert findings.fingerprint(first) == findings.fingerprint(later)
    assert findings.fingerprint(first) != findings.fingerprint(asff(decision(Outcome.VIOLATION, "B")))
    assert findings.archived(first, NOW)["RecordState"] == "ARCHIVED"
