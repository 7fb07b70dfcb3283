"""Least privilege by measurement: the AWS calls the functions made across the test suite, against the IAM
statements template.yaml grants their role - both ways.

Every deployed function's session counts its calls (localaws.world.FUNCTION_CALLS); each pytest process writes its
count to .pytest-calls/ when it finishes, and the process that ran the session (xdist's controller, or the only
one) compares the union with the role's Allow statements:

- a call made that no statement grants fails the run (it would be AccessDenied in AWS);
- a statement none of whose actions was ever called fails the run, unless EXCEPTIONS says why it is granted
  without the function calling it itself. Only checked when the whole suite ran (a partial run cannot know).
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
CALLS_DIR = ROOT / ".pytest-calls"

# botocore operation -> the IAM actions AWS authorises it as, where they differ. A DynamoDB transaction is
# authorised as its parts (DynamoDB developer guide, "Using IAM with DynamoDB transactions"): DAS Guard's claim of a
# start is a ConditionCheck on the hold and a Put of the stream record.
IAM_ACTIONS = {
    "sqs:SendMessageBatch": ("sqs:SendMessage",),
    "dynamodb:TransactWriteItems": ("dynamodb:ConditionCheckItem", "dynamodb:PutItem"),
}

# Statements granted although the function's own code never calls their actions, and why.
EXCEPTIONS = {
    "WriteOwnLogs": "the Lambda runtime writes the function's logs with its role, not the code",
    "WriteTraces": "the X-Ray SDK sends segments to the Lambda-provided daemon, which uses the role",
    "LetRdsUseDesignatedKeys": "RDS calls kms:CreateGrant with the caller's rights during StartActivityStream",
    "UseTheOperationsKey": "SNS, DynamoDB and CloudWatch Logs call KMS with the caller's rights (encrypted topic)",
    "ConsumeAndDeferEvents": "Lambda's SQS event source mapping receives and deletes with the role (deferral "
    "SendMessage is measured)",
    "ParkFailedSweeps": "Lambda's asynchronous-invocation DLQ sends the failed sweep event with the role",
    "TagTheArchive": "Firehose authorises CreateDeliveryStream with Tags as firehose:TagDeliveryStream as well "
    "(Firehose API reference, CreateDeliveryStream)",
    "HandTheArchiveRoleToFirehose": "CreateDeliveryStream passes ArchiveDeliveryRole to Firehose: IAM authorises "
    "iam:PassRole on the caller's rights",
}


def role_statements() -> dict[str, list[str]]:
    """Sid -> actions of every Allow statement of the functions' role, optional features (`Fn::If` statements) on:
    the suite exercises every feature, so each conditional grant must be used too."""
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    [policy] = template["Resources"]["EnforcerRole"]["Properties"]["Policies"]
    granted: dict[str, list[str]] = {}
    for entry in policy["PolicyDocument"]["Statement"]:
        statement = entry["Fn::If"][1] if "Fn::If" in entry else entry
        if statement["Effect"] == "Allow":
            actions = statement["Action"]
            granted[statement["Sid"]] = actions if isinstance(actions, list) else [actions]
    return granted


def iam_actions(call: str) -> tuple[str, ...]:
    return IAM_ACTIONS.get(call, (call,))


def check(calls: Counter[str], *, whole_suite: bool) -> list[str]:
    """The problems (empty: least privilege holds as measured)."""
    granted = role_statements()
    problems = [
        f"the functions called {call} ({n}x) but no statement of EnforcerRole grants {action}"
        for call, n in sorted(calls.items())
        for action in iam_actions(call)
        if not any(fnmatch.fnmatchcase(action, a) for actions in granted.values() for a in actions)
    ]
    if whole_suite:
        used = {action for c in calls for action in iam_actions(c)}
        for sid, actions in granted.items():
            unused = [a for a in actions if not any(fnmatch.fnmatchcase(u, a) for u in used)]
            if unused and sid not in EXCEPTIONS and len(unused) == len(actions):
                problems.append(f"statement {sid} grants {actions}, which the functions never called")
            elif unused and sid not in EXCEPTIONS:
                problems.append(f"statement {sid} grants {unused}, which the functions never called")
    return problems


def save(calls: Counter[str], name: str) -> None:
    CALLS_DIR.mkdir(exist_ok=True)
    (CALLS_DIR / f"{name}.json").write_text(json.dumps(dict(calls)), encoding="utf-8")


def load_all() -> Counter[str]:
    total: Counter[str] = Counter()
    for path in CALLS_DIR.glob("*.json"):
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        total.update({k: int(v) for k, v in loaded.items()})
    return total
