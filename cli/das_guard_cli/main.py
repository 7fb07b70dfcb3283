"""`das-guard`: audit, explain and validate DAS Guard's policy without reading code or logs.

Every command shares the enforcer's package: the same policy model, the same `decide()`, the same AWS gateways.
Nothing here is deployed (the CLI and its libraries stay out of the Lambda package).

Exit codes, the same for every command:
  0  all good: compliant, valid, nothing for a person to do
  1  findings: a cluster without the stream the policy requires, a violation, a region without DAS Guard,
     an invalid policy file (validate, push)
  2  usage or input error: a bad option, no credentials, an unreadable file, an invalid policy used as input
     (audit/explain/simulate --policy, or the deployed one)

Output never interprets markup in user or AWS text, and tables are plain, full-width text when stdout is not a
terminal (a file, a pipe, a CI log); rich tables only on a terminal.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from das_guard import app as composition
from das_guard import checks
from das_guard.aws import PolicyParameter
from das_guard.clock import SystemClock
from das_guard.decide import decide
from das_guard.enforcer import Enforcer
from das_guard.gateway import AwsError
from das_guard.model import ClusterInfo, Decision, Outcome
from das_guard.policy import Action, Exemption, PolicyDocument, PolicyError, Rule, parse_policy, validate_policy
from das_guard.policy_analysis import Remark, review, review_entries, why_not
from das_guard.settings import Settings
from das_guard.triggers import Dismissal, PolicyChange, parse_message

from . import aws_session, org_audit, report
from .policy_files import PolicyFile, PolicyFileError, load

T = TypeVar("T")
app = typer.Typer(
    help=__doc__.splitlines()[0] if __doc__ else None, no_args_is_help=True, pretty_exceptions_enable=False
)
policy_app = typer.Typer(help="Validate, explain and publish the policy document.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        out.print(f"das-guard {version('das-guard')}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """das-guard: audit, explain and validate DAS Guard's policy without reading code or logs."""


# markup=False: a file name like "[bold]team.yaml" or a regex in an error is printed as it is, never interpreted
out = Console(soft_wrap=True, markup=False, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False, emoji=False)
FINDINGS, USAGE = 1, 2

DEFAULT_PARAMETER = "/das-guard/policy"
Region = Annotated[list[str] | None, typer.Option("--region", "-r", help="AWS region (repeatable).")]
Profile = Annotated[str | None, typer.Option(help="AWS profile.")]
Endpoint = Annotated[str | None, typer.Option(help="AWS endpoint URL, e.g. a local moto server.")]
Local = Annotated[bool, typer.Option("--local", help="Use the embedded local AWS with the demo's account.")]
PolicyPath = Annotated[Path | None, typer.Option("--policy", help="A local policy file instead of the deployed one.")]
Parameter = Annotated[str, typer.Option(help="SSM parameter holding the deployed policy.")]
StateTable = Annotated[
    str | None, typer.Option(envvar="DAS_GUARD_STATE_TABLE", help="DAS Guard's state table, to see break-glass holds.")
]


def planned(evaluation: Decision) -> str:
    """An evaluation's detail as a read-only command must say it: a Started decision was not carried out."""
    if evaluation.outcome is Outcome.STARTED:
        return evaluation.detail.replace("starting ", "would start ", 1)
    if evaluation.outcome is Outcome.SCHEDULED:
        return evaluation.detail.replace("requesting ", "would request ", 1)
    return evaluation.detail


def start_timing(evaluation: Decision) -> str:
    """Whether the start DAS Guard would make restarts the cluster: a platform team reads this before deploying."""
    if evaluation.start is None:
        return "-"
    return "now (restarts the cluster)" if evaluation.start.apply_immediately else "maintenance window"


class Usage(Exception):
    """Exit 2 with this message."""


@contextmanager
def aws_errors() -> Iterator[None]:
    """Credential, region and permission problems are usage errors (exit 2) with a readable message."""
    try:
        yield
    except (NoCredentialsError, NoRegionError) as error:
        raise Usage(f"{error}. Configure credentials and a region (or use --local).") from error
    except AwsError as error:
        raise Usage(f"{error.operation} failed: {error.code}: {error.message}") from error
    except (ClientError, BotoCoreError) as error:
        raise Usage(str(error)) from error


