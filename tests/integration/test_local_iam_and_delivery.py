"""The local world's IAM (explicit Denies), SNS's topic keys, EventBridge's delivery rules and Lambda's loop detection
model what AWS does (localaws/das_extension: access.py, fixes.py; localaws/runtime.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from localaws import World, das_extension
from localaws.das_extension.access import Principal
from localaws.runtime import LOOP_DETECTION_INVOCATIONS, QueuePoller

ACCOUNT = "123456789012"
ALICE = Principal(f"arn:aws:iam::{ACCOUNT}:role/Alice", "alice")


def code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(**params)
    return str(error.value.response["Error"]["Code"])


def deny(action: str | list[str], **extra: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, **extra}]})


def test_a_queue_policys_explicit_deny_refuses_a_named_caller_but_not_the_roles_it_exempts(world: World) -> None:
    hand = world.session()
    url = hand.client("sqs").create_queue(QueueName="q")["QueueUrl"]
    policy = deny(
        "sqs:ReceiveMessage",
        Principal="*",
        Resource=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q",
        Condition={"ArnNotEquals": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:role/Owner"]}},
    )
    hand.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    alice = world.session(principal=ALICE).client("sqs")
    owner = world.session(principal=Principal(f"arn:aws:iam::{ACCOUNT}:role/Owner", "owner")).client("sqs")
    assert code(alice.receive_message, QueueUrl=url) == "AccessDenied"
    assert "Messages" not in owner.receive_message(QueueUrl=url)
    assert "Messages" not in hand.client("sqs").receive_message(QueueUrl=url), "the world's own hand is not evaluated"
    alice.send_message(QueueUrl=url, MessageBody="x")  # what no Deny forbids is allowed
    [refusal] = das_extension.access.refusals()
    assert (refusal.principal, refusal.action, refusal.by) == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Alice/alice",
        "sqs:ReceiveMessage",
        "a resource-based policy",
    )


def test_a_deny_attached_to_a_role_refuses_its_sessions_with_each_services_own_error(world: World) -> None:
    hand = world.session()
    iam = hand.client("iam")
    iam.create_role(RoleName="Alice", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(
        RoleName="Alice", PolicyName="quiet", PolicyDocument=deny(["sns:Publish", "dynamodb:*", "rds:*"], Resource="*")
    )
    topic = hand.client("sns").create_topic(Name="t")["TopicArn"]
    alice = world.session(principal=ALICE)
    assert code(alice.client("sns").publish, TopicArn=topic, Message="m") == "AuthorizationError"
    assert code(alice.client("dynamodb").list_tables) == "AccessDeniedException"
    assert code(alice.client("rds").describe_db_clusters) == "AccessDenied"
    iam.delete_role_policy(RoleName="Alice", PolicyName="quiet")
    alice.client("sns").publish(TopicArn=topic, Message="m")


def test_a_transaction_is_refused_as_its_parts_so_a_deny_on_put_item_covers_a_transactional_put(world: World) -> None:
    hand = world.session().client("dynamodb")
    hand.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"
    hand.put_resource_policy(ResourceArn=table, Policy=deny("dynamodb:PutItem", Principal="*", Resource=table))
    alice = world.session(principal=ALICE).client("dynamodb")
    check = {
        "ConditionCheck": {
            "TableName": "t",
            "Key": {"pk": {"S": "a"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}}
    assert code(alice.transact_write_items, TransactItems=[check, put]) == "AccessDeniedException"
    assert "Item" not in hand.get_item(TableName="t", Key={"pk": {"S": "b"}})
    alice.transact_write_items(TransactItems=[check])  # a condition check alone is no PutItem
    assert [(r.action, r.resource) for r in das_extension.access.refusals()] == [("dynamodb:PutItem", table)]


def test_lambda_source_function_arn_tells_a_functions_code_from_the_roles_other_sessions(world: World) -> None:
    iam = world.session().client("iam")
    iam.create_role(RoleName="Alice", AssumeRolePolicyDocument="{}")
    only_mine = deny(
        "*",
        Resource="*",
        Condition={
            "Null": {"lambda:SourceFunctionArn": "false"},
            "ArnNotLike": {"lambda:SourceFunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mine"},
        },
    )
    iam.put_role_policy(RoleName="Alice", PolicyName="only-mine", PolicyDocument=only_mine)
    fn = "arn:aws:lambda:us-east-1:123456789012:function:"
    for name, refused in (("mine", False), ("theirs", True)):
        sqs = world.session(principal=Principal(ALICE.role_arn, name, fn + name)).client("sqs")
        if refused:
            assert code(sqs.list_queues) == "AccessDenied"
        else:
            sqs.list_queues()
    world.session(principal=ALICE).client("sqs").list_queues()  # no function: the key is absent, the Deny silent


def test_a_topic_whose_key_is_disabled_refuses_publish_and_an_aws_managed_key_cannot_be(world: World) -> None:
    hand = world.session()
    kms, sns = hand.client("kms"), hand.client("sns")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    mine = sns.create_topic(Name="mine", Attributes={"KmsMasterKeyId": key})["TopicArn"]
    managed = sns.create_topic(Name="managed", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    sns.publish(TopicArn=mine, Message="m")
    kms.disable_key(KeyId=key)
    assert code(sns.publish, TopicArn=mine, Message="m") == "KMSDisabled"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert code(sns.publish, TopicArn=mine, Message="m") == "KMSInvalidState"
    sns.publish(TopicArn=managed, Message="m")


def inbox(session: boto3.Session, topic: str) -> str:
    sqs = session.client("sqs")
    url = str(sqs.create_queue(QueueName="inbox")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def put(session: boto3.Session, detail: dict[str, Any]) -> None:
    session.client("events").put_events(
        Entries=[{"Source": "local.test", "DetailType": "t", "Detail": json.dumps(detail)}]
    )


def received(session: boto3.Session, url: str) -> int:
    return len(session.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def test_eventbridge_delivers_to_a_topic_only_as_its_policy_allows_parks_the_rest_and_skips_disabled_rules(
    world: World,
) -> None:
    hand = world.session()
    sns, sqs, events = hand.client("sns"), hand.client("sqs"), hand.client("events")
    topic = sns.create_topic(Name="t")["TopicArn"]
    url = inbox(hand, topic)
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = events.put_rule(Name="r", EventPattern=json.dumps({"source": ["local.test"]}))["RuleArn"]
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": topic, "DeadLetterConfig": {"Arn": dlq_arn}}])

    put(hand, {"n": 1})  # the topic's default policy admits its account, not EventBridge
    assert received(hand, url) == 0
    assert received(hand, dlq) == 1
    assert das_extension.eventbridge_failures()[-1]["why"].startswith("AuthorizationError")

    allow = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
    }
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    put(hand, {"n": 2})
    assert received(hand, url) == 1

    events.disable_rule(Name="r")
    put(hand, {"n": 3})
    assert received(hand, url) == 0, "a disabled rule matches nothing"


def test_a_pattern_on_the_objects_of_an_array_matches_when_any_element_does(world: World) -> None:
    hand = world.session()
    sqs, events = hand.client("sqs"), hand.client("events")
    url = sqs.create_queue(QueueName="matched")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="keys", EventPattern=json.dumps({"detail": {"resources": {"ARN": ["arn:key/2"]}}}))
    events.put_targets(Rule="keys", Targets=[{"Id": "q", "Arn": arn}])
    put(hand, {"resources": [{"ARN": "arn:key/1"}, {"ARN": "arn:key/2", "type": "AWS::KMS::Key"}]})
    put(hand, {"resources": [{"ARN": "arn:key/3"}]})
    assert received(hand, url) == 1


@pytest.mark.parametrize(("setting", "invocations"), [("Terminate", LOOP_DETECTION_INVOCATIONS), ("Allow", 40)])
def test_loop_detection_stops_a_chain_after_sixteen_invocations_unless_allowed(
    world: World, setting: str, invocations: int
) -> None:
    hand = world.session()
    sqs = hand.client("sqs")
    url = sqs.create_queue(QueueName="loop")["QueueUrl"]
    chain = [0]
    stopped: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:  # a function that sends to its own queue
        header = f"Root=1-x;Lineage=fn:{chain[0] + 1}"
        sqs.send_message(
            QueueUrl=url,
            MessageBody="again",
            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}},
        )
        return {"batchItemFailures": []}

    sqs.send_message(QueueUrl=url, MessageBody="first")
    poller = QueuePoller(
        sqs,
        url,
        handler,
        recursive_loop=setting,
        in_chain=lambda n: chain.__setitem__(0, n),
        on_loop_stopped=stopped.append,
    )
    assert poller.drain(max_invocations=40).invocations == invocations
    assert len(stopped) == (1 if setting == "Terminate" else 0)


def test_cloudformation_applies_topic_and_queue_policies(world: World) -> None:
    """moto's CloudFormation skips AWS::SNS::TopicPolicy and AWS::SQS::QueuePolicy; the local world applies them."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*"}]}
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cfn-topic"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "cfn-queue"}},
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": document},
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": document},
            },
        }
    }
    hand = world.session()
    hand.client("cloudformation").create_stack(StackName="s", TemplateBody=json.dumps(template))
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:cfn-topic"
    attributes = hand.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert json.loads(attributes["Policy"]) == document
    url = hand.client("sqs").get_queue_url(QueueName="cfn-queue")["QueueUrl"]
    policy = hand.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert json.loads(policy) == document


def test_kms_refuses_cryptography_with_a_key_that_is_off(world: World) -> None:
    kms = world.session().client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sealed = kms.encrypt(KeyId=key, Plaintext=b"audit", EncryptionContext={"aws:rds:dbc-id": "cluster-1"})
    kms.disable_key(KeyId=key)
    blob = sealed["CiphertextBlob"]
    assert code(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"aws:rds:dbc-id": "cluster-1"}) == (
        "DisabledException"
    )
    assert code(kms.generate_data_key, KeyId=key, KeySpec="AES_256") == "DisabledException"
    kms.enable_key(KeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert code(kms.encrypt, KeyId=key, Plaintext=b"x") == "KMSInvalidStateException"
