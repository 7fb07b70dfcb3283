"""One queue message, start to finish (pipeline.py), on the stand-ins: what each kind of message ends in, and that
nothing is lost on the way (retries, the last delivery, deferrals)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from das_guard.model import Outcome, StreamRecord
from das_guard.pipeline import RetryLater
from localaws.events import load_sample

from .conftest import Assembly
from .stand_ins import cluster

ARN = "arn:aws:rds:us-east-1:123456789012:cluster:"
STOPPED_STREAM = "cluster-F6208351F8E75D0B8455D7C4AA"  # the Kinesis stream named in the stop samples


def orders(assembly: Assembly, **fields: Any) -> None:
    base = {"arn": ARN + "orders-pg", "identifier": "orders-pg", "created_at": assembly.clock.now()}
    assembly.fleet.add(cluster(**{**base, **fields}))


def test_a_creation_event_starts_the_stream_and_publishes_its_result(assembly: Assembly) -> None:
    orders(assembly)
    decision = assembly.deliver("cloudtrail-create-db-cluster")
    assert (decision.outcome, decision.reason) == (Outcome.STARTED, "StreamStarted")
    [result] = assembly.results
    assert (result["outcome"], result["cluster_id"], result["compliance"]) == ("Started", "orders-pg", "pending")
    assert assembly.alerts == [], "a start needs no person"


def test_a_message_that_is_not_an_event_is_ignored_with_its_reason(assembly: Assembly) -> None:
    decision = assembly.pipeline.process("{ not json")
    assert decision.outcome is Outcome.IGNORED
    assert decision.reason


def test_a_cluster_still_being_created_is_checked_again_after_a_minute(assembly: Assembly) -> None:
    orders(assembly, status="creating", instance_status="creating")
    decision = assembly.deliver("cloudtrail-create-db-cluster")
    assert decision.outcome is Outcome.DEFERRED
    [(body, delay)] = assembly.retries
    assert delay == 60
    assembly.fleet.add(cluster(arn=ARN + "orders-pg", identifier="orders-pg", created_at=assembly.clock.now()))
    assembly.clock.advance(minutes=1)
    assert assembly.pipeline.process(body).outcome is Outcome.STARTED


def test_a_throttled_evaluation_is_redelivered_and_on_the_last_delivery_failed_and_alerted(assembly: Assembly) -> None:
    orders(assembly)
    assembly.fleet.refuse_start("ThrottlingException", transient=True)
    with pytest.raises(RetryLater):
        assembly.deliver("cloudtrail-create-db-cluster")
    assert assembly.results == [], "not decided yet: SQS brings it back"
    assembly.fleet.refuse_start("ThrottlingException", transient=True)
    with pytest.raises(RetryLater):
        assembly.deliver("cloudtrail-create-db-cluster", receive_count=assembly.settings.max_receive_count)
    [result] = assembly.results
    assert (result["outcome"], result["reason"]) == ("Failed", "AwsCallFailed")
    [(subject, _)] = assembly.alerts
    assert "orders-pg" in subject


def test_a_stop_by_someone_not_allowed_is_reported_and_the_stream_started_again(assembly: Assembly) -> None:
    mysql = cluster("aurora-mysql", "8.0.mysql_aurora.3.08.0", arn=ARN + "reports-pg", identifier="reports-pg")
    assembly.fleet.add(replace(mysql, resource_id=STOPPED_STREAM))  # Aurora MySQL: no upgrade grace after a stop
    assembly.memory.records[STOPPED_STREAM] = StreamRecord("on", at=assembly.clock.now() - timedelta(days=3))
    decision = assembly.deliver("cloudtrail-stop-activity-stream")
    assert decision.outcome is Outcome.STARTED
    assert [(r["outcome"], r["reason"]) for r in assembly.results] == [
        ("Tampered", "StoppedByUnauthorizedPrincipal"),
        ("Started", "StreamStarted"),
    ]
    assert assembly.fleet.starts[0].apply_immediately is True, "a stop is no first start: no waiting for a window"
    assert any("DBA/bob" in body for _, body in assembly.alerts)


def test_a_break_glass_stop_is_held_and_not_undone(assembly: Assembly) -> None:
    warehouse = cluster(arn=ARN + "warehouse-pg", identifier="warehouse-pg", resource_id=STOPPED_STREAM)
    assembly.fleet.add(warehouse)
    assembly.deliver("cloudtrail-stop-activity-stream-break-glass")
    assert assembly.fleet.starts == []
    hold = assembly.memory.holds[STOPPED_STREAM]
    assert hold.until == assembly.clock.now() + timedelta(hours=8)
    assert assembly.memory.records[STOPPED_STREAM].state == "allowed"
    assembly.clock.advance(hours=1)
    forged = json.loads(json.dumps(load_sample("cloudtrail-create-db-cluster")).replace("orders-pg", "warehouse-pg"))
    decision = assembly.deliver(forged)  # a creation event anyone who may send to the queue can forge
    assert (decision.outcome, decision.reason) == (Outcome.EXEMPT, "BreakGlassHold")
    assert assembly.fleet.starts == []
