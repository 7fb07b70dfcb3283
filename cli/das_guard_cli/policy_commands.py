"""`das-guard policy validate | explain | push | config-rule`."""

from __future__ import annotations

import difflib
import hashlib
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import ClientError
from rich.text import Text

from das_guard.decision.decide import decide
from das_guard.model import ClusterInfo, Decision
from das_guard.policy import Action, PolicyDocument, PolicyError, validate_policy

from . import aws_session
from .audit import failing
from .common import (
    DEFAULT_PARAMETER,
    FINDINGS,
    Connection,
    Endpoint,
    Local,
    Parameter,
    PolicyPath,
    Profile,
    Region,
    StateTable,
    Usage,
    aws_errors,
    default_region,
    err,
    judging,
    out,
    read_only_enforcer,
    regions_of,
    run,
)
from .config_rule import guard_rule
from .policy_analysis import why_not
from .policy_check import policy_remarks, print_remarks, read_policy_file


def policy_validate(
    file: Annotated[Path, typer.Argument(help="Policy document, JSON or YAML.")],
    check_keys: Annotated[
        bool | None,
        typer.Option(help="Describe the KMS keys the policy names. Default: when AWS credentials are present."),
    ] = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    local: Local = False,
) -> None:
    """Schema and semantic checks, with the line of every problem. Exit 1 if the policy has errors."""

    def body() -> int:
        document = read_policy_file(file)
        if document is None:
            return FINDINGS
        remarks = policy_remarks(document, check_keys, Connection(region, profile, endpoint_url, local))
        return FINDINGS if print_remarks(file, document, remarks) else 0

    run(body)


def policy_explain(
    cluster: Annotated[str, typer.Argument(help="DB cluster identifier.")],
    policy: PolicyPath = None,
    parameter: Parameter = DEFAULT_PARAMETER,
    state_table: StateTable = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    local: Local = False,
) -> None:
    """Which rule applies to CLUSTER and why, what DAS Guard would do now, and which tags would change it."""

    def body() -> int:
        connection = Connection(region, profile, endpoint_url, local)
        with judging(connection, policy, parameter, state_table) as (target, reader, document):
            info = reader.clusters.describe_cluster(cluster.lower())
            if info is None:
                raise Usage(f"no DB cluster {cluster!r} in {target.regions[0]}")
            now = reader.clock.now()
            decision = decide(info, document, read_only_enforcer(reader, document).inputs(check_holds=True))
        explain(info, document, decision, now)
        return FINDINGS if failing(decision) or decision.outcome.needs_a_person else 0

    run(body)


