"""`das-guard audit`: every cluster of the regions (or of the organisation) decided read-only by the deployed
function's own `decide()`, one row each, as a table, JSON, CSV, Markdown, HTML, ASFF or OCSF."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from das_guard import app as composition
from das_guard.clock import SystemClock
from das_guard.decision.decide import decide
from das_guard.model import ClusterInfo, Decision, MalformedCluster, Outcome
from das_guard.outputs.findings import finding
from das_guard.outputs.ocsf import ocsf_finding
from das_guard.policy import PolicyDocument
from das_guard.reasons import Compliance, verdict

from . import aws_session, org_audit, report
from .common import (
    DEFAULT_PARAMETER,
    FINDINGS,
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
    load_policy,
    not_deployed,
    plain_table,
    print_table,
    read_only_enforcer,
    reader_for,
    regions_of,
    run,
    start_timing,
)

# One vocabulary: an audit's verdict is the outcome the deployed function would record for the cluster now
# (docs/outcomes.md), in its dry-run form - a stream DAS Guard would start is `WouldStart` (reason `StreamMissing`),
# since nothing was started. Whether it fails is the catalogue's compliance state, as in every other output.
NOT_AUDITED = "NotAudited"  # the verdict of a region or account the audit could not look at (rows in csv/markdown)


def audited(decision: Decision) -> Decision:
    """A read-only decision in the audit's vocabulary: nothing was started or requested, so a start - at once, or
    a request for the maintenance window - is a stream that is missing (the `start` column says when it would
    come). A request DAS Guard made earlier (`AlreadyScheduled`, read from its state) is a fact and stays."""
    if decision.outcome is Outcome.STARTED or (
        decision.outcome is Outcome.SCHEDULED and decision.reason == "MaintenanceWindow"
    ):
        return replace(decision, outcome=Outcome.WOULD_START, reason="StreamMissing")
    return decision


def verdict_of(decision: Decision) -> tuple[str, str]:
    """(verdict, reason) of a read-only decision, in the enforcer's outcome vocabulary."""
    shown = audited(decision)
    return shown.outcome.value, shown.reason


def failing(decision: Decision) -> bool:
    """The catalogue says the cluster is not audited as the policy requires."""
    return verdict(audited(decision)).failing


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
    compliance: str = "-"  # the catalogue's state: pass, fail, pending, exempt, not-applicable
    severity: str = "-"
    start: str = "-"  # when the stream DAS Guard would start begins: now (a restart) or in the maintenance window
    account: str = "-"  # the account the cluster is in
    # evidence: what an auditor files
    cluster_arn: str = "-"
    fix: str = "-"
    warnings: str = "-"
    checked_at: str = "-"  # when DAS Guard read the cluster (UTC, ISO 8601)
    policy: str = "-"  # which policy decided: the parameter, its version and digest, or the file and its digest
    das_guard_version: str = "-"  # the das-guard that judged


@dataclass(frozen=True)
class NotAuditedScope:
    """A region of an account (or a whole account, region "*") the audit could not look at, and why."""

    account: str
    region: str
    why: str
    name: str = ""  # the account's name, where the organisation gives one


@dataclass(frozen=True)
class Scope:
    """What an audit looked at and by what: an auditor files this with the rows (a clean report of the wrong scope
    proves nothing)."""

    generated_at: str
    das_guard_version: str
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    policies: tuple[str, ...]
    not_audited: tuple[NotAuditedScope, ...] = ()
    failing_only: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def gaps(self) -> list[str]:
        """What was not audited, one line per cause (34 regions without DAS Guard are one line, not 34)."""
        by_cause: dict[str, list[str]] = {}
        for s in self.not_audited:
            if s.region == "*":  # a whole account (audit --org)
                where = f"{s.account} ({s.name})" if s.name else s.account
            else:
                where = s.region if len(self.accounts) <= 1 else f"{s.account}/{s.region}"
            by_cause.setdefault(s.why, []).append(where)
        return [f"not audited ({len(places)}): {why}: {', '.join(places)}" for why, places in by_cause.items()]

    def sentence(self) -> str:
        """One line: the scope as a person reads it."""
        skipped = "; ".join(line.removeprefix("not audited ") for line in self.gaps()) or "none"
        return (
            f"{len(self.accounts)} account(s) ({', '.join(self.accounts) or '-'}), region(s) "
            f"{', '.join(self.regions) or '-'}; not audited: {skipped}; policy {', '.join(self.policies) or '-'}; "
            f"das-guard {self.das_guard_version}; generated {self.generated_at}"
            + ("; failing clusters only" if self.failing_only else "")
        )


