"""Cold start as Lambda feels it: a fresh interpreter imports the handler and handles its first event.

Both tools get the same creation event (the CloudTrail CreateDBCluster sample) for the same cluster on the same
local AWS (moto's server): DAS Guard through its SQS handler (as its event source mapping delivers it), Cloud
Custodian through `c7n.handler.dispatch_event` with the equivalent cloudtrail-mode policy (its Lambda is invoked
by EventBridge directly): find the cluster named by the event, filter on `ActivityStreamStatus`, act. Custodian
has no activity-stream action, so its action is one tag on the cluster - one write, like DAS Guard's
StartActivityStream. The policy sits in `config.json`, as `custodian` deploys it (`account_id` included, so it
makes no STS call either).

Each figure is the median over fresh interpreters of time.perf_counter() taken inside the child: before the
first import, after the handler's import, after the first event. Interpreter start-up is the same for both and
left out. "Overhead above boto3" subtracts a bare `import boto3` in the same interpreter (each tool's venv).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from localaws import das_extension
from localaws.world import World

ROOT = Path(__file__).resolve().parent.parent
C7N_PYTHON = ROOT / ".venv-bench-c7n" / "bin" / "python"
CLUSTER = "orders-pg"

BOTO3_CHILD = """
import time, json
t0 = time.perf_counter()
import boto3
print(json.dumps({"import_ms": (time.perf_counter() - t0) * 1000}))
"""

DAS_GUARD_CHILD = """
import time, json, sys
t0 = time.perf_counter()
import das_guard.handlers
t1 = time.perf_counter()
imported = sorted(m for m in ("aws_xray_sdk", "pydantic") if m in sys.modules)

class Context:
    function_name = "das-guard-enforcer"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:das-guard-enforcer"
    aws_request_id = "cold-start"
    def get_remaining_time_in_millis(self):
        return 60000

event = json.loads(sys.stdin.read())
answer = das_guard.handlers.handle_queue(event, Context())
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_event_ms": (t2 - t0) * 1000, "answer": answer,
                  "imported": imported}))
"""

C7N_CHILD = """
import time, json, sys
t0 = time.perf_counter()
import c7n.handler
t1 = time.perf_counter()

class Context:
    function_name = "custodian-aurora-without-activity-stream"
    aws_request_id = "cold-start"
    def get_remaining_time_in_millis(self):
        return 60000

event = json.loads(sys.stdin.read())
c7n.handler.dispatch_event(event, Context())
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_event_ms": (t2 - t0) * 1000}))
"""


def c7n_config(account: str, region: str) -> dict[str, Any]:
    """The config.json `custodian` writes into a cloudtrail-mode policy's Lambda package."""
    return {
        "execution-options": {
            "account_id": account,
            "region": region,
            "output_dir": "/tmp",  # noqa: S108 - c7n's Lambda mode writes there whatever it is given
            "metrics_enabled": False,
        },
        "policies": [
            {
                "name": "aurora-without-activity-stream",
                "resource": "rds-cluster",
                "mode": {
                    "type": "cloudtrail",
                    "role": f"arn:aws:iam::{account}:role/custodian",
                    "events": [
                        {
                            "source": "rds.amazonaws.com",
                            "event": "CreateDBCluster",
                            "ids": "responseElements.dBClusterIdentifier",
                        }
                    ],
                },
                "filters": [{"ActivityStreamStatus": "stopped"}],
                "actions": [{"type": "tag", "key": "das-missing", "value": "true"}],
            }
        ],
    }


def _child(python: Path, code: str, *, stdin: str = "", cwd: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", code], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed ({python}):\n{done.stderr[-3000:]}")
    if os.environ.get("BENCH_DEBUG"):
        print(done.stderr[-4000:], file=sys.stderr)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows)


