"""The side doors (issue 24), attacked through the local world with the template's own defences on.

Each scenario starts from `guarded`: the production cluster `orders-pg` audited, its stack wearing template.yaml's
queue, table and topic policies, its role and the watch rules (`localaws.guarded`). The insider acts with their own
role's session, which the local IAM evaluates (`das_extension.access`); what CloudTrail records reaches the watch
rules on the default bus. Each ends with the attack refused, or a named HIGH alert within minutes of simulated time
on a path the attack did not touch - and nothing lost.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import World, das_extension
from localaws.guarded import Guarded
from localaws.runtime import LOOP_DETECTION_INVOCATIONS
from localaws.scenario import DEMO_POLICY
from localaws.world import Deployment

BOB = "arn:aws:sts::123456789012:assumed-role/DBA/bob"


def refused(call: Any, **params: Any) -> str:
    """The error code AWS answers `call` with (the attack is refused)."""
    with pytest.raises(ClientError) as error:
        call(**params)
    return str(error.value.response["Error"]["Code"])


def watch_alerts_about(guarded: Guarded, call: str) -> list[str]:
    return [m["Message"] for m in guarded.watch_alerts() if m["Message"].startswith(f"DAS Guard HIGH: {call} ")]


def alert_topic_messages_about(deployment: Deployment, call: str) -> list[str]:
    return [m["Message"] for m in deployment.alerts() if m["Message"].startswith(f"DAS Guard HIGH: {call} ")]


def stop_and_settle(deployment: Deployment, world: World) -> None:
    """The insider stops the stream; DAS Guard answers (Aurora PostgreSQL: after its major-upgrade grace)."""
    deployment.stop_stream("orders-pg", by=BOB)
    deployment.drain()
    world.advance(minutes=16)
    deployment.drain()
    world.advance(minutes=10)


class TestTheQueue:
    def test_nobody_but_das_guard_reads_deletes_or_purges_its_events(self, guarded: Guarded, world: World) -> None:
        d = guarded.deployment
        sqs = guarded.insider().client("sqs")
        d.stop_stream("orders-pg", by=BOB)  # the events the insider wants to eat are on the queue now
        assert refused(sqs.receive_message, QueueUrl=d.stack.queue_url) == "AccessDenied"
        assert refused(sqs.purge_queue, QueueUrl=d.stack.queue_url) == "AccessDenied"
        assert refused(sqs.receive_message, QueueUrl=d.stack.dlq_url) == "AccessDenied"
        assert {r.by for r in das_extension.access.refusals()} == {"a resource-based policy"}

        d.drain()  # the event source mapping (DAS Guard's role) still polls
        world.advance(minutes=16)
        d.drain()
        world.advance(minutes=10)
        assert "Tampered" in d.outcomes()
        assert d.stream("orders-pg")["Status"] == "started", "nothing was eaten: the stream runs again"


class TestTheRole:
    def test_a_function_wearing_das_guards_role_can_do_nothing_with_it_and_is_reported(
        self, guarded: Guarded, world: World
    ) -> None:
        d = guarded.deployment
        guarded.cloudtrail(
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            {"functionName": "helper", "role": guarded.role_arn},
            by=BOB,
        )
        [alert] = watch_alerts_about(guarded, "CreateFunction20150331")
        assert BOB in alert
        assert alert_topic_messages_about(d, "CreateFunction20150331"), "on both paths"

        # the function's code wears DAS Guard's role: Lambda sets lambda:SourceFunctionArn to the helper
        code = d.world.session(
            d.account,
            d.region,
            principal=guarded.principal(guarded.role_arn.split("/")[-1], "helper", function="helper"),
        )
        hold = {"pk": {"S": f"hold#{d.resource_id('orders-pg')}"}, "by": {"S": "BreakGlass/carol"}}
        dynamodb, sqs = code.client("dynamodb"), code.client("sqs")
        assert refused(dynamodb.put_item, TableName=d.stack.state_table, Item=hold) == "AccessDeniedException"
        assert refused(sqs.receive_message, QueueUrl=d.stack.queue_url) == "AccessDenied"
        assert {r.by for r in das_extension.access.refusals()} == {"an identity-based policy"}

        stop_and_settle(d, world)
        assert d.stream("orders-pg")["Status"] == "started", "DAS Guard's own function still wears its role"

    def test_a_new_consumer_of_the_queue_is_reported_though_the_account_cannot_stop_it(self, guarded: Guarded) -> None:
        """The event source mapping polls with the role and without lambda:SourceFunctionArn: a mapping someone
        else points at the queue polls as DAS Guard does. It is reported at once; the control that prevents it is
        an SCP outside the account (docs/threat-model.md)."""
        d = guarded.deployment
        queue_arn = f"arn:aws:sqs:{d.region}:{d.account}:{d.stack.queue_url.rsplit('/', 1)[1]}"
        guarded.cloudtrail(
            "lambda.amazonaws.com",
            "CreateEventSourceMapping20150331",
            {"functionName": "helper", "eventSourceArn": queue_arn},
            by=BOB,
        )
        [alert] = watch_alerts_about(guarded, "CreateEventSourceMapping20150331")
        assert BOB in alert
        mapping = d.world.session(
            d.account, d.region, principal=guarded.principal(guarded.role_arn.split("/")[-1], "another-mapping")
        )
        assert "Messages" not in mapping.client("sqs").receive_message(QueueUrl=d.stack.queue_url), (
            "the honest gap: the queue's policy admits the role, whoever's mapping polls with it"
        )

    def test_a_deny_attached_to_das_guards_role_is_reported_by_eventbridge_not_by_the_role(
        self, guarded: Guarded, world: World
    ) -> None:
        d = guarded.deployment
        role = guarded.role_arn.split("/")[-1]
        deny = {"Effect": "Deny", "Action": ["sns:Publish", "rds:StartActivityStream"], "Resource": "*"}
        guarded.insider().client("iam").put_role_policy(
            RoleName=role, PolicyName="quiet", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
        )
        guarded.cloudtrail("iam.amazonaws.com", "PutRolePolicy", {"roleName": role, "policyName": "quiet"}, by=BOB)
        [alert] = watch_alerts_about(guarded, "PutRolePolicy")
        assert BOB in alert
        assert alert_topic_messages_about(d, "PutRolePolicy"), "EventBridge publishes, not the role"

        alerts_before = len(d.alerts())
        stop_and_settle(d, world)
        assert d.stream("orders-pg")["Status"] == "stopped", "the Deny works: DAS Guard cannot start the stream"
        assert len(d.alerts()) == alerts_before, "and cannot alert"
        # ... but nothing is silent: every decision is logged, and each refused alert is counted for the alarm
        # (AlertFailedAlarm, whose actions include the watch topic)
        refused_start = [x for x in d.decisions() if x["reason"] == "StartRefused"]
        assert refused_start, "the refused start is a decision, logged"
        assert "explicit deny in an identity-based policy" in refused_start[-1]["detail"]
        failed = [m for m in d.metrics() if "AlertFailed" in m]
        assert failed, "an alert that could not be published is counted"


class TestTheAlertPath:
    def subscription(self, guarded: Guarded) -> str:
        sns = guarded.deployment.aws.client("sns")
        [subscription] = sns.list_subscriptions_by_topic(TopicArn=guarded.deployment.stack.topic_arn)["Subscriptions"]
        return str(subscription["SubscriptionArn"])

    def test_a_filter_policy_that_drops_every_alert_is_reported_on_the_second_path(
        self, guarded: Guarded, world: World
    ) -> None:
        d, subscription = guarded.deployment, self.subscription(guarded)
        guarded.insider().client("sns").set_subscription_attributes(
            SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=json.dumps({"x": ["never"]})
        )
        guarded.cloudtrail(
            "sns.amazonaws.com",
            "SetSubscriptionAttributes",
            {"subscriptionArn": subscription, "attributeName": "FilterPolicy"},
            by=BOB,
        )
        before = len(d.alerts())
        stop_and_settle(d, world)
        assert len(d.alerts()) == before, "the filter works: nothing reaches the alert subscription"
        [alert] = watch_alerts_about(guarded, "SetSubscriptionAttributes")
        assert BOB in alert
        assert d.stream("orders-pg")["Status"] == "started", "and the stream runs again regardless"

    def test_unsubscribing_the_alert_mailbox_is_reported_on_the_second_path(self, guarded: Guarded) -> None:
        subscription = self.subscription(guarded)
        guarded.insider().client("sns").unsubscribe(SubscriptionArn=subscription)
        guarded.cloudtrail("sns.amazonaws.com", "Unsubscribe", {"subscriptionArn": subscription}, by=BOB)
        [alert] = watch_alerts_about(guarded, "Unsubscribe")
        assert BOB in alert

    def test_disabling_the_operations_key_silences_the_alert_topic_but_not_the_watch_topic(
        self, guarded: Guarded, world: World
    ) -> None:
        d = guarded.deployment
        key = guarded.operations_key_arn
        guarded.insider().client("kms").disable_key(KeyId=key.rsplit("/", 1)[1])
        guarded.cloudtrail(
            "kms.amazonaws.com",
            "DisableKey",
            {"keyId": key},
            by=BOB,
            resources=[{"accountId": d.account, "type": "AWS::KMS::Key", "ARN": key}],
        )
        [alert] = watch_alerts_about(guarded, "DisableKey")
        assert BOB in alert
        [failure] = [f for f in das_extension.eventbridge_failures() if f["rule"] == guarded.rule_names["KeyWatchRule"]]
        assert (failure["target"], failure["why"].split(":")[0]) == ("alert-topic", "KMSDisabled")
        parked = [e for e in d.dead_letters() if e.get("detail", {}).get("eventName") == "DisableKey"]
        assert parked, "the delivery the alert topic refused is parked in the DLQ, not lost"

        stop_and_settle(d, world)
        assert d.stream("orders-pg")["Status"] == "started", "enforcement does not depend on the alert topic"
        assert [m for m in d.metrics() if "AlertFailed" in m], "the lost alerts are counted (AlertFailedAlarm)"


class TestTheWatchRules:
    def test_disabling_the_self_watch_rule_is_reported_by_the_other(self, guarded: Guarded) -> None:
        d, rules = guarded.deployment, guarded.rule_names
        guarded.insider().client("events").disable_rule(Name=rules["GuardWatchRule"])
        guarded.cloudtrail("events.amazonaws.com", "DisableRule", {"name": rules["GuardWatchRule"]}, by=BOB)
        [alert] = watch_alerts_about(guarded, "DisableRule")
        assert BOB in alert
        assert "KMS key" in alert, "reported by the key-watch rule"

        # why it matters: from now on the self-watch rule reports nothing
        guarded.cloudtrail("sns.amazonaws.com", "Unsubscribe", {"subscriptionArn": f"{d.stack.topic_arn}:x"}, by=BOB)
        assert watch_alerts_about(guarded, "Unsubscribe") == []

    def test_disabling_the_key_watch_rule_is_reported_by_the_self_watch_rule(self, guarded: Guarded) -> None:
        rules = guarded.rule_names
        guarded.insider().client("events").disable_rule(Name=rules["KeyWatchRule"])
        guarded.cloudtrail("events.amazonaws.com", "DisableRule", {"name": rules["KeyWatchRule"]}, by=BOB)
        [alert] = watch_alerts_about(guarded, "DisableRule")
        assert BOB in alert
        assert "DAS Guard's own resources" in alert, "reported by the self-watch rule"

    def test_a_burst_that_disables_both_beats_them_and_is_named_by_the_next_sweep(
        self, guarded: Guarded, world: World
    ) -> None:
        """Inside one account this is the one way past the watch: every watch rule off before CloudTrail delivers
        the first record. The daily sweep reads the rules itself: no "all is well", the rules named."""
        d, rules = guarded.deployment, guarded.rule_names
        events = guarded.insider().client("events")
        for name in rules.values():
            events.disable_rule(Name=name)
        for name in rules.values():  # CloudTrail delivers minutes later, when both are off
            guarded.cloudtrail("events.amazonaws.com", "DisableRule", {"name": name}, by=BOB)
        assert watch_alerts_about(guarded, "DisableRule") == [], "beaten inside the account"

        before = len(d.alerts())
        world.advance(days=1)
        d.sweep("next-day")
        [digest] = [a for a in d.alerts()[before:] if a["Subject"].startswith("DAS Guard sweep")]
        assert "all is well" not in digest["Subject"]
        for name in rules.values():
            assert f"watch rule {name} is DISABLED" in digest["Message"]
        assert d.api.calls["events:DescribeRule"] == len(rules)

    def test_a_deleted_watch_rule_is_named_by_the_sweep(self, guarded: Guarded) -> None:
        d, rule = guarded.deployment, guarded.rule_names["KeyWatchRule"]
        events = guarded.insider().client("events")
        events.remove_targets(Rule=rule, Ids=["alert-topic", "watch-topic"])
        events.delete_rule(Name=rule)
        before = len(d.alerts())
        d.sweep("after-delete")
        [digest] = [a for a in d.alerts()[before:] if a["Subject"].startswith("DAS Guard sweep")]
        assert f"watch rule {rule} is DELETED" in digest["Message"]


class TestTheRecords:
    """The records of a started stream live in a Kinesis stream Aurora creates: the insider need not stop anything
    to lose them (issue 25)."""

    def test_lowering_the_retention_is_reported_at_once_and_raised_again_by_the_next_sweep(
        self, guarded: Guarded, world: World
    ) -> None:
        d = guarded.deployment
        document = copy.deepcopy(DEMO_POLICY)
        document["rules"][1]["records"] = {"retention_hours": 168}  # regulated-data: enforce
        d.put_policy(document)
        world.advance(minutes=2)
        d.sweep()
        stream = d.stream("orders-pg")["KinesisStreamName"]
        kinesis = guarded.insider().client("kinesis")
        assert (
            kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["RetentionPeriodHours"]
            == 168
        )

        kinesis.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
        guarded.cloudtrail(
            "kinesis.amazonaws.com",
            "DecreaseStreamRetentionPeriod",
            {"streamName": stream, "retentionPeriodHours": 24},
            by=BOB,
        )
        [alert] = watch_alerts_about(guarded, "DecreaseStreamRetentionPeriod")
        assert BOB in alert
        assert alert_topic_messages_about(d, "DecreaseStreamRetentionPeriod"), "on both paths"

        world.advance(days=1)
        d.sweep("next-day")
        assert (
            kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["RetentionPeriodHours"]
            == 168
        )

    def test_deleting_the_kinesis_stream_is_reported_at_once_and_fails_the_cluster(
        self, guarded: Guarded, world: World
    ) -> None:
        d = guarded.deployment
        document = copy.deepcopy(DEMO_POLICY)
        document["rules"][1]["records"] = {"retention_hours": 24}
        d.put_policy(document)
        world.advance(minutes=2)
        stream = d.stream("orders-pg")["KinesisStreamName"]
        guarded.insider().client("kinesis").delete_stream(StreamName=stream)
        guarded.cloudtrail("kinesis.amazonaws.com", "DeleteStream", {"streamName": stream}, by=BOB)
        [alert] = watch_alerts_about(guarded, "DeleteStream")
        assert BOB in alert
        d.sweep("after-delete")
        [decision] = [x for x in d.decisions() if x.get("cluster_id") == "orders-pg"][-1:]
        assert (decision["reason"], decision["severity"]) == ("RecordsStreamMissing", "CRITICAL")


class TestLoopDetection:
    """A cluster that takes hours to become ready is re-checked through the function's own queue: a chain of
    invocations Lambda's recursive loop detection stops after 16 unless the function says `RecursiveLoop: Allow`."""

    def slow_restore(self, deployment: Deployment, world: World) -> int:
        """A cluster that never becomes ready: DAS Guard re-checks it until its readiness window (3 h) ends.
        Returns the longest chain of invocations seen."""
        deployment.add_cluster("restored-pg", creating=True, tags={"data-class": "pci"})
        event = world.sample("cloudtrail-create-db-cluster-still-creating")
        event["detail"]["requestParameters"]["dBClusterIdentifier"] = "restored-pg"
        event["detail"]["responseElements"]["dBClusterIdentifier"] = "restored-pg"
        event["detail"]["responseElements"]["dBClusterArn"] = "arn:aws:rds:us-east-1:123456789012:cluster:restored-pg"
        deployment.send(event)
        longest = 0
        for _ in range(80):
            deployment.drain()
            longest = max([longest, *(m["lineage"] for m in deployment.queued())])
            world.advance(minutes=3)
        return longest

    def test_the_template_lets_the_chain_reach_its_readiness_alert(self, guarded: Guarded, world: World) -> None:
        d = guarded.deployment
        assert d.recursive_loop == "Allow"
        longest = self.slow_restore(d, world)
        assert longest > LOOP_DETECTION_INVOCATIONS, "the chain is longer than loop detection allows"
        assert any(x["reason"] == "ReadinessTimeout" and "restored-pg" in json.dumps(x) for x in d.decisions())
        assert any("ReadinessTimeout" in a.get("Subject", "") for a in d.alerts())
        assert d.loop_stopped == []

    def test_with_lambdas_default_the_chain_would_be_cut_and_the_alert_never_sent(
        self, guarded: Guarded, world: World
    ) -> None:
        d = guarded.deployment
        d.recursive_loop = "Terminate"  # what the function would have without the template's setting
        self.slow_restore(d, world)
        assert not any(x["reason"] == "ReadinessTimeout" for x in d.decisions())
        [stopped] = d.loop_stopped
        assert json.loads(stopped["Body"])["dasGuard"]["attempt"] == LOOP_DETECTION_INVOCATIONS