def run(body: Any) -> None:
    """Run a command body, mapping failures to exit codes."""
    try:
        code = body()
    except Usage as error:
        err.print(Text.assemble(("error:", "red"), f" {error}"))
        raise typer.Exit(USAGE) from error
    except PolicyError as error:  # a policy used as input (--policy, or the deployed one): an input error
        err.print(Text.assemble(("error:", "red"), f" the policy is invalid: {'; '.join(error.problems)}"))
        raise typer.Exit(USAGE) from error
    raise typer.Exit(code or 0)


def print_table(title: str, columns: list[str], rows: list[list[str]], failing: list[bool]) -> None:
    """A rich table on a terminal; plain, aligned, full-width text elsewhere (nothing folded or cut)."""
    if out.is_terminal:
        table = Table(title=title)
        for name in columns:
            table.add_column(name, overflow="fold", no_wrap=name in ("account", "cluster", "verdict"))
        for row, bad in zip(rows, failing, strict=True):
            table.add_row(*row, style="red" if bad else None)
        out.print(table)
        return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def not_deployed(error: Exception, parameter: str) -> str:
    """One line for a region where DAS Guard's policy cannot be read (usually: it is not deployed there)."""
    text = str(error)
    if "ParameterNotFound" in text:
        return f"DAS Guard is not deployed here (no policy parameter {parameter})"
    return text.splitlines()[0][:200]


def regions_of(region: list[str] | None, session_region: str | None) -> tuple[str, ...]:
    chosen = tuple(region or ([session_region] if session_region else []))
    if not chosen:
        raise Usage("no region: pass --region or set AWS_REGION")
    return chosen


def default_region() -> str | None:
    import boto3  # noqa: PLC0415 - only to read the configured region

    region: str | None = boto3.Session().region_name
    return region


def load_policy(path: Path | None, parameter: PolicyParameter) -> PolicyDocument:
    if path is not None:
        try:
            return validate_policy(load(path).data, str(path), today=date.today())
        except PolicyFileError as error:
            raise Usage(f"{path}:{error.line or '?'}: {error}") from error
    with aws_errors():
        return parse_policy(parameter.text(), f"SSM parameter {parameter.parameter}", today=date.today())


def reader_for(
    target: aws_session.Target, region: str, parameter: str = DEFAULT_PARAMETER, state_table: str | None = None
) -> composition.App:
    """DAS Guard as the function is built (the composition root), in dry-run, on the CLI's read-only session."""
    settings = Settings(region=region, account="", policy_parameter=parameter, state_table=state_table)
    return composition.build(settings, session=target.session(region), dry_run=True)


def read_only_enforcer(reader: composition.App, policy: PolicyDocument) -> Enforcer:
    """The enforcer in dry-run, judging by `policy`: its lookups and decisions, never a start or a hold."""
    return composition.with_policy(reader, policy)


# ------------------------------------------------------------------------------------------------------ audit
# One vocabulary: an audit's verdict is the outcome the deployed function would record for the cluster now (README,
# outcome catalogue), in its dry-run form - a stream DAS Guard would start is `WouldStart` (reason `StreamMissing`),
# since nothing was started. Failing: no audit yet, for whatever reason.
FAILING_VERDICTS = {
    Outcome.WOULD_START.value,
    Outcome.SCHEDULED.value,
    Outcome.VIOLATION.value,
    Outcome.FAILED.value,
    Outcome.TAMPERED.value,
}


def verdict_of(decision: Decision) -> tuple[str, str]:
    """(verdict, reason) of a read-only decision, in the enforcer's outcome vocabulary."""
    if decision.outcome is Outcome.STARTED:
        return Outcome.WOULD_START.value, "StreamMissing"
    return decision.outcome.value, decision.reason


@dataclass(frozen=True)
class AuditRow:
    region: str
    cluster: str
    engine: str
    version: str
    classes: str
    stream: str
    rule: str
    verdict: str
    reason: str
    detail: str
    start: str = "-"  # when the stream DAS Guard would start begins: now (a restart) or in the maintenance window
    account: str = "-"  # the account the cluster is in
    # evidence: what an auditor files
    cluster_arn: str = "-"
    fix: str = "-"
    warnings: str = "-"
    checked_at: str = "-"  # when DAS Guard read the cluster (UTC, ISO 8601)
    policy: str = "-"  # which policy decided: the parameter and its version, or the file and its digest


