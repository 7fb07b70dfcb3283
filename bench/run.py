"""DAS Guard benchmarks: `make bench` writes docs/benchmarks.md. Timings live here, never in test assertions.

Measured on this machine, against moto's server on 127.0.0.1 (with DAS Guard's extension):
- cold start (bench/coldstart.py): import and first event in fresh interpreters, beside Cloud Custodian's
  `c7n.handler` (c7n in its own venv), plus deployment package sizes;
- per event: wall time and AWS API calls for each sample event (a warm container);
- burst: creation events at once on the queue, drained by EnforcerConcurrency processes of the queue function;
- latency (bench/latency.py): readiness to StartActivityStream on a simulated clock;
- sweep scaling: DAS Guard's sweep (its own process) against `custodian run` with an `rds-cluster` policy filtering
  on `ActivityStreamStatus`, N clusters, wall time and requests reaching the server (counted the same way for both);
- organisation audit (bench/org_audit.py): `das-guard audit --org` against `c7n-org run`.
The page and its plots are written by bench/report.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localaws import das_extension
from localaws.events import sample_names
from localaws.world import Deployment, World

from . import coldstart, latency, org_audit

ROOT = Path(__file__).resolve().parent.parent
C7N_PYTHON = ROOT / ".venv-bench-c7n" / "bin" / "python"
C7N_POLICY = """policies:
  - name: aurora-without-activity-stream
    resource: rds-cluster
    filters:
      - ActivityStreamStatus: stopped
"""


def machine() -> str:
    memory = (
        next(
            (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")),
            "?",
        )
        if Path("/proc/meminfo").exists()
        else "?"
    )
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, {int(memory) // 1024 if memory != '?' else '?'} MiB, "
        f"Python {platform.python_version()}"
    )


# ------------------------------------------------------------------------------------------------- cold start
def zipped_size(paths: list[Path], base: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            for file in path.rglob("*") if path.is_dir() else [path]:
                if file.is_file() and "__pycache__" not in file.parts:
                    archive.write(file, file.relative_to(base))
    return buffer.tell()


def c7n_package_size() -> int:
    """c7n and the libraries it needs beyond the Lambda runtime's boto3 (what its Lambda package must carry)."""
    site = next((C7N_PYTHON.parent.parent / "lib").glob("python*/site-packages"))
    runtime = {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "urllib3",
        "dateutil",
        "six",
        "pip",
        "setuptools",
        "_distutils_hack",
        "pkg_resources",
    }
    paths = [
        p
        for p in site.iterdir()
        if p.name.split("-")[0].split(".")[0] not in runtime
        and not p.name.endswith((".dist-info", ".pth"))
        and p.name != "__pycache__"
    ]
    return zipped_size(paths, site)


def package_sizes() -> dict[str, int]:
    sizes = {"das_guard": zipped_size([ROOT / "functions" / "das_guard"], ROOT / "functions")}
    if C7N_PYTHON.exists():
        sizes["c7n"] = c7n_package_size()
    return sizes


