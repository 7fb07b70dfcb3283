"""AWS Security Hub findings: one per Aurora cluster, in ASFF, imported by the account that owns the cluster.

Why this shape:
- **One finding per cluster, for ever**: the Id is built from the region and the DbClusterResourceId, which stays
  with the cluster through renames and blue/green switchovers, so every decision about a cluster upserts the same
  finding instead of piling up new ones.
- **Imported only when its state changes** (compliance, outcome, reason, stream): the fingerprint of the last
  import is kept in the state table (`finding#<resource id>`), so an account with a thousand compliant clusters
  does not import a thousand findings a day. The sweep re-imports the failing ones (Security Hub archives findings
  nobody updates within 90 days, and a failing cluster must stay visible) and archives the findings of clusters
  that no longer exist.
- **Never fails a decision**: a refused or failed import is logged and counted (`FindingsFailed`); the decision,
  its log line, metric and alert stand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ..model import Decision, FindingRecord, Outcome
from ..reasons import ASFF_STATUS, Compliance, verdict
from .channels import SweepReport

SCHEMA_VERSION = "2018-10-08"
GENERATOR = "das-guard/database-activity-streams"
FINDING_TYPE = "Software and Configuration Checks/AWS Security Best Practices/Database Activity Streams"
BATCH = 100  # BatchImportFindings takes at most 100 findings per call


def finding_id(region: str, resource_id: str) -> str:
    return f"das-guard/{region}/{resource_id}"


def product_arn(partition: str, region: str, account: str) -> str:
    """The account's own default product: a finding about its own cluster (Security Hub refuses other accounts')."""
    return f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"


def finding(decision: Decision, *, account: str, region: str, now: datetime) -> dict[str, Any] | None:
    """The ASFF finding for a decision about a cluster, or None when the decision is no verdict on one cluster's audit
    (catalogue: compliance None or not-applicable). Compliance and severity come from the catalogue (reasons.py);
    severity goes in FindingProviderFields, the field providers own (Severity at the top is the customer's)."""
    judged = verdict(decision)
    if judged.compliance in (None, Compliance.NOT_APPLICABLE) or not decision.resource_id or not decision.cluster_arn:
        return None
    partition = decision.cluster_arn.split(":")[1]  # aws, aws-cn, aws-us-gov: the cluster's own
    stream = decision.stream or {}
    title = f"Aurora cluster {decision.cluster_id}: {decision.outcome.value} ({decision.reason})"
    at = _asff_time(now)
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(region, decision.resource_id),
        "ProductArn": product_arn(partition, region, account),
        "GeneratorId": GENERATOR,
        "AwsAccountId": account,
        "Types": [FINDING_TYPE],
        "CreatedAt": at,
        "UpdatedAt": at,
        "FindingProviderFields": {"Severity": {"Label": judged.severity.value}, "Types": [FINDING_TYPE]},
        "Title": title[:256],
        "Description": (decision.detail or judged.meaning or title)[:1024],
        "Remediation": {"Recommendation": {"Text": (judged.fix or "No action needed.")[:512]}},
        "Compliance": {
            "Status": ASFF_STATUS[judged.compliance],
            "StatusReasons": [{"ReasonCode": decision.reason[:64], "Description": judged.meaning[:2048]}],
        },
        "RecordState": "ACTIVE",
        "ProductFields": {
            "das-guard/outcome": decision.outcome.value,
            "das-guard/reason": decision.reason,
            "das-guard/compliance": judged.compliance.value,
            "das-guard/rule": decision.rule or "-",
        },
        "Resources": [
            {
                "Type": "AwsRdsDbCluster",
                "Id": decision.cluster_arn,
                "Partition": partition,
                "Region": region,
                "Details": {
                    "AwsRdsDbCluster": {
                        "DbClusterIdentifier": decision.cluster_id,
                        "DbClusterResourceId": decision.resource_id,
                        **({"ActivityStreamStatus": str(stream["Status"])} if stream.get("Status") else {}),
                    }
                },
            }
        ],
    }


def fingerprint(asff: Mapping[str, Any]) -> str:
    """What makes a finding worth importing again (not its timestamps)."""
    essence = {k: asff[k] for k in ("Compliance", "FindingProviderFields", "ProductFields", "RecordState")}
    essence["stream"] = asff["Resources"][0]["Details"]["AwsRdsDbCluster"].get("ActivityStreamStatus")
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()[:16]


