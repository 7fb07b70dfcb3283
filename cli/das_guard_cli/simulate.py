"""`das-guard simulate`: an event through the enforcer's own evaluate(), in dry-run: what DAS Guard would do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from das_guard import app as composition
from das_guard.model import Outcome
from das_guard.policy import PolicyDocument
from das_guard.triggers import Dismissal, PolicyChange, parse_message

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
    judging,
    out,
    read_only_enforcer,
    run,
    start_timing,
)


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
        connection = Connection(region, profile, endpoint_url, local)
        with judging(connection, policy, parameter, state_table) as (target, reader, document):
            account = target.session(target.regions[0]).client("sts").get_caller_identity()["Account"]
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
            f"{evaluation.detail}",
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
