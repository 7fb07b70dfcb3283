"""Enforcement latency with a simulated clock: from "the cluster's first instance is available" to the
StartActivityStream call, through the real pipeline (moto in-process), in three situations:

- all events delivered (CloudTrail CreateDBCluster/CreateDBInstance, RDS-EVENT-0170/0005);
- only the CloudTrail CreateDBCluster event (the deferral chain must find the cluster ready);
- every event lost (the daily sweep must catch it).

Timings that RDS and EventBridge decide are drawn from ranges (documented in the report): the first instance is
available 5-20 minutes after CreateDBCluster; CloudTrail events reach EventBridge 1-5 minutes after the call, RDS
events within a minute. DAS Guard's own timings are the real ones: the pipeline's deferral delays (1, 2, then every
3 minutes: `Settings.retry_delay`) and a daily sweep at a fixed hour.

Beside each latency: what waiting cost, per cluster - messages the function received for it (the event, its re-checks)
and RDS reads (DescribeDBClusters, DescribeDBInstances) it made.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from localaws.events import load_sample
from localaws.world import Deployment, World

SWEEP_HOUR = 3  # the daily sweep's fixed time (rate(1 day) from deployment time: any hour is equivalent)


def event_for(name: str, cluster: str, instance: str, at: datetime) -> dict[str, Any]:
    event = load_sample(name)
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    detail = event["detail"]
    if "responseElements" in detail and isinstance(detail["responseElements"], dict):
        detail["responseElements"]["dBClusterArn"] = f"arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"
        detail["responseElements"]["dBClusterIdentifier"] = cluster
    if "requestParameters" in detail:
        detail["requestParameters"]["dBClusterIdentifier"] = cluster
    if "SourceArn" in detail:
        kind = "db" if detail.get("SourceType") == "DB_INSTANCE" else "cluster"
        detail["SourceArn"] = f"arn:aws:rds:us-east-1:123456789012:{kind}:{instance if kind == 'db' else cluster}"
    return event


@dataclass(frozen=True)
class Trial:
    latency_s: float
    deliveries: int  # messages the function received for this cluster
    rds_reads: int


RDS_READS = ("rds:DescribeDBClusters", "rds:DescribeDBInstances")


def simulate(situation: str, trials: int, seed: int = 7, *, retry_cap_s: int | None = None) -> list[Trial]:
    """One result per trial: the local world's clock, queue and handler, moved event by event. `retry_cap_s`
    replaces the deployed cap on re-check delays (to compare with an earlier schedule)."""
    rng = random.Random(seed)
    results: list[Trial] = []
    with World() as world:
        account = world.deploy(DAS_GUARD_READINESS_TIMEOUT_MINUTES="1440")
        if retry_cap_s:
            account.configure(DAS_GUARD_RETRY_MAX_SECONDS=str(retry_cap_s))
        for trial in range(trials):
            cluster, instance = f"sim{trial:04d}", f"sim{trial:04d}-1"
            created = world.now() + timedelta(hours=rng.uniform(0, 24))
            available = created + timedelta(minutes=rng.uniform(5, 20))
            trail = timedelta(minutes=rng.uniform(1, 5))  # CloudTrail -> EventBridge delay for this trial
            arrivals: list[tuple[datetime, dict[str, Any] | None]] = []  # None: the daily sweep
            if situation in ("all events", "CreateDBCluster only"):
                arrivals.append(
                    (created + trail, event_for("cloudtrail-create-db-cluster", cluster, instance, created))
                )
            if situation == "all events":
                arrivals.append(
                    (
                        created + timedelta(seconds=30) + trail,
                        event_for("cloudtrail-create-db-instance", cluster, instance, created),
                    )
                )
                arrivals.append(
                    (
                        available + timedelta(seconds=rng.uniform(5, 60)),
                        event_for("rds-event-0005-instance-created", cluster, instance, available),
                    )
                )
            if situation == "every event lost":
                next_sweep = available.replace(hour=SWEEP_HOUR, minute=0, second=0, microsecond=0)
                if next_sweep <= available:
                    next_sweep += timedelta(days=1)
                arrivals.append((next_sweep, None))
            world.advance(created - world.now())
            account.add_cluster(cluster, creating=True)
            account.api.reset()
            started_at, deliveries = run_trial(world, account, cluster, available, sorted(arrivals, key=lambda a: a[0]))
            reads = sum(account.api.calls[c] for c in RDS_READS)
            results.append(Trial((started_at - available).total_seconds(), deliveries, reads))
    return results


def run_trial(
    world: World,
    account: Deployment,
    cluster: str,
    available: datetime,
    arrivals: list[tuple[datetime, dict[str, Any] | None]],
) -> tuple[datetime, int]:
    """Move the world from one thing that happens to the next (an event arrives, the instance becomes available,
    a delayed re-check on the queue becomes due, the sweep runs) until the cluster's stream has started.
    Returns when it started and how many messages the function received until then."""
    ready = False
    deliveries = 0
    while True:
        due = [world.now() + timedelta(seconds=m["delay"]) for m in account.queued()]
        moments = [at for at, _ in arrivals[:1]] + due + ([] if ready else [available])
        if not moments:
            raise RuntimeError(f"{cluster}: nothing left to happen and no stream")
        world.advance(max(min(moments) - world.now(), timedelta(0)))
        if not ready and world.now() >= available:
            account.finish_creating(cluster)
            ready = True
        while arrivals and arrivals[0][0] <= world.now():
            _, event = arrivals.pop(0)
            if event is None:
                account.sweep("daily")
            else:
                account.send(json.dumps(event))  # as EventBridge delivers it, with its own time
        deliveries += account.drain().delivered
        if account.stream(cluster).get("Status") == "starting":
            return world.now(), deliveries


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


SITUATIONS = ("all events", "CreateDBCluster only", "every event lost")
EARLIER_CAP_S = 900  # the schedule before issue 14: 1, 2, 4, 8, then every 15 minutes


def run(trials: int = 200) -> list[dict[str, Any]]:
    rows = []
    runs = [(situation, None) for situation in SITUATIONS] + [("CreateDBCluster only", EARLIER_CAP_S)]
    for situation, cap in runs:
        results = simulate(situation, trials, retry_cap_s=cap)
        values = [r.latency_s for r in results]
        rows.append(
            {
                "situation": situation,
                "schedule": "1, 2, 4, 8, then every 15 min (before)" if cap else "1, 2, then every 3 min",
                "trials": len(values),
                "p50_s": statistics.median(values),
                "p95_s": percentile(values, 95),
                "max_s": max(values),
                "deliveries_per_cluster": statistics.mean(r.deliveries for r in results),
                "rds_reads_per_cluster": statistics.mean(r.rds_reads for r in results),
                "latencies_s": sorted(values),
            }
        )
    return rows