@cache  # read once per run, not once per cluster row
def das_guard_version() -> str:
    try:
        return metadata.version("das-guard")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


def not_audited_rows(scope: Scope) -> list[AuditRow]:
    """A row per region or account that was not looked at, in the rows' own shape (csv, markdown, table)."""
    return [
        AuditRow(
            s.region,
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            NOT_AUDITED,
            NOT_AUDITED,
            s.why,
            compliance=Compliance.FAIL.value,
            account=s.account,
            fix="Deploy DAS Guard there, or grant the audit role, then audit again.",
            checked_at=scope.generated_at,
            das_guard_version=scope.das_guard_version,
        )
        for s in scope.not_audited
    ]


def audit_region(
    reader: composition.App,
    region: str,
    policy: PolicyDocument,
    progress: Progress | None,
    account: str = "-",
    policy_ref: str = "-",
) -> list[tuple[AuditRow, Decision]]:
    """Every cluster of the region, decided read-only: the row people read and the decision it came from."""
    holds, records = reader.state.sweep_state(reader.clock.now())  # one scan, as the sweep reads them
    inputs = read_only_enforcer(reader, policy).inputs(check_holds=True, holds=holds, records=records)
    task = (
        progress.add_task(f"{account}/{region}: clusters" if account != "-" else f"{region}: clusters")
        if progress
        else None
    )
    rows = []
    for cluster in reader.clusters.region_clusters(every_instance=True):  # the rows show every cluster's classes
        if isinstance(cluster, MalformedCluster):
            decision = cluster.decision()
            rows.append((_row(region, None, decision, account, reader.clock.now().isoformat(), policy_ref), decision))
            continue
        decision = audited(decide(cluster, policy, inputs))
        rows.append(
            (
                _row(region, cluster, decision, account, reader.clock.now().isoformat(timespec="seconds"), policy_ref),
                decision,
            )
        )
        if progress is not None and task is not None:
            progress.advance(task)
    return rows


def _row(
    region: str, cluster: ClusterInfo | None, decision: Decision, account: str, checked_at: str, policy_ref: str
) -> AuditRow:
    judged = verdict(decision)
    arn = cluster.arn if cluster else (decision.cluster_arn or "-")
    return AuditRow(
        region,
        cluster.identifier if cluster else (decision.cluster_id or "-"),
        cluster.engine if cluster else "-",
        cluster.engine_version if cluster else "-",
        ",".join(sorted({i.instance_class for i in cluster.instances})) or "-" if cluster else "-",
        (cluster.stream_status if cluster.is_aurora else "n/a") if cluster else "-",
        decision.rule or "-",
        decision.outcome.value,
        decision.reason,
        decision.detail,
        judged.compliance.value if judged.compliance else "-",
        judged.severity.value,
        start_timing(decision),
        account if account != "-" else (arn.split(":")[4] if arn.count(":") >= 5 else "-"),  # the ARN names it
        arn,
        judged.fix or "-",
        "; ".join(f"{w.code}: {w.detail}" for w in decision.warnings) or "-",
        checked_at,
        policy_ref,
        das_guard_version(),
    )


