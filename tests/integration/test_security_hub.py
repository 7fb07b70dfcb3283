"""Security Hub: one finding per cluster, upserted when its state changes, archived when the cluster is gone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localaws import World
from localaws.world import Deployment

IMPORTS = "securityhub:BatchImportFindings"


@pytest.fixture
def world() -> Iterator[World]:
    with World() as w:
        yield w


@pytest.fixture
def prod(world: World) -> Deployment:
    return world.deploy(DAS_GUARD_SECURITY_HUB="true")  # as SecurityHubFindings=true deploys it


def findings(prod: Deployment, **filters: Any) -> list[dict[str, Any]]:
    return list(prod.aws.client("securityhub").get_findings(**filters)["Findings"])


def by_cluster(prod: Deployment) -> dict[str, dict[str, Any]]:
    return {f["Resources"][0]["Details"]["AwsRdsDbCluster"]["DbClusterIdentifier"]: f for f in findings(prod)}


def test_each_cluster_gets_one_finding_that_follows_its_state(world: World, prod: Deployment) -> None:
    prod.add_cluster("orders-pg")
    prod.add_cluster("legacy-t3", instances=[("legacy-t3-1", "db.t3.medium")])
    prod.sweep()
    found = by_cluster(prod)
    assert set(found) == {"orders-pg", "legacy-t3"}
    # started just now: on its way, not audited yet - a stream passes once RDS says started
    assert (found["orders-pg"]["Compliance"]["Status"], found["orders-pg"]["ProductFields"]["das-guard/outcome"]) == (
        "WARNING",
        "Started",
    )
    legacy = found["legacy-t3"]
    assert (legacy["Compliance"]["Status"], legacy["FindingProviderFields"]["Severity"]["Label"]) == ("FAILED", "HIGH")
    assert legacy["ProductFields"]["das-guard/reason"] == "UnsupportedInstanceClass"
    assert "db.t3.medium" in legacy["Description"]
    assert legacy["Remediation"]["Recommendation"]["Text"]
    resource_id = prod.resource_id("legacy-t3")
    assert legacy["Id"] == f"das-guard/us-east-1/{resource_id}"  # deterministic: the same finding for ever
    assert legacy["ProductArn"] == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    assert legacy["Resources"][0]["Id"] == "arn:aws:rds:us-east-1:123456789012:cluster:legacy-t3"

    # the stream settles; the next sweep: the started stream now passes, the failing one is refreshed (one import)
    world.advance(minutes=10)
    prod.api.reset()
    prod.sweep()
    assert prod.api.calls[IMPORTS] == 1
    assert len(findings(prod)) == 2
    assert by_cluster(prod)["orders-pg"]["Compliance"]["Status"] == "PASSED"
    # and the sweep after: the passing finding is unchanged (no import), the failing one refreshed
    prod.api.reset()
    prod.sweep()
    assert prod.api.calls[IMPORTS] == 1
    assert [f["Compliance"]["Status"] for f in findings(prod) if f["Id"].endswith(resource_id)] == ["FAILED"]


def test_an_event_imports_only_when_the_state_changed(world: World, prod: Deployment) -> None:
    prod.add_cluster("orders-pg", stream="started")
    prod.sweep()
    prod.api.reset()
    prod.deliver(*[_tag_event(world, "orders-pg")] * 2)  # the same state twice: no import
    assert prod.api.calls[IMPORTS] == 0
    prod.stop_stream("orders-pg")
    prod.drain()
    tampered = by_cluster(prod)["orders-pg"]
    assert (tampered["Compliance"]["Status"], tampered["FindingProviderFields"]["Severity"]["Label"]) == (
        "FAILED",
        "CRITICAL",
    )
    assert len(findings(prod)) == 1  # upserted, not a second finding


def test_a_deleted_cluster_s_finding_is_archived_by_the_sweep(world: World, prod: Deployment) -> None:
    prod.add_cluster("orders-pg")
    prod.add_cluster("scratch-pg")
    prod.sweep()
    rds = prod.aws.client("rds")
    rds.delete_db_instance(DBInstanceIdentifier="scratch-pg-1", SkipFinalSnapshot=True)
    rds.delete_db_cluster(DBClusterIdentifier="scratch-pg", SkipFinalSnapshot=True)
    prod.sweep()
    states = {c: f["RecordState"] for c, f in by_cluster(prod).items()}
    assert states == {"orders-pg": "ACTIVE", "scratch-pg": "ARCHIVED"}
    prod.api.reset()
    prod.sweep()
    assert prod.api.calls[IMPORTS] == 0  # archived once, not every day


def test_security_hub_failing_never_fails_a_decision(prod: Deployment) -> None:
    prod.fail("BatchImportFindings", "InternalException", status=500)
    prod.add_cluster("orders-pg")
    prod.sweep()
    assert prod.streams()["orders-pg"] == "starting"
    assert "Started" in prod.outcomes()
    assert any(m.get("FindingsFailed") for m in prod.metrics())
    assert "could not import Security Hub findings" in prod.log_text()


def test_without_the_parameter_no_finding_is_built(world: World) -> None:
    plain = world.deploy()
    plain.add_cluster("orders-pg")
    plain.sweep()
    assert plain.api.calls[IMPORTS] == 0
    assert findings(plain) == []


def _tag_event(world: World, cluster_id: str) -> dict[str, Any]:
    event = world.sample("cloudtrail-add-tags-to-cluster")
    arn = f"arn:aws:rds:us-east-1:123456789012:cluster:{cluster_id}"
    event["detail"]["requestParameters"]["resourceName"] = arn
    return event
