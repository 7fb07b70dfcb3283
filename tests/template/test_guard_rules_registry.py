"""The AWS Guard rules registry's Well-Architected Security Pillar rule set (vendored: guard_rules_registry/README.md),
run by AWS's own cfn-guard binary over every template DAS Guard ships, as CloudFormation receives it: no rule fails,
every rule of the set ran, and every suppression names a real rule and carries its reason beside its resource."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, installed_tool

REGISTRY = Path(__file__).parent / "guard_rules_registry"
SHIPPED = ("single-account", "member", "central", "artifact-bucket")

# Each suppression is a decision someone made and wrote down beside the resource; a new one must be added here too.
SUPPRESSIBLE = {
    "S3_BUCKET_LOGGING_ENABLED",  # the records archive and the artifact bucket (checkov CKV_AWS_18, the same call)
    "CW_LOGGROUP_RETENTION_PERIOD_CHECK",  # retention is a parameter the rule cannot resolve; see the test below
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED",  # the central results log (checkov CKV_AWS_158)
    "IAM_NO_INLINE_POLICY_CHECK",  # one role, one policy that cannot be attached anywhere else
    "LAMBDA_INSIDE_VPC",  # the functions call only AWS APIs (checkov CKV_AWS_117)
}


def cfn_guard() -> str:
    return installed_tool("DAS_GUARD_CFN_GUARD", ROOT / ".venv-tools" / "cfn-guard-3.1.1", "cfn-guard")


def rules_of_the_set() -> dict[str, list[str]]:
    """Rule file -> the rules it declares; the registry's mapping names the files (a few are empty placeholders)."""
    mapping = json.loads((REGISTRY / "rule_set_wa-Security-Pillar.json").read_text(encoding="utf-8"))
    files = [Path(entry["guardFilePath"]).name for entry in mapping["mappings"]]
    return {
        name: re.findall(r"^rule\s+(\w+)", (REGISTRY / "rules" / name).read_text(encoding="utf-8"), re.MULTILINE)
        for name in files
    }


def validate(templates: dict[str, dict[str, Any]], folder: Path) -> dict[str, dict[str, Any]]:
    """One cfn-guard run over all templates: its structured JSON report per template."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in templates.items():
        (folder / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")
    command = [cfn_guard(), "validate", "--data", str(folder), "--rules", str(REGISTRY / "rules")]
    command += ["--output-format", "json", "--show-summary", "none", "--structured", "--type", "CFNTemplate"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert completed.returncode in (0, 19), completed.stderr  # 19: some rule failed; anything else: it did not run
    return {Path(report["name"]).stem: report for report in json.loads(completed.stdout)}


@pytest.fixture(scope="module")
def reports(shipped_templates: dict[str, dict[str, Any]], tmp_path: Path) -> dict[str, dict[str, Any]]:
    return validate(shipped_templates, tmp_path / "deployed")


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard")


def failures(report: dict[str, Any]) -> list[str]:
    return [entry["Rule"]["name"] for entry in report["not_compliant"]]


@pytest.mark.parametrize("shipped", SHIPPED)
def test_no_rule_of_the_registry_fails(reports: dict[str, dict[str, Any]], shipped: str) -> None:
    assert failures(reports[shipped]) == []


@pytest.mark.parametrize("shipped", SHIPPED)
def test_every_rule_of_the_set_ran(reports: dict[str, dict[str, Any]], shipped: str) -> None:
    report = reports[shipped]
    ran = set(report["compliant"]) | set(report["not_applicable"]) | set(failures(report))
    declared = {rule for rules in rules_of_the_set().values() for rule in rules}
    assert ran == declared
    assert len(report["compliant"]) >= (10 if shipped in ("single-account", "member") else 3), "it really looked"


def test_the_placeholders_of_the_set_are_named_not_counted() -> None:
    """Seven files of the set hold no rule (the control needs a live resource): they are said, not passed."""
    placeholders = sorted(name for name, rules in rules_of_the_set().items() if not rules)
    assert len(rules_of_the_set()) == 66
    assert placeholders == [
        "acm_certificate_expiration_check.guard",
        "alb_http_to_https_redirection_check.guard",
        "alb_waf_enabled.guard",
        "elastic_beanstalk_managed_updates_enabled.guard",
        "emr_master_no_public_ip.guard",
        "kms_cmk_not_scheduled_for_deletion.guard",
        "wafv2_logging_enabled.guard",
    ]


def suppressions(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Resource -> {suppressed rule: its justification} as written in the template's Metadata."""
    found = {}
    for name, resource in template["Resources"].items():
        guard = resource.get("Metadata", {}).get("guard", {})
        if guard.get("SuppressedRules"):
            justifications = guard.get("Justifications", {})
            found[name] = {rule: justifications.get(rule, "") for rule in guard["SuppressedRules"]}
    return found


@pytest.mark.parametrize("shipped", SHIPPED)
def test_every_suppression_is_justified_beside_its_resource(
    shipped_templates: dict[str, dict[str, Any]], shipped: str
) -> None:
    declared = {rule for rules in rules_of_the_set().values() for rule in rules}
    for resource, rules in suppressions(shipped_templates[shipped]).items():
        for rule, why in rules.items():
            assert rule in declared, f"{resource} suppresses {rule}, which no rule of the set is called"
            assert rule in SUPPRESSIBLE, f"{resource} suppresses {rule}: add it to SUPPRESSIBLE, with why"
            assert len(why.split()) >= 6, f"{resource} suppresses {rule} without saying why"


def test_the_suppressions_hide_real_findings_and_nothing_else(
    shipped_templates: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Strip every suppression: exactly the suppressed rules fail, on exactly the suppressing resources - so the rules
    did evaluate these resources, and no suppression is left over from something since fixed."""
    stripped = copy.deepcopy(shipped_templates)
    for template in stripped.values():
        for resource in template["Resources"].values():
            resource.get("Metadata", {}).pop("guard", None)
    reports = validate(stripped, tmp_path / "unsuppressed")
    for shipped, template in shipped_templates.items():
        expected = {rule for rules in suppressions(template).values() for rule in rules}
        assert set(failures(reports[shipped])) == expected, shipped


def test_retention_parameters_only_allow_what_the_rule_accepts(shipped_templates: dict[str, dict[str, Any]]) -> None:
    """The retention rule cannot resolve a Ref, so it is suppressed on the log groups; this is the check it would
    have made, over every value the parameter allows."""
    rule = (REGISTRY / "rules" / "cw_loggroup_retention_period_check.guard").read_text(encoding="utf-8")
    [accepted_list] = re.findall(r"RetentionInDays\s+IN\s+\[([\d,\s]+)\]", rule)
    accepted = {int(days) for days in accepted_list.split(",")}
    checked = 0
    for template in shipped_templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Logs::LogGroup":
                continue
            retention = resource["Properties"].get("RetentionInDays")
            assert retention is not None, "every log group expires its data on purpose, never by default"
            if isinstance(retention, dict):
                allowed = template["Parameters"][retention["Ref"]]["AllowedValues"]
                assert {int(days) for days in allowed} <= accepted
            else:
                assert int(retention) in accepted
            checked += 1
    assert checked >= 5
