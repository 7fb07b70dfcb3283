"""A local stack wearing template.yaml's own defences, and the insider who attacks it.

`Deployment` seeds the resources DAS Guard's function needs; `guard()` puts on them what the template deploys
around them - the queue, table and topic policies, the function's role with its identity policy (and the Denies in
it), the alert topic's operations key, the second (watch) topic, and the two watch rules on the account's default
bus - all read from template.yaml and resolved for the local names, so a scenario tests the template's policies,
not a copy. From then on the function calls AWS as its role (`lambda:SourceFunctionArn` set, as for a function's
code), the event source mapping polls as the role without it, and the local IAM (`das_extension.access`) refuses
what a Deny forbids.

The insider acts with `insider()` (a session of their role: the local IAM evaluates it) and every call they make
that CloudTrail records reaches the default bus through `cloudtrail()`, where the watch rules see it as EventBridge
would (moto's own pattern matching, an independent reading of the patterns `tests/template/test_routing.py`
checks with ours).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from .cloudformation import Resolver
from .das_extension.access import Principal
from .deployment import Deployment, _drain

STACK = "das-guard"
WATCH_RULES = ("GuardWatchRule", "KeyWatchRule", "RecordsWatchRule")


@dataclass
class Guarded:
    """A deployment with the template's defences on, and the scenario's handle on the attack."""

    deployment: Deployment
    role_arn: str
    watch_topic_arn: str
    operations_key_arn: str
    rule_names: dict[str, str]
    _watch_inbox: str
    _watched: list[dict[str, Any]]

    def insider(self, role: str = "DBA", name: str = "bob") -> boto3.Session:
        """A session of the insider's role in the deployment's account (evaluated by the local IAM)."""
        d = self.deployment
        return d.world.session(d.account, d.region, principal=self.principal(role, name))

    def principal(self, role: str = "DBA", name: str = "bob", *, function: str | None = None) -> Principal:
        arn = f"arn:aws:iam::{self.deployment.account}:role/{role}"
        source = f"arn:aws:lambda:{self.deployment.region}:{self.deployment.account}:function:{function}"
        return Principal(arn, name, source if function else None)

    def cloudtrail(
        self,
        source: str,
        name: str,
        parameters: Mapping[str, Any],
        *,
        by: str,
        response: Mapping[str, Any] | None = None,
        resources: list[dict[str, str]] | None = None,
    ) -> None:
        """CloudTrail records `by`'s call and EventBridge puts the record on the account's default bus (the watch
        rules match it there; DAS Guard's own event rules are the local world's `send`)."""
        from moto.events.models import events_backends  # noqa: PLC0415

        d = self.deployment
        detail: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole", "arn": by, "accountId": d.account},
            "eventTime": d.world.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": d.region,
            "sourceIPAddress": "203.0.113.24",
            "requestParameters": dict(parameters),
            "responseElements": dict(response) if response is not None else None,
            "eventID": str(uuid.uuid4()),
            "eventType": "AwsApiCall",
            "recipientAccountId": d.account,
        }
        if resources is not None:
            detail["resources"] = resources
        service = {"monitoring": "cloudwatch"}.get(source.split(".", maxsplit=1)[0], source.split(".", maxsplit=1)[0])
        events_backends[d.account][d.region].put_events(
            [{"Source": f"aws.{service}", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(detail)}]
        )

    def watch_alerts(self) -> list[dict[str, Any]]:
        """Every message published to the watch topic so far (SNS envelopes)."""
        self._watched += _drain(self.deployment.aws.client("sqs"), self._watch_inbox)
        return list(self._watched)


def guard(deployment: Deployment, template: Mapping[str, Any]) -> Guarded:
    """Put template.yaml's defences on `deployment`'s stack (see the module's docstring)."""
    d, stack = deployment, deployment.stack
    session = d.aws
    kms, sns, sqs = session.client("kms"), session.client("sns"), session.client("sqs")
    operations_key = kms.create_key(Description="DAS Guard operations")["KeyMetadata"]["Arn"]
    watch_topic = sns.create_topic(Name=f"{STACK}-watch")["TopicArn"]
    names = {
        "EventsQueue": stack.queue_url.rsplit("/", 1)[1],
        "EventsDeadLetterQueue": stack.dlq_url.rsplit("/", 1)[1],
        "StateTable": stack.state_table,
        "AlertTopic": stack.topic_arn.rsplit(":", 1)[1],
        "WatchTopic": f"{STACK}-watch",
        "EnforcerRole": f"{STACK}-EnforcerRole",
        "EnforcerFunction": f"{STACK}-enforcer",
        "SweepFunction": f"{STACK}-sweep",
        "GuardWatchRule": f"{STACK}-guard-watch",
        "KeyWatchRule": f"{STACK}-key-watch",
        "RecordsWatchRule": f"{STACK}-records-watch",
        "ActivityStreamKey": stack.key_arn,
        "OperationsKey": operations_key,
    }
    resolve = Resolver(template, account=d.account, region=d.region, stack=STACK, names=names)
    resources = template["Resources"]

    def document(logical_id: str, *path: str) -> dict[str, Any]:
        node: Any = resources[logical_id]["Properties"]
        for step in path:
            node = node[step]
        return dict(resolve(node))

    queue_policy = json.dumps(document("EventsQueuePolicy", "PolicyDocument"))
    for url in (stack.queue_url, stack.dlq_url):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy})
    table_arn = session.client("dynamodb").describe_table(TableName=stack.state_table)["Table"]["TableArn"]
    session.client("dynamodb").put_resource_policy(
        ResourceArn=table_arn, Policy=json.dumps(document("StateTable", "ResourcePolicy", "PolicyDocument"))
    )
    sns.set_topic_attributes(
        TopicArn=stack.topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(document("AlertTopicPolicy", "PolicyDocument")),
    )
    sns.set_topic_attributes(TopicArn=stack.topic_arn, AttributeName="KmsMasterKeyId", AttributeValue=operations_key)
    sns.set_topic_attributes(
        TopicArn=watch_topic,
        AttributeName="Policy",
        AttributeValue=json.dumps(document("WatchTopicPolicy", "PolicyDocument")),
    )
    sns.set_topic_attributes(TopicArn=watch_topic, AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns")
    watch_inbox = sqs.create_queue(QueueName=f"{STACK}-watch-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=watch_inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=watch_topic, Protocol="sqs", Endpoint=inbox_arn)

    iam = session.client("iam")
    role = resources["EnforcerRole"]["Properties"]
    role_arn = iam.create_role(
        RoleName=names["EnforcerRole"], AssumeRolePolicyDocument=json.dumps(resolve(role["AssumeRolePolicyDocument"]))
    )["Role"]["Arn"]
    for policy in role["Policies"]:
        iam.put_role_policy(
            RoleName=names["EnforcerRole"],
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(resolve(policy["PolicyDocument"])),
        )

    events = session.client("events")
    for logical_id in WATCH_RULES:
        rule = resolve(resources[logical_id]["Properties"])
        events.put_rule(Name=names[logical_id], EventPattern=json.dumps(rule["EventPattern"]), State=rule["State"])
        events.put_targets(
            Rule=names[logical_id],
            Targets=[
                {k: v for k, v in target.items() if k in ("Id", "Arn", "InputTransformer", "DeadLetterConfig")}
                for target in rule["Targets"]
            ],
        )

    function_arn = f"arn:aws:lambda:{d.region}:{d.account}:function:{names['EnforcerFunction']}"
    d.function_principal = Principal(role_arn, names["EnforcerFunction"], function_arn)
    d.mapping_principal = Principal(role_arn, "event-source-mapping")  # polls with the role, no source function
    d.recursive_loop = str(resources["EnforcerFunction"]["Properties"].get("RecursiveLoop", "Terminate"))
    d.redeploy(DAS_GUARD_WATCH_RULES=",".join(names[k] for k in WATCH_RULES))
    return Guarded(
        d,
        role_arn,
        watch_topic,
        operations_key,
        {k: names[k] for k in WATCH_RULES},
        watch_inbox,
        [],
    )
