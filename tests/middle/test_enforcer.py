"""What happens to a cluster (enforcer.py) on the stand-ins: the start, its claim in the state table, holds, refusals
and the memory of a stream that ran."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from das_guard.enforcer import Enforcer
from das_guard.gateway import AwsError
from das_guard.model import ClusterInfo, Hold, Outcome, StreamRecord
from das_guard.triggers import Target

from .conftest import BREAK_GLASS
from .stand_ins import Fleet, Memory, SteppingClock, cluster


def created(clock: SteppingClock, **fields: Any) -> ClusterInfo:
    return cluster(created_at=clock.now() - timedelta(minutes=10), **fields)


def event(clock: SteppingClock, cluster_id: str = "c1") -> Target:
    return Target("CreateDBCluster", "e-1", clock.now(), cluster_id=cluster_id)


def test_a_new_cluster_is_started_with_its_rules_key_and_mode_in_one_state_call(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock, tags={"data-class": "pci"}))
    [decision] = enforcer.evaluate(event(clock))
    assert (decision.outcome, decision.reason) == (Outcome.STARTED, "StreamStarted")
    [start] = fleet.starts
    assert (start.mode, start.apply_immediately) == ("sync", True)
    assert start.kms_key_id.startswith("arn:aws:kms:")
    assert memory.calls == {"TransactWriteItems": 1}, "no read before, no write after: one conditional write"
    record = memory.records["cluster-ABC"]
    assert (record.state, record.at) == ("on", clock.now())
    assert record.protection is not None
    assert record.protection.label == "rule 'regulated' (enforce)"


def test_the_same_event_twice_starts_once(enforcer: Enforcer, fleet: Fleet, clock: SteppingClock) -> None:
    fleet.add(created(clock))
    enforcer.evaluate(event(clock))
    [again] = enforcer.evaluate(event(clock))
    assert again.outcome is Outcome.ALREADY_ACTIVE
    assert len(fleet.starts) == 1


def test_a_genuine_hold_keeps_a_stopped_stream_stopped_and_writes_nothing(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock))
    memory.holds["cluster-ABC"] = Hold("cluster-ABC", BREAK_GLASS, clock.now() + timedelta(hours=2))
    [decision] = enforcer.evaluate(event(clock))
    assert (decision.outcome, decision.reason) == (Outcome.EXEMPT, "BreakGlassHold")
    assert fleet.starts == []
    assert memory.records == {}
    assert memory.calls == {"TransactWriteItems": 1}, "the cancelled claim told of the hold: no second read"


def test_a_hold_past_its_end_is_not_honoured_and_the_start_is_recorded_after_it(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock))
    memory.holds["cluster-ABC"] = Hold("cluster-ABC", BREAK_GLASS, clock.now() - timedelta(minutes=1))
    [decision] = enforcer.evaluate(event(clock))
    assert decision.outcome is Outcome.STARTED
    assert memory.calls == {"TransactWriteItems": 1, "PutItem": 1}
    assert memory.records["cluster-ABC"].state == "on"


def test_a_stream_that_ran_and_is_off_is_started_again_at_once_whatever_the_rule_says(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(cluster(created_at=clock.now() - timedelta(days=90)))  # old: new-clusters would wait for the window
    memory.records["cluster-ABC"] = StreamRecord("on", at=clock.now() - timedelta(days=1))
    [decision] = enforcer.evaluate(event(clock))
    assert decision.outcome is Outcome.STARTED
    assert fleet.starts[0].apply_immediately is True


def test_an_old_cluster_without_memory_waits_for_its_maintenance_window(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(cluster(created_at=clock.now() - timedelta(days=90)))
    [decision] = enforcer.evaluate(event(clock))
    assert decision.outcome is Outcome.SCHEDULED
    assert fleet.starts[0].apply_immediately is False
    assert memory.records["cluster-ABC"].state == "scheduled"


def test_a_refused_start_takes_its_claim_back(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock))
    fleet.refuse_start("AccessDenied")
    [decision] = enforcer.evaluate(event(clock))
    assert (decision.outcome, decision.reason) == (Outcome.FAILED, "StartRefused")
    assert memory.records == {}, "a record left behind would read as a stream that ran, and its stop as tampering"


def test_a_throttled_start_is_retried_by_the_queue_with_no_claim_left(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock))
    fleet.refuse_start("ThrottlingException", transient=True)
    with pytest.raises(AwsError):
        enforcer.evaluate(event(clock))
    assert memory.records == {}
    [decision] = enforcer.evaluate(event(clock))  # the redelivery
    assert decision.outcome is Outcome.STARTED


def test_a_claim_that_cannot_be_taken_back_is_said_with_the_failure(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock))
    fleet.refuse_start("AccessDenied")
    memory.refuse_release = True
    [decision] = enforcer.evaluate(event(clock))
    assert decision.outcome is Outcome.FAILED
    assert [w.code for w in decision.warnings] == ["StreamRecordNotReleased"]


def test_an_exempt_cluster_costs_no_state_call(
    enforcer: Enforcer, fleet: Fleet, memory: Memory, clock: SteppingClock
) -> None:
    fleet.add(created(clock, tags={"env": "sandbox"}))
    [decision] = enforcer.evaluate(event(clock))
    assert decision.outcome is Outcome.EXEMPT
    assert memory.calls == {}


def test_a_cluster_gone_before_its_evaluation_is_not_applicable(enforcer: Enforcer, clock: SteppingClock) -> None:
    [decision] = enforcer.evaluate(event(clock, "gone"))
    assert (decision.outcome, decision.reason) == (Outcome.NOT_APPLICABLE, "ClusterNotFound")
