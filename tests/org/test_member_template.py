"""The StackSet's member template is template.yaml, translated: no Transform, fits CloudFormation, never drifts."""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint_file
from moto import mock_aws

from org import package as org_package

VERSION = "1.4.2"


@pytest.fixture(scope="module")
def member() -> org_package.Package:
    return org_package.build(VERSION, bundle_dependencies=False)


def test_a_service_managed_stackset_would_accept_it(member: org_package.Package) -> None:
    assert "Transform" not in member.template
    assert not [n for n, r in member.template["Resources"].items() if r["Type"].startswith("AWS::Serverless::")]
    assert len(member.template_body.encode()) <= org_package.MAX_TEMPLATE_BYTES
    assert len(member.template["Resources"]) <= org_package.MAX_RESOURCES


def test_the_size_docs_give_is_the_size_it_has(member: org_package.Package) -> None:
    """docs/deploying.md quotes the template's size and resource count: they are what the package builds."""
    page = (org_package.ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    quoted = re.search(r"\((\d+) KB of the 1 MB a template URL allows; (\d+) resources\)", page)
    assert quoted, "docs/deploying.md says how big the member template is"
    assert int(quoted[1]) == round(len(member.template_body.encode()) / 1000)
    assert int(quoted[2]) == len(member.template["Resources"])


def test_it_is_cfn_lint_clean(member: org_package.Package, tmp_path: Path) -> None:
    path = tmp_path / "member-template.json"
    path.write_text(member.template_body, encoding="utf-8")
    assert [str(m) for m in lint_file(path, config=ManualArgs(include_checks=["I"]))] == []


def test_code_comes_from_the_functions_own_region(member: org_package.Package) -> None:
    functions = {n: r for n, r in member.template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(functions) == {"EnforcerFunction", "SweepFunction"}
    for function in functions.values():
        assert function["Properties"]["Code"] == {
            "S3Bucket": {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}"},
            "S3Key": f"das-guard/{VERSION}/functions.zip",
        }


def test_one_source_every_resource_is_template_yaml_s(member: org_package.Package, transformed: dict[str, Any]) -> None:
    """What `sam deploy` deploys and what the StackSet deploys differ only in where the code is read from."""
    member_resources = copy.deepcopy(member.template["Resources"])
    sam_resources = copy.deepcopy(transformed["Resources"])
    for resources in (member_resources, sam_resources):
        for resource in resources.values():
            if resource["Type"] == "AWS::Lambda::Function":
                resource["Properties"].pop("Code")
    assert member_resources == sam_resources
    assert set(member.template["Parameters"]) == set(transformed["Parameters"]) | {"ArtifactBucketPrefix"}
    assert member.template["Conditions"] == transformed["Conditions"]
    assert member.template["Outputs"] == transformed["Outputs"]


def test_the_single_account_template_gains_nothing_from_the_org_parameters(transformed: dict[str, Any]) -> None:
    """Defaults keep single-account behaviour: the org parameters default to off."""
    org = ["NamePrefix", "PolicyParameterArn", "CentralEventBusArn", "AuditorAccountId", "AuditRoleRegion"]
    assert {n: transformed["Parameters"][n]["Default"] for n in org} == dict.fromkeys(org, "")
    assert transformed["Parameters"]["SecurityHubFindings"]["Default"] == "false"
    assert transformed["Parameters"]["DashboardEnabled"]["Default"] == "true"


def test_the_code_zip_is_reproducible_and_holds_the_handlers(member: org_package.Package) -> None:
    again = org_package.zip_code(org_package.CODE)
    assert again == member.code_zip
    names = zipfile.ZipFile(io.BytesIO(member.code_zip)).namelist()
    assert "das_guard/handlers.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_nothing_ties_it_to_one_account_or_region() -> None:
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "x"}}}}
    org_package.check_limits(template, json.dumps(template))
    bad = json.dumps({"arn": "arn:aws:sns:eu-west-1:123456789012:t"})
    with pytest.raises(org_package.PackageError, match=r"account ids \['123456789012'\].*regions \['eu-west-1'\]"):
        org_package.check_limits(template, bad)
    with pytest.raises(org_package.PackageError, match="Transform"):
        org_package.check_limits({"Transform": "AWS::Serverless-2016-10-31", **template}, "{}")


def test_a_version_must_be_a_version() -> None:
    with pytest.raises(org_package.PackageError, match=r"1\.2\.3"):
        org_package.build("latest")


def test_publish_puts_the_code_in_every_regions_bucket(member: org_package.Package) -> None:
    regions = ["us-east-1", "eu-west-1"]
    with mock_aws():
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        for region in regions:
            s3 = session.client("s3", region_name=region)
            config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"acme-das-guard-{region}", **config)
        url = org_package.publish(member, bucket_prefix="acme-das-guard", regions=regions, session=session)
        for region in regions:
            body = session.client("s3", region_name=region).get_object(
                Bucket=f"acme-das-guard-{region}", Key=f"das-guard/{VERSION}/functions.zip"
            )["Body"]
            assert body.read() == member.code_zip
        template = session.client("s3").get_object(
            Bucket="acme-das-guard-us-east-1", Key=f"das-guard/{VERSION}/member-template.json"
        )["Body"]
        assert json.loads(template.read()) == member.template
    assert (
        url == f"https://acme-das-guard-us-east-1.s3.us-east-1.amazonaws.com/das-guard/{VERSION}/member-template.json"
    )


def test_the_command_writes_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(org_package, "DIST", tmp_path)
    assert org_package.main(["build", "--version", VERSION]) == 0
    manifest = json.loads((tmp_path / VERSION / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == VERSION
    assert manifest["template_bytes"] == len((tmp_path / VERSION / "member-template.json").read_bytes())
    assert "no Transform" in capsys.readouterr().out
    assert org_package.main(["build", "--version", "x"]) == 2
