"""The reporter and its channels (outputs/report.py, outputs/channels.py) on the stand-ins: every channel has one
shape and sees every decision; none can fail the decision it reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from das_guard.model import Decision, Outcome
from das_guard.observability import metrics
from das_guard.outputs.channels import SweepReport
from das_guard.outputs.report import ResultEvents

from .conftest import Assembly
from .stand_ins import cluster

ARN = "arn:aws:rds:us-east-1:123456789012:cluster:"


class Tally:
    """A channel written from the protocol alone, as a new output would be (docs/contributing.md)."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, str, bool]] = []
        self.sweeps: list[SweepReport] = []
        self.flushes = 0

    def take(self, evaluation: Decision, detail: Mapping[str, Any], *, summarised: bool) -> None:
        self.taken.append((evaluation.outcome.value, str(detail["cluster_id"]), summarised))

    def sweep_done(self, report: SweepReport) -> None:
        self.sweeps.append(report)

    def flush(self) -> None:
        self.flushes += 1


def orders(assembly: Assembly) -> None:
    assembly.fleet.add(
        cluster(arn=ARN + "orders-pg", identifier="orders-pg", created_at=assembly.clock.now() - timedelta(minutes=5))
    )


def test_a_new_channel_sees_every_decision_each_sweep_and_each_flush(assembly: Assembly) -> None:
    tally = Tally()
    assembly.channels.append(tally)
    assembly.__post_init__()  # rebuilt with the channel, as app.build would build it
    orders(assembly)
    assembly.deliver("cloudtrail-create-db-cluster")
    assert tally.taken == [("Started", "orders-pg", False)]
    assert tally.flushes == 1
    assembly.sweeper.run("sweep-1", lambda: 600_000)
    assert tally.taken[1:] == [("AlreadyActive", "orders-pg", True)]
    [report] = tally.sweeps
    assert (report.summary["clusters_seen"], list(report.live)) == (1, ["cluster-ABC"])
    assert tally.flushes == 2


def test_an_alert_that_cannot_be_published_is_counted_and_the_decision_stands(assembly: Assembly) -> None:
    assembly.refuse_alerts = True
    metrics.clear_metrics()
    violation = Decision(Outcome.VIOLATION, "EngineVersionUnsupported", "too old", cluster_id="orders-pg")
    assembly.reporter.record(violation, trigger="test", event_id="e-1")  # raises nothing
    assert metrics.metric_set["AlertFailed"]["Value"] == [1.0], "AlertFailedAlarm pages on the watch topic"
    assert metrics.metric_set["Violation"]["Value"] == [1.0], "the decision itself is counted all the same"


def test_result_events_that_cannot_be_sent_are_counted_not_raised(assembly: Assembly) -> None:
    def refuse(_: list[dict[str, Any]]) -> list[str]:
        raise RuntimeError("stand-in: EventBridge is down")

    metrics.clear_metrics()

    channel = ResultEvents(refuse, "bus", assembly.signals, where=assembly.reporter._where)
    channel.take(
        Decision(Outcome.STARTED, "StreamStarted", "started", cluster_id="c1"), {"cluster_id": "c1"}, summarised=False
    )
    channel.flush()
    assert metrics.metric_set["ResultEventsFailed"]["Value"] == [1.0]
    channel.flush()  # the queue was emptied: nothing is sent twice


def test_the_sweep_publishes_only_what_changed_or_needs_a_person(assembly: Assembly) -> None:
    orders(assembly)
    assembly.deliver("cloudtrail-create-db-cluster")
    assembly.results.clear()
    assembly.clock.advance(hours=1)
    assembly.sweeper.run("sweep-1", lambda: 600_000)
    assert [r["detail-type"] for r in assembly.results] == ["DAS Guard Sweep Summary"]
