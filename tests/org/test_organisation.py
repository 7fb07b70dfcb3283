"""An organisation of 3 member accounts in 2 OUs and 2 regions, DAS Guard rolled out by the central stack's
service-managed StackSet (moto creates the member stacks; see localaws/organisation.py for what is modelled)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from das_guard_cli import aws_session
from das_guard_cli import main as cli
from localaws import World
from localaws.events import load_sample
from localaws.organisation import Organisation

REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="module")
def rolled_out() -> Iterator[tuple[World, Organisation]]:
    with World() as world:
        org = Organisation(world, regions=REGIONS)
        org.roll_out()
        yield world, org


@pytest.fixture(scope="module")
def org(rolled_out: tuple[World, Organisation]) -> Organisation:
    return rolled_out[1]


def test_the_stackset_puts_das_guard_in_every_member_account_and_region(org: Organisation) -> None:
    instances = {(i["Account"], i["Region"]): i["Status"] for i in org.stack_instances()}
    members = set(org.members().values())
    assert instances == {(a, r): "CURRENT" for a in members for r in REGIONS}
    assert org.security not in {a for a, _ in instances}
    assert org.management not in {a for a, _ in instances}


def test_member_functions_read_the_one_shared_policy_and_forward_to_the_central_bus(org: Organisation) -> None:
    assert org.central is not None
    for account in org.members().values():
        for region in REGIONS:
            settings = org.member(account, region).settings
            assert settings.policy_parameter == org.central.policy_arn  # in the security account's home region
            assert settings.security_hub is True
            assert settings.state_table == "das-guard-state"  # predictable names (NamePrefix), not StackSet-...
    session = org.world.session(org.members()["prod-a"], "eu-west-1")
    [rule] = [r for r in session.client("events").list_rules()["Rules"] if r["Name"] == "das-guard-to-central-bus"]
    [target] = session.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == org.central.bus_arn


def test_a_new_cluster_in_every_member_account_gets_a_stream_under_the_shared_policy(org: Organisation) -> None:
    for index, account in enumerate(org.members().values()):
        member = org.member(account, REGIONS[index % 2])
        member.add_cluster(f"orders-{index}")
        member.sweep()
        assert member.streams()[f"orders-{index}"] == "starting", member.outcomes()
        [started] = [d for d in member.decisions() if d.get("cluster_id") == f"orders-{index}"]
        assert started["rule"] == "default"  # the organisation's default policy (alias/das-guard, this account's key)


def test_results_reach_the_central_bus_and_a_violation_pages_with_account_and_region(org: Organisation) -> None:
    account = org.members()["prod-b"]
    member = org.member(account, "eu-west-1")
    org.central_events()  # what earlier tests sent
    member.add_cluster("legacy-t3", instances=[("legacy-t3-1", "db.t3.medium")])
    member.sweep()
    results = [e for e in org.central_events() if e["detail-type"] == "DAS Guard Enforcement Result"]
    [violation] = [e["detail"] for e in results if e["detail"]["cluster_id"] == "legacy-t3"]
    assert (violation["outcome"], violation["account"], violation["region"]) == ("Violation", account, "eu-west-1")
    org.notify()
    subjects = [a["Subject"] for a in org.central_alerts()]
    assert f"DAS Guard Violation {account}/eu-west-1: legacy-t3 (UnsupportedInstanceClass)" in subjects


def test_each_member_files_its_own_security_hub_finding(org: Organisation) -> None:
    account = org.members()["dev-a"]
    member = org.member(account, "us-east-1")
    member.add_cluster("ledger-pg")
    member.sweep()
    findings = member.aws.client("securityhub").get_findings()["Findings"]
    [ledger] = [
        f for f in findings if f["Resources"][0]["Details"]["AwsRdsDbCluster"]["DbClusterIdentifier"] == "ledger-pg"
    ]
    assert ledger["AwsAccountId"] == account
    assert ledger["ProductArn"] == f"arn:aws:securityhub:us-east-1:{account}:product/{account}/default"


def test_an_account_that_joins_an_ou_later_gets_das_guard_automatically(org: Organisation) -> None:
    newcomer = org.join("prod-c", "prod")
    assert {(i["Account"], i["Region"]) for i in org.stack_instances() if i["Account"] == newcomer} == {
        (newcomer, r) for r in REGIONS
    }
    member = org.member(newcomer, "us-east-1")
    member.add_cluster("payments-pg")
    member.sweep()
    assert member.streams()["payments-pg"] == "starting"


def test_one_push_of_the_shared_policy_reaches_every_account(org: Organisation) -> None:
    assert org.central is not None
    security = org.world.session(org.security, REGIONS[0]).client("ssm")
    document = {
        "version": 1,
        "defaults": {"action": "enforce", "mode": "async", "kms_key": "alias/das-guard", "apply_immediately": True},
        "rules": [{"name": "analytics-trial", "match": {"tags": {"team": "analytics"}}, "action": "report-only"}],
    }
    security.put_parameter(
        Name="/das-guard/org-policy", Value=json.dumps(document), Type="String", Overwrite=True, Tier="Advanced"
    )
    org.world.advance(minutes=2)  # past the containers' policy cache
    for account in org.members().values():
        member = org.member(account, "eu-west-1")
        member.add_cluster("warehouse", tags={"team": "analytics"})
        member.sweep()
        [decision] = [d for d in member.decisions() if d.get("cluster_id") == "warehouse"]
        assert (decision["outcome"], decision["rule"]) == ("WouldStart", "analytics-trial")


@pytest.fixture
def as_security_account(org: Organisation, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's default credentials are the security account's (where README runs `audit --org`)."""
    credentials = org.world.session(org.security, REGIONS[0]).get_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token)


