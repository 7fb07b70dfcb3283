"""Section 3: the same audit side by side - DAS Guard's report-only sweep and `custodian run` over the same
clusters - and the enforcing sweep with its starts."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from localaws.world import Deployment, World

from .processes import (
    C7N_POLICY,
    C7N_PYTHON,
    ROOT,
    counting_operations,
    counting_requests,
    function_environment,
    timed_process,
)

RESULT_CALLS = ("events:PutEvents", "sns:Publish")  # DAS Guard's report: result events, the summary alert


def das_guard_sweep(account: Deployment, name: str, **overrides: str) -> dict[str, Any]:
    """One sweep by the deployed sweep function in its own process: wall time, requests and calls by kind."""
    env = function_environment(account, **overrides)
    with counting_requests() as requests, counting_operations() as operations:
        seconds, stdout = timed_process([sys.executable, "-m", "bench.function_process", "sweep", name], env, ROOT)
    summary = json.loads(stdout.strip().splitlines()[-1])["summary"]
    return {
        "seconds": seconds,
        "requests": requests.count,
        "result_requests": sum(operations[c] for c in RESULT_CALLS),
        "starts": operations["rds:StartActivityStream"],
        "state_writes": operations["dynamodb:PutItem"] + operations["dynamodb:BatchWriteItem"],
        "operations": dict(operations),
        "summary": summary,
    }


def custodian_listing(endpoint: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work, counting_requests() as requests:
        Path(work, "policy.yml").write_text(C7N_POLICY)
        command = [str(C7N_PYTHON.parent / "custodian"), "run", "-s", "out", "--region", "us-east-1"]
        seconds, _ = timed_process(
            [*command, "--cache-period", "0", "policy.yml"], {**os.environ, "AWS_ENDPOINT_URL": endpoint}, work
        )
        found = json.loads(Path(work, "out/aurora-without-activity-stream/resources.json").read_text())
    return {"seconds": seconds, "requests": requests.count, "found": len(found)}


SWEEP_TIMED_RUNS = 3
REPEAT_UNDER_SECONDS = 60.0


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (the lower middle of an even count), with every run's seconds beside it."""
    middle = sorted(runs, key=lambda r: float(r["seconds"]))[(len(runs) - 1) // 2]
    return {**middle, "runs": [round(float(r["seconds"]), 3) for r in runs]}


def side_by_side(account: Deployment, endpoint: str, name: str, audit: dict[str, str]) -> tuple[Any, Any]:
    """Custodian's run and DAS Guard's report-only sweep, timed in turns, up to SWEEP_TIMED_RUNS times while a run is
    short (one run of a few seconds on a shared machine is too noisy for a ratio): (Custodian's median or None,
    DAS Guard's median)."""
    theirs = [custodian_listing(endpoint)] if C7N_PYTHON.exists() else []
    ours = [das_guard_sweep(account, f"{name}-1", **audit)]
    while len(ours) < SWEEP_TIMED_RUNS and max(x["seconds"] for x in [*theirs, *ours]) < REPEAT_UNDER_SECONDS:
        theirs += [custodian_listing(endpoint)] if theirs else []
        ours.append(das_guard_sweep(account, f"{name}-{len(ours) + 1}", **audit))
    return (median_run(theirs) if theirs else None), median_run(ours)


def sweep_scaling(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per N: Custodian lists the clusters without a stream; DAS Guard's sweep in report-only audits the same
    clusters (first sweep, then the daily repeat); then the enforcing sweep starts what is missing, and once RDS has
    started those streams the same audit runs again on what is now an enforced fleet."""
    rows = []
    for n in sizes:
        with World(server=True) as world:
            account = world.deploy()
            assert world.endpoint is not None
            kinds = account.seed_fleet(n)
            row: dict[str, Any] = {"clusters": n, "missing": kinds["supported"] + kinds["burstable"]}
            endpoint = world.endpoint
            # The same audit as Custodian's: no result events (Custodian's report goes to local files); the
            # enforcing sweep below runs as deployed, with them.
            audit = {"DAS_GUARD_ENFORCEMENT_MODE": "report-only", "DAS_GUARD_EVENT_BUS": ""}
            row["audit_first"] = das_guard_sweep(account, f"audit-{n}-first", **audit)
            custodian, row["audit_repeat"] = side_by_side(account, endpoint, f"audit-{n}", audit)
            if custodian is not None:
                row["custodian"] = custodian
            row["enforce"] = das_guard_sweep(account, f"enforce-{n}")
            row["request_bound"] = 2 * -(-n // 100)
            world.advance(minutes=10)  # RDS: starting -> started. 80 % of the fleet now streams.
            custodian, row["enforced_audit"] = side_by_side(account, endpoint, f"enforced-{n}", audit)
            if custodian is not None:
                row["enforced_custodian"] = custodian
        rows.append(row)
    return rows