def run(runs: int = 11, *, tracing: bool = False) -> dict[str, Any]:
    """Medians of `runs` fresh interpreters per tool; `tracing` turns the Powertools Tracer on (TracingMode Active)."""
    result: dict[str, Any] = {"runs": runs}
    with World(server=True) as world, tempfile.TemporaryDirectory() as work:
        account = world.deploy()
        account.seed_demo_clusters()
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        function_env = {
            **base_env,
            **account.stack.environment(),
            "PYTHONPATH": str(ROOT / "functions"),  # the package as Lambda unzips it; no localaws, no moto
            "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
            "AWS_LAMBDA_FUNCTION_NAME": "das-guard-enforcer",  # set by Lambda; Powertools traces only inside it
            "POWERTOOLS_METRICS_NAMESPACE": "DASGuard",
        }
        sqs_event = {
            "Records": [
                {
                    "messageId": "0f3a7c1e-1111-4a2b-9c3d-aaaaaaaaaaaa",
                    "receiptHandle": "AQEBcold",
                    "body": json.dumps(world.sample("cloudtrail-create-db-cluster")),
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764062042000"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:das-guard-events",
                    "awsRegion": "us-east-1",
                }
            ]
        }
        ours: list[dict[str, Any]] = []
        boto3_ours: list[dict[str, Any]] = []
        for _ in range(runs):
            das_extension.set_activity_stream(CLUSTER, "stopped")  # every run starts the stream anew
            boto3_ours.append(_child(Path(sys.executable), BOTO3_CHILD, cwd=work, env=base_env))
            row = _child(Path(sys.executable), DAS_GUARD_CHILD, stdin=json.dumps(sqs_event), cwd=work, env=function_env)
            if row["answer"].get("batchItemFailures") or account.stream(CLUSTER).get("Status") != "starting":
                raise RuntimeError(f"DAS Guard's first event did not start the stream: {row}")
            ours.append(row)
        result["das_guard"] = {
            "import_ms": _median(ours, "import_ms"),
            "first_event_ms": _median(ours, "first_event_ms"),
            "boto3_ms": _median(boto3_ours, "import_ms"),
            "imported": ours[-1]["imported"],  # heavy modules loaded by the import alone
        }
        if C7N_PYTHON.exists():
            Path(work, "config.json").write_text(json.dumps(c7n_config(account.account, account.region)))
            c7n_env = {**base_env, "AWS_DEFAULT_REGION": account.region, "AWS_REGION": account.region}
            theirs: list[dict[str, Any]] = []
            boto3_theirs: list[dict[str, Any]] = []
            acted = Path("/tmp/aurora-without-activity-stream/metadata.json")  # noqa: S108 - c7n Lambda mode's output
            for _ in range(runs):
                acted.unlink(missing_ok=True)
                das_extension.set_activity_stream(CLUSTER, "stopped")
                boto3_theirs.append(_child(C7N_PYTHON, BOTO3_CHILD, cwd=work, env=c7n_env))
                event = world.sample("cloudtrail-create-db-cluster")
                theirs.append(_child(C7N_PYTHON, C7N_CHILD, stdin=json.dumps(event), cwd=work, env=c7n_env))
                if json.loads(acted.read_text())["api-stats"].get("tagging.TagResources") != 1:
                    raise RuntimeError("Custodian's first event did not find and act on the cluster")
            result["c7n"] = {
                "import_ms": _median(theirs, "import_ms"),
                "first_event_ms": _median(theirs, "first_event_ms"),
                "boto3_ms": _median(boto3_theirs, "import_ms"),
            }
    for tool in ("das_guard", "c7n"):
        if tool in result:
            figures = result[tool]
            figures["import_overhead_ms"] = figures["import_ms"] - figures["boto3_ms"]
            figures["first_event_overhead_ms"] = figures["first_event_ms"] - figures["boto3_ms"]
    return result


if __name__ == "__main__":
    print(json.dumps(run(int(os.environ.get("BENCH_COLD_RUNS", "5"))), indent=2))
