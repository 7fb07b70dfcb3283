"""OCSF Compliance Finding (class 2003) for one decision, for tools that ingest OCSF (Security Lake, SIEMs).

The version declared is the one the consumer's own validator implements (`py-ocsf-models`, Prowler's OCSF models,
which the suite validates every event with): OCSF 1.5.0. The `cloud` profile is declared in `metadata.profiles`
because the event carries a `cloud` object. Compliance and severity come from the catalogue (reasons.py), like
every other output; the ASFF finding (findings.py) supplies the identity (same Id, title and resource).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..model import Decision
from ..reasons import OCSF_SEVERITY, OCSF_STATUS, verdict
from .findings import finding

OCSF_VERSION = "1.5.0"
PROFILES = ("cloud",)
COMPLIANCE_FINDING = 2003
FINDINGS_CATEGORY = 2
ACTIVITY_CREATE = 1
CONTROL = "DAS Guard: Aurora database activity stream started with the policy's key and mode"
STANDARD = "DAS Guard policy"


def ocsf_finding(
    decision: Decision, *, account: str, region: str, now: datetime, version: str = "-"
) -> dict[str, Any] | None:
    """The OCSF event for a decision about one cluster's audit, or None (no verdict: same rule as ASFF)."""
    base = finding(decision, account=account, region=region, now=now)
    if base is None:
        return None
    judged = verdict(decision)
    assert judged.compliance is not None  # finding() returns None otherwise
    status_id, status = OCSF_STATUS[judged.compliance]
    time = int(now.timestamp() * 1000)
    return {
        "category_uid": FINDINGS_CATEGORY,
        "class_uid": COMPLIANCE_FINDING,
        "activity_id": ACTIVITY_CREATE,
        "type_uid": COMPLIANCE_FINDING * 100 + ACTIVITY_CREATE,
        "time": time,
        "severity_id": OCSF_SEVERITY[judged.severity],
        "severity": judged.severity.value.capitalize(),
        "status_id": 1,
        "status": "New",
        "message": base["Title"],
        "compliance": {
            "control": CONTROL,
            "standards": [STANDARD],
            "status_id": status_id,
            "desc": judged.meaning,
            "checks": [{"uid": decision.reason, "name": decision.reason, "status": status, "status_id": status_id}],
        },
        "finding_info": {
            "uid": base["Id"],
            "title": base["Title"],
            "desc": base["Description"],
            "created_time": time,
            "types": [base["Types"][0]],
        },
        "remediation": {"desc": base["Remediation"]["Recommendation"]["Text"]},
        "resources": [
            {
                "uid": decision.cluster_arn,
                "name": decision.cluster_id,
                "type": "AwsRdsDbCluster",
                "region": region,
                "cloud_partition": base["Resources"][0]["Partition"],
                "data": {"resource_id": decision.resource_id, "rule": decision.rule or "-"},
            }
        ],
        "cloud": {"provider": "AWS", "region": region, "account": {"uid": account, "type_id": 10, "name": account}},
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": list(PROFILES),
            "product": {"name": "DAS Guard", "vendor_name": "DAS Guard", "version": version},
            "uid": base["Id"],
        },
        "unmapped": {
            "outcome": decision.outcome.value,
            "reason": decision.reason,
            "compliance": judged.compliance.value,
            "rule": decision.rule or "-",
        },
    }