def policy_reference(path: Path | None, reader: composition.App) -> str:
    """Which policy decided, as evidence: the file and its digest, or the parameter and its version."""
    if path is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return f"{path} sha256:{digest}"
    parameter = reader.policy_parameter
    digest = hashlib.sha256(parameter.text().encode()).hexdigest()[:12]  # cached: the text that decided
    version = f" v{parameter.version}" if parameter.version else ""
    return f"{parameter.parameter}{version} sha256:{digest}"


def failing_row(row: AuditRow) -> bool:
    return row.compliance == Compliance.FAIL.value


def table_columns(rows: list[AuditRow], scope: Scope) -> list[str]:
    """What a person reads in a terminal (100 columns): the cluster, its engine, stream, rule, verdict and reason;
    account and region only when the audit spans several. Every other field is in the file formats."""
    columns = ["cluster", "engine", "stream", "rule", "verdict", "reason"]
    if len({r.region for r in rows} | set(scope.regions)) > 1:
        columns.insert(0, "region")
    if len({r.account for r in rows} | set(scope.accounts)) > 1:
        columns.insert(0, "account")
    return columns


def table_cell(row: AuditRow, column: str) -> str:
    if column == "engine":
        short = row.engine.removeprefix("aurora-").replace("postgresql", "pg")
        # Aurora MySQL's own version is what people say ("3.05.2"), not "8.0.mysql_aurora.3.05.2".
        version = row.version.rpartition(".mysql_aurora.")[2]
        return f"{short} {version}" if version != "-" else short
    return str(getattr(row, column))


def table(rows: list[AuditRow], scope: Scope) -> tuple[list[str], list[list[str]], list[bool]]:
    """The table's columns, its cells (the clusters, then a NotAudited row per gap) and which rows fail: one
    shape for the terminal and the file."""
    listed = rows + not_audited_rows(scope)
    columns = table_columns(listed, scope)
    return columns, [[table_cell(r, c) for c in columns] for r in listed], [failing_row(r) for r in listed]


