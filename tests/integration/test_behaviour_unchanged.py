"""What DAS Guard does, pinned: every sample event's answer, decisions, alerts, result events, metrics and AWS
calls (one container, first use included), and the sweep's calls and reasons over the bench's fleet. A change
of code layout must leave all of it as it is; a change of behaviour shows here as a diff and is accepted on
purpose, by writing the file again:

    DAS_GUARD_WRITE_BEHAVIOUR=1 .venv/bin/python -m pytest tests/integration/test_behaviour_unchanged.py

Times, dates, generated ids, moto's random resource ids and log lines' source locations are replaced or left out: the
file holds what a user sees that does not depend on the day, the run or where in the code a line is written.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from das_guard.observability import metrics
from localaws import das_extension
from localaws.events import sample_names
from localaws.world import World

GOLDEN = Path(__file__).with_name("behaviour.golden.json")
# log fields that depend on the run, the process or the code layout, not on what DAS Guard did
VARIES = frozenset({"timestamp", "xray_trace_id", "location", "cold_start"})
FLEET = 200
RESTARTED_BY_SAMPLES = ("orders-pg", "billing-mysql", "orders-pg-dr", "ledger-pg", "payments-pg")

_VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\bcluster-[A-Z0-9]{20,}\b"), "<cluster-resource-id>"),
    (re.compile(r"\bdb-[A-Z0-9]{20,}\b"), "<instance-resource-id>"),
    (re.compile(r"\b1[0-9]{12}\b"), "<epoch-ms>"),
    (re.compile(r"\b1[0-9]{9}(\.\d+)?\b"), "<epoch>"),
]


def stable(value: Any) -> Any:
    """`value` with what differs between runs and days replaced by placeholders."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in sorted(value.items()) if k not in VARIES}
    if isinstance(value, list):
        return [stable(v) for v in value]
    if isinstance(value, str):
        for pattern, placeholder in _VOLATILE:
            value = pattern.sub(placeholder, value)
        return value
    return value


def metric_names(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(
        f"{metric['Name']}={doc[metric['Name']]}"
        for doc in documents
        for directive in doc["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    )


def samples_fingerprint() -> dict[str, Any]:
    """Each sample event delivered on its own to one container, in name order, on the demo's clusters, result
    events on as deployed."""
    out: dict[str, Any] = {}
    with World() as world:
        account = world.deploy(publish_results=True)
        account.seed_demo_clusters()
        for name in sample_names():
            for cluster in RESTARTED_BY_SAMPLES:
                das_extension.set_activity_stream(cluster, "stopped")
            account.api.reset()
            metrics.clear_metrics()  # what other tests in this process left unflushed is not this event's
            seen = (len(account.decisions()), len(account.alerts()), len(account.result_events()))
            metrics_seen = len(account.metrics())
            answer = account.deliver(world.sample(name))
            out[name] = stable(
                {
                    "answer": answer,
                    "calls": dict(sorted(account.api.calls.items())),
                    "decisions": account.decisions()[seen[0] :],
                    "alerts": [{"Subject": a["Subject"], "Message": a["Message"]} for a in account.alerts()[seen[1] :]],
                    "result_events": [e["detail"] for e in account.result_events()[seen[2] :]],
                    "metrics": metric_names(account.metrics()[metrics_seen:]),
                }
            )
    return out


def sweep_fingerprint() -> dict[str, Any]:
    """The bench's fleet: the first audit (report-only), its daily repeat, then the enforcing sweep, as deployed."""
    out: dict[str, Any] = {}
    with World() as world:
        account = world.deploy(publish_results=True)
        out["fleet"] = dict(sorted(account.seed_fleet(FLEET).items()))
        for run, mode in (("audit-first", "report-only"), ("audit-repeat", "report-only"), ("enforce", "enforce")):
            account.configure(DAS_GUARD_ENFORCEMENT_MODE=mode)  # a new container, as each scheduled run may get
            summary = account.sweep(run)
            out[run] = stable({"calls": dict(sorted(account.api.calls.items())), "summary": summary})
    return out


def fingerprint() -> dict[str, Any]:
    return {"samples": samples_fingerprint(), "sweep": sweep_fingerprint()}


def test_behaviour_is_what_the_file_says() -> None:
    now = fingerprint()
    if os.environ.get("DAS_GUARD_WRITE_BEHAVIOUR"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"wrote {GOLDEN.name}")
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert now["sweep"] == pinned["sweep"]
    for name in sorted(set(now["samples"]) | set(pinned["samples"])):
        assert now["samples"].get(name) == pinned["samples"].get(name), name


def test_placeholders_hide_the_day_and_the_run_but_nothing_a_user_reads() -> None:
    assert stable("stopped on 2026-12-02T14:03:11+00:00 by DBA/bob (cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ)") == (
        "stopped on <time> by DBA/bob (<cluster-resource-id>)"
    )
    assert stable({"b": ["expires 2027-01-31"], "a": "orders-pg", "timestamp": "x"}) == {
        "a": "orders-pg",
        "b": ["expires <date>"],
    }
    assert stable("db.r6g.large, 16.1, 8.0.mysql_aurora.3.05.2, 123456789012") == (
        "db.r6g.large, 16.1, 8.0.mysql_aurora.3.05.2, 123456789012"
    )
