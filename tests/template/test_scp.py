"""The example SCP in docs/ (what the customer adds outside DAS Guard): lint-clean by parliament, within the SCP
size limit, denying what the threat model says it denies, and naming the resources the template really creates."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localaws.cloudformation import ACCOUNT, Resolver
from localaws.das_extension.iam_policy import Request, evaluate

from .conftest import ROOT
from .test_security_scan import checkov

SCP = ROOT / "docs" / "scp-das-guard.json"
SCP_MAX_CHARACTERS = 5120  # AWS Organizations' limit for one SCP (whitespace removed when pasted minified)
LINT = """
import json, sys
from parliament import analyze_policy_string
policy = analyze_policy_string(sys.stdin.read())
print(json.dumps([f"{f.issue}: {f.detail}" for f in policy.findings]))
"""


def statements() -> list[dict[str, Any]]:
    return list(json.loads(SCP.read_text(encoding="utf-8"))["Statement"])


def lint(text: str) -> list[str]:
    python = Path(checkov()).parent / "python"  # parliament lives in the tools venv beside checkov
    completed = subprocess.run(  # noqa: S603 - a fixed tool on our own document
        [str(python), "-c", LINT], input=text, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    findings: list[str] = json.loads(completed.stdout)
    return findings


def test_parliament_finds_nothing_and_would_find_a_mistake() -> None:
    text = SCP.read_text(encoding="utf-8")
    assert lint(text) == []
    assert lint(text.replace("rds:StopActivityStream", "rds:StopActivityStreams")), "the linter really looks"


def test_it_fits_in_one_scp() -> None:
    minified = json.dumps(json.loads(SCP.read_text(encoding="utf-8")), separators=(",", ":"))
    assert len(minified) <= SCP_MAX_CHARACTERS


@pytest.mark.parametrize(
    ("principal", "outcome"),
    [(f"arn:aws:iam::{ACCOUNT}:role/DBA", "Deny"), (f"arn:aws:iam::{ACCOUNT}:role/BreakGlass", "None")],
)
def test_only_the_break_glass_role_may_stop_a_stream(principal: str, outcome: str) -> None:
    stop = Request("rds:StopActivityStream", f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders-pg", principal)
    assert evaluate(statements(), stop) == outcome


def test_it_protects_every_resource_the_stack_creates(template: dict[str, Any]) -> None:
    resolve = Resolver(template)
    [protected] = [s for s in statements() if s["Sid"] == "OnlyTheDeployerChangesDasGuard"]
    arns = [resolve.get_att(n, "Arn") for n in ("EventsQueue", "EventsDeadLetterQueue", "StateTable")]
    arns += [resolve.get_att(n, "Arn") for n, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"]
    arns += [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{resolve.ref(n)}" for n in ("EnforcerFunction", "SweepFunction")
    ]
    arns += [
        resolve.ref("AlertTopic"),
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{resolve.ref('PolicyParameterName')}",
    ]
    arns += [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:das-guard-{n}-ABC123" for n in ("TamperedAlarm",)]
    for arn in arns:
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in protected["Resource"]), arn
    insider = f"arn:aws:iam::{ACCOUNT}:role/DBA"
    deployer = f"arn:aws:iam::{ACCOUNT}:role/DasGuardDeployer"
    purge = arns[0]
    assert evaluate(statements(), Request("sqs:PurgeQueue", purge, insider)) == "Deny"
    assert evaluate(statements(), Request("sqs:PurgeQueue", purge, deployer)) == "None"
    das_guard = resolve.get_att("EnforcerRole", "Arn")
    assert evaluate(statements(), Request("dynamodb:PutItem", arns[2], das_guard)) == "None", "DAS Guard still works"


def test_the_stack_tags_its_stream_key_for_the_key_statement(template: dict[str, Any]) -> None:
    [keys] = [s for s in statements() if s["Sid"] == "StreamKeysStayUsable"]
    tag = keys["Condition"]["StringEquals"]["aws:ResourceTag/das-guard"]
    assert {"Key": "das-guard", "Value": tag} in template["Resources"]["ActivityStreamKey"]["Properties"]["Tags"]
    schedule = Request(
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        f"arn:aws:iam::{ACCOUNT}:role/DBA",
        context={"aws:ResourceTag/das-guard": tag},
    )
    assert evaluate(statements(), schedule) == "Deny"


def test_in_an_organisation_it_protects_the_member_stacks_and_lets_them_work(template: dict[str, Any]) -> None:
    """StackSet instances have unpredictable stack names; with NamePrefix their resources have predictable ones."""
    resolve = Resolver(template, {"NamePrefix": "das-guard"})
    [protected] = [s for s in statements() if s["Sid"] == "OnlyTheDeployerChangesDasGuard"]
    arns = [resolve.get_att(n, "Arn") for n in ("EventsQueue", "EventsDeadLetterQueue", "StateTable")]
    arns += [resolve.ref("AlertTopic")]
    rules = [r["Properties"]["Name"] for n, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"]
    arns += [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{resolve(name)}" for name in rules]
    alarms = [
        r["Properties"]["AlarmName"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    arns += [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{resolve(name)}" for name in alarms]
    for arn in arns:
        assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in protected["Resource"]), arn
    insider = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
    queue = arns[0]
    assert evaluate(statements(), Request("sqs:SetQueueAttributes", queue, insider)) == "Deny"
    enforcer = resolve.get_att("EnforcerRole", "Arn")
    assert enforcer == f"arn:aws:iam::{ACCOUNT}:role/das-guard-enforcer-us-east-1"
    assert evaluate(statements(), Request("sqs:SendMessage", queue, enforcer)) == "None", "deferrals still work"
    stacksets = f"arn:aws:iam::{ACCOUNT}:role/stacksets-exec-0123456789abcdef0123456789abcdef"
    assert evaluate(statements(), Request("sqs:SetQueueAttributes", queue, stacksets)) == "None", "updates roll out"
