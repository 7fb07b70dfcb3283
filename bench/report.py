"""docs/benchmarks.md and its plots, from the measurements bench/run.py saved in docs/benchmarks.json.

Every goal of issue 14 is stated beside its figure and judged from the figures themselves ("met" / "missed"), so a
re-run that regresses says so on the page. Longer than most modules because the page's prose lives here, one
function per section of the page, each next to the figures it explains.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt

SWEEP_CONSTANT = 10  # requests a sweep makes whatever N: policy, state scan page, keys, orderable options, summary


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def audit_requests(row: dict[str, Any], key: str) -> int:
    """Requests of an audit without its report channel (result events, the summary alert)."""
    return int(row[key]["requests"]) - int(row[key]["result_requests"])


def request_goal(row: dict[str, Any]) -> int:
    return 2 * math.ceil(int(row["clusters"]) / 100) + SWEEP_CONSTANT


# ------------------------------------------------------------------------------------------------- sections
def cold_start_section(results: dict[str, Any]) -> list[str]:
    cold, traced, package = results["cold_start"], results["cold_start_traced"], results["package"]
    ours, theirs = cold["das_guard"], cold.get("c7n")
    lines = [
        "## 1. Cold start as Lambda feels it",
        "",
        f"Median of {cold['runs']} fresh interpreters per tool (bench/coldstart.py): the handler's import, then the "
        "same CloudTrail CreateDBCluster event for the same cluster on the same local AWS (DAS Guard through its "
        "SQS handler; Custodian's `c7n.handler.dispatch_event` with an equivalent cloudtrail-mode policy whose "
        "action is one tag, Custodian having no activity-stream action). Overhead = time above a bare "
        "`import boto3` in the same venv. Interpreter start-up is left out for both.",
        "",
        "| | import (ms) | import + first event (ms) | bare boto3 (ms) | overhead: import | overhead: import + "
        "first event | package (zip) |",
        "|---|---|---|---|---|---|---|",
        f"| DAS Guard (default, `TracingMode=PassThrough`) | {ours['import_ms']:.0f} | {ours['first_event_ms']:.0f} "
        f"| {ours['boto3_ms']:.0f} | {ours['import_overhead_ms']:.0f} | {ours['first_event_overhead_ms']:.0f} | "
        f"{package['das_guard'] / 1024:.0f} KiB (Powertools and pydantic: AWS-managed layer) |",
        f"| DAS Guard, `TracingMode=Active` | {traced['das_guard']['import_ms']:.0f} | "
        f"{traced['das_guard']['first_event_ms']:.0f} | {traced['das_guard']['boto3_ms']:.0f} | "
        f"{traced['das_guard']['import_overhead_ms']:.0f} | {traced['das_guard']['first_event_overhead_ms']:.0f} | |",
    ]
    if theirs:
        lines.append(
            f"| Cloud Custodian `c7n.handler` | {theirs['import_ms']:.0f} | {theirs['first_event_ms']:.0f} | "
            f"{theirs['boto3_ms']:.0f} | {theirs['import_overhead_ms']:.0f} | {theirs['first_event_overhead_ms']:.0f} "
            f"| {package.get('c7n', 0) / 1024:.0f} KiB (c7n and its dependencies beyond boto3) |"
        )
        on_import = ours["import_overhead_ms"] <= theirs["import_overhead_ms"]
        on_first = ours["first_event_overhead_ms"] <= theirs["first_event_overhead_ms"]
        lines += [
            "",
            f"Goal: overhead above boto3 at most Custodian's. On import: {ours['import_overhead_ms']:.0f} vs "
            f"{theirs['import_overhead_ms']:.0f} ms, ratio "
            f"{ours['import_overhead_ms'] / theirs['import_overhead_ms']:.2f}"
            f" - {verdict(on_import)}. On import + first event: {ours['first_event_overhead_ms']:.0f} vs "
            f"{theirs['first_event_overhead_ms']:.0f} ms, ratio "
            f"{ours['first_event_overhead_ms'] / theirs['first_event_overhead_ms']:.2f} - {verdict(on_first)}.",
        ]
        if not on_first:
            lines += [
                "",
                "Why the first event costs more: it needs the policy schema, and pydantic's import, the models and the "
                "first validation cost about 100-140 ms here (the models build on first use); DAS Guard also makes 7 "
                "calls on 4 services (SSM, RDS, KMS, "
                "DynamoDB: the key check, the orderable-options check and the start's claim in the state table) where "
                "Custodian makes 2 on 2, and each new boto3 client loads its service model (10-25 ms; the first also "
                "the 1.2 MB endpoints file). What it would take: a policy "
                "parser without pydantic on the Lambda path (a second implementation of the schema the CLI and "
                "docs/policy.schema.json share - a twin this project refuses), or Lambda SnapStart for Python "
                "(restores an initialised container; not measurable on this machine).",
            ]
    lines += [
        "",
        "Heavy modules the import alone loaded: default "
        f"{', '.join(ours['imported']) or 'none (neither the X-Ray SDK nor pydantic)'}; with tracing active "
        f"{', '.join(traced['das_guard']['imported']) or 'none'}. Tracing code loads only with `TracingMode=Active`, "
        "the policy schema with the first policy read (tests/unit/test_cold_start_imports.py asserts both).",
        "",
    ]
    return lines


def per_event_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Per event (warm container)",
        "",
        "Wall time on moto's server (median of 20) and AWS API calls of the first run; the policy and KMS key are "
        "cached as in a warm Lambda container.",
        "",
        "| sample event | outcome | ms (median) | API calls |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['event']} | {r['outcome']} | {r['ms_median']:.1f} | {r['calls']} |" for r in results["per_event"]]
    return [*lines, ""]


CALLS_PER_CREATION_EVENT = 4.2  # the goal (issue 27)


def burst_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "## 5. Burst with the deployed concurrency",
        "",
        "Creation events queued in waves of 1,000 (the next wave as soon as half of one has gone: moto's SQS makes "
        "a pass over every queued message on each send, so 10,000 at once would measure moto's quadratic cost) and "
        "drained by `EnforcerConcurrency` (5) processes of the queue function, each receiving batches of 10 like "
        "Lambda's event source mapping. Calls are the function's AWS "
        "calls counted at the server (the event source's own SQS receives and deletes, and the bench's own sends and "
        "looks at the queue's depth, are not the function's). "
        "The floor per creation event is 3 calls no enforcer can avoid: DescribeDBClusters (the live cluster: an "
        "event can be forged), DescribeDBInstances (instance classes and states: not in the cluster's description) "
        "and StartActivityStream. DAS Guard adds one conditional write to the state table between the decision and "
        "the start (TransactWriteItems: no break-glass hold, no record of the cluster - and the record that its "
        "stream is on, how a later stop or a silent loss is recognised) and one PutEvents per batch of 10 results. "
        "Where a cluster gets several events, the later ones find its stream running: one DescribeDBClusters and "
        "one state read each.",
        "",
        "| events | clusters | workers | seconds | events/s | worker CPU ms/event | calls/event (floor 3) | "
        "redelivered | streams starting | double starts | left on queue | DLQ |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b in results["burst"]:
        lines.append(
            f"| {b['events']} | {b['clusters']} | {b['workers']} | {b['seconds']:.0f} | {b['per_second']:.1f} | "
            f"{b['worker_cpu_ms_per_event']:.1f} | {b['calls_per_event']:.2f} | {b['redelivered']} | "
            f"{b['starting']} | {b['double_starts']} | {b['left_on_queue']} | {b['dead_letters']} |"
        )
    clean = all(
        (b["double_starts"], b["left_on_queue"], b["dead_letters"], b["starting"]) == (0, 0, 0, b["clusters"])
        for b in results["burst"]
    )
    single = [b for b in results["burst"] if b["events"] == b["clusters"]]
    cheap = all(b["calls_per_event"] <= CALLS_PER_CREATION_EVENT for b in single)
    big = [b for b in results["burst"] if b["events"] >= 10_000]
    drained = all((b["left_on_queue"], b["dead_letters"], b["double_starts"]) == (0, 0, 0) for b in big)
    lines += [
        "",
        f"Nothing lost, no double start, every cluster's stream starting: {verdict(clean)}. At most "
        f"{CALLS_PER_CREATION_EVENT} calls per creation event (one event per cluster): "
        + ", ".join(f"{b['calls_per_event']:.2f}" for b in single)
        + f" - {verdict(cheap and bool(single))}. "
        "Events/s is the local server's limit (one moto process serving five workers on 2 cores, each of its RDS "
        "calls filtering over the whole fleet); the worker CPU per event is DAS Guard's own share, about what a "
        "real AWS would leave. "
        + (
            f"The 10,000-event burst drained, nothing lost, no double start: {verdict(drained)}."
            if big
            else "10,000 events (10 per cluster for 1,000 clusters, `BENCH_BURST_REPEATS=1,10`) were not run: the goal "
            "of 10,000 is **not measured** here - on this machine moto's SQS passes over every queued message on "
            "each send and receive and its RDS over every cluster and instance on each describe, and the run did not "
            "finish within 28 minutes."
        ),
        "",
        "Calls by operation: "
        + "; ".join(
            f"{b['events']} events: " + ", ".join(f"{k} {v}" for k, v in b["calls"].items()) for b in results["burst"]
        ),
        "",
    ]
    return lines


def latency_section(results: dict[str, Any], plot: str) -> list[str]:
    lines = [
        "## 2. Enforcement latency (simulated clock)",
        "",
        "From the cluster's first instance becoming available to the StartActivityStream call, through the real "
        "pipeline on a simulated clock (moto in-process, bench/latency.py). RDS and EventBridge timings are drawn "
        "from ranges: the first instance is available 5-20 minutes after CreateDBCluster, CloudTrail events arrive "
        "1-5 minutes after the call, RDS events within a minute. DAS Guard's re-check delays are the real ones; the "
        "sweep runs daily at a fixed hour. Deliveries and RDS reads are per cluster, until its stream started.",
        "",
        "| events delivered | re-checks | trials | p50 | p95 | max | deliveries/cluster | RDS reads/cluster |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["latency"]:
        lines.append(
            f"| {r['situation']} | {r['schedule']} | {r['trials']} | {duration(r['p50_s'])} | {duration(r['p95_s'])} "
            f"| {duration(r['max_s'])} | {r['deliveries_per_cluster']:.1f} | {r['rds_reads_per_cluster']:.1f} |"
        )
    rows = {(r["situation"], r["schedule"]): r for r in results["latency"]}
    now = "1, 2, then every 3 min"
    create_only = rows[("CreateDBCluster only", now)]["p95_s"]
    all_events = rows[("all events", now)]["p95_s"]
    lines += [
        "",
        f"Goals: p95 at most 5 minutes when only the creation event arrived: {duration(create_only)} - "
        f"{verdict(create_only <= 300)}; at most 60 s when the instance event arrives: {duration(all_events)} - "
        f"{verdict(all_events <= 60)}. The price is in the last two columns: more re-checks per cluster while it "
        "is being created (each one SQS message and one or two RDS reads), against the 15-minute cap before.",
        "With every event lost the sweep period bounds the latency; a shorter `SweepSchedule` (e.g. `rate(1 hour)`) "
        "trades a few pages of reads per run for a smaller gap.",
        "",
        f"![Latency distribution]({plot})",
        "",
    ]
    return lines


def slower_audit_why(rows: list[dict[str, Any]]) -> str:
    """Why DAS Guard's audit took longer where it did, from the calls it made."""
    slower = [r for r in rows if r.get("custodian") and r["custodian"]["seconds"] < r["audit_repeat"]["seconds"]]
    pages = ", ".join(
        f"{r['clusters']} clusters: {r['audit_repeat']['operations'].get('rds:DescribeDBClusters', 0)} cluster "
        f"pages and {r['audit_repeat']['operations'].get('rds:DescribeDBInstances', 0)} instance pages against "
        f"Custodian's {r['custodian']['requests']} requests"
        for r in slower
        if "operations" in r["audit_repeat"]
    )
    return (
        f"Why DAS Guard is slower where it is ({pages}): it reads the instances as well as the clusters - their "
        "classes and states are half of its verdict (an unsupported class is a violation, a cluster with no "
        "available instance is not ready) and Custodian's listing checks neither. It reads them only for the "
        "clusters without a running stream, but in this fleet 70 % have none, so it reads nearly every instance. "
        "It also reads the state table (holds, and what it last knew of each stream) and decides and logs every "
        "cluster. The fleet DAS Guard keeps is the enforced one below; dropping the class and readiness checks from "
        "the audit would be a weaker verdict, which this project refuses."
    )