def explain(info: ClusterInfo, policy: PolicyDocument, decision: Decision, now: datetime) -> None:
    tags = dict(info.tags)
    out.print(
        Text.assemble(
            (info.identifier, "bold"),
            f"  {info.engine} {info.engine_version}  status {info.status}  stream {info.stream_status}",
        )
    )
    out.print("tags: " + (", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "(none)"))
    exemption, expired = policy.exemption_for(info.identifier, tags, now.date())
    for e in expired:
        out.print(f"exemption {e.name!r}: matches, but expired on {e.expires.isoformat()}")
    if exemption:
        out.print(
            f"exemption {exemption.name!r}: applies until {exemption.expires.isoformat()} ({exemption.reason})",
        )
    effective = policy.rule_for(tags)
    out.print(Text("\nrules, in order (the first match wins):", style="bold"))
    for rule in policy.rules:
        missing = why_not(rule, tags)
        action = (rule.action or policy.defaults.action).value
        if not missing:
            mark = "matches" + (" - applies" if rule.name == effective.name else " - shadowed")
        else:
            mark = "no match - needs: " + "; ".join(missing)
        out.print(f"  {rule.name} ({action}): {mark}")
    out.print(f"  default ({policy.defaults.action.value}): applies when no rule matches")
    out.print(
        Text.assemble(
            ("\napplies:", "bold"),
            f" {effective.name} -> action {effective.action.value}, mode {effective.mode.value}, "
            f"key {effective.kms_key or '-'}",
        )
    )
    out.print(
        Text.assemble(
            ("what DAS Guard would do now:", "bold"),
            f" {decision.outcome.value} ({decision.reason}): {decision.detail}",
        )
    )
    out.print(Text("\ntags that would change it:", style="bold"))
    changes = 0
    for rule in policy.rules:
        if rule.name == effective.name:
            break
        out.print(
            f"  {'; '.join(why_not(rule, tags))} -> rule {rule.name} ({(rule.action or policy.defaults.action).value})",
        )
        changes += 1
    matched = next((r for r in policy.rules if r.name == effective.name), None)
    for key in sorted(matched.match.tags if matched else {}):
        without = {k: v for k, v in tags.items() if k != key}
        other = policy.rule_for(without)
        if other.name != effective.name:
            out.print(f"  remove tag {key!r} -> rule {other.name} ({other.action.value})")
            changes += 1
    if not changes:
        out.print("  none: no tag change selects another rule")
    if effective.action is Action.EXEMPT or exemption:
        out.print("note: only the central policy exempts clusters; tags merely select its rules")


def policy_push(
    file: Annotated[Path, typer.Argument(help="Policy document, JSON or YAML.")],
    parameter: Parameter = DEFAULT_PARAMETER,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (pipelines).")] = False,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    local: Local = False,
) -> None:
    """Validate FILE, show the difference to the deployed policy, and write it to the SSM parameter."""

    def body() -> int:
        document = read_policy_file(file)
        if document is None:
            return FINDINGS
        shared = parse_parameter_arn(parameter)
        # a shared policy names keys by alias, and each member account has its own: audit --org checks those
        keys = False if shared else None
        connection = Connection(region, profile, endpoint_url, local)
        if print_remarks(file, document, policy_remarks(document, keys, connection, pushing=True)):
            out.print("not pushed: fix the errors first (das-guard policy validate shows the same)")
            return FINDINGS
        name = shared[2] if shared else parameter
        with aws_session.endpoint(endpoint_url, local), aws_errors():
            regions = (shared[0],) if shared else regions_of(region, default_region())[:1]
            target = aws_session.Target(regions, profile, read_only=False)
            session = target.session(target.regions[0])
            if shared and session.client("sts").get_caller_identity()["Account"] != shared[1]:
                raise Usage(
                    f"{parameter} belongs to account {shared[1]}: a shared parameter is read-only for the accounts it "
                    "is shared with; push from the account that owns it (the security account)"
                )
            ssm = session.client("ssm")
            try:
                current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "ParameterNotFound":
                    raise
                current = ""
            new = document.canonical_json()
            old = json.dumps(json.loads(current), indent=2) + "\n" if current.strip() else ""
            if old == new:
                out.print(f"{parameter} is already up to date")
                return 0
            sys.stdout.writelines(
                difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{parameter} (deployed)", str(file))
            )
            if not yes:
                if not interactive():
                    raise Usage("not a terminal: pass --yes to push without confirmation")
                typer.confirm(f"Write this policy to {parameter}?", abort=True)
            # An organisation's policy is shared through AWS RAM, which shares Advanced parameters only
            tier = "Advanced" if shared else "Intelligent-Tiering"
            ssm.put_parameter(Name=name, Value=new, Type="String", Overwrite=True, Tier=tier)
        where = " (every account it is shared with)" if shared else ""
        out.print(f"pushed {file} to {parameter}{where}; function containers pick it up within their cache time")
        return 0

    run(body)


def parse_parameter_arn(parameter: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a parameter given by ARN; None for a plain name."""
    parts = parameter.split(":", 5)
    if not parameter.startswith("arn:") or len(parts) != 6 or not parts[5].startswith("parameter/"):
        return None
    return parts[3], parts[4], parts[5].removeprefix("parameter")


def interactive() -> bool:
    """Can we ask a person? (Pipelines must pass --yes.)"""
    return sys.stdin.isatty()


def policy_config_rule(
    file: Annotated[Path, typer.Argument(help="Policy document, JSON or YAML.")],
) -> None:
    """The AWS Config custom policy rule (Guard) for this policy: every Aurora cluster it says must be audited,
    flagged where its activity stream is not started. Paste it into the stack parameter ConfigRulePolicyText (or the
    central stack's), and run this again whenever the policy changes."""

    def body() -> int:
        document = read_policy_file(file)
        if document is None:
            return FINDINGS
        try:
            policy = validate_policy(document.data, str(file), today=date.today())
        except PolicyError as error:
            raise Usage(f"{file} is not a valid policy (das-guard policy validate {file}): {error}") from error
        generated = guard_rule(
            policy, date.today(), source=f"{file.name} sha256:{hashlib.sha256(file.read_bytes()).hexdigest()[:12]}"
        )
        sys.stdout.write(generated.text)
        for line in generated.left_out:
            err.print(f"not expressed in Guard (those clusters are flagged, never passed): {line}")
        return 0

    run(body)