# ------------------------------------------------------------------------------------------------- helpers
class RequestCounter(logging.Handler):
    """Counts HTTP requests reaching moto's server (werkzeug logs one line each)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "HTTP/1.1" in record.getMessage():
            self.count += 1


@contextmanager
def counting_requests() -> Iterator[RequestCounter]:
    log = logging.getLogger("werkzeug")
    counter = RequestCounter()
    level, propagate, others = log.level, log.propagate, list(log.handlers)
    log.setLevel(logging.INFO)
    log.propagate = False
    log.handlers = [counter]  # werkzeug's own console handler would print every request
    try:
        yield counter
    finally:
        log.handlers = others
        log.setLevel(level)
        log.propagate = propagate


def counting_operations() -> contextlib.AbstractContextManager[Counter[str]]:
    """AWS operations reaching the local server, whichever process sent them (localaws' observer)."""
    return das_extension.counting_operations()


# ------------------------------------------------------------------------------------------------- per event
def per_event(repeats: int = 20) -> list[dict[str, Any]]:
    rows = []
    with World(server=True) as world:
        account = world.deploy()
        account.seed_demo_clusters()
        pipeline = account.app.pipeline
        with account.capturing():
            pipeline.process(json.dumps({"source": "warm-up"}))
            # warm-up: the policy and the KMS key lookup are cached, as in a container that has run before
            pipeline.process(json.dumps(world.sample("cloudtrail-create-db-instance")))
            for name in sample_names():
                body = json.dumps(world.sample(name))
                times, first_calls, outcome = [], None, ""
                for _ in range(repeats):
                    for cluster in ("orders-pg", "billing-mysql", "orders-pg-dr", "ledger-pg", "payments-pg"):
                        das_extension.set_activity_stream(cluster, "stopped")  # each repeat starts from one state
                    account.api.reset()
                    start = time.perf_counter()
                    try:
                        outcome = pipeline.process(body).outcome.value
                    except Exception as error:  # noqa: BLE001 - RetryLater and friends are outcomes here
                        outcome = type(error).__name__
                    times.append((time.perf_counter() - start) * 1000)
                    first_calls = first_calls if first_calls is not None else account.api.total()
                rows.append(
                    {"event": name, "outcome": outcome, "ms_median": statistics.median(times), "calls": first_calls}
                )
    return rows


# ------------------------------------------------------------------------------------------------- burst
ENFORCER_CONCURRENCY = 5  # template.yaml's EnforcerConcurrency default
# Events are queued in waves of this many: moto's SQS recomputes every queue attribute (a pass over all messages)
# on each send, so 10,000 queued at once would measure moto's quadratic cost, not DAS Guard.
WAVE = 1000
EVENT_SOURCE_CALLS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
FLOOR_PER_EVENT = ("rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:StartActivityStream")


def burst(clusters: int, events_per_cluster: int = 1, workers: int = ENFORCER_CONCURRENCY) -> dict[str, Any]:
    """clusters x events_per_cluster creation events (more than one per cluster: EventBridge delivers at least once,
    and a creation brings CloudTrail and RDS events), queued in waves of WAVE, drained by `workers` processes of
    the queue function (Lambda runs up to EnforcerConcurrency at a time, batches of 10 from the event source)."""
    n = clusters * events_per_cluster
    with World(server=True) as world, tempfile.TemporaryDirectory() as work:
        account = world.deploy(max_receive_count=5)
        for i in range(clusters):
            account.add_cluster(f"b{i:05d}")
        sqs = account.aws.client("sqs")
        template = world.sample("cloudtrail-create-db-cluster")
        bodies = []
        for i in range(n):
            event = json.loads(json.dumps(template))
            event["id"] = f"burst-{i}"
            arn = f"arn:aws:rds:us-east-1:123456789012:cluster:b{i % clusters:05d}"
            event["detail"]["responseElements"]["dBClusterArn"] = arn
            bodies.append(json.dumps(event))
        queue = account.stack.queue_url

        def enqueue(first: int, last: int) -> None:
            for at in range(first, last, 10):
                entries = [{"Id": str(k), "MessageBody": b} for k, b in enumerate(bodies[at : min(at + 10, last)])]
                sqs.send_message_batch(QueueUrl=queue, Entries=entries)

        enqueue(0, min(n, WAVE))
        go = Path(work, "go")
        env = function_environment(account)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.function_process", "worker", str(go)],
                cwd=ROOT,
                env=env,
                stdout=open(Path(work, f"worker-{w}.out"), "w"),  # noqa: SIM115 - closed by the process's end
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(workers)
        ]
        while sum("ready" in Path(work, f"worker-{w}.out").read_text() for w in range(workers)) < workers:
            time.sleep(0.05)
        with counting_operations() as operations, das_extension.counting_starts() as starts:
            started = time.time()
            go.touch()
            for first in range(WAVE, n, WAVE):  # the rest while the workers drain, a wave whenever one has gone
                while (
                    int(
                        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
                            "Attributes"
                        ]["ApproximateNumberOfMessages"]
                    )
                    > WAVE // 2
                ):
                    time.sleep(0.2)
                enqueue(first, min(n, first + WAVE))
            for process in processes:
                process.wait()
        answers = [
            json.loads(Path(work, f"worker-{w}.out").read_text().strip().splitlines()[-1]) for w in range(workers)
        ]
        seconds = max(float(a["last_work_at"]) for a in answers) - started
        streams = Counter(account.streams().values())
        left = int(
            sqs.get_queue_attributes(QueueUrl=account.stack.queue_url, AttributeNames=["All"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        dead = len(account.dead_letters())
    function_calls = {k: v for k, v in operations.items() if k not in EVENT_SOURCE_CALLS}
    return {
        "events": n,
        "clusters": clusters,
        "workers": workers,
        "seconds": seconds,
        "per_second": n / seconds,
        "worker_cpu_ms_per_event": sum(float(a["cpu_seconds"]) for a in answers) * 1000 / n,
        "invocations": sum(int(a["invocations"]) for a in answers),
        "redelivered": sum(int(a["failed"]) for a in answers),
        "function_calls": sum(function_calls.values()),
        "calls_per_event": sum(function_calls.values()) / n,
        "floor_per_event": len(FLOOR_PER_EVENT),
        "calls": dict(sorted(function_calls.items())),
        "starting": streams.get("starting", 0),
        "double_starts": sum(1 for count in starts.values() if count > 1),
        "left_on_queue": left,
        "dead_letters": dead,
    }


# ------------------------------------------------------------------------------------------------- sweep
RESULT_CALLS = ("events:PutEvents", "sns:Publish")  # DAS Guard's report: result events, the summary alert


def function_environment(account: Deployment, **overrides: str) -> dict[str, str]:
    """A process of the deployed function: its environment as the template sets it (result events on the default
    bus unless overridden), AWS at the local endpoint."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        **account.stack.environment(**{"DAS_GUARD_EVENT_BUS": "default", **overrides}),
        "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def timed_process(command: list[str], env: dict[str, str], cwd: str | Path, *, check: bool = True) -> tuple[float, str]:
    """Wall time of a whole process (interpreter start, imports, work), as `time` would show it, and its stdout."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, check=False, stdout=out, stderr=subprocess.PIPE, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        seconds = time.perf_counter() - started
        out.seek(0)
        return seconds, out.read()


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


def sweep_scaling(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per N: Custodian lists the clusters without a stream; DAS Guard's sweep in report-only audits the same
    clusters (first sweep, then the daily repeat); then the enforcing sweep starts what is missing."""
    rows = []
    for n in sizes:
        with World(server=True) as world:
            account = world.deploy()
            assert world.endpoint is not None
            kinds = account.seed_fleet(n)
            row: dict[str, Any] = {"clusters": n, "missing": kinds["supported"] + kinds["burstable"]}
            endpoint = world.endpoint
            theirs = [custodian_listing(endpoint)] if C7N_PYTHON.exists() else []
            # The same audit as Custodian's: no result events (Custodian's report goes to local files); the
            # enforcing sweep below runs as deployed, with them.
            audit = {"DAS_GUARD_ENFORCEMENT_MODE": "report-only", "DAS_GUARD_EVENT_BUS": ""}
            row["audit_first"] = das_guard_sweep(account, f"audit-{n}-1", **audit)
            ours = [das_guard_sweep(account, f"audit-{n}-2", **audit)]
            # The two timings compared are taken in turns, up to SWEEP_TIMED_RUNS times while a run is short,
            # and the medians kept: one run of a few seconds on a shared machine is too noisy for a ratio.
            while len(ours) < SWEEP_TIMED_RUNS and max(x["seconds"] for x in [*theirs, *ours]) < REPEAT_UNDER_SECONDS:
                theirs += [custodian_listing(endpoint)] if theirs else []
                ours.append(das_guard_sweep(account, f"audit-{n}-{len(ours) + 2}", **audit))
            if theirs:
                row["custodian"] = median_run(theirs)
            row["audit_repeat"] = median_run(ours)
            row["enforce"] = das_guard_sweep(account, f"enforce-{n}")
            row["request_bound"] = 2 * -(-n // 100)
        rows.append(row)
    return rows


SECTIONS: dict[str, Callable[[], Any]] = {
    "cold_start": lambda: coldstart.run(int(os.environ.get("BENCH_COLD_RUNS", "11"))),
    "cold_start_traced": lambda: coldstart.run(5, tracing=True),
    "package": package_sizes,
    "per_event": per_event,
    # BENCH_BURST_REPEATS=1,10 adds 10 events per cluster (10,000 for 1,000 clusters): over 28 minutes on the
    # local server here, so not in the default run (docs/benchmarks.md, section 5).
    "burst": lambda: [
        burst(int(os.environ.get("BENCH_BURST", "1000")), events_per_cluster=int(k))
        for k in os.environ.get("BENCH_BURST_REPEATS", "1").split(",")
    ],
    "latency": lambda: latency.run(int(os.environ.get("BENCH_LATENCY_TRIALS", "200"))),
    "sweep": lambda: sweep_scaling(
        tuple(int(x) for x in os.environ.get("BENCH_SWEEP_SIZES", "100,1000,5000").split(","))
    ),
    "org": lambda: org_audit.run(int(os.environ.get("BENCH_ORG_ACCOUNTS", "50"))),
}


def main(argv: list[str]) -> int:
    """`python -m bench.run` measures everything and writes docs/benchmarks.{json,md} and the plots. Each section is
    saved as soon as it is measured; `BENCH_ONLY=sweep,org` measures those again and keeps the others from
    docs/benchmarks.json; `--render` only writes the page and plots again from it."""
    out = ROOT / "docs" / "benchmarks.md"
    raw = ROOT / "docs" / "benchmarks.json"
    if "--render" not in argv:
        os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", "1000000")  # moto keeps a snapshot per instance
        only = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s]
        unknown = set(only) - set(SECTIONS)
        if unknown:
            raise SystemExit(f"BENCH_ONLY: unknown section(s) {sorted(unknown)}; sections: {', '.join(SECTIONS)}")
        results: dict[str, Any] = json.loads(raw.read_text(encoding="utf-8")) if only and raw.exists() else {}
        results |= {"machine": machine(), "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        out.parent.mkdir(exist_ok=True)
        for name, measure in SECTIONS.items():
            if not only or name in only:
                print(f"bench: {name} ...", file=sys.stderr, flush=True)
                results[name] = measure()
                raw.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    results = json.loads(raw.read_text(encoding="utf-8"))
    from . import report  # noqa: PLC0415 - matplotlib only where the page is written

    report.write(results, out)
    print(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
