"""What moto lacks for an organisation roll-out: StackSets' auto-deployment, RAM-shared parameters, Powertools'
public parameters, delegated administrators, and EventBridge rules that deliver across accounts."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .clock import now as _now
from .streams import _bool

# --- organisation scale: what moto lacks for a StackSet roll-out (docs/contributing.md, "The embedded local AWS") -----
# - The public Powertools parameters (/aws/service/powertools/python/<arch>/<python>/<version>) exist in every
#   account and region, as AWS publishes them; the value is a layer ARN of Powertools' publishing account.
# - A StackSets delegated administrator sees the organisation: service-managed stack sets it creates resolve OUs
#   to the management account's accounts (moto resolves them in the administrator's own, empty organisation).
# - AutoDeployment: an account moved into an OU a service-managed stack set targets gets its stack instances, one
#   moved out loses them (RetainStacksOnAccountRemoval=false); moto records neither.
# - AWS RAM shares SSM parameters (moto's list of shareable types lacks `parameter`), and a parameter shared with
#   the organisation or the account is readable by its ARN from the member account (GetParameter,
#   GetParameterHistory); any other account's ARN is ParameterNotFound, as SSM answers.
POWERTOOLS_PUBLISHER = "017000801446"
_POWERTOOLS_PATH = re.compile(r"^/aws/service/powertools/python/(arm64|x86_64)/python(3\.\d+)/([0-9.]+)$")
_AUTO_DEPLOY: dict[str, dict[str, Any]] = {}  # stack set id -> {"ous", "regions", "retain", "account", "region"}


def _powertools_parameters() -> Any:
    from moto.ssm.models import Parameter, ParameterDict  # noqa: PLC0415

    original = ParameterDict._check_loading_status

    def check(self: Any, key: str) -> None:
        original(self, key)
        match = _POWERTOOLS_PATH.match(str(key or ""))
        if match and not dict.__contains__(self, key):
            arch, python, version = match.groups()
            layer = f"AWSLambdaPowertoolsPythonV3-python{python.replace('.', '')}-{arch}"
            defaultdict.__getitem__(self, key).append(
                Parameter(  # type: ignore[abstract]
                    account_id=self.account_id,
                    name=key,
                    value=f"arn:aws:lambda:{self.region_name}:{POWERTOOLS_PUBLISHER}:layer:{layer}:{version}",
                    parameter_type="String",
                    description=f"Powertools for AWS Lambda (Python) {version}",
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=_now(),
                    version=1,
                    data_type="text",
                )
            )

    return check


def _organisation_of_stackset_account() -> property:
    from moto.organizations.models import organizations_backends  # noqa: PLC0415

    def org_backend(self: Any) -> Any:
        own = organizations_backends[self.account_id][self.partition]
        if own.org is not None:
            return own
        master = organizations_backends.master_accounts.get(self.account_id)
        if master is None:
            return own
        management = organizations_backends[master[0]][master[1]]
        delegated = any(
            admin.account.id == self.account_id
            and "member.org.stacksets.cloudformation.amazonaws.com" in admin.services
            for admin in management.admins
        )
        return management if delegated else own

    return property(org_backend)


def _create_stack_set_remembering_auto_deployment() -> Any:
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415

    original = CloudFormationResponse.create_stack_set

    def create_stack_set(self: Any) -> Any:
        result = original(self)
        auto = self._get_param("AutoDeployment") or {}
        if self._get_param("PermissionModel") == "SERVICE_MANAGED" and _bool(auto.get("Enabled")):
            stackset = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
            _AUTO_DEPLOY[stackset.id] = {
                "ous": set(),
                "regions": [],
                "retain": _bool(auto.get("RetainStacksOnAccountRemoval")),
                "account": self.current_account,
                "region": self.region,
            }
        return result

    return create_stack_set


def _create_stack_instances_remembering_targets() -> Any:
    from moto.cloudformation.models import StackSet  # noqa: PLC0415

    original = StackSet.create_stack_instances

    def create_stack_instances(self: Any, accounts: Any, regions: Any, deployment_targets: Any, parameters: Any) -> Any:
        auto = _AUTO_DEPLOY.get(self.id)
        if auto is not None and deployment_targets:
            auto["ous"] |= set(deployment_targets.get("OrganizationalUnitIds", []))
            auto["regions"] = sorted(set(auto["regions"]) | set(regions))
        return original(self, accounts, regions, deployment_targets, parameters)

    return create_stack_instances


def _move_account_auto_deploying() -> Any:
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415
    from moto.organizations.models import OrganizationsBackend  # noqa: PLC0415

    original = OrganizationsBackend.move_account

    def move_account(self: Any, **kwargs: Any) -> None:
        original(self, **kwargs)
        account, source, destination = kwargs["AccountId"], kwargs["SourceParentId"], kwargs["DestinationParentId"]
        for stackset_id, auto in list(_AUTO_DEPLOY.items()):
            stackset = cloudformation_backends[auto["account"]][auto["region"]].stacksets.get(stackset_id)
            if stackset is None:
                continue
            if destination in auto["ous"]:
                stackset.instances.create_instances(
                    [account],
                    auto["regions"],
                    stackset.parameters,  # type: ignore[arg-type]  # a dict: moto's StackInstance takes both
                    {},
                    permission_model="SERVICE_MANAGED",
                )
            elif source in auto["ous"] and not auto["retain"]:
                for region in auto["regions"]:
                    instance = stackset.instances.get_instance(account, region)
                    if instance is not None:
                        instance.delete()
                        stackset.instances.stack_instances.remove(instance)

    return move_account


def _parameters_shareable() -> None:
    """RAM shares SSM parameters; StackSets and Security Hub accept a delegated administrator (moto lists neither)."""
    from moto.organizations.models import FakeDelegatedAdministrator  # noqa: PLC0415
    from moto.ram.models import ResourceShare  # noqa: PLC0415

    if "parameter" not in ResourceShare.SHAREABLE_RESOURCES:
        ResourceShare.SHAREABLE_RESOURCES.append("parameter")
    for service in ("member.org.stacksets.cloudformation.amazonaws.com", "securityhub.amazonaws.com"):
        if service not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(service)


def _shared_parameter_reads() -> Any:
    from moto.organizations.models import organizations_backends  # noqa: PLC0415
    from moto.ram.models import ram_backends  # noqa: PLC0415
    from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends  # noqa: PLC0415

    original_get = SimpleSystemManagerBackend.get_parameter
    original_history = SimpleSystemManagerBackend.get_parameter_history

    def owner_backend(self: Any, name: str) -> Any:
        """The SSM backend that owns `name` when it is another account's parameter shared with this one."""
        match = re.match(r"^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter(/.+)$", str(name))
        if not match or match.group(2) == self.account_id:
            return None
        region, owner, path = match.groups()
        arn = f"arn:aws:ssm:{region}:{owner}:parameter{path}"
        org = organizations_backends[self.account_id]["aws"]
        try:
            org_arn = org.describe_organization()["Organization"]["Arn"]
        except Exception:  # noqa: BLE001 - not in an organisation: only shares naming the account itself count
            org_arn = None
        for share in ram_backends[owner][region].resource_shares:
            if share.status != "ACTIVE" or arn not in share.resource_arns:
                continue
            if self.account_id in share.principals or (org_arn and org_arn in share.principals):
                return ssm_backends[owner][region]
        return False  # an ARN of another account that is not shared with this one

    def get_parameter(self: Any, name: str) -> Any:
        owner = owner_backend(self, name)
        if owner is None:
            return original_get(self, name)
        if owner is False:
            return None
        return original_get(owner, name.split(":parameter", 1)[1])

    def get_parameter_history(self: Any, name: str, next_token: Any, max_results: int = 50) -> Any:
        owner = owner_backend(self, name)
        if owner is None:
            return original_history(self, name, next_token, max_results)
        if owner is False:
            return None, None
        return original_history(owner, name.split(":parameter", 1)[1], next_token, max_results)

    return get_parameter, get_parameter_history


