"""Every outcome is published to EventBridge (source `das-guard`) for SIEMs and ticketing tools."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from localaws import scenario

from ..conftest import Enforcer, sample


@pytest.fixture
def publishing(make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack) -> Enforcer:
    scenario.seed_demo_clusters(session, stack)
    return make_enforcer(DAS_GUARD_EVENT_BUS="default")  # as template.yaml deploys it


@pytest.fixture
def subscriber(publishing: Enforcer) -> Callable[[], list[dict[str, Any]]]:
    """What a SIEM subscribed to DAS Guard's result events receives: a rule on the default bus -> SQS."""
    return publishing.result_events


def test_a_started_stream_is_published_with_its_full_story(
    publishing: Enforcer, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    publishing.deliver(sample("cloudtrail-restore-db-cluster-from-snapshot"))
    [event] = subscriber()
    assert (event["source"], event["detail-type"]) == ("das-guard", "DAS Guard Enforcement Result")
    assert event["resources"] == ["arn:aws:rds:us-east-1:123456789012:cluster:billing-mysql"]
    detail = event["detail"]
    assert {
        k: detail[k] for k in ("version", "outcome", "reason", "cluster_id", "rule", "trigger", "account", "region")
    } == {
        "version": 1,
        "outcome": "Started",
        "reason": "StreamStarted",
        "cluster_id": "billing-mysql",
        "rule": "regulated-data",
        "trigger": "CloudTrail:RestoreDBClusterFromSnapshot",
        "account": "123456789012",
        "region": "us-east-1",
    }
    assert detail["event_id"] == sample("cloudtrail-restore-db-cluster-from-snapshot")["id"]
    assert detail["start_request"]["mode"] == "async"
    assert detail["stream"]["Status"] == "starting"
    assert detail["warnings"][0]["code"] == "ModeDowngraded"
    assert detail["decided_at"].startswith("20")


def test_every_outcome_of_a_batch_is_published_in_few_calls(
    publishing: Enforcer, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    names = sorted(scenario.DEMO_EXPECTATIONS)[:10]
    publishing.deliver(*(sample(n) for n in names))
    received = subscriber()
    assert sorted(e["detail"]["event_id"] for e in received) == sorted(d["event_id"] for d in publishing.decisions())
    # ten entries per call for the whole batch (a blue/green event decides about two clusters)
    assert publishing.api.calls["events:PutEvents"] == math.ceil(len(received) / 10)
    assert len(received) > 10
    outcomes = {e["detail"]["outcome"] for e in received}
    assert {"Started", "Violation", "NotApplicable", "Deferred"} <= outcomes


def test_a_tamper_report_names_who_stopped_the_stream(
    publishing: Enforcer, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    publishing.deliver(sample("cloudtrail-stop-activity-stream"))
    tampered = next(e["detail"] for e in subscriber() if e["detail"]["outcome"] == "Tampered")
    assert tampered["stopped_by"]["principal"] == "arn:aws:sts::123456789012:assumed-role/DBA/bob"
    assert tampered["stopped_by"]["source_ip"] == "203.0.113.24"


def test_the_sweep_publishes_what_changed_and_a_summary(
    publishing: Enforcer, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    publishing.sweep("sweep-1")
    received = subscriber()
    summary = [e for e in received if e["detail-type"] == "DAS Guard Sweep Summary"]
    results = [e["detail"] for e in received if e["detail-type"] == "DAS Guard Enforcement Result"]
    assert len(summary) == 1
    assert summary[0]["detail"]["clusters_seen"] == 27  # the demo world: 27 clusters
    assert {r["outcome"] for r in results} <= {"Started", "Violation", "Failed", "WouldStart", "Tampered"}
    assert {r["cluster_id"] for r in results if r["outcome"] == "Violation"} == {
        "dev-burst",
        "legacy-import",
        "sessions-sls",
    }


def test_a_failure_to_publish_never_fails_the_decision(
    make_enforcer: Callable[..., Enforcer], session: Any, stack: scenario.Stack
) -> None:
    scenario.seed_demo_clusters(session, stack)
    enforcer = make_enforcer(DAS_GUARD_EVENT_BUS="default")
    enforcer.fail("PutEvents", "AccessDeniedException", status=400)
    assert enforcer.deliver(sample("cloudtrail-create-db-cluster")) == {"batchItemFailures": []}
    assert enforcer.last()["outcome"] == "Started"
    assert [r for r in enforcer.records() if r.get("message") == "could not publish result events"]


def test_no_bus_configured_means_no_calls(enforcer: Enforcer, session: Any, stack: scenario.Stack) -> None:
    scenario.seed_demo_clusters(session, stack)
    enforcer.deliver(sample("cloudtrail-create-db-cluster"))
    assert enforcer.api.calls["events:PutEvents"] == 0


def test_api_calls_per_event_as_deployed(publishing: Enforcer) -> None:
    """As deployed, results are published: one PutEvents per invocation on top of the decision's calls."""
    publishing.deliver(sample("cloudtrail-create-db-cluster"))
    cold = dict(publishing.api.calls)
    publishing.api.reset()
    publishing.deliver(sample("cloudtrail-create-db-cluster-global-secondary"))
    assert cold == {
        "ssm:GetParameter": 1,
        "rds:DescribeDBClusters": 1,
        "rds:DescribeDBInstances": 1,
        "kms:DescribeKey": 1,
        "rds:DescribeOrderableDBInstanceOptions": 1,  # AWS's own answer on support, cached per combination
        "dynamodb:TransactWriteItems": 1,  # no hold (a creation event can be forged), and the stream is on
        "rds:StartActivityStream": 1,
        "events:PutEvents": 1,
    }
    assert dict(publishing.api.calls) == {
        "rds:DescribeDBClusters": 1,
        "rds:DescribeDBInstances": 1,
        "dynamodb:TransactWriteItems": 1,
        "rds:StartActivityStream": 1,
        "events:PutEvents": 1,
    }


@pytest.mark.parametrize("name", ["cloudtrail-stop-activity-stream", "cloudtrail-restore-db-cluster-from-snapshot"])
def test_the_log_line_says_what_the_result_event_says(
    publishing: Enforcer, subscriber: Callable[[], list[dict[str, Any]]], name: str
) -> None:
    """One serialisation of a decision: a SIEM reading result events and an engineer reading logs see the same
    fields with the same values (the log line leaves out only what every log line has, and empty parts)."""
    publishing.deliver(sample(name))
    details = [e["detail"] for e in subscriber()]
    lines = publishing.decisions()
    assert len(lines) == len(details) >= 1
    for line, detail in zip(lines, details, strict=True):
        shared = {k: v for k, v in detail.items() if k not in {"version", "account", "region", "decided_at"}}
        assert {k: line[k] for k in shared if k in line} == {k: v for k, v in shared.items() if k in line}
        assert {k for k, v in shared.items() if v not in (None, [], {}, "")} <= set(line)
    assert any(line.get("stopped_by") for line in lines) == (name == "cloudtrail-stop-activity-stream")