def audit_region(
    reader: composition.App,
    region: str,
    policy: PolicyDocument,
    progress: Progress | None,
    account: str = "-",
    policy_ref: str = "-",
) -> list[tuple[AuditRow, Decision]]:
    """Every cluster of the region, decided read-only: the row people read and the decision it came from."""
    holds, _ = reader.state.sweep_state(reader.clock.now())
    inputs = read_only_enforcer(reader, policy).inputs(check_holds=True, holds=holds)
    task = (
        progress.add_task(f"{account}/{region}: clusters" if account != "-" else f"{region}: clusters")
        if progress
        else None
    )
    rows = []
    for cluster in reader.clusters.region_clusters():
        decision = decide(cluster, policy, inputs)
        rows.append(
            (
                AuditRow(
                    region,
                    cluster.identifier,
                    cluster.engine,
                    cluster.engine_version,
                    ",".join(sorted({i.instance_class for i in cluster.instances})) or "-",
                    cluster.stream_status if cluster.is_aurora else "n/a",
                    decision.rule or "-",
                    *verdict_of(decision),
                    planned(decision),
                    start_timing(decision),
                    account if account != "-" else (cluster.arn.split(":")[4] or "-"),  # the ARN names the account
                    cluster.arn,
                    decision.fix or "-",
                    "; ".join(f"{w.code}: {w.detail}" for w in decision.warnings) or "-",
                    reader.clock.now().isoformat(timespec="seconds"),
                    policy_ref,
                ),
                decision,
            )
        )
        if progress is not None and task is not None:
            progress.advance(task)
    return rows


def policy_reference(path: Path | None, reader: composition.App) -> str:
    """Which policy decided, as evidence: the file and its digest, or the parameter and its version."""
    if path is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return f"{path} sha256:{digest}"
    parameter = reader.policy_parameter
    return f"{parameter.parameter} v{parameter.version}" if parameter.version else parameter.parameter


def render(rows: list[AuditRow], fmt: str) -> str:
    fields = list(AuditRow.__dataclass_fields__)
    if fmt == "json":
        return json.dumps([asdict(r) for r in rows], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
        return buffer.getvalue()
    if fmt == "html":
        return report.html(rows)
    if fmt == "markdown":
        lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
        lines += ["| " + " | ".join(str(getattr(r, f)).replace("|", "\\|") for f in fields) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    raise Usage(f"unknown format {fmt!r}")


@app.command()
def audit(
    region: Region = None,
    all_regions: Annotated[bool, typer.Option("--all-regions", help="Every region enabled in the account.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, csv or markdown.")] = "table",
    policy: PolicyPath = None,
    parameter: Parameter = DEFAULT_PARAMETER,
    state_table: StateTable = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    local: Local = False,
    org: Annotated[
        bool, typer.Option("--org", help="Every account of the organisation, through the read-only audit role.")
    ] = False,
    ou: Annotated[list[str] | None, typer.Option("--ou", help="With --org: only these OUs (repeatable).")] = None,
    role_name: Annotated[
        str, typer.Option(help="With --org: the read-only role the StackSet deploys.")
    ] = org_audit.DEFAULT_ROLE,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="With --org: accounts read at the same time.")] = 8,
) -> None:
    """Evaluate every cluster (read-only) and print its verdict. Exit 1 if any cluster lacks a stream it needs."""

    def body() -> int:
        if fmt not in ("table", "json", "csv", "markdown", "html", "asff", "ocsf"):
            raise Usage(f"--format must be table, json, csv, markdown, html, asff or ocsf, not {fmt!r}")
        if ou and not org:
            raise Usage("--ou needs --org")
        if org:
            with aws_session.endpoint(endpoint_url, local):
                return audit_organisation(
                    region, fmt, policy, parameter, state_table, profile, ou or [], role_name, parallel
                )
        if fmt in ("asff", "ocsf"):
            raise Usage(f"--format {fmt} needs --org (findings name their account)")
        with aws_session.endpoint(endpoint_url, local):
            target = aws_session.Target(regions_of(region, default_region()), profile)
            if all_regions:
                with aws_errors():
                    ec2 = target.session(target.regions[0]).client("ec2")
                    enabled = sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])
                target = aws_session.Target(tuple(enabled), profile)
            rows: list[AuditRow] = []
            uncovered: list[str] = []
            with (
                Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
                ) as progress,
                aws_errors(),
            ):
                for each in target.regions:
                    reader = reader_for(target, each, parameter, state_table)
                    try:
                        region_policy = load_policy(policy, reader.policy_parameter)
                    except Usage as error:
                        if not all_regions:
                            raise
                        uncovered.append(f"{each}: not audited: {not_deployed(error, parameter)}")
                        continue
                    ref = policy_reference(policy, reader)
                    rows += [r for r, _ in audit_region(reader, each, region_policy, progress, "-", ref)]
        if fmt == "table":
            columns = ["region", "cluster", "engine", "version", "classes", "stream", "rule", "verdict", "reason"]
            print_table(
                f"DAS Guard audit: {len(rows)} clusters",
                columns,
                [[str(getattr(r, c)) for c in columns] for r in rows],
                [r.verdict in FAILING_VERDICTS for r in rows],
            )
        else:
            sys.stdout.write(render(rows, fmt))
        for line in uncovered:
            err.print(line)
        failing = sum(1 for r in rows if r.verdict in FAILING_VERDICTS)
        gaps = f"; {len(uncovered)} region(s) without DAS Guard" if uncovered else ""
        err.print(f"{len(rows)} clusters, {failing} without the stream the policy requires{gaps}")
        return FINDINGS if failing or uncovered else 0

    run(body)