def _no_value_removes_list_items() -> Any:
    """`!If [cond, item, !Ref AWS::NoValue]` in a list removes the item in CloudFormation; moto keeps a None."""
    from moto.cloudformation import parsing  # noqa: PLC0415

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = []
            for item in resource_json:
                value = clean_json(item, resources_map)
                if value is None and isinstance(item, dict) and ("Ref" in item or "Fn::If" in item):
                    continue
                cleaned.append(value)
            return cleaned
        return original(resource_json, resources_map)

    return clean_json


def _delegated_administrators_read_the_organisation(name: str) -> Any:
    """A delegated administrator (of any service) may call Organizations' read APIs; moto answers from the
    account's own, empty organisation."""
    from moto.organizations.models import OrganizationsBackend, organizations_backends  # noqa: PLC0415

    original = getattr(OrganizationsBackend, name)

    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        master = organizations_backends.master_accounts.get(self.account_id) if self.org is None else None
        if master is not None:
            management = organizations_backends[master[0]][master[1]]
            if any(admin.account.id == self.account_id for admin in management.admins):
                return original(management, *args, **kwargs)
        return original(self, *args, **kwargs)

    return read


_MODELS: list[type] = []  # kept alive: moto finds CloudFormation models as CloudFormationModel's subclasses


def _resource_policies_in_cloudformation() -> None:
    """AWS::SNS::TopicPolicy and AWS::SQS::QueuePolicy, which moto's CloudFormation skips ("No Moto CloudFormation
    support"): a stack deployed by a StackSet wears its topic and queue policies, as in AWS, and the local IAM
    (`access`) and EventBridge's deliveries to topics (`fixes`) evaluate them."""
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.core.common_models import CloudFormationModel  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    def topic(account: str, region: str, arn: str, document: str) -> None:
        sns_backends[account][region].topics[arn].policy = document

    def queue(account: str, region: str, url: str, document: str) -> None:
        sqs_backends[account][region].queues[str(url).rstrip("/").rsplit("/", 1)[1]].policy = document

    def policy_model(kind: str, targets: str, apply: Callable[[str, str, str, str], None]) -> type:
        """A resource whose only effect is to set the policy of the resources it lists (`targets`)."""

        class PolicyOf(CloudFormationModel):
            def __init__(self, name: str) -> None:
                self.name = name

            @property
            def physical_resource_id(self) -> str:
                return self.name

            @staticmethod
            def cloudformation_type() -> str:
                return kind

            @classmethod
            def create_from_cloudformation_json(
                cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
            ) -> PolicyOf:
                properties = cloudformation_json["Properties"]
                for target in properties[targets]:
                    apply(account_id, region_name, target, json.dumps(properties["PolicyDocument"]))
                return cls(resource_name)

        return PolicyOf

    _MODELS.extend(
        [policy_model("AWS::SNS::TopicPolicy", "Topics", topic), policy_model("AWS::SQS::QueuePolicy", "Queues", queue)]
    )
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def install_organisation() -> None:
    """The organisation-scale additions (called by `install`)."""
    from moto.cloudformation.models import StackInstances, StackSet  # noqa: PLC0415
    from moto.cloudformation.responses import CloudFormationResponse  # noqa: PLC0415
    from moto.organizations.models import OrganizationsBackend  # noqa: PLC0415
    from moto.ssm.models import ParameterDict, SimpleSystemManagerBackend  # noqa: PLC0415

    get_parameter, get_parameter_history = _shared_parameter_reads()
    patches: dict[tuple[type, str], Any] = {
        (ParameterDict, "_check_loading_status"): _powertools_parameters(),
        (StackInstances, "org_backend"): _organisation_of_stackset_account(),
        (CloudFormationResponse, "create_stack_set"): _create_stack_set_remembering_auto_deployment(),
        (StackSet, "create_stack_instances"): _create_stack_instances_remembering_targets(),
        (OrganizationsBackend, "move_account"): _move_account_auto_deploying(),
        (SimpleSystemManagerBackend, "get_parameter"): get_parameter,
        (SimpleSystemManagerBackend, "get_parameter_history"): get_parameter_history,
        **{
            (OrganizationsBackend, name): _delegated_administrators_read_the_organisation(name)
            for name in (
                "list_accounts",
                "list_accounts_for_parent",
                "list_organizational_units_for_parent",
                "list_roots",
            )
        },
    }
    for (cls, name), value in patches.items():
        setattr(cls, name, value)
    from moto.cloudformation import parsing  # noqa: PLC0415

    parsing.clean_json = _no_value_removes_list_items()
    _resource_policies_in_cloudformation()
    _parameters_shareable()
