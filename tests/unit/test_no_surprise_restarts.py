"""Starting a stream immediately restarts the cluster: only clusters still new get it at once (issue 11)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from das_guard.decision import windows
from das_guard.decision.decide import WINDOW_GRACE, Inputs, decide
from das_guard.model import Outcome, StreamRecord
from das_guard.policy import parse_policy

from .factories import KEY_ARN, cluster, lookup

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def policy(**defaults: Any) -> Any:
    return parse_policy(json.dumps({"version": 1, "defaults": {"kms_key": "alias/das-guard", **defaults}}))


def inputs(record: StreamRecord | None = None) -> Inputs:
    return Inputs(lookup, NOW.date(), now=NOW, lookup_record=lambda _rid: record)


def test_a_cluster_created_within_the_window_starts_at_once() -> None:
    new = cluster(created_at=NOW - timedelta(hours=1), maintenance_window="wed:02:40-wed:03:10")
    decision = decide(new, policy(), inputs())
    assert decision.outcome is Outcome.STARTED
    assert decision.start is not None
    assert decision.start.apply_immediately is True


def test_a_cluster_with_workload_gets_its_stream_in_the_maintenance_window() -> None:
    busy = cluster(created_at=NOW - timedelta(days=90), maintenance_window="wed:02:40-wed:03:10")
    decision = decide(busy, policy(), inputs())
    assert (decision.outcome, decision.reason) == (Outcome.SCHEDULED, "MaintenanceWindow")
    assert decision.start is not None
    assert decision.start.apply_immediately is False
    assert "wed:02:40-wed:03:10" in decision.detail
    unknown_age = decide(cluster(), policy(), inputs())
    assert unknown_age.outcome is Outcome.SCHEDULED, "no creation time: assume workload"


def test_a_requested_start_is_not_requested_again_and_a_missed_window_is_told() -> None:
    busy = cluster(created_at=NOW - timedelta(days=90), maintenance_window="sun:03:00-sun:03:30")
    requested = NOW - timedelta(hours=2)
    waiting = decide(busy, policy(), inputs(StreamRecord("scheduled", at=requested)))
    assert (waiting.outcome, waiting.reason, waiting.start) == (Outcome.SCHEDULED, "AlreadyScheduled", None)
    window_end = windows.next_window("sun:03:00-sun:03:30", requested)
    assert window_end is not None
    assert (window_end[1] + WINDOW_GRACE).isoformat() in waiting.detail
    after = window_end[1] + WINDOW_GRACE + timedelta(minutes=1)
    missed = decide(busy, policy(), replace(inputs(StreamRecord("scheduled", at=requested)), now=after))
    assert (missed.outcome, missed.reason, missed.start) == (Outcome.FAILED, "ScheduledStartMissed", None)
    assert missed.outcome.needs_a_person, "a window that passed without a start is an alert"
    starting = replace(busy, stream_status="starting", stream_mode="async", stream_kms_key_id=KEY_ARN)
    still = decide(starting, policy(), replace(inputs(StreamRecord("scheduled", at=requested)), now=after))
    assert still.reason == "ScheduledStartMissed", "'starting' after a window request is not audited"


def test_a_window_that_cannot_be_read_gets_eight_days() -> None:
    busy = cluster(created_at=NOW - timedelta(days=90), maintenance_window="")
    requested = NOW - timedelta(days=7)
    assert decide(busy, policy(), inputs(StreamRecord("scheduled", at=requested))).reason == "AlreadyScheduled"
    late = decide(busy, policy(), inputs(StreamRecord("scheduled", at=NOW - timedelta(days=8, minutes=1))))
    assert late.reason == "ScheduledStartMissed"


def test_the_policy_may_say_always_or_never() -> None:
    busy = cluster(created_at=NOW - timedelta(days=90))
    assert decide(busy, policy(apply_immediately=True), inputs()).outcome is Outcome.STARTED
    new = cluster(created_at=NOW - timedelta(minutes=5))
    assert decide(new, policy(apply_immediately=False), inputs()).outcome is Outcome.SCHEDULED


def test_report_only_says_when_a_start_would_restart_the_cluster() -> None:
    new = cluster(created_at=NOW - timedelta(minutes=5))
    decision = decide(new, policy(action="report-only"), inputs())
    assert decision.outcome is Outcome.WOULD_START
    assert "would restart the cluster" in decision.detail
    busy = decide(cluster(created_at=NOW - timedelta(days=9)), policy(action="report-only"), inputs())
    assert "maintenance window" in busy.detail
    assert "restart" not in busy.detail