def audit_organisation(
    region: list[str] | None,
    fmt: str,
    policy: Path | None,
    parameter: str,
    state_table: str | None,
    profile: str | None,
    ous: list[str],
    role_name: str,
    parallel: int,
) -> int:
    """audit --org: every account (or OU), every region asked, in parallel; the same rows, with an account column."""
    home = aws_session.Target(regions_of(region, default_region()), profile)
    regions = home.regions
    caller = boto3.Session(profile_name=profile, region_name=regions[0])  # unguarded: sts:AssumeRole only
    with aws_errors():
        chosen = org_audit.accounts(home.session(regions[0]), ous)
    if not chosen:
        raise Usage("no account found (are you in the management account or a delegated administrator?)")
    now = SystemClock().now()

    def one(account: org_audit.Account) -> list[tuple[AuditRow, Decision]]:
        target = org_audit.guarded_target(regions, org_audit.assume(caller, account, role_name))
        found: list[tuple[AuditRow, Decision]] = []
        for each in regions:
            reader = reader_for(target, each, parameter, state_table or f"{role_name.removesuffix('-audit')}-state")
            region_policy = load_policy(policy, reader.policy_parameter)
            ref = policy_reference(policy, reader)
            found += audit_region(reader, each, region_policy, None, account.id, ref)
        return found

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("accounts", total=len(chosen))
        results, skipped = org_audit.audit_accounts(
            chosen, one, parallel=parallel, advance=lambda: progress.advance(task)
        )
    results.sort(key=lambda pair: (pair[0].account, pair[0].region, pair[0].cluster))
    rows = [row for row, _ in results]
    if fmt in ("asff", "ocsf"):
        build = org_audit.asff if fmt == "asff" else org_audit.ocsf
        documents = [build(d, r.account, r.region, now) for r, d in results]
        sys.stdout.write(json.dumps([d for d in documents if d is not None], indent=2) + "\n")
    elif fmt == "table":
        columns = ["account", "region", "cluster", "engine", "version", "stream", "rule", "verdict", "reason"]
        print_table(
            f"DAS Guard audit: {len(rows)} clusters in {len(chosen) - len(skipped)} accounts",
            columns,
            [[str(getattr(r, c)) for c in columns] for r in rows],
            [r.verdict in FAILING_VERDICTS for r in rows],
        )
    else:
        sys.stdout.write(render(rows, fmt))
    for gap in skipped:
        err.print(f"account {gap.account.id} ({gap.account.name}): not audited: {gap.why}")
    failing = sum(1 for r in rows if r.verdict in FAILING_VERDICTS)
    err.print(
        f"{len(rows)} clusters in {len(chosen) - len(skipped)} of {len(chosen)} accounts, "
        f"{failing} without the stream the policy requires"
    )
    return 1 if failing or skipped else 0