def burstable_cluster(org: Organisation, name: str) -> str:
    """A cluster in prod-b/eu-west-1 that cannot have a stream (db.t3), decided once by the sweep."""
    member = org.member(org.members()["prod-b"], "eu-west-1")
    if name not in member.streams():
        member.add_cluster(name, instances=[(f"{name}-1", "db.t3.medium")])
        member.sweep()
    return name


def test_audit_org_lists_every_cluster_with_its_account(org: Organisation, as_security_account: None) -> None:
    assert org.central is not None
    burstable_cluster(org, "audit-t3")
    args = ["audit", "--org", "--region", REGIONS[0], "--region", REGIONS[1], "--parameter", org.central.policy_arn]
    result = CliRunner().invoke(cli.app, [*args, "--format", "json"])
    rows = json.loads(result.stdout)["clusters"]
    clusters = {(r["account"], r["region"], r["cluster"]) for r in rows}
    for account in org.members().values():
        for region in REGIONS:
            member = org.member(account, region)
            expected = {(account, region, c) for c in member.streams()}
            assert expected <= clusters, (account, region)
    assert {r["account"] for r in rows} <= set(org.members().values())
    assert result.exit_code == 1  # audit-t3 (Violation) lacks a stream
    assert "without the stream the policy requires" in result.stderr


def test_audit_org_writes_security_hub_and_ocsf_findings(org: Organisation, as_security_account: None) -> None:
    assert org.central is not None
    burstable_cluster(org, "audit-t3")
    base = ["audit", "--org", "--region", "eu-west-1", "--parameter", org.central.policy_arn]
    asff = json.loads(CliRunner().invoke(cli.app, [*base, "--format", "asff"]).stdout)
    ocsf = json.loads(CliRunner().invoke(cli.app, [*base, "--format", "ocsf"]).stdout)
    [legacy] = [f for f in asff if f["Title"].startswith("Aurora cluster audit-t3:")]
    assert (legacy["Compliance"]["Status"], legacy["AwsAccountId"]) == ("FAILED", org.members()["prod-b"])
    [legacy_ocsf] = [f for f in ocsf if f["resources"][0]["name"] == "audit-t3"]
    assert (legacy_ocsf["class_uid"], legacy_ocsf["compliance"]["status_id"]) == (2003, 3)  # 3: Fail
    assert legacy_ocsf["cloud"]["account"]["uid"] == org.members()["prod-b"]