def _table(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    columns, cells, _ = table(rows, scope)
    return plain_table(f"DAS Guard audit: {scope.sentence()}", columns, cells)


def _json(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    return json.dumps({"scope": scope.as_dict(), "clusters": [asdict(r) for r in rows]}, indent=2) + "\n"


def _csv(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AuditRow.__dataclass_fields__), lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows + not_audited_rows(scope))
    return buffer.getvalue()


def _markdown(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    fields = list(AuditRow.__dataclass_fields__)
    lines = [f"**DAS Guard audit.** {_md(scope.sentence())}", ""]
    lines += ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(_md(str(getattr(r, f))) for f in fields) + " |" for r in rows + not_audited_rows(scope)]
    return "\n".join(lines) + "\n"


def _html(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    return report.html(rows, scope)


def _asff(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    return evidence(results, "asff", datetime.fromisoformat(scope.generated_at), scope)


def _ocsf(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope) -> str:
    return evidence(results, "ocsf", datetime.fromisoformat(scope.generated_at), scope)


@dataclass(frozen=True)
class Format:
    """One way to write an audit: what it is for (the --format help), its file's extension (--output), the writer."""

    help: str
    extension: str
    write: Callable[[list[AuditRow], list[tuple[AuditRow, Decision]], Scope], str]


# Every format of `audit`, in the order --help lists them. Add one: a writer above and a row here; its consumer's own
# validator checks it in tests/cli/test_audit_evidence.py (docs/contributing.md, "Add an audit format").
FORMATS: dict[str, Format] = {
    "table": Format(
        "a table to read (a terminal: fits 100 columns; a file or pipe: every column, full width)", "txt", _table
    ),
    "json": Format("one document: the scope of the audit and every cluster's row (evidence)", "json", _json),
    "csv": Format(
        "every cluster's row, and a NotAudited row per region or account that was not looked at", "csv", _csv
    ),
    "markdown": Format("the scope, then every row, for a ticket or a wiki", "md", _markdown),
    "html": Format(
        "one self-contained page to file: scope, legend, summaries, failing clusters first with why and fix",
        "html",
        _html,
    ),
    "asff": Format("Security Hub findings (BatchImportFindings)", "asff.json", _asff),
    "ocsf": Format("OCSF 1.5.0 Compliance Findings, for a SIEM or Security Lake", "ocsf.json", _ocsf),
}


def render(rows: list[AuditRow], results: list[tuple[AuditRow, Decision]], scope: Scope, fmt: str) -> str:
    """The audit in `fmt`: every format carries the scope (what was looked at, what was not and why, the policy,
    the version, the time)."""
    if fmt not in FORMATS:
        raise Usage(f"unknown format {fmt!r}")
    return FORMATS[fmt].write(rows, results, scope)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def deliver(
    rows: list[AuditRow],
    results: list[tuple[AuditRow, Decision]],
    scope: Scope,
    formats: list[str],
    output: Path | None,
) -> None:
    """One format on stdout (a table as a table), or every format asked into `output` (one file each)."""
    if output is None:
        [fmt] = formats
        if fmt == "table":
            print_table(f"DAS Guard audit: {len(rows)} clusters", *table(rows, scope))
            err.print(scope.sentence())
        else:
            sys.stdout.write(render(rows, results, scope, fmt))
        return
    output.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = output / f"das-guard-audit.{FORMATS[fmt].extension}"
        path.write_text(render(rows, results, scope, fmt), encoding="utf-8")
        err.print(f"wrote {path}")


def chosen_formats(formats: list[str] | None, output: Path | None) -> list[str]:
    chosen = list(dict.fromkeys(formats or ["table"]))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise Usage(f"--format must be one of {', '.join(FORMATS)}, not {unknown[0]!r}")
    if len(chosen) > 1 and output is None:
        raise Usage("several --format values need --output DIR (one file each)")
    return chosen


FORMAT_HELP = "Repeatable with --output. " + "; ".join(f"{name}: {f.help}" for name, f in FORMATS.items()) + "."


def audit(
    region: Region = None,
    all_regions: Annotated[bool, typer.Option("--all-regions", help="Every region enabled in the account.")] = False,
    fmt: Annotated[list[str] | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write each --format to DIR/das-guard-audit.<ext>.")
    ] = None,
    failing_only: Annotated[
        bool, typer.Option("--failing-only", help="Only the clusters that fail (the scope still says what was seen).")
    ] = False,
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
    """Evaluate every cluster (read-only) and print its verdict. Exit 1 if any cluster lacks a stream it needs, or a
    region or account could not be audited."""

    def body() -> int:
        formats = chosen_formats(fmt, output)
        if ou and not org:
            raise Usage("--ou needs --org")
        with aws_session.endpoint(endpoint_url, local):
            if org:
                results, scope = audit_organisation(
                    region, policy, parameter, state_table, profile, ou or [], role_name, parallel
                )
            else:
                results, scope = audit_account(region, all_regions, policy, parameter, state_table, profile)
        results = [pair for pair in results if failing_row(pair[0])] if failing_only else results
        scope = replace(scope, failing_only=failing_only)
        rows = [row for row, _ in results]
        deliver(rows, results, scope, formats, output)
        failures = sum(1 for r in rows if failing_row(r))
        for line in scope.gaps():
            err.print(line)
        gaps = f"; {len(scope.not_audited)} region(s) or account(s) not audited" if scope.not_audited else ""
        err.print(f"{len(rows)} clusters, {failures} without the stream the policy requires{gaps}")
        return FINDINGS if failures or scope.not_audited else 0

    run(body)


def audit_account(
    region: list[str] | None,
    all_regions: bool,
    policy: Path | None,
    parameter: str,
    state_table: str | None,
    profile: str | None,
) -> tuple[list[tuple[AuditRow, Decision]], Scope]:
    """One account: the regions asked (or every enabled one); a region without DAS Guard is in the scope as not
    audited (with --all-regions; asked for by name, it is an error)."""
    target = aws_session.Target(regions_of(region, default_region()), profile)
    with aws_errors():
        home = target.session(target.regions[0])
        account = str(home.client("sts").get_caller_identity().get("Account", "-"))
        if all_regions:
            enabled = sorted(r["RegionName"] for r in home.client("ec2").describe_regions()["Regions"])
            target = aws_session.Target(tuple(enabled), profile)
    results: list[tuple[AuditRow, Decision]] = []
    skipped: list[NotAuditedScope] = []
    policies: list[str] = []
    with (
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
        ) as bar,
        aws_errors(),
    ):
        for each in target.regions:
            reader = reader_for(target, each, parameter, state_table)
            try:
                region_policy = load_policy(policy, reader.policy_parameter)
            except Usage as error:
                if not all_regions:
                    raise
                skipped.append(NotAuditedScope(account, each, not_deployed(error, parameter)))
                continue
            ref = policy_reference(policy, reader)
            policies.append(ref)
            results += audit_region(reader, each, region_policy, bar, "-", ref)
    audited = tuple(r for r in target.regions if r not in {s.region for s in skipped})
    scope = Scope(now_text(), das_guard_version(), (account,), audited, tuple(dict.fromkeys(policies)), tuple(skipped))
    return results, scope


def now_text() -> str:
    return SystemClock().now().isoformat(timespec="seconds")


def audit_organisation(
    region: list[str] | None,
    policy: Path | None,
    parameter: str,
    state_table: str | None,
    profile: str | None,
    ous: list[str],
    role_name: str,
    parallel: int,
) -> tuple[list[tuple[AuditRow, Decision]], Scope]:
    """audit --org: every account (or OU), every region asked, in parallel; the same rows, with an account column;
    an account that cannot be read is in the scope as not audited, with why."""
    home = aws_session.Target(regions_of(region, default_region()), profile)
    regions = home.regions
    caller = boto3.Session(profile_name=profile, region_name=regions[0])  # unguarded: sts:AssumeRole only
    with aws_errors():
        chosen = org_audit.accounts(home.session(regions[0]), ous)
    if not chosen:
        raise Usage("no account found (are you in the management account or a delegated administrator?)")
    generated = now_text()

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
    gone = {gap.account.id for gap in skipped}
    scope = Scope(
        generated,
        das_guard_version(),
        tuple(a.id for a in chosen if a.id not in gone),
        regions,
        tuple(sorted({row.policy for row, _ in results})),
        tuple(NotAuditedScope(gap.account.id, "*", gap.why, gap.account.name) for gap in skipped),
    )
    return results, scope


def evidence(results: list[tuple[AuditRow, Decision]], fmt: str, now: datetime, scope: Scope) -> str:
    """ASFF findings (BatchImportFindings' shape) or OCSF Compliance Findings: one per cluster whose decision is a
    verdict on its audit, built by the same functions the deployed one uses; each also names the policy that
    decided, the das-guard that judged and the audit's scope (Security Hub keeps findings, not files)."""
    documents: list[dict[str, Any]] = []
    scope_text = scope.sentence()
    for row, decision in results:
        if fmt == "asff":
            document = finding(decision, account=row.account, region=row.region, now=now)
            if document is not None:
                document["ProductFields"] |= {
                    "das-guard/policy": row.policy[:2048],
                    "das-guard/version": scope.das_guard_version,
                    "das-guard/scope": scope_text[:2048],
                }
        else:
            document = ocsf_finding(
                decision, account=row.account, region=row.region, now=now, version=scope.das_guard_version
            )
            if document is not None:
                document["unmapped"] |= {"policy": row.policy, "scope": scope.as_dict()}
        if document is not None:
            documents.append(document)
    return json.dumps(documents, indent=2) + "\n"
