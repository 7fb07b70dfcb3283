"""The key policy users copy has one source (docs/key-policy.json), shared by the template and the README, and it
allows exactly the requests DAS Guard and RDS make - with the condition keys each request really carries.

Which keys a request carries (KMS Developer Guide): `kms:ViaService` only when an AWS service calls KMS on the
caller's behalf; `kms:GrantIsForAWSResource` only in CreateGrant, ListGrants and RevokeGrant, and only when an
integrated service makes them ("Controlling access to grants"). A `Bool` condition on a key the request does not
carry is false - so a statement granting kms:DescribeKey under GrantIsForAWSResource grants nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from das_guard_cli.reference_docs import code_blocks
from localaws.cloudformation import ACCOUNT, REGION, Resolver
from localaws.das_extension.iam_policy import Request, evaluate

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "docs" / "key-policy.json"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/das-guard-EnforcerRole-1A2B3C"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VIA_RDS = {"kms:ViaService": f"rds.{REGION}.amazonaws.com"}

# Every request DAS Guard and RDS make with the key, with the condition keys present in it.
REQUESTS = {
    "DAS Guard vouches for the key (its own DescribeKey)": Request("kms:DescribeKey", KEY, principal_arn=ROLE),
    "RDS checks the key for StartActivityStream": Request("kms:DescribeKey", KEY, principal_arn=ROLE, context=VIA_RDS),
    "RDS creates the grant it encrypts the stream with": Request(
        "kms:CreateGrant", KEY, principal_arn=ROLE, context={**VIA_RDS, "kms:GrantIsForAWSResource": "true"}
    ),
}
# ...and requests the key must refuse: the role creating a grant for itself, another principal describing the key
REFUSED = {
    "the role creates a grant itself (not through RDS)": Request("kms:CreateGrant", KEY, principal_arn=ROLE),
    "a DBA describes the key": Request("kms:DescribeKey", KEY, principal_arn=f"arn:aws:iam::{ACCOUNT}:role/DBA"),
    "the role decrypts the audit records": Request("kms:Decrypt", KEY, principal_arn=ROLE),
}


def source_statements(role: str = ROLE, region: str = REGION) -> list[dict[str, Any]]:
    text = SOURCE.read_text(encoding="utf-8").replace("<das-guard-role-arn>", role).replace("<region>", region)
    return list(json.loads(text)["Statement"])


@pytest.mark.parametrize("request_name", sorted(REQUESTS))
def test_the_source_allows_every_request_das_guard_and_rds_make(request_name: str) -> None:
    assert evaluate(source_statements(), REQUESTS[request_name]) == "Allow", request_name


@pytest.mark.parametrize("request_name", sorted(REFUSED))
def test_the_source_allows_nothing_else(request_name: str) -> None:
    assert evaluate(source_statements(), REFUSED[request_name]) == "None", request_name


def test_the_old_readme_statement_would_have_refused_das_guards_describe_key() -> None:
    """What README used to give: DescribeKey under GrantIsForAWSResource. DAS Guard's own DescribeKey carries no
    such key, so the statement is false for it and every cluster got KmsKeyNotAccessible."""
    old = {
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "Action": ["kms:DescribeKey", "kms:CreateGrant"],
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }
    assert evaluate([old], REQUESTS["DAS Guard vouches for the key (its own DescribeKey)"]) == "None"


def test_the_stacks_own_key_carries_the_same_statements(template: dict[str, Any]) -> None:
    resolved = Resolver(template, {})(template["Resources"]["ActivityStreamKey"]["Properties"]["KeyPolicy"])
    by_sid = {s["Sid"]: s for s in resolved["Statement"]}
    root = f"arn:aws:iam::{ACCOUNT}:root"
    for statement in source_statements(role=root):
        assert by_sid[statement["Sid"]] == statement, statement["Sid"]
    # and through the account's delegation, the same requests by the role are allowed
    stack_key = [by_sid[s["Sid"]] for s in source_statements()]
    for name, request in REQUESTS.items():
        assert evaluate(stack_key, request) == "Allow", name


def test_the_security_page_shows_the_source_word_for_word() -> None:
    readme = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    blocks = code_blocks(readme, "json")
    shown = [json.loads(b) for b in blocks if "DasGuardDescribesTheKey" in b]
    assert shown, "docs/security.md shows the key policy statements"
    assert shown[0] == {"Statement": json.loads(SOURCE.read_text(encoding="utf-8"))["Statement"]}
