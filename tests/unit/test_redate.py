"""Replayed samples happen now: every timestamp moves, order and spacing stay, the files stay as they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from localaws.events import ROOT, event_time, load_sample, redate, redated, sample_names

NOW = datetime(2031, 7, 14, 16, 20, 5, tzinfo=UTC)


def test_a_sample_is_moved_to_now_in_every_timestamp_it_carries() -> None:
    original = load_sample("cloudtrail-create-db-cluster")
    moved = redated(original, NOW)
    assert moved["time"] == "2031-07-14T16:20:05Z"
    assert moved["detail"]["eventTime"] == "2031-07-14T16:20:05Z"
    # CloudTrail's own format inside RDS responses moves too
    assert moved["detail"]["responseElements"]["clusterCreateTime"] == "Jul 14, 2031, 4:20:05 PM"
    shift = NOW - event_time(original)
    session_start = original["detail"]["userIdentity"]["sessionContext"]["attributes"]["creationDate"]
    assert moved["detail"]["userIdentity"]["sessionContext"]["attributes"]["creationDate"] == (
        datetime.fromisoformat(session_start.replace("Z", "+00:00")) + shift
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "2026" not in json.dumps(moved).replace("2026-11-24", ""), "no timestamp keeps its old date"
    assert original == load_sample("cloudtrail-create-db-cluster"), "the sample itself is not changed"
    # identifiers that merely contain a date (snapshot names) are not timestamps
    snapshot = redated(load_sample("cloudtrail-restore-db-cluster-from-snapshot"), NOW)
    assert "billing-mysql-2026-11-24" in json.dumps(snapshot)


def test_several_samples_keep_their_order_and_spacing_and_the_latest_is_now() -> None:
    samples = [load_sample(name) for name in sample_names()]
    moved = redate(samples, NOW)
    before = [event_time(s) for s in samples]
    after = [event_time(s) for s in moved]
    assert max(after) == NOW
    assert [b - before[0] for b in before] == [a - after[0] for a in after]
    # a sub-second RDS `Date` keeps its fraction and its distance from the envelope time
    rds = next(m for m in moved if m["detail"].get("EventID") == "RDS-EVENT-0180")
    assert rds["detail"]["Date"].endswith(".412Z")


def test_messages_without_a_time_are_copied_unchanged() -> None:
    retry = {"dasGuard": {"format": 1, "clusterId": "x", "attempt": 1, "firstSeen": "2026-11-25T06:00:00+00:00"}}
    [copy] = redate([retry], NOW)
    assert copy == retry
    assert copy is not retry
    assert redate([retry, load_sample("cloudtrail-create-db-cluster")], NOW)[0] == retry


def test_every_sample_has_a_time_to_move() -> None:
    for folder in ("eventbridge", "not-routed"):
        for name in sample_names(folder):
            assert event_time(load_sample(name, folder)) < NOW, name
    assert (ROOT / "eventbridge").is_dir()