def counted(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def enforced_why(rows: list[dict[str, Any]]) -> str:
    """What DAS Guard's audit of an enforced fleet does that Custodian's listing does not, from the calls it made."""
    reads = "; ".join(
        f"{r['clusters']} clusters: {counted(r['enforced_audit']['operations'].get('dynamodb:Scan', 0), 'Scan page')}, "
        f"{counted(r['enforced_audit']['operations'].get('rds:DescribeDBInstances', 0), 'instance page')}"
        for r in rows
        if "operations" in r.get("enforced_audit", {})
    )
    return (
        f"Why, where it is slower: its verdict reads what a listing does not ({reads}) - the state table, one record "
        "per running stream, which is how a stream found stopped is known as lost and a hold as granted; the "
        "instances of the clusters without a running stream (here the burstable 10 %, whose class is their "
        "violation) - and it decides and logs every cluster. It reads the region's listing in a thread of its own "
        "while it reads the policy and the state table, so against AWS those waits overlap; here one local server "
        "process answers every request under one interpreter lock, so the state table's answer adds to the "
        "listing's instead. The local server no longer charges what AWS does not (a page's cost growing with the "
        "region, every member name worked out per item: localaws/das_extension/fixes.py), which made both tools "
        "several times faster here and left the difference in what each reads."
    )


def sweep_section(results: dict[str, Any], plot: str) -> list[str]:
    lines = [
        "## 3. The same audit, side by side",
        "",
        "Clusters: 60 % supported without a stream, 20 % streaming, 10 % burstable (unsupported class), 10 % "
        "DocumentDB. Both tools run as processes of their own against the same local server; seconds are the whole "
        "process (start-up included), requests are HTTP requests reaching the server, counted the same way. "
        "Custodian lists the clusters without a stream (`custodian run`, an `rds-cluster` policy filtering on "
        "`ActivityStreamStatus`, its report written to local files). DAS Guard's sweep function in report-only decides "
        "every cluster as the deployed function would (instance classes, key, holds, orderable options); its report "
        "is its log lines and one summary alert (counted apart as 'report'), result events off like Custodian's "
        "(as deployed they add one PutEvents per 10 results: see the enforcing sweep). The first sweep in a region "
        "also records each running stream once (state writes, 25 to a BatchWriteItem); the daily repeat writes "
        "nothing that has not changed. The repeat and Custodian's run are timed in turns, up to three times each "
        "while a run takes under a minute; the medians are shown.",
        "",
        "| clusters | Custodian s | Custodian requests | DAS Guard audit s (first / repeat) | audit requests (first / "
        "repeat) | of which report | of which state writes | goal 2*ceil(N/100)+10 | time ratio Custodian/DAS "
        "Guard (repeat) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    time_ok, requests_ok = True, True
    for r in results["sweep"]:
        c, first, repeat = r.get("custodian"), r["audit_first"], r["audit_repeat"]
        ratio = c["seconds"] / repeat["seconds"] if c else float("nan")
        time_ok &= ratio >= 1
        requests_ok &= audit_requests(r, "audit_repeat") <= request_goal(r)
        lines.append(
            f"| {r['clusters']} | {c['seconds']:.1f} | {c['requests']} | {first['seconds']:.1f} / "
            f"{repeat['seconds']:.1f} | {first['requests']} / {repeat['requests']} | {first['result_requests']} / "
            f"{repeat['result_requests']} | {first['state_writes']} / {repeat['state_writes']} | "
            f"{request_goal(r)} | {ratio:.2f} |"
        )
    lines += [
        "",
        f"Goal: time ratio at least 1 at every N - {verdict(time_ok)}. Goal: audit requests (without the report) "
        f"at most 2*ceil(N/100) + {SWEEP_CONSTANT} on the daily sweep - {verdict(requests_ok)}. The constant: one "
        "GetParameter, one Scan page of the state table, a DescribeKey per key, a DescribeOrderableDBInstanceOptions "
        "per engine version and class family, the summary event and alert.",
        *([] if time_ok else ["", slower_audit_why(results["sweep"])]),
        "",
        *enforced_fleet_lines(results["sweep"]),
        "",
        "The enforcing sweep, separately and as deployed (it starts every missing stream: one StartActivityStream "
        "and one state write each; result events on, 10 per PutEvents, counted as 'report'):",
        "",
        "| clusters | seconds | requests | StartActivityStream | state writes | report |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["sweep"]:
        e = r["enforce"]
        lines.append(
            f"| {r['clusters']} | {e['seconds']:.1f} | {e['requests']} | {e['starts']} | {e['state_writes']} | "
            f"{e['result_requests']} |"
        )
    return [*lines, "", f"![Requests and time against N]({plot})", ""]


def enforced_fleet_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The same audit once the enforcing sweep's streams have started: the account as DAS Guard keeps it."""
    measured = [r for r in rows if "enforced_audit" in r and "enforced_custodian" in r]
    if not measured:
        return ["", "The enforced fleet was not measured in this run (it needs Custodian's venv)."]
    lines = [
        "",
        "The same audit on an enforced fleet: after the enforcing sweep's streams have started (80 % of the clusters "
        "stream; the burstable 10 % cannot, DocumentDB has none), timed the same way. DAS Guard reads instances only "
        "for the clusters whose verdict needs them (no running stream), 100 clusters to a DescribeDBInstances, or "
        "the whole listing where that takes fewer pages:",
        "",
        "| clusters | Custodian s | Custodian requests | DAS Guard audit s | audit requests | of which instance "
        "pages | time ratio Custodian/DAS Guard |",
        "|---|---|---|---|---|---|---|",
    ]
    ok = True
    for r in measured:
        c, ours = r["enforced_custodian"], r["enforced_audit"]
        ratio = c["seconds"] / ours["seconds"]
        ok &= ratio >= 1
        pages = ours["operations"].get("rds:DescribeDBInstances", 0)
        lines.append(
            f"| {r['clusters']} | {c['seconds']:.1f} | {c['requests']} | {ours['seconds']:.1f} | {ours['requests']} | "
            f"{pages} | {ratio:.2f} |"
        )
    lines += ["", f"Goal: on an enforced fleet, time ratio at least 1 at every N - {verdict(ok)}."]
    return lines if ok else [*lines, "", enforced_why(measured)]


def org_section(results: dict[str, Any]) -> list[str]:
    org = results["org"]
    ours, theirs = org["das_guard"], org.get("c7n_org")
    lines = [
        "## 4. The organisation audit",
        "",
        f"A local organisation of {org['accounts']} member accounts x {org['regions']} regions, "
        f"{org['clusters']} clusters (bench/org_audit.py). Both tools assume the read-only role in each account and "
        "list every cluster, each as a process of its own, with the same policy from a file.",
        "",
        "| tool | seconds | requests | AssumeRole | clusters without a stream found |",
        "|---|---|---|---|---|",
        f"| `das-guard audit --org` | {ours['seconds']:.1f} | {ours['requests']} | {ours['assume_role']} | "
        f"{ours['without_stream']} (of {ours['clusters']} listed) |",
    ]
    if theirs:
        ratio = theirs["seconds"] / ours["seconds"]
        lines += [
            f"| `c7n-org run` | {theirs['seconds']:.1f} | {theirs['requests']} | {theirs['assume_role']} | "
            f"{theirs['without_stream']} |",
            "",
            f"Time ratio c7n-org / DAS Guard: {ratio:.2f} ({verdict(ratio >= 1)}); requests "
            f"{ours['requests']} vs {theirs['requests']} (ratio {ours['requests'] / theirs['requests']:.2f}). "
            "DAS Guard assumes the role once per account (c7n-org once per account and region) but reads more "
            "per account and region: the instances (classes), the state table (holds), the key and the orderable "
            "options, which is what makes its verdict the deployed function's and not a listing.",
        ]
    return [*lines, ""]


# ------------------------------------------------------------------------------------------------- plots
def latency_plot(results: dict[str, Any], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for r in results["latency"]:
        values = [v / 60 for v in sorted(r["latencies_s"])]
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        label = r["situation"] if r["situation"] == "every event lost" else f"{r['situation']} - {r['schedule']}"
        axis.step(values, fractions, where="post", label=label)
    axis.axvline(1, color="grey", linestyle=":", linewidth=1)
    axis.axvline(5, color="grey", linestyle="--", linewidth=1)
    axis.text(1.05, 0.02, "60 s goal", fontsize=8, color="grey")
    axis.text(5.2, 0.02, "5 min goal", fontsize=8, color="grey")
    axis.set_xscale("log")
    axis.set_xlabel("readiness to StartActivityStream (minutes, log scale; the sweep's curve is 10-24 hours)")
    axis.set_ylabel("fraction of clusters")
    axis.set_title("Enforcement latency by delivery situation")
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def sweep_plot(results: dict[str, Any], path: Path) -> None:
    rows = results["sweep"]
    n = [r["clusters"] for r in rows]
    figure, (requests, seconds) = plt.subplots(1, 2, figsize=(11, 4.5))
    requests.plot(n, [r["custodian"]["requests"] for r in rows], "o-", label="Custodian listing")
    requests.plot(n, [audit_requests(r, "audit_repeat") for r in rows], "s-", label="DAS Guard audit, daily")
    requests.plot(n, [r["audit_repeat"]["requests"] for r in rows], "s--", label="... with its summary alert")
    requests.plot(n, [r["enforce"]["requests"] for r in rows], "^-", label="DAS Guard enforcing (starts)")
    requests.plot(n, [request_goal(r) for r in rows], "k:", label="goal 2*ceil(N/100)+10")
    seconds.plot(n, [r["custodian"]["seconds"] for r in rows], "o-", label="Custodian listing")
    seconds.plot(n, [r["audit_repeat"]["seconds"] for r in rows], "s-", label="DAS Guard audit, daily")
    seconds.plot(n, [r["enforce"]["seconds"] for r in rows], "^-", label="DAS Guard enforcing")
    for axis, title in ((requests, "requests reaching the server"), (seconds, "seconds (whole process)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("clusters")
        axis.set_title(title)
        axis.grid(alpha=0.3, which="both")
        axis.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict[str, Any], path: Path) -> None:
    latency_png, sweep_png = "benchmarks-latency.png", "benchmarks-sweep.png"
    latency_plot(results, path.parent / latency_png)
    sweep_plot(results, path.parent / sweep_png)
    lines = [
        "# DAS Guard benchmarks",
        "",
        f"Machine: {results['machine']}.  ",
        f"Written by `make bench` on {results['written']}. Timings vary with load on shared machines; API and "
        "request counts do not. Every figure of a section comes from the same run; each goal is judged from the "
        "figures on this page.",
        "",
        *cold_start_section(results),
        *latency_section(results, latency_png),
        *sweep_section(results, sweep_png),
        *org_section(results),
        *burst_section(results),
        *per_event_section(results),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
