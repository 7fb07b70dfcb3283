"""template.yaml: transforms with SAM, lints clean, and says what the README claims (IAM, wiring, defaults)."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cfnlint.api import ManualArgs, lint_file

from das_guard.policy import Action, StreamMode, parse_policy
from das_guard.settings import Settings
from localaws.cloudformation import Resolver

from .conftest import ROOT


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement, optional features (`Fn::If` statements) on."""
    role = template["Resources"]["EnforcerRole"]["Properties"]
    entries = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in entries]


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return value if isinstance(value, list) else [value]


def test_sam_transform_produces_the_deployable_resources(transformed: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in transformed["Resources"].values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Events::Rule",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::SSM::Parameter",
        "AWS::IAM::Role",
        "AWS::CloudWatch::Alarm",
    } <= kinds
    assert not any(k.startswith("AWS::Serverless::") for k in kinds)


def test_cfn_lint_finds_nothing() -> None:
    matches = lint_file(ROOT / "template.yaml", config=ManualArgs(include_checks=["I"]))
    assert [str(m) for m in matches] == []


def test_function_runtime_architecture_layer_and_handler(transformed: dict[str, Any]) -> None:
    function = transformed["Resources"]["EnforcerFunction"]["Properties"]
    assert (function["Runtime"], function["Architectures"]) == ("python3.13", ["arm64"])
    assert function["Layers"] == [{"Ref": "PowertoolsLayer"}]  # which version: test_powertools_as_deployed.py
    module, _, name = function["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert (ROOT / "functions" / module.replace(".", "/")).with_suffix(".py").exists()


def test_code_package_holds_only_the_lambda_code() -> None:
    shipped = {p.relative_to(ROOT / "functions").parts[0] for p in (ROOT / "functions").rglob("*.py")}
    assert shipped == {"das_guard"}, "moto, tests and the demo must not be in the deployment package"


def test_environment_variables_are_exactly_what_the_function_reads(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    numbers = {
        "ReadinessTimeoutMinutes": "180",
        "PolicyCacheSeconds": "60",
        "MaxReceiveCount": "5",
        "EnforcementMode": "report-only",
        "MaxExemptionDays": "90",
    }
    env = {"AWS_REGION": "us-east-1"}
    for name, value in variables.items():
        if isinstance(value, dict) and "Fn::If" in value:
            value = value["Fn::If"][2]  # noqa: PLW2901 - the single-account branch
        ref = value.get("Ref") if isinstance(value, dict) else None
        env[name] = numbers.get(ref or "", f"value-of-{ref}" if ref else str(value))
    settings = Settings.from_env(env)
    assert settings.policy_parameter == "value-of-PolicyParameterName"
    assert settings.queue_url == "value-of-EventsQueue"
    assert settings.alert_topic_arn == "value-of-AlertTopic"
    assert settings.max_receive_count == 5
    assert settings.state_table == "value-of-StateTable"
    assert settings.report_only is True
    assert settings.max_exemption_days == 90
    assert settings.security_hub is False  # value-of-SecurityHubFindings is not "true"
    read_by_code = set(re.findall(r'"(DAS_GUARD_[A-Z_]+)"', (ROOT / "functions/das_guard/settings.py").read_text()))
    assert read_by_code - {"DAS_GUARD_RETRY_BASE_SECONDS", "DAS_GUARD_RETRY_MAX_SECONDS"} == {
        k for k in variables if k.startswith("DAS_GUARD_")
    }


def test_default_policy_document_is_valid(template: dict[str, Any]) -> None:
    text, variables = template["Resources"]["PolicyParameter"]["Properties"]["Value"]["Fn::Sub"]
    assert set(variables) == {"Key", "Immediately"}
    params = {name: str(p.get("Default")) for name, p in template["Parameters"].items()}
    params["Key"] = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    params["Immediately"] = Resolver(template)(variables["Immediately"])
    rendered = re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], text)
    policy = parse_policy(rendered)
    rule = policy.rule_for({})
    assert (rule.action, rule.mode, rule.apply_immediately, rule.kms_key) == (
        Action.ENFORCE,
        StreamMode.ASYNC,
        "new-clusters",  # the first deployment restarts no busy cluster
        params["Key"],
    )
    for choice, parsed in (("true", True), ("false", False)):
        params["Immediately"] = Resolver(template, {"ApplyImmediately": choice})(variables["Immediately"])
        document = re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], text)
        assert parse_policy(document).rule_for({}).apply_immediately is parsed
    report_only = parse_policy(
        re.sub(r"\$\{(\w+)\}", lambda m: {**params, "DefaultAction": "report-only"}[m.group(1)], text)
    )
    assert report_only.rule_for({}).action is Action.REPORT_ONLY


