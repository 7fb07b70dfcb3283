"""A local AWS Organization with DAS Guard rolled out the way docs/deploying.md's organisation checklist says.

    with World() as world:
        org = Organisation(world)          # management account, security account, 3 members in 2 OUs
        org.roll_out()                     # code buckets, `org.package` publish, the central stack, the StackSet
        member = org.member(org.accounts["prod-a"], "eu-west-1")   # the stack the StackSet created there
        member.add_cluster("orders-pg"); member.sweep()

What is real (moto): Organizations, STS into every account, S3, the StackSet (service-managed) that creates
template.yaml's translated resources in each member account and region, the organisation bus and cross-account
forwarding, SNS, SQS, Security Hub. What is modelled, and where:
- **The central stack** (org/central.yaml) is a SAM template with a StackSet resource, which moto's CloudFormation
  cannot create. `deploy_central()` creates what that template declares with the same properties, read from the
  template itself (parameters, the StackSet's parameters and targets, the bus policy, the rule patterns), so a
  change to central.yaml changes what the test deploys. The notifier function runs in-process from its queue, as
  the member functions do.
- moto's gaps for StackSets and RAM (delegated administrator, AutoDeployment, RAM-shared parameters, the public
  Powertools parameters): `das_extension`, the one place that patches moto.
- The member functions' containers are built from the environment the StackSet gave the deployed functions
  (`lambda:GetFunctionConfiguration`), not from a copy of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cloudformation import Resolver
from .runtime import ACCOUNT as MANAGEMENT_ACCOUNT
from .runtime import PollResult, QueuePoller

if TYPE_CHECKING:
    from .world import Deployment, World

ROOT = Path(__file__).resolve().parents[1]
CENTRAL_TEMPLATE = ROOT / "org" / "central.yaml"
STACKSETS_ADMIN = "member.org.stacksets.cloudformation.amazonaws.com"
VERSION = "0.0.0-local"


@dataclass
class CentralStack:
    """What the central stack created in the security account (physical names and ARNs)."""

    bus_arn: str
    policy_arn: str
    topic_arn: str
    alerts_url: str  # a test subscription to the central topic (what the security team's mailbox receives)
    results_url: str  # a test subscription to everything on the organisation bus
    notifier_url: str  # the notifier rule's target (the function, run in-process)
    log_group: str
    stack_sets: list[str] = field(default_factory=list)


class Organisation:
    """Management account, a security account (StackSets delegated administrator) and member accounts in OUs."""

    def __init__(
        self,
        world: World,
        *,
        ous: Mapping[str, list[str]] | None = None,
        regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
        bucket_prefix: str = "acme-das-guard",
        name_prefix: str = "das-guard",
        pilot_ous: tuple[str, ...] = (),
    ) -> None:
        self.world = world
        self.regions = regions
        self.bucket_prefix = bucket_prefix
        self.name_prefix = name_prefix
        self._ou_plan = dict(ous or {"prod": ["prod-a", "prod-b"], "dev": ["dev-a"]})
        self._pilot = pilot_ous
        self.management = MANAGEMENT_ACCOUNT
        self.accounts: dict[str, str] = {}  # name -> account id
        self.ous: dict[str, str] = {}  # name -> OU id
        self.central: CentralStack | None = None
        home = regions[0]
        orgs = world.session(self.management, home).client("organizations")
        self.organization = orgs.create_organization(FeatureSet="ALL")["Organization"]
        self.root = orgs.list_roots()["Roots"][0]["Id"]
        self.security = self._create_account("security")
        orgs.register_delegated_administrator(AccountId=self.security, ServicePrincipal=STACKSETS_ADMIN)
        for ou_name, members in self._ou_plan.items():
            self.ous[ou_name] = orgs.create_organizational_unit(ParentId=self.root, Name=ou_name)["OrganizationalUnit"][
                "Id"
            ]
            for member in members:
                self.join(member, ou_name)

    # -- accounts -------------------------------------------------------------------------------------------
    def _create_account(self, name: str) -> str:
        orgs = self.world.session(self.management, self.regions[0]).client("organizations")
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        self.accounts[name] = str(status["AccountId"])
        return self.accounts[name]

    def join(self, name: str, ou: str) -> str:
        """A new account in `ou` (auto-deployment gives it DAS Guard once the StackSet exists)."""
        account = self._create_account(name)
        self.move(account, self.root, self.ous[ou])
        return account

    def move(self, account: str, source: str, destination: str) -> None:
        orgs = self.world.session(self.management, self.regions[0]).client("organizations")
        orgs.move_account(AccountId=account, SourceParentId=source, DestinationParentId=destination)

    def members(self) -> dict[str, str]:
        return {n: a for n, a in self.accounts.items() if n != "security"}

    # -- the roll-out, as docs/deploying.md's commands do it -----------------------------------------------------------
    def roll_out(self) -> CentralStack:
        """Code buckets per region, `org.package publish`, then the central stack (which creates the StackSet)."""
        from org import package  # noqa: PLC0415 - the packaging tool, not part of the functions

        security = self.world.session(self.security, self.regions[0])
        for region in self.regions:
            s3 = security.client("s3", region_name=region)
            config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"{self.bucket_prefix}-{region}", **config)
        built = package.build(VERSION, bundle_dependencies=False)  # handlers run in-process here, not from the zip
        url = package.publish(built, bucket_prefix=self.bucket_prefix, regions=list(self.regions), session=security)
        return self.deploy_central(url)

    def deploy_central(self, template_url: str) -> CentralStack:
        """What org/central.yaml declares, created with the template's own properties (see the module docstring)."""
        from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

        template = yaml_parse(CENTRAL_TEMPLATE.read_text(encoding="utf-8"))
        home = self.regions[0]
        session = self.world.session(self.security, home)
        parameters = {name: p.get("Default", "") for name, p in template["Parameters"].items()}
        parameters |= {
            "OrganizationId": self.organization["Id"],
            "ManagementAccountId": self.management,
            "TargetOuIds": [self.ous[n] for n in self._ou_plan if n not in self._pilot],
            "PilotOuIds": [self.ous[n] for n in self._pilot],
            "Regions": list(self.regions),
            "MemberTemplateUrl": template_url,
            "ArtifactBucketPrefix": self.bucket_prefix,
            "NamePrefix": self.name_prefix,
        }
        resources = template["Resources"]
        names = Resolver(template, parameters, account=self.security, region=home)

        ssm = session.client("ssm")
        policy = resources["OrgPolicyParameter"]["Properties"]
        ssm.put_parameter(
            Name=names(policy["Name"]), Value=names(policy["Value"]), Type=policy["Type"], Tier=policy["Tier"]
        )
        policy_arn = f"arn:aws:ssm:{home}:{self.security}:parameter{names(policy['Name'])}"
        share = resources["OrgPolicyShare"]["Properties"]
        session.client("ram").create_resource_share(
            name=names(share["Name"]),
            principals=[names(p) for p in share["Principals"]],
            resourceArns=[names(r) for r in share["ResourceArns"]],
            allowExternalPrincipals=share["AllowExternalPrincipals"],
        )

        events = session.client("events")
        bus_name = names(resources["OrgEventBus"]["Properties"]["Name"])
        bus_arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
        statement = resources["OrgEventBusPolicy"]["Properties"]["Statement"]
        org_condition = statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"]
        events.put_permission(
            EventBusName=bus_name,
            Action=statement["Action"],
            Principal="*",
            StatementId=resources["OrgEventBusPolicy"]["Properties"]["StatementId"],
            Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": names(org_condition)},
        )
        sqs, sns = session.client("sqs"), session.client("sns")
        topic_arn = sns.create_topic(Name=names(resources["CentralAlertTopic"]["Properties"]["TopicName"]))["TopicArn"]
        alerts_url = _inbox(sqs, "das-guard-central-alert-inbox")
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=_queue_arn(sqs, alerts_url))
        log_group = names(resources["ResultsLogGroup"]["Properties"]["LogGroupName"])
        session.client("logs").create_log_group(logGroupName=log_group)

        results_url = _inbox(sqs, "das-guard-central-results-inbox")
        all_results = resources["AllResultsRule"]["Properties"]
        events.put_rule(
            Name=names(all_results["Name"]), EventBusName=bus_name, EventPattern=json.dumps(all_results["EventPattern"])
        )
        events.put_targets(
            Rule=names(all_results["Name"]),
            EventBusName=bus_name,
            Targets=[{"Id": "results-inbox", "Arn": _queue_arn(sqs, results_url)}],
        )
        notifier_url = _inbox(sqs, "das-guard-central-notifier")
        notify = resources["NotifierFunction"]["Properties"]["Events"]["NeedsAPerson"]["Properties"]
        events.put_rule(
            Name=f"{self.name_prefix}-org-notify", EventBusName=bus_name, EventPattern=json.dumps(notify["Pattern"])
        )
        events.put_targets(
            Rule=f"{self.name_prefix}-org-notify",
            EventBusName=bus_name,
            Targets=[{"Id": "notifier", "Arn": _queue_arn(sqs, notifier_url)}],
        )

        names = Resolver(template, parameters, account=self.security, region=home, names={"OrgEventBus": bus_arn})
        cfn = session.client("cloudformation")
        stack_sets = []
        for logical in ("MemberStackSet", "PilotStackSet"):
            properties = resources[logical]["Properties"]
            targets = names(properties["StackInstancesGroup"])
            if not any(group["DeploymentTargets"]["OrganizationalUnitIds"] for group in targets):
                continue  # the pilot StackSet's condition (HasPilot) is false
            name = names(properties["StackSetName"])
            cfn.create_stack_set(
                StackSetName=name,
                TemplateURL=names(properties["TemplateURL"]),
                PermissionModel=properties["PermissionModel"],
                AutoDeployment=properties["AutoDeployment"],
                Capabilities=properties["Capabilities"],
                CallAs=names(properties["CallAs"]),
                Parameters=names(properties["Parameters"]),
            )
            for group in targets:
                cfn.create_stack_instances(
                    StackSetName=name, DeploymentTargets=group["DeploymentTargets"], Regions=group["Regions"]
                )
            stack_sets.append(name)
        self.central = CentralStack(
            bus_arn, policy_arn, topic_arn, alerts_url, results_url, notifier_url, log_group, stack_sets
        )
        return self.central

    # -- what runs in the accounts --------------------------------------------------------------------------
    def member(self, account: str, region: str) -> Deployment:
        """The member stack the StackSet created in `account`/`region`, its enforcer's container built from the
        deployed function's own environment."""
        if (account, region) in self.world._deployments:
            return self.world.deployment(account, region)
        session = self.world.session(account, region)
        env = session.client("lambda").get_function_configuration(FunctionName=f"{self.name_prefix}-enforcer")[
            "Environment"
        ]["Variables"]
        return self.world.adopt(account, region, {k: str(v) for k, v in env.items()})

    def stack_instances(self) -> list[dict[str, Any]]:
        cfn = self.world.session(self.security, self.regions[0]).client("cloudformation")
        assert self.central is not None
        return [s for name in self.central.stack_sets for s in cfn.list_stack_instances(StackSetName=name)["Summaries"]]

    def notify(self) -> PollResult:
        """Run the central notifier on what reached its rule (Lambda's asynchronous invocation, in-process)."""
        from das_guard import central  # noqa: PLC0415

        assert self.central is not None
        session = self.world.session(self.security, self.regions[0])
        sns, topic = session.client("sns"), self.central.topic_arn

        def handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            for record in event["Records"]:
                central.publish(json.loads(record["body"]), sns, topic)
            return {"batchItemFailures": []}

        return QueuePoller(session.client("sqs"), self.central.notifier_url, handle).drain()

    def central_alerts(self) -> list[dict[str, Any]]:
        assert self.central is not None
        sqs = self.world.session(self.security, self.regions[0]).client("sqs")
        return [json.loads(m["Body"]) for m in _receive_all(sqs, self.central.alerts_url)]

    def central_events(self) -> list[dict[str, Any]]:
        """Everything that reached the organisation bus (a subscriber to it, as the results log is)."""
        assert self.central is not None
        sqs = self.world.session(self.security, self.regions[0]).client("sqs")
        return [json.loads(m["Body"]) for m in _receive_all(sqs, self.central.results_url)]


def _inbox(sqs: Any, name: str) -> str:
    return str(sqs.create_queue(QueueName=name)["QueueUrl"])


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return messages
