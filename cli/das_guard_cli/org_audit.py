"""`das-guard audit --org`: every account of the organisation (or of chosen OUs), through the read-only role the
StackSet deploys in each (`<prefix>-audit`), accounts in parallel with a bound.

Read-only still holds: the only call that is not a read is sts:AssumeRole, made on its own client outside the
guarded sessions; every session that then reads an account is guarded (`aws_session.Target`), so a write is
refused before it leaves the machine. An account that cannot be read (no role yet, access denied) is listed
with why, and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import boto3

from . import aws_session

DEFAULT_ROLE = "das-guard-audit"


@dataclass(frozen=True)
class Account:
    id: str
    name: str


@dataclass(frozen=True)
class Skipped:
    account: Account
    why: str


def accounts(session: boto3.Session, ous: Iterable[str] = ()) -> list[Account]:
    """Active accounts of the organisation, or of the OUs given (and the OUs below them)."""
    orgs = session.client("organizations")
    chosen = list(ous)
    if not chosen:
        found = [a for page in orgs.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    else:
        found, pending = [], list(chosen)
        while pending:
            parent = pending.pop()
            for page in orgs.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
                found += page["Accounts"]
            for page in orgs.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
                pending += [ou["Id"] for ou in page["OrganizationalUnits"]]
    unique = {a["Id"]: a for a in found if a.get("Status", "ACTIVE") == "ACTIVE"}
    return [Account(a["Id"], a.get("Name", "")) for a in sorted(unique.values(), key=lambda a: a["Id"])]


def assume(session: boto3.Session, account: Account, role_name: str, partition: str = "aws") -> dict[str, str]:
    """Credentials of the read-only role in `account` (the one non-read call, on an unguarded STS client)."""
    response = session.client("sts").assume_role(
        RoleArn=f"arn:{partition}:iam::{account.id}:role/{role_name}", RoleSessionName="das-guard-audit-org"
    )
    credentials = response["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def audit_accounts(
    chosen: list[Account],
    audit_one: Callable[[Account], list[Any]],
    *,
    parallel: int,
    advance: Callable[[], None] = lambda: None,
) -> tuple[list[Any], list[Skipped]]:
    """Run `audit_one` per account, at most `parallel` at a time; a failing account is skipped with its reason."""
    rows: list[Any] = []
    skipped: list[Skipped] = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(audit_one, account): account for account in chosen}
        for future in as_completed(futures):
            account = futures[future]
            try:
                rows += future.result()
            except Exception as err:  # noqa: BLE001 - one account's failure is reported, the others go on
                skipped.append(Skipped(account, why_not_audited(err)))
            advance()
    return rows, sorted(skipped, key=lambda s: s.account.id)


def guarded_target(regions: tuple[str, ...], credentials: dict[str, str]) -> aws_session.Target:
    return aws_session.Target(regions, credentials=credentials)


def why_not_audited(error: Exception) -> str:
    """One line a person acts on: "not deployed" said plainly (the usual cause: the management or a security
    account outside the StackSet's targets), anything else as AWS said it."""
    text = str(error)
    if "ResourceNotFoundException" in text and "dynamodb" in text:
        return "DAS Guard is not deployed in this account (no state table)"
    if "ParameterNotFound" in text:
        return "DAS Guard is not deployed in this account (no policy parameter)"
    return f"{type(error).__name__}: {text}"[:300]
