"""org/central.yaml: what the security account deploys, checked before anyone deploys it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from samtranslator.yaml_helper import yaml_parse

from das_guard.model import Decision, Outcome
from das_guard.outputs.alerts import Where
from das_guard.outputs.report import result_detail
from das_guard.sweep import SweepSummary
from org import package

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "org" / "central.yaml"


@pytest.fixture(scope="module")
def central() -> dict[str, Any]:
    return dict(yaml_parse(CENTRAL.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", ["central.yaml", "artifact-bucket.yaml"])
def test_cfn_lint_finds_nothing(name: str) -> None:
    assert [str(m) for m in lint_file(ROOT / "org" / name, config=ManualArgs(include_checks=["I"]))] == []


def test_the_stacksets_only_set_parameters_the_member_template_has(central: dict[str, Any]) -> None:
    member = package.build("9.9.9").template["Parameters"]
    for logical in ("MemberStackSet", "PilotStackSet"):
        keys = {p["ParameterKey"] for p in central["Resources"][logical]["Properties"]["Parameters"]}
        assert keys <= set(member), keys - set(member)
        assert {"PolicyParameterArn", "CentralEventBusArn", "NamePrefix", "ArtifactBucketPrefix"} <= keys


def test_the_pilot_differs_from_the_members_only_in_enforcement(central: dict[str, Any]) -> None:
    def params(logical: str) -> dict[str, Any]:
        return {
            p["ParameterKey"]: p["ParameterValue"] for p in central["Resources"][logical]["Properties"]["Parameters"]
        }

    members, pilot = params("MemberStackSet"), params("PilotStackSet")
    assert (members.pop("EnforcementMode"), pilot.pop("EnforcementMode")) == ("enforce", "report-only")
    assert members == pilot


@pytest.mark.parametrize("logical", ["MemberStackSet", "PilotStackSet"])
def test_stacksets_are_service_managed_and_follow_accounts_that_join(central: dict[str, Any], logical: str) -> None:
    properties = central["Resources"][logical]["Properties"]
    assert properties["PermissionModel"] == "SERVICE_MANAGED"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert properties["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"
    assert "CAPABILITY_NAMED_IAM" in properties["Capabilities"]  # the audit role has a name


def test_the_bus_admits_the_organisation_not_a_list_of_accounts(central: dict[str, Any]) -> None:
    statement = central["Resources"]["OrgEventBusPolicy"]["Properties"]["Statement"]
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}


def test_the_policy_is_shared_with_the_organisation_only(central: dict[str, Any]) -> None:
    parameter = central["Resources"]["OrgPolicyParameter"]["Properties"]
    share = central["Resources"]["OrgPolicyShare"]["Properties"]
    assert parameter["Tier"] == "Advanced"  # RAM shares only Advanced parameters
    assert share["AllowExternalPrincipals"] is False
    [principal] = share["Principals"]
    assert "organization/${OrganizationId}" in principal["Fn::Sub"]


def test_edits_of_the_shared_policy_page_the_central_topic(central: dict[str, Any]) -> None:
    rule = central["Resources"]["OrgPolicyWatchRule"]["Properties"]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": "CentralAlertTopic"}
    ssm = rule["EventPattern"]["detail"]["$or"][0]
    assert "PutParameter" in ssm["eventName"]


def test_a_member_whose_daily_heartbeat_stops_is_noticed_centrally(central: dict[str, Any]) -> None:
    """Every member's sweep summary is forwarded to the results log; a day with fewer than expected alarms."""
    resources = central["Resources"]
    pattern = resources["MemberSweepsMetricFilter"]["Properties"]["FilterPattern"]
    assert pattern == "{ $.detail.sweep_id = * }", "sweep summaries carry sweep_id; decisions never do"
    alarm = resources["MemberHeartbeatMissingAlarm"]
    assert alarm["Condition"] == "ExpectsHeartbeats"
    properties = alarm["Properties"]
    assert (properties["MetricName"], properties["Period"], properties["ComparisonOperator"]) == (
        "MemberSweepSummaries",
        86400,
        "LessThanThreshold",
    )
    assert properties["TreatMissingData"] == "breaching", "no summary at all is the worst case, not a quiet one"
    assert properties["AlarmActions"] == [{"Ref": "CentralAlertTopic"}]
    assert "ispresent(detail.sweep_id)" in resources["SilentMembersQuery"]["Properties"]["QueryString"]


def test_the_sweep_summary_is_what_the_filter_counts() -> None:
    """The member's summary event carries detail.sweep_id; a decision's result event does not."""
    summary = SweepSummary("s-1").as_dict()
    assert summary["sweep_id"] == "s-1"
    decision = result_detail(
        Decision(Outcome.STARTED, "StreamStarted", "x"),
        trigger="t",
        event_id="e",
        where=Where("1", "r", "/p"),
        decided_at=datetime.now(UTC),
    )
    assert "sweep_id" not in decision