class TestLeastPrivilege:
    def test_start_only_on_clusters_of_this_account_and_region(self, template: dict[str, Any]) -> None:
        [start] = [s for s in role_statements(template) if "rds:StartActivityStream" in actions(s)]
        assert actions(start) == ["rds:StartActivityStream"]
        assert start["Effect"] == "Allow"
        assert start["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*"}

    def test_never_stop_or_modify_streams(self, template: dict[str, Any]) -> None:
        statements = role_statements(template)
        allowed = {a for s in statements if s["Effect"] == "Allow" for a in actions(s)}
        assert not allowed & {"rds:StopActivityStream", "rds:ModifyActivityStream"}
        [deny] = [s for s in statements if s["Effect"] == "Deny" and s["Sid"] == "NeverStopOrChangeStreams"]
        assert set(actions(deny)) == {"rds:StopActivityStream", "rds:ModifyActivityStream"}
        others = [s["Sid"] for s in statements if s["Effect"] == "Deny" and s is not deny]
        assert others == ["OnlyDasGuardsFunctionsWearTheRole"]

    def test_no_wildcard_actions(self, template: dict[str, Any]) -> None:
        allowed = [s for s in role_statements(template) if s["Effect"] == "Allow"]
        assert [a for s in allowed for a in actions(s) if "*" in a] == []

    # The only actions AWS offers no resource-level permission for (X-Ray trace upload; the orderable-options read,
    # which is then scoped to the stack's region by condition).
    UNSCOPABLE: ClassVar[set[str]] = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "rds:DescribeOrderableDBInstanceOptions",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeRegions",
        "firehose:ListDeliveryStreams",
        "lambda:ListEventSourceMappings",
        "cloudwatch:GetMetricData",
    }
    # Reads that must reach other regions of this account (issue 24, "nothing unseen"): which hold Aurora clusters,
    # and whether this deployment's enforcer runs there. Reads only, this account only.
    ACROSS_REGIONS: ClassVar[dict[str, set[str]]] = {
        "SeeRegionsWithoutDasGuard": {"rds:DescribeDBClusters"},
        "FindDasGuardInOtherRegions": {"lambda:GetFunction"},
    }

    def test_every_allow_is_scoped_to_resources_of_this_stack_or_account_region(self, template: dict[str, Any]) -> None:
        for statement in role_statements(template):
            if statement["Effect"] != "Allow":
                continue
            if statement["Resource"] == "*":
                assert set(actions(statement)) <= self.UNSCOPABLE, statement["Sid"]
                if not set(actions(statement)) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}:
                    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}}
                continue
            if statement["Sid"] in self.ACROSS_REGIONS:
                assert set(actions(statement)) == self.ACROSS_REGIONS[statement["Sid"]]
                assert ":${AWS::AccountId}:" in json.dumps(statement["Resource"]), "this account only"
                continue
            resources = json.dumps(statement["Resource"]).replace(":cluster:*", "").replace(":db:*", "")
            resources = resources.replace("${AWS::AccountId}:key/*", "")  # keys of this account and region only
            resources = resources.replace(":cluster-snapshot:*", "")
            resources = resources.replace(":stream/aws-rds-das-*", "")  # the Kinesis streams of activity streams only
            resources = resources.replace(":deliverystream/*", "")  # which delivery streams read them (describe)
            resources = resources.replace(":deliverystream/das-guard-archive-*", "")  # DAS Guard's own archive
            if ":rule/${Prefix}-*" in resources:  # this stack's rules by name (GetAtt would be circular): read only
                assert actions(statement) == ["events:DescribeRule"], statement["Sid"]
                resources = resources.replace(":rule/${Prefix}-*", "")
            assert "*" not in resources.replace(":deployment:*", "").replace(":cluster-pg:*", ""), statement["Sid"]

    def test_grants_only_on_designated_keys_and_describe_any_key_of_the_account(self, template: dict[str, Any]) -> None:
        statements = {s["Sid"]: s for s in role_statements(template) if any(a.startswith("kms:") for a in actions(s))}
        assert set(statements) == {"DescribeKeysOfTheAccount", "LetRdsUseDesignatedKeys", "UseTheOperationsKey"}
        designated = {"Fn::If": ["CreateKey", [{"Fn::GetAtt": ["ActivityStreamKey", "Arn"]}], {"Ref": "KmsKeyArns"}]}
        assert actions(statements["DescribeKeysOfTheAccount"]) == ["kms:DescribeKey"]
        assert actions(statements["LetRdsUseDesignatedKeys"]) == ["kms:CreateGrant"]
        # a running stream's key is vouched for whoever started it: any key of this account and region, no other
        assert statements["DescribeKeysOfTheAccount"]["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"
        }
        assert statements["LetRdsUseDesignatedKeys"]["Resource"] == designated
        assert statements["LetRdsUseDesignatedKeys"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
        # the stream keys are never used to encrypt or decrypt anything by DAS Guard itself
        assert set(actions(statements["UseTheOperationsKey"])) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
        assert statements["UseTheOperationsKey"]["Resource"] == {"Fn::GetAtt": ["OperationsKey", "Arn"]}

    def test_sam_adds_no_managed_policies(self, transformed: dict[str, Any]) -> None:
        roles = resources_of(transformed, "AWS::IAM::Role")
        assert sorted(roles) == ["ArchiveDeliveryRole", "AuditRole", "CentralForwardRole", "EnforcerRole"]
        deployed = [n for n in roles if Resolver(transformed).deployed(n)]
        assert sorted(deployed) == ["ArchiveDeliveryRole", "EnforcerRole"]  # single account
        assert "ManagedPolicyArns" not in roles["EnforcerRole"]["Properties"]


class TestEventDelivery:
    def test_rules_deliver_to_the_queue_with_retries_and_a_dead_letter_queue(self, template: dict[str, Any]) -> None:
        resolve = Resolver(template)
        rules = {n: r for n, r in resources_of(template, "AWS::Events::Rule").items() if resolve.deployed(n)}
        queued = {n for n, r in rules.items() if r["Properties"]["Targets"][0]["Arn"] != {"Ref": "AlertTopic"}}
        assert queued == {"RdsApiCallRule", "RdsTagChangeRule", "RdsChangeRule", "RdsEventRule", "PolicyChangeRule"}
        assert set(rules) - queued == {"GuardWatchRule", "KeyWatchRule", "RecordsWatchRule"}
        for rule in rules.values():
            target = rule["Properties"]["Targets"][0]  # the watch rules' second target is the central bus, if any
            if target["Arn"] != {"Ref": "AlertTopic"}:
                assert target["Arn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}}
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400

    def test_queue_redrives_to_the_dlq_and_outlives_the_function(self, template: dict[str, Any]) -> None:
        queue = template["Resources"]["EventsQueue"]["Properties"]
        function = template["Resources"]["EnforcerFunction"]["Properties"]
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
            "maxReceiveCount": {"Ref": "MaxReceiveCount"},
        }
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
        assert all(q["Properties"]["SqsManagedSseEnabled"] for q in resources_of(template, "AWS::SQS::Queue").values())

    def test_batches_report_partial_failures(self, transformed: dict[str, Any]) -> None:
        [mapping] = resources_of(transformed, "AWS::Lambda::EventSourceMapping").values()
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    def test_dead_letter_queue_is_alarmed_to_the_alert_topic(self, template: dict[str, Any]) -> None:
        alarm = template["Resources"]["DeadLetterQueueNotEmptyAlarm"]["Properties"]
        # and to the watch topic: a watch alert the alert topic refused (its key disabled) is parked there
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}, {"Ref": "WatchTopic"}]
        assert alarm["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}}
        ]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_every_parameter_is_described_and_has_a_default_or_is_prompted(template: dict[str, Any]) -> None:
    for name, parameter in template["Parameters"].items():
        assert len(parameter.get("Description", "")) > 20, name
        assert "Default" in parameter, f"{name}: `sam deploy --guided` works, but defaults keep CI deploys simple"
    assert template["Parameters"]["ReadinessTimeoutMinutes"]["Default"] >= 120


