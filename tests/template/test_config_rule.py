"""The AWS Config custom policy rule (Guard) shipped with the stack: evaluated with cfn-guard-rs - AWS's Guard engine
in-process - against configuration items shaped as AWS Config records AWS::RDS::DBCluster (field names from
awslabs/aws-config-resource-schema: configuration.dbclusterIdentifier, configuration.dbclusterMembers,
configuration.activityStreamStatus; the item's tags as a map)."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from das_guard.policy import parse_policy
from das_guard_cli import main as cli
from das_guard_cli.config_rule import guard_rule

guard = pytest.importorskip("cfn_guard_rs", reason="cfn-guard-rs has no wheel for this Python (3.11 and 3.12 only)")

TODAY = date(2026, 12, 6)
ITEM: dict[str, Any] = {
    "version": "1.3",
    "accountId": "123456789012",
    "configurationItemCaptureTime": "2026-12-06T03:00:00.000Z",
    "configurationItemStatus": "OK",
    "resourceType": "AWS::RDS::DBCluster",
    "resourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "resourceName": "orders-pg",
    "arn": "arn:aws:rds:us-east-1:123456789012:cluster:orders-pg",
    "awsRegion": "us-east-1",
    "configuration": {
        "dbclusterIdentifier": "orders-pg",
        "dbclusterArn": "arn:aws:rds:us-east-1:123456789012:cluster:orders-pg",
        "dbClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "engine": "aurora-postgresql",
        "engineMode": "provisioned",
        "engineVersion": "16.4",
        "status": "available",
        "dbclusterMembers": [{"dbinstanceIdentifier": "orders-pg-1", "isClusterWriter": True, "promotionTier": 1}],
        "activityStreamStatus": "started",
        "activityStreamMode": "async",
        "activityStreamKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "activityStreamKinesisStreamName": "aws-rds-das-cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    },
    "tags": {"team": "orders"},
    "relationships": [],
}


def item(tags: dict[str, str] | None = None, **configuration: Any) -> dict[str, Any]:
    recorded = copy.deepcopy(ITEM)
    recorded["configuration"].update(configuration)
    recorded["configuration"] = {k: v for k, v in recorded["configuration"].items() if v is not None}
    if tags is not None:
        recorded["tags"] = tags
    return recorded


def verdict(text: str, recorded: dict[str, Any]) -> str:
    """PASS (compliant), FAIL (NON_COMPLIANT) or SKIP (NOT_APPLICABLE), as Config reports the rule."""
    return str(guard.run_checks(recorded, text).status)


def template_text(template: dict[str, Any]) -> str:
    policy_text = template["Resources"]["AuditedClustersConfigRule"]["Properties"]["Source"]["CustomPolicyDetails"]
    return str(policy_text["PolicyText"]["Fn::If"][2])


def test_the_stack_ships_the_rule_generated_for_a_policy_without_exemptions(template: dict[str, Any]) -> None:
    plain = parse_policy(json.dumps({"version": 1, "defaults": {"kms_key": "alias/das-guard"}}))
    assert template_text(template) == guard_rule(plain, TODAY, source="the stack's default: no exemptions").text
    rule = template["Resources"]["AuditedClustersConfigRule"]
    assert rule["Properties"]["Source"]["Owner"] == "CUSTOM_POLICY", "Config runs it: no DAS Guard function involved"
    assert rule["Properties"]["Scope"]["ComplianceResourceTypes"] == ["AWS::RDS::DBCluster"]


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (item(), "PASS"),
        (item(activityStreamStatus="stopped"), "FAIL"),
        (item(activityStreamStatus="starting"), "FAIL"),
        (item(activityStreamStatus=None), "FAIL"),  # never started: Config records no status at all
        (item(engine="aurora-mysql", engineVersion="8.0.mysql_aurora.3.05.2", activityStreamStatus="stopped"), "FAIL"),
        (item(engine="docdb", activityStreamStatus=None), "SKIP"),
        (item(engine="postgres", activityStreamStatus=None), "SKIP"),  # a Multi-AZ DB cluster
        (item(status="stopped", activityStreamStatus="stopped"), "SKIP"),  # nothing runs while stopped
        (item(dbclusterMembers=[], activityStreamStatus=None), "SKIP"),  # a headless global secondary
    ],
)
def test_the_default_rule_judges_recorded_clusters(
    template: dict[str, Any], recorded: dict[str, Any], expected: str
) -> None:
    assert verdict(template_text(template), recorded) == expected


POLICY = {
    "version": 1,
    "defaults": {"kms_key": "alias/das-guard"},
    "rules": [
        {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt", "reason": "no data"},
        {"name": "scratch", "match": {"tags": {"data-class": ["none", "public"]}}, "action": "exempt", "reason": "x"},
        {"name": "regulated", "match": {"tags": {"data-class": "pci"}}, "mode": "sync"},
        {"name": "late", "match": {"tags": {"team": "bi"}}, "action": "exempt", "reason": "shadowed by regulated"},
    ],
    "exemptions": [
        {
            "name": "legacy",
            "match": {"cluster_ids": ["legacy-*"]},
            "reason": "migrating",
            "expires": str(TODAY + timedelta(days=30)),
        },
        {
            "name": "old",
            "match": {"tags": {"team": "gone"}},
            "reason": "over",
            "expires": str(TODAY - timedelta(days=1)),
        },
    ],
}


@pytest.mark.parametrize(
    ("tags", "name", "expected"),
    [
        ({"env": "sandbox"}, "orders-pg", "SKIP"),  # exempt rule
        ({"data-class": "public"}, "orders-pg", "SKIP"),  # exempt rule, one of several values
        ({"data-class": "pci"}, "orders-pg", "FAIL"),
        ({}, "legacy-billing", "SKIP"),  # active time-boxed exemption, by identifier pattern
        ({}, "legacy", "FAIL"),  # the pattern is legacy-*
        ({"team": "gone"}, "orders-pg", "FAIL"),  # an expired exemption exempts nothing
        ({"team": "bi"}, "orders-pg", "FAIL"),  # exempt by 'late' in the policy, but Guard cannot say it safely
    ],
)
def test_the_generated_rule_follows_the_policys_exemptions(tags: dict[str, str], name: str, expected: str) -> None:
    generated = guard_rule(parse_policy(json.dumps(POLICY)), TODAY)
    assert verdict(generated.text, item(tags, dbclusterIdentifier=name, activityStreamStatus="stopped")) == expected
    assert generated.left_out == ["rule 'late': an enforcing rule before it could match the same clusters"]


def test_the_cli_prints_the_rule_for_a_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY), encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["policy", "config-rule", str(path)])
    assert result.exit_code == 0, result.output
    assert "rule das_guard_aurora_activity_stream when" in result.stdout
    assert "rule 'late'" in result.stderr
    assert verdict(result.stdout, item({"env": "sandbox"}, activityStreamStatus="stopped")) == "SKIP"


def test_the_organisation_rule_is_the_same_rule(template: dict[str, Any]) -> None:
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415 - only this test reads the central stack

    central = yaml_parse((Path(__file__).resolve().parents[2] / "org" / "central.yaml").read_text(encoding="utf-8"))
    rule = central["Resources"]["AuditedClustersOrganizationRule"]["Properties"]
    metadata = rule["OrganizationCustomPolicyRuleMetadata"]
    assert metadata["PolicyText"]["Fn::If"][2] == template_text(template)
    assert metadata["ResourceTypesScope"] == ["AWS::RDS::DBCluster"]
    assert metadata["Runtime"] == "guard-2.x.x"
