"""The same cluster evaluated at once by two function containers and the sweep: exactly one start succeeds.

A barrier holds every worker right before its StartActivityStream call, so the three calls really race (RDS, and
the moto model, accept one and refuse the others with InvalidDBClusterStateFault). The losers re-read the cluster
and converge on AlreadyActive; none calls Start twice.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import boto3
import pytest

from localaws.world import Deployment

from ..conftest import sample

ROUNDS = 5


def worker_session(
    deployment: Deployment, barrier: threading.Barrier, reached: Counter[str], lock: threading.Lock
) -> boto3.Session:
    """A separate session (a separate Lambda container) that waits at the barrier before starting a stream."""
    session = deployment.world.session(deployment.account, deployment.region)

    def hold(**_: Any) -> None:
        barrier.wait(timeout=10)

    def count(parsed: dict[str, Any], **_: Any) -> None:
        with lock:
            reached["refused" if "Error" in parsed else "started"] += 1

    session.events.register("before-call.rds.StartActivityStream", hold)
    session.events.register("after-call.rds.StartActivityStream", count)
    return session


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_containers_and_a_sweep_start_one_stream(deployment: Deployment, rds: Any, round_: int) -> None:
    deployment.add_cluster("orders-pg", version="15.4", tags={"data-class": "pci"})
    barrier = threading.Barrier(3)
    reached: Counter[str] = Counter()
    lock = threading.Lock()
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def container(event: dict[str, Any]) -> None:
        app = deployment.container(worker_session(deployment, barrier, reached, lock))
        outcomes.append(app.pipeline.process(json.dumps(event)).outcome.value)

    def sweep() -> None:
        app = deployment.container(worker_session(deployment, barrier, reached, lock))
        summary = app.sweeper.run(f"race-{round_}", lambda: 60_000)
        outcomes.extend(k for k, n in summary.outcomes.items() for _ in range(n))

    def guarded(target: Any, *args: Any) -> None:
        try:
            target(*args)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    rds_event = sample("rds-event-0170-cluster-created")
    rds_event["detail"]["SourceArn"] = "arn:aws:rds:us-east-1:123456789012:cluster:orders-pg"
    threads = [
        threading.Thread(target=guarded, args=(container, sample("cloudtrail-create-db-cluster"))),
        threading.Thread(target=guarded, args=(container, rds_event)),
        threading.Thread(target=guarded, args=(sweep,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert reached == {"started": 1, "refused": 2}  # three Start calls raced; RDS accepted exactly one
    assert sorted(outcomes) == ["AlreadyActive", "AlreadyActive", "Started"]
    stream = rds.describe_db_clusters(DBClusterIdentifier="orders-pg")["DBClusters"][0]
    assert (stream["ActivityStreamStatus"], stream["ActivityStreamMode"]) == ("starting", "sync")
