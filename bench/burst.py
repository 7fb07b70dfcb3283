"""Section 5: creation events drained by `EnforcerConcurrency` worker processes of the queue function; events/s,
calls per event against the floor, nothing lost, no double start."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from localaws import das_extension
from localaws.world import World

from .processes import ROOT, counting_operations, function_environment

ENFORCER_CONCURRENCY = 5  # template.yaml's EnforcerConcurrency default
# Events are queued in waves of this many: moto's SQS recomputes every queue attribute (a pass over all messages)
# on each send, so 10,000 queued at once would measure moto's quadratic cost, not DAS Guard.
WAVE = 1000
EVENT_SOURCE_CALLS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
# The bench's own requests while the workers drain: the next waves, and its look at the queue's depth
BENCH_CALLS = ("sqs:SendMessageBatch", "sqs:GetQueueAttributes")
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
    function_calls = {k: v for k, v in operations.items() if k not in EVENT_SOURCE_CALLS + BENCH_CALLS}
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
