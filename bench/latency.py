"""Enforcement latency with a simulated clock: from "the cluster's first instance is available" to the
StartActivityStream call, through the real pipeline (moto in-process), in three situations:

- all events delivered (CloudTrail CreateDBCluster/CreateDBInstance, RDS-EVENT-0170/0005);
- only the CloudTrail CreateDBCluster event (the deferral chain must find the cluster ready);
- every event lost (the daily sweep must catch it).

Timings that RDS and EventBridge decide are drawn from ranges (documented in the report): the first instance is
available 5-20 minutes after CreateDBCluster; CloudTrail events reach EventBridge 1-5 minutes after the call, RDS
events within a minute. DAS Guard's own timings are the real ones: the pipeline's deferral delays (1, 2, 4, 8, then
every 15 minutes) and a daily sweep at a fixed hour.
"""

from __future__ import annotations

import heapq
import json
import random
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from das_guard import handlers
from das_guard.settings import Settings
from das_guard.sweep import Sweeper
from localaws import das_extension, scenario

ROOT = Path(__file__).resolve().parent.parent
EPOCH = datetime(2026, 11, 25, tzinfo=UTC)
SWEEP_HOUR = 3  # the daily sweep's fixed time (rate(1 day) from deployment time: any hour is equivalent)


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((ROOT / "events" / "eventbridge" / f"{name}.json").read_text(encoding="utf-8")))


def event_for(name: str, cluster: str, instance: str, at: datetime) -> str:
    event = sample(name)
    event["time"] = at.isoformat()
    detail = event["detail"]
    if "responseElements" in detail and isinstance(detail["responseElements"], dict):
        detail["responseElements"]["dBClusterArn"] = f"arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"
        detail["responseElements"]["dBClusterIdentifier"] = cluster
    if "requestParameters" in detail:
        detail["requestParameters"]["dBClusterIdentifier"] = cluster
    if "SourceArn" in detail:
        kind = "db" if detail.get("SourceType") == "DB_INSTANCE" else "cluster"
        detail["SourceArn"] = f"arn:aws:rds:us-east-1:123456789012:{kind}:{instance if kind == 'db' else cluster}"
    return json.dumps(event)


@contextmanager
def world() -> Iterator[tuple[Any, scenario.Stack]]:
    das_extension.install()
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        yield session, scenario.seed_stack(session)


class Timeline:
    """Deliveries in simulated time, in order (ties keep their insertion order)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str]] = []
        self._count = 0

    def deliver(self, at: datetime, body: str) -> None:
        self._count += 1
        heapq.heappush(self._heap, (at, self._count, body))

    def next(self) -> tuple[datetime, str] | None:
        if not self._heap:
            return None
        at, _, body = heapq.heappop(self._heap)
        return at, body


def simulate(situation: str, trials: int, seed: int = 7) -> list[float]:
    """Latencies in seconds, one per trial."""
    rng = random.Random(seed)
    latencies: list[float] = []
    with world() as (session, stack):
        rds = session.client("rds")
        settings = Settings.from_env(stack.environment(DAS_GUARD_READINESS_TIMEOUT_MINUTES="1440"))
        pipeline = handlers.build_pipeline(settings, session)
        clock = [EPOCH]
        pipeline._clock = lambda: clock[0]  # the simulated clock
        pipeline.enforcer._clock = pipeline._clock
        for trial in range(trials):
            cluster, instance = f"sim{trial:04d}", f"sim{trial:04d}-1"
            created = EPOCH + timedelta(days=trial, hours=rng.uniform(0, 24))
            available = created + timedelta(minutes=rng.uniform(5, 20))
            scenario.create_cluster(rds, cluster, "aurora-postgresql", "16.1")
            das_extension.hold_cluster_status(cluster, "creating")
            timeline = Timeline()
            deliver = timeline.deliver
            trail = timedelta(minutes=rng.uniform(1, 5))  # CloudTrail -> EventBridge delay for this trial

            if situation in ("all events", "CreateDBCluster only"):
                deliver(created + trail, event_for("cloudtrail-create-db-cluster", cluster, instance, created))
            if situation == "all events":
                deliver(
                    created + timedelta(seconds=30) + trail,
                    event_for("cloudtrail-create-db-instance", cluster, instance, created),
                )
                deliver(
                    available + timedelta(seconds=rng.uniform(5, 60)),
                    event_for("rds-event-0005-instance-created", cluster, instance, available),
                )

            def scheduled(body: str, delay_seconds: int, t: Timeline = timeline) -> None:
                t.deliver(clock[0] + timedelta(seconds=delay_seconds), body)

            # deferrals go onto the simulated timeline instead of SQS's real delay
            pipeline.gateway.schedule_retry = scheduled  # type: ignore[method-assign]
            if situation == "every event lost":
                next_sweep = available.replace(hour=SWEEP_HOUR, minute=0, second=0, microsecond=0)
                if next_sweep <= available:
                    next_sweep += timedelta(days=1)
                deliver(next_sweep, "SWEEP")
            started_at = None
            ready = False
            while started_at is None and (item := timeline.next()) is not None:
                at, body = item
                clock[0] = at
                if not ready and at >= available:
                    scenario.finish_creating(session, cluster, instance)
                    ready = True
                if body == "SWEEP":
                    summary = Sweeper(
                        pipeline.gateway,
                        pipeline.enforcer,
                        pipeline.policy,
                        pipeline.reporter,
                        handlers.logger,
                        clock=lambda: clock[0],
                    ).run("sim", lambda: 900_000)
                    if summary.outcomes["Started"]:
                        started_at = at
                    continue
                if pipeline.process(body).outcome.value == "Started":
                    started_at = at
            if started_at is None:
                raise RuntimeError(f"{situation}: trial {trial} never started its stream")
            latencies.append((started_at - available).total_seconds())
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(trials: int = 200) -> list[dict[str, Any]]:
    rows = []
    for situation in ("all events", "CreateDBCluster only", "every event lost"):
        values = simulate(situation, trials)
        rows.append(
            {
                "situation": situation,
                "trials": len(values),
                "p50_s": statistics.median(values),
                "p95_s": percentile(values, 95),
                "max_s": max(values),
            }
        )
    return rows
