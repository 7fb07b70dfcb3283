"""The daily sweep (sweep.py) on the stand-ins: what events missed is caught, a stop never heard of is news, running
streams are remembered in batches, and one cluster's failure does not end the sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from das_guard.model import StreamRecord

from .conftest import Assembly
from .stand_ins import KEY_ARN, cluster

ARN = "arn:aws:rds:us-east-1:123456789012:cluster:"


def add(assembly: Assembly, name: str, **fields: Any) -> None:
    base = {"arn": ARN + name, "identifier": name, "resource_id": f"cluster-{name}", "created_at": None}
    assembly.fleet.add(cluster(**{**base, **fields}))


def running(assembly: Assembly, name: str) -> None:
    add(assembly, name, stream_status="started", stream_mode="async", stream_kms_key_id=KEY_ARN)


def test_a_sweep_starts_what_events_missed_and_remembers_every_running_stream_in_one_batch(assembly: Assembly) -> None:
    add(assembly, "missed")  # no creation event ever reached DAS Guard
    for n in range(30):
        running(assembly, f"ok-{n:02d}")
    summary = assembly.sweeper.run("sweep-1", lambda: 600_000)
    assert (summary.outcomes["Scheduled"], summary.compliant) == (1, 30)
    [start] = assembly.fleet.starts
    assert start.cluster_arn == ARN + "missed"
    assert start.apply_immediately is False, "an old cluster's first start waits for its maintenance window"
    assert {assembly.memory.records[f"cluster-ok-{n:02d}"].state for n in range(30)} == {"on"}
    assert assembly.memory.calls["BatchWriteItem"] == 2, "30 records, 25 a request"
    assert assembly.memory.calls["Scan"] == 1, "holds and records read once for the whole region"
    [(subject, _)] = assembly.alerts  # the day's one message: nothing needs a person (the start is scheduled)
    assert subject == "DAS Guard sweep: all is well in 123456789012/us-east-1 (30 of 31 clusters pass)"


def test_a_stream_found_stopped_that_ran_when_last_seen_is_reported_as_lost_and_restarted(assembly: Assembly) -> None:
    add(assembly, "quiet")  # stopped by someone whose stop never reached DAS Guard
    assembly.memory.records["cluster-quiet"] = StreamRecord("on", at=assembly.clock.now() - timedelta(days=2))
    summary = assembly.sweeper.run("sweep-1", lambda: 600_000)
    assert len(summary.lost) == 1
    lost = [r for r in assembly.results if r.get("reason") == "StreamLost"]
    assert [r["outcome"] for r in lost] == ["Tampered"]
    assert [subject for subject, _ in assembly.alerts if "quiet" in subject and "HIGH" in subject]
    [start] = assembly.fleet.starts
    assert start.apply_immediately is True, "a stream that ran is restarted at once, not in a window"
    assert assembly.memory.records["cluster-quiet"].state == "on", "reported, then on again once restarted"


def test_one_refused_start_fails_its_cluster_and_the_sweep_goes_on(assembly: Assembly) -> None:
    add(assembly, "a")
    add(assembly, "b")
    assembly.fleet.refuse_start("ThrottlingException", transient=True)
    summary = assembly.sweeper.run("sweep-1", lambda: 600_000)
    assert summary.outcomes["Failed"] == 1
    assert summary.outcomes["Scheduled"] == 1
    [violation] = summary.violations
    assert violation.startswith("a: AwsCallFailed: ")


def test_what_the_time_left_cannot_cover_is_handed_off_not_dropped(assembly: Assembly) -> None:
    for n in range(3):
        add(assembly, f"c{n}")
    summary = assembly.sweeper.run("sweep-1", lambda: 0)
    assert summary.handed_off == 3
    assert len(assembly.handed_off) == 3
    assert assembly.fleet.starts == []
