"""One compliance verdict, everywhere: every catalogued reason, walked through every output, says the same thing,
and the evidence formats pass their consumers' own validators.

- the log line and result event (report.result_detail / log_fields), the ASFF finding (Security Hub's
  BatchImportFindings shape, validated by botocore's own parameter validator), the OCSF event (validated by
  py-ocsf-models, which Prowler uses), and every `das-guard audit` format (table rows, json, csv, markdown, html);
- a cluster passes only when its stream is started with the rule's key and mode and that key is enabled, not
  pending deletion, and describable by DAS Guard (a property over every combination);
- every reason code the code records is catalogued (a new reason is one row in reasons.py, or this fails).
"""

from __future__ import annotations

import ast
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ocsf_models import OCSF_VERSION as MODELS_OCSF_VERSION

from das_guard import reasons
from das_guard.decision.decide import KEY_GOING_AWAY, Inputs, decide
from das_guard.model import Decision, KeyLookup, Outcome
from das_guard.outputs.alerts import Where, render_alert
from das_guard.outputs.findings import finding
from das_guard.outputs.ocsf import OCSF_VERSION, ocsf_finding
from das_guard.outputs.report import log_fields, result_detail
from das_guard.policy import parse_policy
from das_guard.reasons import CATALOGUE, Compliance, verdict
from das_guard_cli import audit
from das_guard_cli.outcomes_page import render

from ..evidence_validators import asff_problems, ocsf_problems
from .factories import KEY_ARN, cluster, lookup

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:c1"
WHERE = Where(ACCOUNT, REGION, "/das-guard/policy")
DECISIONS = sorted(code for code, row in CATALOGUE.items() if row.outcome is not None)
ROOT = Path(__file__).resolve().parents[2]


def decision_for(code: str) -> Decision:
    row = CATALOGUE[code]
    assert row.outcome is not None
    return Decision(
        row.outcome,
        code,
        f"detail of {code}",
        cluster_id="c1",
        cluster_arn=ARN,
        resource_id="cluster-ABC",
        rule="default",
    )


@pytest.mark.parametrize("code", DECISIONS)
def test_every_reason_reads_the_same_in_every_output(code: str) -> None:
    decision = decision_for(code)
    judged = verdict(decision)
    assert judged.catalogued
    state = judged.compliance.value if judged.compliance else None

    # log line and result event
    detail = result_detail(decision, trigger="t", event_id="e", where=WHERE, decided_at=NOW)
    assert (detail["compliance"], detail["severity"]) == (state, judged.severity.value)
    assert log_fields(detail)["compliance"] == state
    assert detail["fix"] == CATALOGUE[code].fix, "a decision without its own fix gets the catalogue's"

    # Security Hub and OCSF: the same state, or no finding at all where it is no verdict on a cluster's audit
    asff = finding(decision, account=ACCOUNT, region=REGION, now=NOW)
    ocsf = ocsf_finding(decision, account=ACCOUNT, region=REGION, now=NOW)
    if judged.compliance in (None, Compliance.NOT_APPLICABLE):
        assert (asff, ocsf) == (None, None)
    else:
        assert asff is not None
        assert ocsf is not None
        assert asff["Compliance"]["Status"] == reasons.ASFF_STATUS[judged.compliance]
        assert asff["FindingProviderFields"]["Severity"]["Label"] == judged.severity.value
        assert ocsf["compliance"]["status_id"] == reasons.OCSF_STATUS[judged.compliance][0]
        assert ocsf["severity_id"] == reasons.OCSF_SEVERITY[judged.severity]
        assert asff_problems([asff]) == ""
        assert ocsf_problems(ocsf) == []
        assert (asff["Compliance"]["Status"] == "PASSED") is (code == "StreamActive")

    # every audit format (an audit starts or requests nothing: a start DAS Guard would make or request is a
    # missing stream)
    shown = audit.audited(decision)
    assert shown == decision or (code in ("StreamStarted", "MaintenanceWindow") and shown.reason == "StreamMissing")
    judged = verdict(shown)
    state = judged.compliance.value if judged.compliance else None
    row = audit._row(REGION, cluster(), shown, "-", NOW.isoformat(), "policy v1")
    assert row.compliance == (state or "-")
    scope = audit.Scope(NOW.isoformat(), "1.0", ("123456789012",), (REGION,), ("policy v1",))
    assert json.loads(audit.render([row], [], scope, "json"))["clusters"][0]["compliance"] == row.compliance
    assert next(csv.DictReader(io.StringIO(audit.render([row], [], scope, "csv"))))["compliance"] == row.compliance
    assert f"| {row.compliance} |" in audit.render([row], [], scope, "markdown")
    page = audit.render([row], [], scope, "html")
    assert ("<tr class=fail>" in page) is (judged.compliance is Compliance.FAIL)
    assert audit.failing(decision) is (judged.compliance is Compliance.FAIL)

    # an alert, where one is sent, says the verdict and the catalogue's fix
    if decision.outcome.needs_a_person or code in reasons.NOTICES:
        _, body = render_alert(decision, trigger="t", event_id="e", where=WHERE)
        assert f"Verdict:  {state or '-'}, severity {judged.severity.value}" in body
        assert CATALOGUE[code].fix in body


