"""Exit codes a pipeline can trust (0 compliant, 1 findings, 2 usage or configuration, 3 a DAS Guard bug), and every
failure as one line that names the cause and the fix - a traceback only with --debug."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from das_guard_cli import audit, aws_session
from localaws import das_extension

from .test_cli import REGION, cli, demo_account

__all__ = ["demo_account"]


def _as_role_denied(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    """The CLI's credentials are a role session whose identity policy explicitly denies `action` (evaluated by the
    local IAM, as AWS would)."""
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="auditor",
        AssumeRolePolicyDocument=json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
        ),
    )["Role"]
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}
    iam.put_role_policy(RoleName="auditor", PolicyName="no", PolicyDocument=json.dumps(deny))
    credentials = boto3.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ana")["Credentials"]
    das_extension.access.as_principal(das_extension.access.Principal(role["Arn"], "ana"), credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])


def test_a_missing_permission_is_one_line_naming_the_action(demo_account: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _as_role_denied(monkeypatch, "rds:DescribeDBClusters")
    result = cli("audit", *REGION)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: access denied: these credentials lack rds:DescribeDBClusters")
    assert "grant it or use another role" in line


def _aws_answers(monkeypatch: pytest.MonkeyPatch, operation: str, code: str, message: str) -> None:
    """Every `operation` the CLI sends is answered with AWS's error `code` (as after botocore's own retries)."""
    made = aws_session.Target.session

    def session(self: aws_session.Target, region: str) -> boto3.Session:
        built = made(self, region)

        def refuse(model: Any, **_: Any) -> None:
            if model.name == operation:
                raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

        built.events.register("before-call.*.*", refuse)
        return built

    monkeypatch.setattr(aws_session.Target, "session", session)


@pytest.mark.parametrize(
    ("code", "message", "says"),
    [
        ("ExpiredToken", "The security token included in the request is expired", "your AWS credentials have expired"),
        ("ThrottlingException", "Rate exceeded", "AWS throttled rds:DescribeDBClusters after retries"),
        ("InvalidClientTokenId", "The security token is invalid", "AWS does not accept these credentials"),
    ],
)
def test_credential_and_throttling_failures_are_one_line_and_exit_2(
    demo_account: Any, monkeypatch: pytest.MonkeyPatch, code: str, message: str, says: str
) -> None:
    _aws_answers(monkeypatch, "DescribeDBClusters", code, message)
    result = cli("audit", *REGION)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {says}")
    assert code in line


def test_a_bug_is_exit_3_in_one_line_and_the_traceback_only_with_debug(
    demo_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("Engine")

    monkeypatch.setattr(audit, "audit_region", broken)
    result = cli("audit", *REGION)
    assert result.exit_code == 3  # not 1 (findings) nor 2 (the user's configuration)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: internal error: KeyError: 'Engine' at test_exit_codes.py:")
    assert "rerun with --debug" in line
    debugged = cli("--debug", "audit", *REGION)
    assert debugged.exit_code == 3
    assert "Traceback (most recent call last)" in debugged.stderr
