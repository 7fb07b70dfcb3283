"""Everything `policy validate` and `policy push` report about a policy file, in one run: syntax (with lines),
the schema, semantic remarks (shadowed rules, expired exemptions) - also for the valid parts of a broken file -
and, with credentials, whether its KMS keys resolve."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError
from pydantic import ValidationError

from das_guard.clock import SystemClock
from das_guard.decision import checks
from das_guard.policy import Exemption, PolicyDocument, PolicyError, Rule, validate_policy

from .common import Connection, T, Usage, out, reader_for
from .policy_analysis import Remark, review, review_entries
from .policy_files import PolicyFile, PolicyFileError, load


def read_policy_file(file: Path) -> PolicyFile | None:
    """The parsed file; None after printing where its syntax breaks. A missing file is a usage error."""
    try:
        return load(file)
    except PolicyFileError as error:
        if not file.exists():
            raise Usage(str(error)) from error
        out.print(f"{file}:{error.line or '?'}:1: error: {error}")
        return None


def policy_remarks(
    document: PolicyFile,
    check_keys: bool | None,
    connection: Connection,
    *,
    pushing: bool = False,
) -> list[Remark]:
    """Every problem of a policy file in one run: schema, semantics, and (with credentials) its KMS keys. For
    `push`, an expired exemption is an error: storing it would enforce clusters someone believes exempt."""
    remarks = structure_remarks(document)
    try:
        policy = validate_policy(document.data, str(document.path), today=date.today())
    except PolicyError as error:
        found = zip(error.locations, error.problems, strict=True)
        # a name used twice is reported above at the second use (pydantic can only say "the document")
        remarks += [Remark("error", loc, msg) for loc, msg in found if "is used twice" not in msg or loc]
        return remarks + for_push(partial_review(document.data), pushing)  # the semantic checks of valid parts
    remarks += for_push(review(policy, SystemClock().now().date()), pushing)
    reachable = connection.local or connection.endpoint_url or have_credentials(connection.profile)
    if check_keys or (check_keys is None and reachable):
        remarks += key_remarks(policy, connection)
    elif check_keys is None:
        remarks.append(Remark("info", ("defaults",), "KMS keys not checked: no AWS credentials"))
    return remarks


def for_push(remarks: list[Remark], pushing: bool) -> list[Remark]:
    """For `push`, an expired exemption is an error (validate warns): storing it would enforce clusters someone
    believes exempt."""
    if not pushing:
        return remarks
    return [
        Remark("error", r.path, f"{r.message} (push refuses it: remove or extend it)")
        if r.level == "warning" and r.path[:1] == ("exemptions",) and "expired on" in r.message
        else r
        for r in remarks
    ]


def partial_review(data: Any) -> list[Remark]:
    """The semantic checks (shadowed rules, expired exemptions) for the rules and exemptions that are valid on their
    own, so a file with schema errors is not fixed in two rounds. Locations stay those of the file."""
    if not isinstance(data, dict):
        return []
    rules = list(_each_valid(data.get("rules"), Rule.model_validate))
    exemptions = list(_each_valid(data.get("exemptions"), Exemption.model_validate))
    return review_entries(rules, exemptions, SystemClock().now().date())


def _each_valid(entries: Any, parse: Callable[[Any], T]) -> Iterator[tuple[int, T]]:
    for index, raw in enumerate(entries if isinstance(entries, list) else []):
        try:
            yield index, parse(raw)
        except ValidationError:
            continue


def structure_remarks(document: PolicyFile) -> list[Remark]:
    """What the schema cannot report with a place: keys given twice, names used twice (each at the second one)."""
    remarks = [
        Remark(
            "error", (*path, "#duplicate"), f"{_dotted(path)}: given twice in one mapping; only one value may be given"
        )
        for path in document.duplicates
    ]
    data = document.data if isinstance(document.data, dict) else {}
    seen: dict[str, str] = {}
    for section in ("rules", "exemptions"):
        entries = data.get(section)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                remarks.append(
                    Remark(
                        "error",
                        (section, index, "name"),
                        f"{section}[{index}].name: {name!r} is already the name of {seen[name]}; "
                        "rule and exemption names must be unique",
                    )
                )
            else:
                seen[name] = f"{section}[{index}]"
    return remarks


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def print_remarks(file: Path, document: PolicyFile, remarks: list[Remark]) -> int:
    """Print each remark at its line and column, in the file's order; return the number of errors."""
    for remark in sorted(remarks, key=lambda r: [p or 0 for p in document.position_of(r.path)]):
        out.print(f"{document.where(remark.path)}: {remark.level}: {remark.message}")
    errors = sum(1 for r in remarks if r.level == "error")
    out.print(
        f"{file}: {'invalid' if errors else 'valid'} ({errors} error(s), {len(remarks) - errors} other remark(s))"
    )
    return errors


def have_credentials(profile: str | None) -> bool:

    try:
        return boto3.Session(profile_name=profile).get_credentials() is not None
    except BotoCoreError:
        return False


def key_remarks(policy: PolicyDocument, connection: Connection) -> list[Remark]:
    """Does every KMS key the policy names resolve to a usable key in the region(s)?"""
    references: dict[str, tuple[str | int, ...]] = {}
    if policy.defaults.kms_key:
        references[policy.defaults.kms_key] = ("defaults", "kms_key")
    for i, rule in enumerate(policy.rules):
        if rule.kms_key:
            references.setdefault(rule.kms_key, ("rules", i, "kms_key"))
    remarks = []
    with connection.target() as target:
        for each in target.regions:
            keys = reader_for(target, each).keys
            for reference, path in references.items():
                finding = checks.check_kms_key(keys.describe_key(reference), each)
                if finding:
                    remarks.append(Remark("error", path, f"{each}: {finding.detail}"))
    return remarks
