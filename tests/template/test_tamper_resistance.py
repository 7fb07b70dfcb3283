"""The stack's resource policies keep forged input out, evaluated as IAM evaluates them (issue 10).

These tests evaluate the template's own statements, resolved for a deployed stack, with the IAM evaluation rules
(localaws/das_extension/iam_policy.py), request by request. An insider with sqs:* or dynamodb:* in their IAM policy
is still refused by an explicit Deny; EventBridge delivers only for DAS Guard's own rules. The same statements are
enforced on the local AWS in the attack scenarios (tests/security/test_side_doors.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from localaws.cloudformation import ACCOUNT, REGION, Resolver
from localaws.das_extension.iam_policy import Request, evaluate

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

    @pytest.mark.parametrize(
        "action", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    )
    def test_nobody_but_das_guard_eats_its_events(self, template: dict[str, Any], queue: str, action: str) -> None:
        """Receives and deletes are data events no rule sees: the insider with sqs:* is refused by the queue."""
        policy = statements(template, "EventsQueuePolicy", "PolicyDocument", OperatorRoleArns=[OPERATOR])
        assert evaluate(policy, Request(action, queue, principal_arn=DBA)) == "Deny"
        assert evaluate(policy, Request(action, queue, principal_arn=OPERATOR)) == "Deny"
        assert evaluate(policy, Request(action, queue, principal_arn=arn(template, "EnforcerRole"))) != "Deny"

    def test_only_named_operators_read_the_dead_letter_queue(self, template: dict[str, Any]) -> None:
        dlq = arn(template, "EventsDeadLetterQueue")
        receive = Request("sqs:ReceiveMessage", dlq, principal_arn=OPERATOR)
        assert evaluate(statements(template, "EventsQueuePolicy", "PolicyDocument"), receive) == "Deny"
        named = statements(template, "EventsQueuePolicy", "PolicyDocument", OperatorRoleArns=[OPERATOR])
        assert evaluate(named, receive) != "Deny"
        assert evaluate(named, Request("sqs:ReceiveMessage", dlq, principal_arn=DBA)) == "Deny"


class TestTheRole:
    """A function created with DAS Guard's role (by whoever holds iam:PassRole) can do nothing with it."""

    FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"

    def role_policy(self, template: dict[str, Any]) -> list[dict[str, Any]]:
        """The role's denials, resolved (its allows name resources the evaluator need not model; least privilege is
        measured separately): what matters here is that no Allow can outweigh them."""
        resolve = Resolver(template, {})
        [policy] = template["Resources"]["EnforcerRole"]["Properties"]["Policies"]
        denials = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Effect") == "Deny"]  # not the Fn::If ones
        allow_everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}  # the worst case of the allows
        return [*resolve(denials), allow_everything]

    @pytest.mark.parametrize("action", ["dynamodb:PutItem", "sqs:SendMessage", "rds:StartActivityStream"])
    def test_a_rogue_function_wearing_the_role_is_refused(self, template: dict[str, Any], action: str) -> None:
        rogue = Request(action, "*", principal_arn="x", context={"lambda:SourceFunctionArn": self.FUNCTION + "rogue"})
        assert evaluate(self.role_policy(template), rogue) == "Deny"

    @pytest.mark.parametrize("function", ["das-guard-enforcer", "das-guard-sweep", "das-guard-enforcer:live"])
    def test_das_guards_own_functions_are_not(self, template: dict[str, Any], function: str) -> None:
        own = Request(
            "dynamodb:PutItem", "*", principal_arn="x", context={"lambda:SourceFunctionArn": self.FUNCTION + function}
        )
        assert evaluate(self.role_policy(template), own) != "Deny"

    def test_the_event_source_mappings_polling_is_left_to_the_queue(self, template: dict[str, Any]) -> None:
        polling = Request("sqs:ReceiveMessage", arn(template, "EventsQueue"), principal_arn="x")  # no source function
        assert evaluate(self.role_policy(template), polling) != "Deny"


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

    @pytest.mark.parametrize("alarm", ["AlertFailedAlarm", "DeadLetterQueueNotEmptyAlarm"])
    def test_a_lost_alert_or_a_parked_watch_event_is_told_on_the_second_path_too(
        self, template: dict[str, Any], alarm: str
    ) -> None:
        """The alert topic may be what failed (its key disabled, its subscription filtered): these two alarms
        also act on the watch topic, whose policy lets CloudWatch publish for this account only."""
        actions = template["Resources"][alarm]["Properties"]["AlarmActions"]
        assert {"Ref": "WatchTopic"} in actions
        assert {"Ref": "AlertTopic"} in actions
        policy = statements(template, "WatchTopicPolicy", "PolicyDocument")
        topic = Resolver(template).ref("WatchTopic")
        ours = Request("sns:Publish", topic, service="cloudwatch.amazonaws.com", context={"aws:SourceAccount": ACCOUNT})
        theirs = Request("sns:Publish", topic, service="cloudwatch.amazonaws.com", context={"aws:SourceAccount": "1"})
        assert (evaluate(policy, ours), evaluate(policy, theirs)) == ("Allow", "None")

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
