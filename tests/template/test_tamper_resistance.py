"""The stack's resource policies keep forged input out, evaluated as IAM evaluates them (issue 10).

moto does not enforce resource policies, so these tests evaluate the template's own statements, resolved for a
deployed stack, with the IAM evaluation rules (iam_evaluation.py). An insider with sqs:* or dynamodb:* in their IAM
policy is still refused by an explicit Deny; EventBridge delivers only for DAS Guard's own rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from .iam_evaluation import Request, evaluate
from .intrinsics import ACCOUNT, REGION, Resolver

DBA = f"arn:aws:iam::{ACCOUNT}:role/DBA"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/DasGuardOperator"


def statements(template: dict[str, Any], resource: str, *path: str, **parameters: Any) -> list[dict[str, Any]]:
    resolve = Resolver(template, parameters)
    node: Any = template["Resources"][resource]["Properties"]
    for part in path:
        node = node[part]
    return list(resolve(node)["Statement"])


def arn(template: dict[str, Any], resource: str) -> str:
    return Resolver(template).get_att(resource, "Arn")


def send(queue: str, **request: Any) -> Request:
    return Request("sqs:SendMessage", queue, **request)


class TestQueues:
    @pytest.fixture
    def queue(self, template: dict[str, Any]) -> str:
        return arn(template, "EventsQueue")

    @pytest.mark.parametrize("rule", ["RdsApiCallRule", "RdsTagChangeRule", "RdsEventRule", "PolicyChangeRule"])
    def test_our_rules_deliver(self, template: dict[str, Any], queue: str, rule: str) -> None:
        policy = statements(template, "EventsQueuePolicy", "PolicyDocument")
        request = send(queue, service="events.amazonaws.com", context={"aws:SourceArn": arn(template, rule)})
        assert evaluate(policy, request) == "Allow"

    def test_a_rule_an_insider_points_at_the_queue_is_refused(self, template: dict[str, Any], queue: str) -> None:
        policy = statements(template, "EventsQueuePolicy", "PolicyDocument")
        forged = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/forge-stop-events"
        assert evaluate(policy, send(queue, service="events.amazonaws.com", context={"aws:SourceArn": forged})) == (
            "Deny"
        )

    @pytest.mark.parametrize("queue_name", ["EventsQueue", "EventsDeadLetterQueue"])
    def test_an_insider_with_sqs_star_cannot_send(self, template: dict[str, Any], queue_name: str) -> None:
        policy = statements(template, "EventsQueuePolicy", "PolicyDocument")
        assert evaluate(policy, send(arn(template, queue_name), principal_arn=DBA)) == "Deny"

    def test_das_guard_itself_still_defers_and_parks(self, template: dict[str, Any], queue: str) -> None:
        policy = statements(template, "EventsQueuePolicy", "PolicyDocument")
        role = arn(template, "EnforcerRole")
        for target in (queue, arn(template, "EventsDeadLetterQueue")):
            assert evaluate(policy, send(target, principal_arn=role)) != "Deny"

    def test_operators_named_at_deploy_time_may_redrive(self, template: dict[str, Any], queue: str) -> None:
        with_operators = statements(template, "EventsQueuePolicy", "PolicyDocument", OperatorRoleArns=[OPERATOR])
        assert evaluate(with_operators, send(queue, principal_arn=OPERATOR)) != "Deny"
        assert evaluate(with_operators, send(queue, principal_arn=DBA)) == "Deny"
        without = statements(template, "EventsQueuePolicy", "PolicyDocument")
        assert evaluate(without, send(queue, principal_arn=OPERATOR)) == "Deny"


class TestStateTable:
    @pytest.mark.parametrize(
        "action", ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
    )
    def test_nobody_but_das_guard_writes_holds(self, template: dict[str, Any], action: str) -> None:
        policy = statements(template, "StateTable", "ResourcePolicy", "PolicyDocument")
        table = arn(template, "StateTable")
        assert evaluate(policy, Request(action, table, principal_arn=DBA)) == "Deny"
        assert evaluate(policy, Request(action, table, principal_arn=arn(template, "EnforcerRole"))) != "Deny"

    def test_an_operator_may_remove_a_hold_by_hand_only_when_named(self, template: dict[str, Any]) -> None:
        table = arn(template, "StateTable")
        delete = Request("dynamodb:DeleteItem", table, principal_arn=OPERATOR)
        assert evaluate(statements(template, "StateTable", "ResourcePolicy", "PolicyDocument"), delete) == "Deny"
        named = statements(template, "StateTable", "ResourcePolicy", "PolicyDocument", OperatorRoleArns=[OPERATOR])
        assert evaluate(named, delete) != "Deny"

    def test_reading_is_left_to_iam(self, template: dict[str, Any]) -> None:
        policy = statements(template, "StateTable", "ResourcePolicy", "PolicyDocument")
        assert evaluate(policy, Request("dynamodb:Scan", arn(template, "StateTable"), principal_arn=DBA)) == "None"


class TestAlertTopic:
    @pytest.mark.parametrize("rule", ["GuardWatchRule", "KeyWatchRule"])
    def test_the_watch_rules_publish(self, template: dict[str, Any], rule: str) -> None:
        policy = statements(template, "AlertTopicPolicy", "PolicyDocument")
        topic = Resolver(template).ref("AlertTopic")
        request = Request(
            "sns:Publish", topic, service="events.amazonaws.com", context={"aws:SourceArn": arn(template, rule)}
        )
        assert evaluate(policy, request) == "Allow"
        other = Request("sns:Publish", topic, service="events.amazonaws.com", context={"aws:SourceArn": "arn:x"})
        assert evaluate(policy, other) == "None", "a service principal needs the topic's allow"

    def test_alarms_publish(self, template: dict[str, Any]) -> None:
        policy = statements(template, "AlertTopicPolicy", "PolicyDocument")
        topic = Resolver(template).ref("AlertTopic")
        request = Request(
            "sns:Publish", topic, service="cloudwatch.amazonaws.com", context={"aws:SourceAccount": ACCOUNT}
        )
        assert evaluate(policy, request) == "Allow"

    def test_the_watch_can_use_the_topics_key(self, template: dict[str, Any]) -> None:
        policy = statements(template, "OperationsKey", "KeyPolicy")
        request = Request(
            "kms:GenerateDataKey", "*", service="events.amazonaws.com", context={"aws:SourceAccount": ACCOUNT}
        )
        assert evaluate(policy, request) == "Allow"


class TestKeys:
    @pytest.mark.parametrize("key", ["ActivityStreamKey", "OperationsKey"])
    def test_no_statement_hands_out_everything(self, template: dict[str, Any], key: str) -> None:
        for statement in statements(template, key, "KeyPolicy"):
            assert "kms:*" not in (
                statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            )

    @pytest.mark.parametrize("key", ["ActivityStreamKey", "OperationsKey"])
    def test_named_administrators_administer_but_cannot_read_audit_records(
        self, template: dict[str, Any], key: str
    ) -> None:
        admin = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
        policy = statements(template, key, "KeyPolicy", KeyAdministratorArns=[admin])
        assert evaluate(policy, Request("kms:ScheduleKeyDeletion", "*", principal_arn=admin)) == "Allow"
        assert evaluate(policy, Request("kms:ScheduleKeyDeletion", "*", principal_arn=DBA)) == "None"
        administration = [s for s in policy if s["Sid"] == "AdministrationOnly"]
        assert evaluate(administration, Request("kms:Decrypt", "*", principal_arn=admin)) == "None"

    def test_rds_may_use_the_stream_key_only_through_rds(self, template: dict[str, Any]) -> None:
        policy = statements(template, "ActivityStreamKey", "KeyPolicy")
        [rds] = [s for s in policy if s["Sid"] == "RdsCreatesGrantsForActivityStreams"]
        grant = {"kms:ViaService": f"rds.{REGION}.amazonaws.com", "kms:GrantIsForAWSResource": "true"}
        role = arn(template, "EnforcerRole")
        assert evaluate([rds], Request("kms:CreateGrant", "*", principal_arn=role, context=grant)) == "Allow"
        assert evaluate([rds], Request("kms:CreateGrant", "*", principal_arn=role)) == "None"


class TestTheEvaluatorItself:
    """The helper must say what IAM says, or the tests above prove nothing."""

    DENY_UNLESS_ROLE = (
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/R"]}},
        },
    )

    def test_a_negated_operator_holds_when_the_key_is_missing(self) -> None:
        assert evaluate(self.DENY_UNLESS_ROLE, Request("sqs:SendMessage", "q", service="events.amazonaws.com")) == (
            "Deny"
        )

    def test_a_positive_operator_fails_when_the_key_is_missing(self) -> None:
        allow = [{**self.DENY_UNLESS_ROLE[0], "Effect": "Allow", "Condition": {"ArnEquals": {"aws:SourceArn": "x"}}}]
        assert evaluate(allow, Request("sqs:SendMessage", "q", principal_arn="arn:aws:iam::1:role/R")) == "None"

    def test_deny_wins_over_allow_and_unknown_operators_raise(self) -> None:
        allow = {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
        assert evaluate([allow, *self.DENY_UNLESS_ROLE], Request("sqs:SendMessage", "q", principal_arn="a")) == "Deny"
        odd = [{**allow, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]
        with pytest.raises(ValueError, match="not modelled"):
            evaluate(odd, Request("sqs:SendMessage", "q", principal_arn="a", context={"aws:SourceIp": "10.1.1.1"}))
