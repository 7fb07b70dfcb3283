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

import io
import json
import os
import platform
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localaws import das_extension
from localaws.events import sample_names
from localaws.world import World

from . import coldstart, latency, org_audit
from .burst import burst
from .processes import C7N_PYTHON, ROOT
from .sweep import sweep_scaling


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