def test_audit_org_of_one_ou_reads_only_its_accounts_through_their_role(
    org: Organisation, as_security_account: None
) -> None:
    assert org.central is not None
    iam = org.world.session(org.members()["dev-a"], "us-east-1").client("iam")
    dev = org.member(org.members()["dev-a"], "us-east-1")
    if "dev-audit-pg" not in dev.streams():
        dev.add_cluster("dev-audit-pg")
    args = ["audit", "--org", "--ou", org.ous["dev"], "--region", "us-east-1", "--parameter", org.central.policy_arn]
    rows = json.loads(CliRunner().invoke(cli.app, [*args, "--format", "json"]).stdout)["clusters"]
    assert {r["account"] for r in rows} == {org.members()["dev-a"]}
    assert iam.get_role(RoleName="das-guard-audit")["Role"]["RoleName"] == "das-guard-audit"


def test_audit_org_never_writes(org: Organisation, as_security_account: None) -> None:
    assert org.central is not None
    aws_session.CALLS.clear()
    CliRunner().invoke(cli.app, ["audit", "--org", "--region", "us-east-1", "--parameter", org.central.policy_arn])
    writes = [c for c in aws_session.CALLS if not c.split(":", 1)[1].startswith(aws_session.READ_PREFIXES)]
    assert writes == []
    assert any(c.startswith("rds:DescribeDBClusters") for c in aws_session.CALLS)


def test_policy_push_writes_the_shared_policy_as_advanced_and_only_from_its_owner(
    org: Organisation, as_security_account: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert org.central is not None
    policy = tmp_path / "org.json"
    document = {"version": 1, "defaults": {"action": "enforce", "mode": "async", "kms_key": "alias/das-guard"}}
    policy.write_text(json.dumps(document), encoding="utf-8")
    result = CliRunner().invoke(
        cli.app, ["policy", "push", str(policy), "--parameter", org.central.policy_arn, "--yes"]
    )
    assert result.exit_code == 0, result.output
    ssm = org.world.session(org.security, REGIONS[0]).client("ssm")
    [described] = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/das-guard/org-policy"]}])[
        "Parameters"
    ]
    assert described["Tier"] == "Advanced"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": 1, "defaults": {"action": "exempt"}}), encoding="utf-8")
    refused = CliRunner().invoke(
        cli.app, ["policy", "push", str(broken), "--parameter", org.central.policy_arn, "--yes"]
    )
    assert refused.exit_code == 1
    assert "not pushed" in refused.output  # one bad push would reach every account
    member = org.world.session(org.members()["prod-a"], REGIONS[0]).get_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", member.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", member.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", member.token)
    foreign = CliRunner().invoke(
        cli.app, ["policy", "push", str(policy), "--parameter", org.central.policy_arn, "--yes"]
    )
    assert foreign.exit_code == 2
    assert "read-only for the accounts it is shared with" in foreign.output


def test_disabling_a_member_s_rule_reaches_its_topic_and_the_security_account(org: Organisation) -> None:
    """Straight from EventBridge, twice: the member's alert topic and (forwarded) the central mailbox."""
    account = org.members()["dev-a"]
    member = org.member(account, "eu-west-1")
    earlier = len(member.alerts())  # (the daily heartbeats of earlier sweeps)
    org.central_alerts()
    event = load_sample("cloudtrail-disable-rule", "watch")  # what CloudTrail delivers to the default bus
    event["detail"] |= {"requestParameters": {"name": "das-guard-rds-api-calls"}, "recipientAccountId": account}
    event["detail"]["awsRegion"] = "eu-west-1"
    member.aws.client("events").put_events(
        Entries=[{"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}]
    )
    [local] = member.alerts()[earlier:]
    expected = f"DAS Guard HIGH: DisableRule on DAS Guard's own resources (events.amazonaws.com) in {account}/eu-west-1"
    assert expected in local["Message"]
    org.notify()
    subjects = [a["Subject"] for a in org.central_alerts()]
    assert f"DAS Guard HIGH {account}/eu-west-1: DisableRule by bob" in subjects
