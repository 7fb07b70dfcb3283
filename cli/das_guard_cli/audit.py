"""`das-guard audit`: every cluster of the regions (or of the organisation) decided read-only by the deployed
function's own `decide()`, one row each, as a table, JSON, CSV, Markdown, HTML, ASFF or OCSF."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Annotated

import boto3
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from das_guard import app as composition
from das_guard.clock import SystemClock
from das_guard.decide import decide
from das_guard.findings import finding
from das_guard.model import ClusterInfo, Decision, MalformedCluster, Outcome
from das_guard.ocsf import ocsf_finding
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
    print_table,
    read_only_enforcer,
    reader_for,
    regions_of,
    run,
    start_timing,
)

# One vocabulary: an audit's verdict is the outcome the deployed function would record for the cluster now (README,
# outcome catalogue), in its dry-run form - a stream DAS Guard would start is `WouldStart` (reason `StreamMissing`),
# since nothing was started. Whether it fails is the catalogue's compliance state, as in every other output.
FORMATS = ("table", "json", "csv", "markdown", "html", "asff", "ocsf")


def audited(decision: Decision) -> Decision:
    """A read-only decision in the audit's vocabulary: nothing was started, so a start is a stream that is missing."""
    if decision.outcome is Outcome.STARTED:
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
    holds, records = reader.state.sweep_state(reader.clock.now())  # one scan, as the sweep reads them
    inputs = read_only_enforcer(reader, policy).inputs(check_holds=True, holds=holds, records=records)
    task = (
        progress.add_task(f"{account}/{region}: clusters" if account != "-" else f"{region}: clusters")
        if progress
        else None
    )
    rows = []
    for cluster in reader.clusters.region_clusters():
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
    )


def policy_reference(path: Path | None, reader: composition.App) -> str:
    """Which policy decided, as evidence: the file and its digest, or the parameter and its version."""
    if path is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return f"{path} sha256:{digest}"
    parameter = reader.policy_parameter
    return f"{parameter.parameter} v{parameter.version}" if parameter.version else parameter.parameter


def show(rows: list[AuditRow], fmt: str, title: str, columns: list[str]) -> None:
    """The rows on stdout: a table of `columns` (failing rows marked), or every field in `fmt`."""
    if fmt != "table":
        sys.stdout.write(render(rows, fmt))
        return
    cells = [[str(getattr(r, c)) for c in columns] for r in rows]
    print_table(title, columns, cells, [r.compliance == Compliance.FAIL.value for r in rows])


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


def audit(
    region: Region = None,
    all_regions: Annotated[bool, typer.Option("--all-regions", help="Every region enabled in the account.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help=", ".join(FORMATS) + ".")] = "table",
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
        if fmt not in FORMATS:
            raise Usage(f"--format must be {', '.join(FORMATS[:-1])} or {FORMATS[-1]}, not {fmt!r}")
        if ou and not org:
            raise Usage("--ou needs --org")
        if org:
            with aws_session.endpoint(endpoint_url, local):
                return audit_organisation(
                    region, fmt, policy, parameter, state_table, profile, ou or [], role_name, parallel
                )
        with aws_session.endpoint(endpoint_url, local):
            target = aws_session.Target(regions_of(region, default_region()), profile)
            if all_regions:
                with aws_errors():
                    ec2 = target.session(target.regions[0]).client("ec2")
                    enabled = sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])
                target = aws_session.Target(tuple(enabled), profile)
            results: list[tuple[AuditRow, Decision]] = []
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
                    results += audit_region(reader, each, region_policy, progress, "-", ref)
        rows = [row for row, _ in results]
        columns = ["region", "cluster", "engine", "version", "classes", "stream", "rule", "verdict", "reason"]
        if fmt in ("asff", "ocsf"):
            sys.stdout.write(evidence(results, fmt, SystemClock().now()))
        else:
            show(rows, fmt, f"DAS Guard audit: {len(rows)} clusters", columns)
        for line in uncovered:
            err.print(line)
        failures = sum(1 for r in rows if r.compliance == Compliance.FAIL.value)
        gaps = f"; {len(uncovered)} region(s) without DAS Guard" if uncovered else ""
        err.print(f"{len(rows)} clusters, {failures} without the stream the policy requires{gaps}")
        return FINDINGS if failures or uncovered else 0

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
        sys.stdout.write(evidence(results, fmt, now))
    else:
        columns = ["account", "region", "cluster", "engine", "version", "stream", "rule", "verdict", "reason"]
        show(rows, fmt, f"DAS Guard audit: {len(rows)} clusters in {len(chosen) - len(skipped)} accounts", columns)
    for gap in skipped:
        err.print(f"account {gap.account.id} ({gap.account.name}): not audited: {gap.why}")
    failures = sum(1 for r in rows if r.compliance == Compliance.FAIL.value)
    err.print(
        f"{len(rows)} clusters in {len(chosen) - len(skipped)} of {len(chosen)} accounts, "
        f"{failures} without the stream the policy requires"
    )
    return 1 if failures or skipped else 0


def evidence(results: list[tuple[AuditRow, Decision]], fmt: str, now: datetime) -> str:
    """ASFF findings (BatchImportFindings' shape) or OCSF Compliance Findings: one per cluster whose decision is a
    verdict on its audit, built by the same functions the deployed one uses."""
    documents = [
        (finding if fmt == "asff" else ocsf_finding)(decision, account=row.account, region=row.region, now=now)
        for row, decision in results
    ]
    return json.dumps([d for d in documents if d is not None], indent=2) + "\n"
