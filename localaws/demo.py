"""The quick-start demo: DAS Guard's real handler against an embedded local AWS. No account needed.

    python -m localaws.demo            (or: make demo)

1. starts moto's server on 127.0.0.1 with the activity-stream extension;
2. seeds what template.yaml deploys (KMS key, policy parameter, alert topic, queue with DLQ) and one cluster
   per sample event in events/eventbridge;
3. puts every sample event on the queue, as the EventBridge rules would, and lets a local SQS event-source
   mapping invoke the real Lambda handler;
4. lets time pass (RDS finishes creating a cluster, streams settle, delayed retries become due) and polls again;
5. prints what happened: outcomes per event, each cluster's ActivityStreamStatus before and after, the alerts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3

from . import das_extension, scenario
from .events import redate
from .runtime import REGION, LambdaContext, QueuePoller, fast_forward_queue
from .server import local_aws

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events" / "eventbridge"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def stream_states(rds: Any) -> dict[str, tuple[str, str]]:
    return {
        c["DBClusterIdentifier"]: (c["Engine"], c.get("ActivityStreamStatus") or "n/a")
        for c in rds.describe_db_clusters()["DBClusters"]
    }


@contextlib.contextmanager
def handler_output_to(log: TextIO) -> Iterator[Any]:
    """Send the handler's JSON logs and EMF metrics to `log` instead of the terminal, and restore them after."""
    with contextlib.redirect_stdout(log):
        from das_guard import handlers  # noqa: PLC0415 - a first import binds its log handler to `log`

        handler = handlers.logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        previous = handler.setStream(log)
        handlers.reload_configuration()
        try:
            yield handlers
        finally:
            handlers.reload_configuration()
    handler.setStream(previous if previous not in (None, log) else sys.stdout)


def run(log_path: Path, out: TextIO = sys.stdout) -> dict[str, Any]:
    """Run the demo; returns what happened (the tests assert on it)."""
    with local_aws(REGION) as endpoint, log_path.open("w", encoding="utf-8") as log:
        session = boto3.Session(region_name=REGION)
        stack = scenario.seed_stack(session)
        scenario.seed_demo_clusters(session, stack)
        os.environ.update(stack.environment())
        rds, sqs = session.client("rds"), session.client("sqs")
        before = stream_states(rds)

        samples = sorted(EVENTS.glob("*.json"))
        # the samples keep their fixed dates on disk; replayed, they happened just now (same order and spacing)
        replayed = redate([json.loads(s.read_text(encoding="utf-8")) for s in samples], datetime.now(UTC))
        for event in replayed:
            sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(event))

        with handler_output_to(log) as handlers:
            poller = QueuePoller(sqs, stack.queue_url, handlers.handle_queue)
            first = poller.drain()
            log.flush()
            decided_first = len(_decisions(log_path))
            # Time passes: RDS finishes creating payments-pg and its first instance, stopping/starting streams
            # settle, and the delayed retries become due.
            scenario.finish_creating(session, "payments-pg", "payments-pg-1")
            settled = das_extension.settle_activity_streams()
            due = fast_forward_queue(stack.queue_url)
            second = poller.drain()
            das_extension.settle_activity_streams()
            # The scheduled reconciliation sweep: every cluster of the region, read in bulk.
            sweep = handlers.handle_sweep({"id": "demo-sweep"}, LambdaContext(aws_request_id="demo-sweep"))

        after = stream_states(rds)
        alerts = _alerts(sqs, stack.alerts_url)
        decisions = _decisions(log_path)
        dlq = int(
            sqs.get_queue_attributes(QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )

    by_event: dict[str, dict[str, Any]] = {}
    for decision in decisions:  # the first decision per event; a delayed retry carries the same event id
        by_event.setdefault(decision.get("event_id") or "", decision)
    rows = []
    for sample in samples:
        decision = by_event.get(json.loads(sample.read_text(encoding="utf-8"))["id"], {})
        rows.append(
            [
                sample.stem,
                decision.get("cluster_id") or "-",
                decision.get("outcome", "?"),
                decision.get("reason", "?"),
                _warnings(decision),
            ]
        )
    later = [d for d in decisions[decided_first:] if d["trigger"] != "Sweep"]

    def say(text: str = "") -> None:
        print(text, file=out)

    say(f"DAS Guard demo: local AWS at {endpoint} (moto + DAS extension), account 123456789012, {REGION}\n")
    say(
        f"1) {len(samples)} sample events from events/eventbridge -> SQS -> handler "
        f"({first.invocations} invocation(s), {first.failed} redelivered)\n"
    )
    say(table(["event", "cluster", "outcome", "reason", "warnings"], rows))
    say(
        f"\n2) time passes: payments-pg finished creating, {settled} stream(s) settled, {due} delayed "
        f"message(s) due -> {second.invocations} more invocation(s)\n"
    )
    say(
        table(
            ["trigger", "cluster", "outcome", "reason"],
            [[d["trigger"], d.get("cluster_id") or "-", d["outcome"], d["reason"]] for d in later],
        )
    )
    say(
        f"\n3) reconciliation sweep: {sweep['clusters_seen']} clusters, {sweep['compliant']} with a stream, "
        f"{sweep['started']} started, {sweep['violations']} in violation, {sweep['exempt']} exempt, "
        f"{sweep['would_start']} report-only\n   reasons: "
        + ", ".join(f"{k} x{v}" for k, v in sorted(sweep["reasons"].items()))
    )
    say("\n4) ActivityStreamStatus of every cluster, before -> after\n")
    say(
        table(
            ["cluster", "engine", "before", "after"],
            [[c, before[c][0], before[c][1], after[c][1]] for c in sorted(before)],
        )
    )
    say(f"\n5) {len(alerts)} alert(s) published to the SNS topic:\n")
    for subject in sorted(a["Subject"] for a in alerts):
        say(f"   - {subject}")
    say(f"\nDead-letter queue: {dlq} message(s). Structured logs and EMF metrics: {log_path}")
    return {
        "decisions": decisions,
        "before": before,
        "after": after,
        "alerts": alerts,
        "dlq": dlq,
        "rows": rows,
        "sweep": sweep,
    }


def _warnings(decision: dict[str, Any]) -> str:
    return ",".join(w["code"] for w in decision.get("warnings", [])) or "-"


def _alerts(sqs: Any, inbox: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return alerts
        for message in messages:
            alerts.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])


def _decisions(log_path: Path) -> list[dict[str, Any]]:
    """The decision log lines (the ones carrying an `outcome`) written by the handler."""
    decisions = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "outcome" in record and "trigger" in record and "_aws" not in record:
            decisions.append(record)
    return decisions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--log",
        type=Path,
        default=ROOT / ".demo" / "das-guard.log",
        help="where the handler's JSON logs and EMF metrics go (default: .demo/das-guard.log)",
    )
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    run(args.log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
