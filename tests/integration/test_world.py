"""The local world is a public API (README, "Replaying a scenario"): what it promises is tested here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localaws import World
from localaws.events import load_sample

OTHER_ACCOUNT = "210987654321"
BOB = "arn:aws:sts::123456789012:assumed-role/DBA/bob"


def test_the_readme_scenario_someone_stops_the_stream() -> None:
    with World() as world:
        prod = world.deploy()
        prod.add_cluster("orders-pg", tags={"data-class": "pci"})
        prod.sweep()
        world.advance(minutes=10)
        prod.stop_stream("orders-pg", by=BOB)
        prod.drain()
        world.advance(minutes=15)
        prod.drain()

        assert prod.outcomes() == [
            "Started",  # the sweep
            "Tampered",  # RDS-EVENT-0180: stopped, by whom not yet known
            "Deferred",  # ... so DAS Guard waits for CloudTrail before restarting
            "Tampered",  # CloudTrail: bob stopped it
            "Deferred",  # the stream is still stopping
            "Started",  # 15 minutes later: started again (both re-checks arrive in one batch: one evaluation)
        ]
        assert prod.stream("orders-pg")["Status"] == "starting"
        subjects = [a["Subject"] for a in prod.alerts()]
        assert "DAS Guard HIGH: activity stream STOPPED on orders-pg by DBA/bob in 123456789012/us-east-1" in subjects
        assert "DAS Guard HIGH: activity stream STOPPED on orders-pg (RDS event) in 123456789012/us-east-1" in subjects
        tampered = [m for m in prod.metrics() if m.get("Reason") == "StoppedByUnauthorizedPrincipal"]
        assert tampered
        assert "Tampered" in tampered[0]


def test_accounts_and_regions_side_by_side_each_see_only_their_own() -> None:
    with World() as world:
        places = [(a, r) for a in ("123456789012", OTHER_ACCOUNT) for r in ("us-east-1", "eu-west-1")]
        deployments = {place: world.deploy(*place) for place in places}
        for (account, region), deployment in deployments.items():
            deployment.add_cluster(f"db-{account[-4:]}-{region}")
        for (account, region), deployment in deployments.items():
            summary = deployment.sweep()
            assert summary["clusters_seen"] == 1
            [decision] = deployment.decisions()
            assert decision["cluster_arn"] == f"arn:aws:rds:{region}:{account}:cluster:db-{account[-4:]}-{region}"
            assert decision["outcome"] == "Started"
            assert deployment.stream(f"db-{account[-4:]}-{region}")["KmsKeyId"] == deployment.stack.key_arn
        # an event of another account reaching this one's queue is not acted on
        home = deployments[("123456789012", "us-east-1")]
        foreign = load_sample("cloudtrail-create-db-cluster")
        foreign["account"] = OTHER_ACCOUNT
        home.deliver(foreign)
        assert (home.last()["outcome"], home.last()["reason"]) == ("Ignored", "ForeignAccount")
        assert world.deployment(OTHER_ACCOUNT, "eu-west-1").account == OTHER_ACCOUNT
        with pytest.raises(ValueError, match="already deployed"):
            world.deploy(OTHER_ACCOUNT, "eu-west-1")


def test_replayed_samples_happen_now_even_a_year_and_more_from_today() -> None:
    later = datetime.now(UTC) + timedelta(days=400)
    with World(start=later) as world:
        prod = world.deploy()
        prod.add_cluster("payments-pg", creating=True)
        prod.deliver(load_sample("cloudtrail-create-db-cluster-still-creating"))  # a sample written in 2026
        assert (prod.last()["outcome"], prod.last()["reason"]) == ("Deferred", "ClusterNotAvailable")
        [retry] = prod.queued()
        assert retry["body"]["dasGuard"]["firstSeen"] == world.now().isoformat()
        # the readiness window (3 h) runs from the replay, not from the sample's date
        prod.finish_creating("payments-pg")
        world.advance(minutes=1)
        prod.drain()
        assert prod.last()["outcome"] == "Started"


def test_time_only_moves_forward_and_moves_everything() -> None:
    with World() as world:
        start = world.now()
        world.advance(timedelta(minutes=5), hours=1)
        assert world.now() - start == timedelta(hours=1, minutes=5)
        with pytest.raises(ValueError, match="forward"):
            world.clock.advance(timedelta(seconds=-1))
        assert world.sample("cloudtrail-create-db-cluster")["time"] == f"{world.now():%Y-%m-%dT%H:%M:%SZ}"


def test_result_events_and_dead_letters_are_read_back() -> None:
    with World() as world:
        prod = world.deploy(publish_results=True)
        prod.add_cluster("orders-pg")
        prod.deliver(load_sample("cloudtrail-create-db-cluster"))
        [event] = prod.result_events()
        assert (event["detail"]["outcome"], event["detail"]["cluster_id"]) == ("Started", "orders-pg")
        assert prod.api.calls["events:PutEvents"] == 1

        prod.configure()  # a new container: hooks reach only clients created after them
        prod.fail("DescribeDBClusters", "ServiceUnavailable", status=503)
        prod.send(load_sample("cloudtrail-create-db-cluster-global-secondary"))
        assert prod.drain().failed == 3  # MaxReceiveCount deliveries
        assert [m["id"] for m in prod.dead_letters()] == [
            load_sample("cloudtrail-create-db-cluster-global-secondary")["id"]
        ]
