"""DAS Guard's deployed functions as processes of their own against the local server, as Lambda runs them: a
fresh interpreter with the function's environment, the real handlers, AWS at AWS_ENDPOINT_URL. Timing a tool in
the server's own process would make it share the server's interpreter lock; Cloud Custodian runs in a process of
its own too, so both are measured alike.

    python -m bench.function_process sweep <sweep-id>        one scheduled sweep; prints its summary and seconds
    python -m bench.function_process worker <start-file>     one concurrent execution of the queue function: waits
                                                             for <start-file>, then drains the queue like Lambda's
                                                             event source mapping until it stays empty

The last line of stdout is a JSON result; the function's own log lines come before it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

IDLE_SECONDS = 3.0  # a worker stops once the queue has been empty this long (delayed messages: none in a burst)


def sweep(sweep_id: str) -> dict[str, object]:
    from das_guard import handlers  # noqa: PLC0415 - the import is part of what a new container does
    from localaws.runtime import LambdaContext  # noqa: PLC0415 - no moto: the package loads nothing on import

    context = LambdaContext(function_name="das-guard-sweep", aws_request_id=sweep_id, remaining_ms=900_000)
    return {"summary": handlers.handle_sweep({"id": sweep_id}, context)}  # type: ignore[arg-type]


def worker(start_file: str) -> dict[str, object]:
    import boto3  # noqa: PLC0415

    from das_guard import handlers  # noqa: PLC0415
    from localaws.runtime import QueuePoller  # noqa: PLC0415

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(handlers.handle_queue(event, context))

    poller = QueuePoller(boto3.client("sqs"), os.environ["DAS_GUARD_QUEUE_URL"], handle)
    print("ready", flush=True)
    while not Path(start_file).exists():
        time.sleep(0.01)
    cpu_at_start = time.process_time()
    invocations = delivered = failed = 0
    last_work_at = time.time()
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < IDLE_SECONDS:
        result = poller.drain(max_invocations=1_000_000)
        if result.invocations:
            invocations, delivered, failed = (
                invocations + result.invocations,
                delivered + result.delivered,
                failed + result.failed,
            )
            idle_since, last_work_at = time.monotonic(), time.time()
        else:
            time.sleep(0.1)
    return {
        "invocations": invocations,
        "delivered": delivered,
        "failed": failed,
        "last_work_at": last_work_at,
        "cpu_seconds": time.process_time() - cpu_at_start,  # DAS Guard's own work (and botocore's), not the server's
    }


def main(argv: list[str]) -> int:
    command, argument = argv[1], argv[2]
    result = sweep(argument) if command == "sweep" else worker(argument)
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
