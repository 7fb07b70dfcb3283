"""The quick-start demo: DAS Guard's real handler against an embedded local AWS. No account needed.

    python -m demos.demo            (or: make demo)

Everything goes through the local world (localaws/world.py):
1. serves moto on 127.0.0.1 with the activity-stream extension and deploys the stack (KMS key, policy
   parameter, alert topic, queue with DLQ, state table) with one cluster per sample event in events/eventbridge;
2. puts every sample event on the queue, re-dated to now, as the EventBridge rules would, and lets the local
   SQS event-source mapping invoke the real Lambda handler;
3. lets twenty minutes pass (RDS finishes creating a cluster, streams settle, delayed retries become due) and
   polls again;
4. runs the reconciliation sweep;
5. writes database activity on a regulated cluster and reads its records back, decrypted (`das-guard records`);
6. prints what happened: outcomes per event, each cluster's ActivityStreamStatus before and after, the alerts, the
   records read back.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from localaws.activity import Statement
from localaws.events import load_sample, sample_names
from localaws.scenario import DEMO_POLICY
from localaws.world import World

from .progress import SILENT, Progress

ROOT = Path(__file__).resolve().parent.parent


QUIET = frozenset({"AlreadyActive", "NotApplicable"})


def headlines(decisions: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per event id, the decision worth a row: the first that is not a quiet one (a stop's Tampered report, a blue/green
    deployment's green cluster), else the first. A delayed retry carries the same event id."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for decision in decisions:
        by_event.setdefault(decision.get("event_id") or "", []).append(decision)
    return {
        event: next((d for d in chosen if d.get("outcome") not in QUIET), chosen[0])
        for event, chosen in by_event.items()
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def run(log_path: Path, out: TextIO = sys.stdout, progress: Progress = SILENT) -> dict[str, Any]:
    """Run the demo; returns what happened (the tests assert on it). `progress` says each phase as it begins."""
    progress("starting a local AWS (moto on 127.0.0.1), the stack, one cluster and one event per sample")
    with World(server=True) as world:
        account = world.deploy()
        account.seed_demo_clusters()
        engines = _engines(account)
        before = account.streams()

        names = list(sample_names())
        account.send(*(load_sample(name) for name in names))  # re-dated to now, order and spacing kept
        first = account.drain()
        decided_first = len(account.decisions())
        # Time passes: RDS finishes creating payments-pg and its first instance, stopping/starting streams
        # settle, and the delayed retries become due.
        account.finish_creating("payments-pg", "payments-pg-1")
        settling = sum(1 for status in account.streams().values() if status in ("starting", "stopping"))
        due = sum(1 for message in account.queued() if message["delay"] > 0)
        progress("twenty minutes pass on the local clock: the delayed re-checks, then the daily sweep")
        world.advance(minutes=20)
        second = account.drain()
        world.advance(minutes=20)
        # The scheduled reconciliation sweep: every cluster of the region, read in bulk.
        sweep = account.sweep("demo-sweep")
        read_back, kept, archived, from_archive = _records(world, account, progress)

        after = account.streams()
        alerts = account.alerts()
        decisions = account.decisions()
        dlq = len(account.dead_letters())
        log_path.write_text(account.log_text(), encoding="utf-8")
        endpoint = world.endpoint
        samples = {name: load_sample(name) for name in names}

    by_event = headlines(decisions)
    rows = []
    for name, sample in samples.items():
        decision = by_event.get(sample["id"], {})
        rows.append(
            [
                name,
                decision.get("cluster_id") or "-",
                decision.get("outcome", "?"),
                decision.get("reason", "?"),
                _warnings(decision),
            ]
        )
    later = [d for d in decisions[decided_first:] if d["trigger"] != "Sweep"]

    def say(text: str = "") -> None:
        print(text, file=out)

    say(f"DAS Guard demo: local AWS at {endpoint} (moto + DAS extension), account {account.account}, {account.region}")
    say(
        f"Policy: SSM parameter {account.stack.policy_parameter} (localaws/scenario.py DEMO_POLICY): default enforce, "
        f"rules {', '.join(r['name'] for r in DEMO_POLICY['rules'])}; "
        f"exemption {', '.join(e['name'] for e in DEMO_POLICY['exemptions'])}\n"
    )
    say(
        f"1) {len(samples)} sample events from events/eventbridge -> SQS -> handler "
        f"({first.invocations} invocation(s), {first.failed} redelivered)\n"
    )
    say(table(["event", "cluster", "outcome", "reason", "warnings"], rows))
    say(
        f"\n2) twenty minutes pass: payments-pg finished creating, {settling} stream(s) settled, {due} delayed "
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
            [[c, engines[c], before[c], after[c]] for c in sorted(before)],
        )
    )
    say(f"\n5) {len(alerts)} alert(s) published to the SNS topic:\n")
    for subject in sorted(a["Subject"] for a in alerts):
        say(f"   - {subject}")
    fixes = {
        (d.get("cluster_id"), d["reason"]): d["fix"] for d in decisions if d["outcome"] == "Violation" and d.get("fix")
    }
    say(f"\n6) what each violation tells a person to do ({len(fixes)}):\n")
    for (cluster, reason), fix in sorted(fixes.items(), key=lambda item: str(item[0])):
        say(f"   - {cluster} ({reason}): {fix}")
    _say_records(say, read_back, kept, archived, from_archive)
    say(f"\nDead-letter queue: {dlq} message(s). Structured logs and EMF metrics: {log_path}")
    return {
        "decisions": decisions,
        "before": before,
        "after": after,
        "alerts": alerts,
        "dlq": dlq,
        "rows": rows,
        "sweep": sweep,
        "records": read_back,
        "archived": archived,
        "from_archive": from_archive,
    }


ACTIVITY = (
    Statement("bob", "vault", "SELECT", "select pan, expiry from cards where customer_id = $1", "public.cards"),
    Statement("carol", "vault", "UPDATE", "update cards set expiry = $1 where id = $2", "public.cards"),
    Statement("bob", "vault", "GRANT", "grant select on cards to reporting"),
)


def _say_records(
    say: Any,
    read_back: list[dict[str, Any]],
    kept: dict[str, Any],
    archived: list[str],
    from_archive: list[dict[str, Any]],
) -> None:
    say(f"\n7) records read back: das-guard records vault-pg ({len(read_back)} event(s); the heartbeat dropped)\n")
    for event in read_back:
        say(f"   {event['dbUserName']:<6} {event['databaseName']:<8} {event['command']:<7} {event['commandText']}")
    say(
        f"\n8) records kept: regulated-data now says records {{retention_hours: 72, reader: archive}}; the sweep "
        f"({kept['clusters_seen']} clusters) created {len(archived)} archive(s) ({', '.join(archived)}) and raised "
        f"their Kinesis retention; read back from the Object Lock bucket: das-guard records vault-pg --source archive\n"
    )
    for event in from_archive:
        say(f"   {event['dbUserName']:<6} {event['databaseName']:<8} {event['command']:<7} {event['commandText']}")


def _records(
    world: World, account: Any, progress: Progress
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str], list[dict[str, Any]]]:
    """Somebody works on a regulated cluster: Aurora writes encrypted activity records to its Kinesis stream, and
    `das-guard records` reads them back (KMS data key, Encryption SDK, gunzip; heartbeats dropped). Then the
    compliance team keeps regulated records (reader: archive on regulated-data): the next sweep creates a Firehose
    delivery stream per regulated stream into the Object Lock bucket, where records land within its buffer interval
    and outlive the Kinesis stream. Returns (read back, the sweep's summary, archived clusters, read from the
    archive)."""
    progress("database activity on vault-pg; its records read back, then archived and read from the bucket")
    account.database_activity("vault-pg", *ACTIVITY)
    read_back = _read_back(world, "vault-pg")
    keep = copy.deepcopy(DEMO_POLICY)
    keep["rules"][1]["records"] = {"retention_hours": 72, "reader": "archive"}
    account.put_policy(keep)
    world.advance(minutes=2)  # the policy cache
    kept = account.sweep("demo-records")
    archived = sorted(
        {
            str(d.get("cluster_id"))
            for d in account.decisions()
            if d.get("trigger") == "Sweep"
            and any(w.get("code") == "RecordsArchiveCreated" for w in d.get("warnings", []))
        }
    )
    account.database_activity("vault-pg", ACTIVITY[0])
    world.advance(minutes=5)  # Firehose's buffer interval
    return read_back, kept, archived, _read_back(world, "vault-pg", archive=account.stack.archive_bucket)


def _read_back(world: World, cluster: str, archive: str | None = None) -> list[dict[str, Any]]:
    """What `das-guard records <cluster> [--source archive]` prints, through the CLI's own reader."""
    from das_guard_cli.records import Filters, Tally, read_cluster  # noqa: PLC0415 - the CLI extra, for this step only

    session = world.session()
    return [json.loads(line) for line in read_cluster(session, cluster, Filters(), Tally(), archive)]


def _warnings(decision: dict[str, Any]) -> str:
    return ",".join(w["code"] for w in decision.get("warnings", [])) or "-"


def _engines(account: Any) -> dict[str, str]:
    clusters = account.aws.client("rds").describe_db_clusters()["DBClusters"]
    return {c["DBClusterIdentifier"]: c["Engine"] for c in clusters}


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
    run(args.log, progress=Progress.for_terminal())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
