"""The local-AWS additions for organisations (localaws/das_extension/), each against the rule AWS applies."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from localaws import World
from localaws.organisation import Organisation


@pytest.fixture
def world() -> Iterator[World]:
    with World() as w:
        yield w


def _shared_parameter(world: World, org: Organisation) -> str:
    security = world.session(org.security, "us-east-1")
    security.client("ssm").put_parameter(Name="/p", Value="v1", Type="String", Tier="Advanced")
    return f"arn:aws:ssm:us-east-1:{org.security}:parameter/p"


def test_a_parameter_shared_with_the_organisation_is_read_by_arn_and_nobody_else_reads_it(world: World) -> None:
    org = Organisation(world, regions=("us-east-1",), ous={"prod": ["prod-a"]})
    arn = _shared_parameter(world, org)
    member = world.session(org.accounts["prod-a"], "us-east-1").client("ssm")
    with pytest.raises(ClientError, match="ParameterNotFound"):  # not shared yet
        member.get_parameter(Name=arn)
    ram = world.session(org.security, "us-east-1").client("ram")
    share = ram.create_resource_share(name="p", resourceArns=[arn], principals=[org.organization["Arn"]])
    assert member.get_parameter(Name=arn)["Parameter"]["Value"] == "v1"
    assert [p["Value"] for p in member.get_parameter_history(Name=arn)["Parameters"]] == ["v1"]
    outsider = world.session("999988887777", "us-east-1").client("ssm")  # not in the organisation
    with pytest.raises(ClientError, match="ParameterNotFound"):
        outsider.get_parameter(Name=arn)
    ram.delete_resource_share(resourceShareArn=share["resourceShare"]["resourceShareArn"])
    with pytest.raises(ClientError, match="ParameterNotFound"):
        member.get_parameter(Name=arn)


def test_only_a_delegated_administrator_s_stackset_reaches_the_organisation(world: World) -> None:
    org = Organisation(world, regions=("us-east-1",), ous={"prod": ["prod-a"]})
    template = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    for account, expected in ((org.security, 1), (org.accounts["prod-a"], 0)):
        cfn = world.session(account, "us-east-1").client("cloudformation")
        cfn.create_stack_set(StackSetName=f"s{account}", TemplateBody=template, PermissionModel="SERVICE_MANAGED")
        cfn.create_stack_instances(
            StackSetName=f"s{account}",
            DeploymentTargets={"OrganizationalUnitIds": [org.ous["prod"]]},
            Regions=["us-east-1"],
        )
        assert len(cfn.list_stack_instances(StackSetName=f"s{account}")["Summaries"]) == expected


def test_auto_deployment_follows_accounts_into_and_out_of_the_ou(world: World) -> None:
    org = Organisation(world, regions=("us-east-1",), ous={"prod": ["prod-a"], "dev": []})
    template = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    cfn = world.session(org.security, "us-east-1").client("cloudformation")
    cfn.create_stack_set(
        StackSetName="s",
        TemplateBody=template,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    cfn.create_stack_instances(
        StackSetName="s", DeploymentTargets={"OrganizationalUnitIds": [org.ous["prod"]]}, Regions=["us-east-1"]
    )
    late = org.join("prod-b", "prod")
    assert {i["Account"] for i in cfn.list_stack_instances(StackSetName="s")["Summaries"]} == {
        org.accounts["prod-a"],
        late,
    }
    org.move(late, org.ous["prod"], org.ous["dev"])
    assert {i["Account"] for i in cfn.list_stack_instances(StackSetName="s")["Summaries"]} == {org.accounts["prod-a"]}
    assert world.session(late, "us-east-1").client("sqs").list_queues().get("QueueUrls", []) == []


def test_the_public_powertools_parameter_names_a_layer_in_every_region(world: World) -> None:
    ssm = world.session("123456789012", "eu-west-1").client("ssm")
    value = ssm.get_parameter(Name="/aws/service/powertools/python/arm64/python3.13/3.37.0")["Parameter"]["Value"]
    assert value.startswith("arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:")
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name="/aws/service/powertools/python/arm64/python3.13/not-a-version")