def archived(asff: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The same finding, archived (its cluster is gone)."""
    return {**asff, "UpdatedAt": _asff_time(now), "RecordState": "ARCHIVED"}


def _asff_time(now: datetime) -> str:
    """ASFF timestamps: ISO 8601 in UTC with a Z."""
    return now.isoformat().replace("+00:00", "Z")


class SecurityHubChannel:
    """The Security Hub channel: collects the findings of one invocation and imports those whose state changed, 100
    per call. A sweep reads every cluster's last import once (one scan) instead of one read per cluster."""

    def __init__(
        self,
        *,
        account: str,
        region: str,
        now: Callable[[], datetime],
        import_findings: Callable[[list[dict[str, Any]]], list[str]],
        last_import: Callable[[str], FindingRecord | None],
        every_import: Callable[[], list[FindingRecord]],
        remember: Callable[[FindingRecord], None],
        forget: Callable[[str], None],
        on_error: Callable[[str, Exception | None, dict[str, Any]], None],
    ) -> None:
        self._account, self._region = account, region
        self._now = now
        self._import = import_findings
        self._last_import = last_import
        self._every_import = every_import
        self._remember = remember
        self._forget = forget
        self._on_error = on_error
        self._pending: dict[str, tuple[dict[str, Any], FindingRecord]] = {}
        self._known: dict[str, FindingRecord] | None = None  # the sweep reads every record once
        self._read_all = False  # tried this sweep (a failed scan is not retried per cluster)

    def take(self, evaluation: Decision, detail: Mapping[str, Any], *, summarised: bool) -> None:
        if summarised:
            self._sweeping()
        self.add(evaluation, refresh_failing=summarised)

    def sweep_done(self, report: SweepReport) -> None:
        self._sweeping()
        self.archive_missing(report.live)  # clusters deleted since their finding was imported

    def flush(self) -> None:
        self.import_pending()

    def _sweeping(self) -> None:
        """A sweep: compare against every record, read in one scan; if the scan fails, each cluster's record is read
        on its own and nothing is archived this time."""
        if self._read_all:
            return
        self._read_all = True
        try:
            self._known = {r.resource_id: r for r in self._every_import()}
        except Exception as err:  # noqa: BLE001 - reported through on_error
            self._on_error("could not read the finding records", err, {})

    def add(self, decision: Decision, *, refresh_failing: bool = False) -> None:
        asff = finding(decision, account=self._account, region=self._region, now=self._now())
        if asff is None or not decision.resource_id:
            return
        resource_id = decision.resource_id
        record = FindingRecord(resource_id, fingerprint(asff), asff["Compliance"]["Status"], asff)
        try:
            previous = self._known.get(resource_id) if self._known is not None else self._last_import(resource_id)
        except Exception as err:  # noqa: BLE001 - reported through on_error; unknown: import (an extra upsert is harmless; a missed one is not)
            self._on_error("could not read the last finding import", err, {"cluster_arn": decision.cluster_arn})
            previous = None
        queued = self._pending.get(asff["Id"])
        failed_before = (previous is not None and previous.compliance == "FAILED") or (
            queued is not None and queued[1].compliance == "FAILED"
        )
        if decision.outcome is Outcome.DEFERRED and failed_before:
            return  # "not ready, look again later" must not cover a Tampered or a Violation (it may cover a pass)
        changed = previous is None or previous.fingerprint != record.fingerprint
        if changed or (refresh_failing and record.compliance == "FAILED"):
            self._pending[asff["Id"]] = (asff, record)

    def archive_missing(self, live_resource_ids: Iterable[str]) -> int:
        """Archive the findings of clusters the sweep no longer sees (deleted). Returns how many."""
        if self._known is None:
            return 0
        live = set(live_resource_ids)
        gone = [r for rid, r in self._known.items() if rid not in live and r.asff.get("RecordState") != "ARCHIVED"]
        for record in gone:
            asff = archived(record.asff, self._now())
            self._pending[asff["Id"]] = (asff, FindingRecord(record.resource_id, "", "ARCHIVED", asff))
        return len(gone)

    def import_pending(self) -> int:
        """Import what is pending; returns how many Security Hub accepted. Never raises."""
        pending, self._pending = list(self._pending.values()), {}
        self._known, self._read_all = None, False  # the sweep's snapshot ends with it; events read what they need
        accepted = 0
        for start in range(0, len(pending), BATCH):
            chunk = pending[start : start + BATCH]
            try:
                refused = set(self._import([asff for asff, _ in chunk]))
            except Exception as err:  # noqa: BLE001 - reported through on_error; the decisions stand; the next change or sweep imports again
                self._on_error("could not import Security Hub findings", err, {"findings": len(chunk)})
                continue
            if refused:
                self._on_error("Security Hub refused findings", None, {"finding_ids": sorted(refused)[:20]})
            for asff, record in chunk:
                if asff["Id"] in refused:
                    continue
                accepted += 1
                try:
                    if record.compliance == "ARCHIVED":
                        self._forget(record.resource_id)
                    else:
                        self._remember(record)
                except Exception as err:  # noqa: BLE001 - reported through on_error; next time it is imported once more: harmless
                    self._on_error("could not record a finding import", err, {"finding_id": asff["Id"]})
        return accepted