def test_only_stream_active_passes() -> None:
    assert [code for code, row in CATALOGUE.items() if row.compliance is Compliance.PASS] == ["StreamActive"]


def test_an_uncatalogued_reason_never_passes() -> None:
    odd = Decision(Outcome.ALREADY_ACTIVE, "SomethingNew", "x")
    assert not verdict(odd).catalogued
    assert verdict(odd).compliance is Compliance.PENDING


def test_the_audit_exports_validate_for_one_account_as_for_an_organisation() -> None:
    rows = [(audit._row(REGION, cluster(), d, "-", NOW.isoformat(), "p"), d) for d in map(decision_for, DECISIONS)]
    scope = audit.Scope(NOW.isoformat(), "1.0.0", (ACCOUNT,), (REGION,), ("p",))
    asff = json.loads(audit.evidence(rows, "asff", NOW, scope))
    ocsf = json.loads(audit.evidence(rows, "ocsf", NOW, scope))
    assert len(asff) == len(ocsf) > 20
    assert asff_problems(asff) == ""
    assert {a["AwsAccountId"] for a in asff} == {ACCOUNT}, "one account: the ARN names it"
    assert all(ocsf_problems(e) == [] for e in ocsf)
    assert OCSF_VERSION == MODELS_OCSF_VERSION


def test_the_validators_refuse_what_consumers_refuse() -> None:
    """The checks above would prove nothing if they accepted anything."""
    good = finding(decision_for("StreamActive"), account=ACCOUNT, region=REGION, now=NOW)
    assert good is not None
    assert "Missing required parameter" in asff_problems([{k: v for k, v in good.items() if k != "Title"}])
    assert "Invalid type" in asff_problems([{**good, "FindingProviderFields": {"Severity": {"Label": 4}}}])
    event = ocsf_finding(decision_for("StreamActive"), account=ACCOUNT, region=REGION, now=NOW)
    assert event is not None
    with pytest.raises(ValueError, match="compliance"):
        ocsf_problems({k: v for k, v in event.items() if k != "compliance"})
    assert ocsf_problems({**event, "resource": {}}) == ["unknown top-level field resource"]
    profiles = {**event, "metadata": {**event["metadata"], "profiles": []}}
    assert ocsf_problems(profiles) == ["cloud used, profile not declared"]
    old = {**event, "metadata": {**event["metadata"], "version": "1.1.0"}}
    assert ocsf_problems(old) == ["declares another OCSF version"]


# --- a cluster passes only when its stream is started with the rule's key and mode, on a healthy, vouched-for key
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
POLICY = parse_policy(json.dumps({"version": 1, "defaults": {"kms_key": "alias/das-guard", "mode": "async"}}))