@pytest.mark.parametrize("environment", ["default", "prod", "prod-eu-west-1"])
def test_samconfig_environments_only_override_real_parameters(template: dict[str, Any], environment: str) -> None:
    config = tomllib.loads(Path(ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config[environment]["deploy"]["parameters"]
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"])
    for name, value in overrides.items():
        parameter = template["Parameters"][name]
        if "AllowedValues" in parameter:
            assert value in [str(v) for v in parameter["AllowedValues"]], name
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert config[environment]["global"]["parameters"]["stack_name"] == "das-guard"


class TestLifecycleResources:
    def test_state_table_expires_items_and_is_encrypted(self, template: dict[str, Any]) -> None:
        table = template["Resources"]["StateTable"]["Properties"]
        assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
        assert table["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "OperationsKey"},
        }
        assert table["BillingMode"] == "PAY_PER_REQUEST"

    def test_state_access_is_scoped_to_the_table(self, template: dict[str, Any]) -> None:
        [statement] = [s for s in role_statements(template) if any(a.startswith("dynamodb:") for a in actions(s))]
        assert set(actions(statement)) == {
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",  # a cluster's hold and stream record, in one request per evaluation
            "dynamodb:PutItem",
            "dynamodb:BatchWriteItem",  # the sweep records the running streams it saw, 25 at a time
            "dynamodb:ConditionCheckItem",  # a start's claim: no hold (TransactWriteItems authorises its parts)
            "dynamodb:Scan",
            "dynamodb:DeleteItem",
        }
        assert (
            Resolver(template)(statement["Resource"]) == "arn:aws:dynamodb:us-east-1:123456789012:table/das-guard-state"
        )
        prefixed = Resolver(template, {"NamePrefix": "dasg"})(statement["Resource"])
        assert prefixed == "arn:aws:dynamodb:us-east-1:123456789012:table/dasg-state"
        table = template["Resources"]["StateTable"]["Properties"]
        assert Resolver(template)(table["TableName"]) == "das-guard-state"

    def test_sweep_runs_on_a_schedule_that_can_be_disabled(self, transformed: dict[str, Any]) -> None:
        sweep = transformed["Resources"]["SweepFunction"]["Properties"]
        module, _, name = sweep["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
        assert (sweep["Timeout"], sweep["Runtime"], sweep["Architectures"]) == (900, "python3.13", ["arm64"])
        [schedule] = [
            r["Properties"]
            for r in resources_of(transformed, "AWS::Events::Rule").values()
            if "ScheduleExpression" in r["Properties"]
        ]
        assert schedule["ScheduleExpression"] == {"Ref": "SweepSchedule"}
        assert schedule["State"] == {"Fn::If": ["SweepIsEnabled", "ENABLED", "DISABLED"]}

    def test_both_functions_share_the_configuration(self, transformed: dict[str, Any]) -> None:
        enforcer, sweep = (transformed["Resources"][n]["Properties"] for n in ("EnforcerFunction", "SweepFunction"))
        assert enforcer["Environment"] == sweep["Environment"]
        assert enforcer["Layers"] == sweep["Layers"]
        assert enforcer["Role"] == sweep["Role"]

    def test_report_only_is_a_deployment_parameter(self, template: dict[str, Any]) -> None:
        parameter = template["Parameters"]["EnforcementMode"]
        assert (parameter["Default"], parameter["AllowedValues"]) == ("enforce", ["enforce", "report-only"])

    def test_tag_changes_are_routed_only_for_clusters_and_instances(self, template: dict[str, Any]) -> None:
        pattern = template["Resources"]["RdsTagChangeRule"]["Properties"]["EventPattern"]
        assert pattern["detail"]["requestParameters"]["resourceName"] == [
            {"wildcard": "arn:*:rds:*:*:cluster:*"},
            {"wildcard": "arn:*:rds:*:*:db:*"},
        ]


def test_the_second_region_example_really_targets_another_region() -> None:
    config = tomllib.loads(Path(ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["prod-eu-west-1"]["global"]["parameters"]["region"] == "eu-west-1"
    keys = [o for o in config["prod-eu-west-1"]["deploy"]["parameters"]["parameter_overrides"] if o.startswith("Kms")]
    assert keys == ["KmsKeyArns=arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"]


class TestOperations:
    ALARMS: ClassVar[set[str]] = {
        "DeadLetterQueueNotEmptyAlarm",
        "EnforcerErrorsAlarm",
        "SweepErrorsAlarm",
        "OldestMessageAgeAlarm",
        "ViolationsAlarm",
        "TamperedAlarm",
        "SweepDidNotRunAlarm",
        "AlertFailedAlarm",
    }

    def test_every_alarm_notifies_the_alert_topic(self, template: dict[str, Any]) -> None:
        alarms = resources_of(template, "AWS::CloudWatch::Alarm")
        assert set(alarms) == self.ALARMS
        on_both_paths = {"AlertFailedAlarm", "DeadLetterQueueNotEmptyAlarm"}  # the alert topic may be what failed
        for name, alarm in alarms.items():
            second = [{"Ref": "WatchTopic"}] if name in on_both_paths else []
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}, *second], name
            assert len(alarm["Properties"]["AlarmDescription"]) > 60, f"{name} must say what to do"

    def test_thresholds_are_parameters(self, template: dict[str, Any]) -> None:
        props = {n: a["Properties"] for n, a in resources_of(template, "AWS::CloudWatch::Alarm").items()}
        assert props["EnforcerErrorsAlarm"]["Threshold"] == {"Ref": "FunctionErrorsThreshold"}
        assert props["ViolationsAlarm"]["Threshold"] == {"Ref": "ViolationsThreshold"}
        assert props["TamperedAlarm"]["Threshold"] == {"Ref": "TamperedThreshold"}
        # the queue-age alarm compares minutes with the readiness window itself
        assert props["OldestMessageAgeAlarm"]["Threshold"] == {"Ref": "ReadinessTimeoutMinutes"}
        assert [m.get("Expression") for m in props["OldestMessageAgeAlarm"]["Metrics"]] == [None, "age / 60"]

    def test_alarms_watch_the_metrics_the_code_emits(self, template: dict[str, Any]) -> None:
        code = "".join((ROOT / "functions/das_guard" / f).read_text() for f in ("outputs/report.py", "model.py"))
        props = {n: a["Properties"] for n, a in resources_of(template, "AWS::CloudWatch::Alarm").items()}
        assert props["TamperedAlarm"]["MetricName"] == "Tampered"
        assert '"Tampered"' in code
        assert props["SweepDidNotRunAlarm"]["MetricName"] == "SweepClustersSeen"
        assert '"SweepClustersSeen"' in code
        assert "Condition" not in template["Resources"]["SweepDidNotRunAlarm"], "turning the sweep off is news"
        assert props["AlertFailedAlarm"]["MetricName"] == "AlertFailed"
        assert '"AlertFailed"' in code
        assert props["SweepDidNotRunAlarm"]["TreatMissingData"] == "breaching"
        names = {
            m["MetricStat"]["Metric"]["MetricName"] for m in props["ViolationsAlarm"]["Metrics"] if "MetricStat" in m
        }
        assert names == {"Violation", "Failed"}

    def test_dashboard_is_valid_json_showing_outcomes_queues_functions_and_the_sweep(
        self, template: dict[str, Any]
    ) -> None:
        body, variables = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        values = {k: f"<{k}>" for k in variables} | {"AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}
        dashboard = json.loads(re.sub(r"\$\{([\w:]+)\}", lambda m: values[m.group(1)], body))
        text = json.dumps(dashboard)
        for metric in (
            "Started",
            "Violation",
            "Deferred",
            "Tampered",
            "Failed",
            "ApproximateAgeOfOldestMessage",
            "ApproximateNumberOfMessagesVisible",
            "Throttles",
            "Duration",
            "SweepClustersSeen",
            "SweepCompliant",
            "<DeadLetterQueue>",
            "<Enforcer>",
            "<Sweep>",
        ):
            assert metric in text, metric
        [alarms] = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
        assert len(alarms["properties"]["alarms"]) == 6

    def test_own_data_is_encrypted(self, template: dict[str, Any]) -> None:
        r = template["Resources"]
        assert r["AlertTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperationsKey"}
        for group in ("EnforcerLogGroup", "SweepLogGroup"):
            assert r[group]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["OperationsKey", "Arn"]}
        statements = {s["Sid"]: s for s in r["OperationsKey"]["Properties"]["KeyPolicy"]["Statement"]}
        assert statements["CloudWatchAlarmsPublishToTheEncryptedTopic"]["Principal"] == {
            "Service": "cloudwatch.amazonaws.com"
        }
        assert (
            "kms:EncryptionContext:aws:logs:arn"
            in statements["CloudWatchLogsEncryptsOurLogGroups"]["Condition"]["ArnLike"]
        )
        assert r["OperationsKey"]["Properties"]["EnableKeyRotation"] is True

    def test_functions_have_reserved_concurrency_tracing_and_the_sweep_a_dlq(self, transformed: dict[str, Any]) -> None:
        enforcer, sweep = (transformed["Resources"][n]["Properties"] for n in ("EnforcerFunction", "SweepFunction"))
        assert enforcer["ReservedConcurrentExecutions"] == {"Ref": "EnforcerConcurrency"}
        assert sweep["ReservedConcurrentExecutions"] == 1
        assert enforcer["TracingConfig"] == sweep["TracingConfig"] == {"Mode": {"Ref": "TracingMode"}}
        assert sweep["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}}

    def test_tracing_code_is_switched_off_unless_tracing_is_active(self, template: dict[str, Any]) -> None:
        """The Powertools Tracer (and with it the X-Ray SDK) loads only when TracingMode is Active."""
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        assert template["Parameters"]["TracingMode"]["Default"] == "PassThrough"
        assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["TracesActively", "false", "true"]}
        assert template["Conditions"]["TracesActively"] == {"Fn::Equals": [{"Ref": "TracingMode"}, "Active"]}

    def test_result_events_go_to_the_default_bus_only(self, template: dict[str, Any]) -> None:
        [statement] = [s for s in role_statements(template) if "events:PutEvents" in actions(s)]
        assert statement["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
        }
        assert template["Globals"]["Function"]["Environment"]["Variables"]["DAS_GUARD_EVENT_BUS"] == "default"

    def test_logs_are_kept_as_configured_in_the_groups_the_functions_use(self, transformed: dict[str, Any]) -> None:
        r = transformed["Resources"]
        for function, group in (("EnforcerFunction", "EnforcerLogGroup"), ("SweepFunction", "SweepLogGroup")):
            assert r[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
            assert r[function]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": group}}
        variables = r["EnforcerFunction"]["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


def test_concurrency_bounds_are_what_the_sqs_event_source_accepts(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["EnforcerConcurrency"]
    assert parameter["MinValue"] >= 2, "ScalingConfig.MaximumConcurrency accepts 2 to 1000; 1 fails the deploy"
    assert parameter["MaxValue"] <= 1000