# ------------------------------------------------------------------------------------------------------ policy
def read_policy_file(file: Path) -> PolicyFile | None:
    """The parsed file; None after printing where its syntax breaks. A missing file is a usage error."""
    try:
        return load(file)
    except PolicyFileError as error:
        if not file.exists():
            raise Usage(str(error)) from error
        out.print(f"{file}:{error.line or '?'}:1: error: {error}")
        return None


@policy_app.command("validate")
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
        remarks = policy_remarks(document, check_keys, region, profile, endpoint_url, local)
        return FINDINGS if print_remarks(file, document, remarks) else 0

    run(body)


def policy_remarks(
    document: PolicyFile,
    check_keys: bool | None,
    region: list[str] | None,
    profile: str | None,
    endpoint_url: str | None,
    local: bool,
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
    if check_keys or (check_keys is None and (local or endpoint_url or have_credentials(profile))):
        remarks += key_remarks(policy, region, profile, endpoint_url, local)
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
    import boto3  # noqa: PLC0415

    try:
        return boto3.Session(profile_name=profile).get_credentials() is not None
    except BotoCoreError:
        return False


def key_remarks(
    policy: PolicyDocument, region: list[str] | None, profile: str | None, endpoint_url: str | None, local: bool
) -> list[Remark]:
    """Does every KMS key the policy names resolve to a usable key in the region(s)?"""
    references: dict[str, tuple[str | int, ...]] = {}
    if policy.defaults.kms_key:
        references[policy.defaults.kms_key] = ("defaults", "kms_key")
    for i, rule in enumerate(policy.rules):
        if rule.kms_key:
            references.setdefault(rule.kms_key, ("rules", i, "kms_key"))
    remarks = []
    with aws_session.endpoint(endpoint_url, local), aws_errors():
        target = aws_session.Target(regions_of(region, default_region()), profile)
        for each in target.regions:
            keys = reader_for(target, each).keys
            for reference, path in references.items():
                finding = checks.check_kms_key(keys.describe_key(reference), each)
                if finding:
                    remarks.append(Remark("error", path, f"{each}: {finding.detail}"))
    return remarks


@policy_app.command("explain")
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
        with aws_session.endpoint(endpoint_url, local), aws_errors():
            target = aws_session.Target(regions_of(region, default_region())[:1], profile)
            reader = reader_for(target, target.regions[0], parameter, state_table)
            document = load_policy(policy, reader.policy_parameter)
            info = reader.clusters.describe_cluster(cluster.lower())
            if info is None:
                raise Usage(f"no DB cluster {cluster!r} in {target.regions[0]}")
            now = reader.clock.now()
            decision = decide(info, document, read_only_enforcer(reader, document).inputs(check_holds=True))
        explain(info, document, decision, now)
        return FINDINGS if verdict_of(decision)[0] in FAILING_VERDICTS or decision.outcome.needs_a_person else 0

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
            f" {decision.outcome.value} ({decision.reason}): {planned(decision)}",
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


@policy_app.command("push")
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
        if print_remarks(
            file, document, policy_remarks(document, keys, region, profile, endpoint_url, local, pushing=True)
        ):
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


# ------------------------------------------------------------------------------------------------------ local
local_app = typer.Typer(help="A local AWS (the demo's account) that lasts between commands.", no_args_is_help=True)
app.add_typer(local_app, name="local")


@local_app.command("start")
def local_start() -> None:
    """Start the local AWS in the background; every --local command then uses it (push, then audit, sees it)."""

    def body() -> int:
        if (state := aws_session.running_local()) is not None:
            out.print(f"already running at {state['endpoint']} (pid {state['pid']})")
            return 0
        aws_session.LOCAL_STATE.unlink(missing_ok=True)
        log = aws_session.LOCAL_STATE.with_suffix(".log").open("w", encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "localaws.serve", "--state", str(aws_session.LOCAL_STATE)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while (state := aws_session.running_local()) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise Usage(f"the local AWS did not start; see {aws_session.LOCAL_STATE.with_suffix('.log')}")
            time.sleep(0.2)
        out.print(f"local AWS running at {state['endpoint']} (pid {state['pid']}); stop it with: das-guard local stop")
        return 0

    run(body)


@local_app.command("stop")
def local_stop() -> None:
    """Stop the local AWS `local start` began (what it held is gone)."""

    def body() -> int:
        state = aws_session.running_local()
        if state is None:
            out.print("no local AWS is running")
            aws_session.LOCAL_STATE.unlink(missing_ok=True)
            return 0
        os.kill(int(state["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + 30
        while aws_session.LOCAL_STATE.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        out.print(f"stopped the local AWS at {state['endpoint']}")
        return 0

    run(body)


@local_app.command("status")
def local_status() -> None:
    """Is a local AWS running? Exit 0 yes, 1 no."""

    def body() -> int:
        state = aws_session.running_local()
        out.print(f"running at {state['endpoint']} (pid {state['pid']})" if state else "no local AWS is running")
        return 0 if state else FINDINGS

    run(body)


# ------------------------------------------------------------------------------------------------------ simulate
@app.command()
def simulate(
    event_file: Annotated[Path, typer.Argument(help="An EventBridge event, or an SQS event as Lambda gets it.")],
    policy: PolicyPath = None,
    parameter: Parameter = DEFAULT_PARAMETER,
    state_table: StateTable = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: Endpoint = None,
    local: Local = False,
) -> None:
    """Run an event through the decision path, read-only: print what DAS Guard would do, change nothing."""

    def body() -> int:
        try:
            event = json.loads(event_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise Usage(f"cannot read {event_file}: {error}") from error
        bodies = (
            [r.get("body", "") for r in event["Records"]]
            if isinstance(event, dict) and "Records" in event
            else [json.dumps(event)]
        )
        with aws_session.endpoint(endpoint_url, local), aws_errors():
            target = aws_session.Target(regions_of(region, default_region())[:1], profile)
            session = target.session(target.regions[0])
            account = session.client("sts").get_caller_identity()["Account"]
            reader = reader_for(target, target.regions[0], parameter, state_table)
            document = load_policy(policy, reader.policy_parameter)
            outcomes = [o for text in bodies for o in simulate_one(text, reader, document, target.regions[0], account)]
        return FINDINGS if any(o.needs_a_person for o in outcomes) else 0

    run(body)


def simulate_one(
    text: str, reader: composition.App, policy: PolicyDocument, region: str, account: str
) -> list[Outcome]:
    """The enforcer's own evaluate(), in dry-run: the same decisions as production, and no change."""
    parsed = parse_message(text, region=region, account=account, now=reader.clock.now())
    if isinstance(parsed, Dismissal):
        out.print(f"{parsed.trigger}: {parsed.outcome.value} ({parsed.reason}): {parsed.detail}")
        return [parsed.outcome]
    if isinstance(parsed, PolicyChange):  # not produced without policy_parameter; kept for the type checker
        out.print(f"{parsed.trigger}: a policy change: the deployed function announces it")
        return []
    evaluations = read_only_enforcer(reader, policy).evaluate(parsed)
    for evaluation in evaluations:
        out.print(
            f"{parsed.trigger}: {evaluation.cluster_id or '-'}: {evaluation.outcome.value} ({evaluation.reason}): "
            f"{planned(evaluation)}",
        )
        if evaluation.outcome in (Outcome.STARTED, Outcome.SCHEDULED) and evaluation.start is not None:
            start = evaluation.start
            out.print(
                f"  would call StartActivityStream(ResourceArn={start.cluster_arn}, Mode={start.mode}, "
                f"KmsKeyId={start.kms_key_id}, ApplyImmediately={start.apply_immediately}) - not called; "
                f"the stream would start {start_timing(evaluation)}",
            )
        for warning in evaluation.warnings:
            out.print(f"  warning {warning.code}: {warning.detail}")
    return [e.outcome for e in evaluations]


def main() -> None:  # pragma: no cover - the console script
    app()