@settings(max_examples=300, deadline=None)
@given(
    status=st.sampled_from(["started", "starting", "stopped", "stopping"]),
    key=st.sampled_from(["rule", "other", "unreadable", "none"]),
    key_state=st.sampled_from(["Enabled", "Disabled", "PendingDeletion", "Unavailable"]),
    mode=st.sampled_from(["async", "sync", None]),
)
def test_passing_means_audited(status: str, key: str, key_state: str, mode: str | None) -> None:
    reference = {"rule": KEY_ARN, "other": OTHER_KEY, "unreadable": "key/someone-elses", "none": None}[key]

    def lookup_key(ref: str) -> KeyLookup:
        if ref == "key/someone-elses":
            return KeyLookup(ref, None, "AccessDeniedException", "not allowed")
        if ref == OTHER_KEY:
            return lookup(ref, arn=OTHER_KEY, state=key_state)
        return lookup(ref, state=key_state if ref == reference else "Enabled")

    c = cluster(stream_status=status, stream_mode=mode, stream_kms_key_id=reference)
    decided = decide(c, POLICY, Inputs(lookup_key, date(2030, 5, 6)))
    audited = status == "started" and key == "rule" and key_state == "Enabled" and mode == "async"
    assert reasons.passes(decided) is audited, decided
    as_the_rule_says = key == "rule" and key_state == "Enabled" and mode == "async"
    if status in ("started", "starting") and not as_the_rule_says:
        assert verdict(decided).compliance is Compliance.FAIL, decided
        assert decided.start is None, "DAS Guard never stops or restarts a running stream"


def test_a_running_stream_never_starts_twice_whatever_is_wrong_with_it() -> None:
    c = cluster(stream_status="started", stream_mode="sync", stream_kms_key_id=OTHER_KEY)
    decided = decide(
        c, POLICY, Inputs(lambda ref: lookup(ref, arn=OTHER_KEY if ref == OTHER_KEY else KEY_ARN), date(2030, 5, 6))
    )
    assert (decided.outcome, decided.start) == (Outcome.VIOLATION, None)
    assert replace(decided, warnings=()).reason == "StreamKeyNotDesignated"


# --- every reason code the code records is catalogued
def _recorded_codes() -> set[str]:
    """String literals in the positions a reason code takes: Decision(outcome, REASON, ...), Dismissal(outcome,
    REASON, ...), Finding(CODE, ...), reason=..., and the tables of stop/key reasons."""
    codes: set[str] = set()
    for path in [*(ROOT / "functions" / "das_guard").rglob("*.py"), *(ROOT / "cli" / "das_guard_cli").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ("Decision", "Dismissal", "about", "dismiss") and len(node.args) >= 2:
                argument = node.args[1] if name != "about" else (node.args[2] if len(node.args) > 2 else None)
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    codes.add(argument.value)
            if name == "Finding" and node.args and isinstance(node.args[0], ast.Constant):
                codes.add(str(node.args[0].value))
            for keyword in node.keywords:
                if (
                    keyword.arg == "reason"
                    and isinstance(keyword.value, ast.Constant)
                    and isinstance(keyword.value.value, str)
                ):
                    codes.add(keyword.value.value)
                if keyword.arg == "reason" and isinstance(keyword.value, ast.IfExp):
                    codes |= {
                        str(v.value) for v in (keyword.value.body, keyword.value.orelse) if isinstance(v, ast.Constant)
                    }
    codes.discard("")  # the placeholder of a decision whose reason is filled in later (Decision.about(..., "", ""))
    return codes | set(KEY_GOING_AWAY.values())


def test_every_reason_the_code_records_is_catalogued() -> None:
    recorded = _recorded_codes()
    assert len(recorded) > 50, "the scan finds the reason codes"
    assert sorted(recorded - set(CATALOGUE)) == []


def test_the_outcomes_page_is_the_catalogue() -> None:
    page = (ROOT / "docs" / "outcomes.md").read_text(encoding="utf-8")
    assert page == render(), "run `make outcomes`"
    assert all(f"`{code}`" in page for code in CATALOGUE)
