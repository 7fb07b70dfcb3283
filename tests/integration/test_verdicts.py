"""Verdicts true to AWS, end to end through the local world (issue 23): AWS's documented shapes in, the real
handler and sweep, and what a person is told. Each test is one fact from shared/reference/das-facts.md, round 2."""

from __future__ import annotations

import json
from typing import Any, ClassVar
from unittest.mock import patch

import pytest

from das_guard.aws.clusters import RdsClusters
from localaws import World, das_extension
from localaws.events import load_sample
from localaws.runtime import LambdaContext
from localaws.world import Deployment

DBA = "arn:aws:sts::123456789012:assumed-role/DBA/bob"
WINDOW = "sun:03:00-sun:03:30"


def where(deployment: Deployment) -> dict[str, str]:
    return {"region": deployment.region, "account": deployment.account}


class TestPostgresMajorUpgrade:
    """AWS: "stop database activity stream before a major version upgrade ... start it after the upgrade completes"."""

    def test_the_documented_procedure_is_an_upgrade_stop_and_the_stream_returns_after_it(
        self, prod: Deployment, world: World
    ) -> None:
        prod.stop_stream("orders-pg", by=DBA)
        prod.drain()
        assert [d["reason"] for d in prod.decisions()][-1] == "AwaitingUpgrade"
        assert prod.stream("orders-pg")["Status"] in ("stopping", "stopped"), "no restart in the grace"
        world.advance(minutes=2)
        das_extension.hold_cluster_status("orders-pg", "upgrading", **where(prod))  # the DBA starts the upgrade
        world.advance(minutes=15)
        prod.drain()
        notice = [d for d in prod.decisions() if d["reason"] == "StoppedForUpgrade"]
        assert notice, "the stop is recognised as the upgrade's"
        assert notice[0]["compliance"] == "pending"
        assert any(a["Subject"].startswith("DAS Guard notice: StoppedForUpgrade on orders-pg") for a in prod.alerts())
        assert prod.stream("orders-pg")["Status"] == "stopped", "never restarted in the middle of the upgrade"
        # the upgrade completes: RDS-EVENT-0176 brings DAS Guard back, and the stream starts at once
        das_extension.hold_cluster_status("orders-pg", None, **where(prod))
        prod.cluster_event("orders-pg", "RDS-EVENT-0176", "Database cluster major version has been upgraded")
        prod.drain()
        started = [d for d in prod.decisions() if d["outcome"] == "Started"][-1]
        assert started["start_request"]["apply_immediately"] is True
        assert prod.stream("orders-pg")["Status"] == "starting"

    def test_an_upgrade_that_never_ends_is_an_alert(self, prod: Deployment, world: World) -> None:
        prod.stop_stream("orders-pg", by=DBA)
        prod.drain()
        das_extension.hold_cluster_status("orders-pg", "upgrading", **where(prod))
        for _ in range(70):  # re-checks every few minutes, past the 3-hour readiness window
            world.advance(minutes=5)
            prod.drain()
        overdue = [d for d in prod.decisions() if d["reason"] == "MajorUpgradeOverdue"]
        assert overdue, "an upgrade that never completes is told"
        assert overdue[0]["outcome"] == "Failed"
        assert any("MajorUpgradeOverdue" in a["Subject"] for a in prod.alerts())

    def test_a_stop_with_no_upgrade_is_tampering_and_the_stream_returns(self, prod: Deployment, world: World) -> None:
        prod.stop_stream("orders-pg", by=DBA)
        prod.drain()
        assert any("HIGH" in a["Subject"] for a in prod.alerts()), "reported at once, as every stop"
        world.advance(minutes=16)
        prod.drain()
        assert prod.stream("orders-pg")["Status"] == "starting"


class TestStoppedClusters:
    def test_a_stopped_cluster_is_its_own_state_and_comes_back_when_it_starts(
        self, world: World, deployment: Deployment
    ) -> None:
        deployment.add_cluster("night-pg", creating=True, instances=[])
        rds = deployment.aws.client("rds")
        das_extension.hold_cluster_status("night-pg", "stopped", **where(deployment))
        deployment.cluster_event("night-pg", "RDS-EVENT-0150", "DB cluster stopped")
        deployment.drain()
        [stopped] = [d for d in deployment.decisions() if d.get("cluster_id") == "night-pg"]
        assert (stopped["outcome"], stopped["reason"], stopped["compliance"]) == (
            "NotApplicable",
            "ClusterStopped",
            "not-applicable",
        )
        world.advance(hours=4)  # longer than the readiness window: a stopped cluster is no readiness failure
        deployment.drain()
        assert not [d for d in deployment.decisions() if d["outcome"] == "Failed"]
        # RDS starts it again (by hand, or after 7 days: RDS-EVENT-0153)
        das_extension.hold_cluster_status("night-pg", None, **where(deployment))
        rds.create_db_instance(
            DBInstanceIdentifier="night-pg-1",
            DBClusterIdentifier="night-pg",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
        deployment.cluster_event("night-pg", "RDS-EVENT-0153", "DB cluster started after the maximum stop time")
        deployment.drain()
        assert deployment.decisions()[-1]["outcome"] in ("Started", "Scheduled")


class TestWindowStarts:
    POLICY: ClassVar[dict[str, Any]] = {"version": 1, "defaults": {"kms_key": "alias/das-guard", "mode": "async"}}

    def test_a_window_that_passes_without_a_start_is_told(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        deployment.add_cluster("busy-pg", PreferredMaintenanceWindow=WINDOW)
        world.advance(days=30)  # a cluster with workload: its first start goes to the window
        deployment.sweep("first")
        assert deployment.decisions()[-1]["reason"] == "MaintenanceWindow"
        das_extension.drop_pending_start("busy-pg", **where(deployment))  # ... and the window will pass without it
        world.advance(days=8)
        deployment.sweep("after-the-window")
        [missed] = [d for d in deployment.decisions() if d["event_id"] == "after-the-window"]
        assert (missed["outcome"], missed["reason"], missed["compliance"]) == ("Failed", "ScheduledStartMissed", "fail")
        digest = [a for a in deployment.alerts() if a["Subject"].startswith("DAS Guard sweep")][
            -1
        ]  # the latest of the daily digests
        assert "busy-pg: ScheduledStartMissed" in digest["Message"]

    def test_a_window_start_counts_only_once_rds_says_started(self, world: World) -> None:
        deployment = world.deploy(policy=self.POLICY)
        deployment.add_cluster("busy-pg", PreferredMaintenanceWindow=WINDOW)
        world.advance(days=30)
        deployment.sweep("first")
        deployment.sweep("again")
        [again] = [d for d in deployment.decisions() if d["event_id"] == "again"]
        assert (again["reason"], again["compliance"]) == ("AlreadyScheduled", "fail")
        world.advance(days=8)  # the window came; RDS started it
        deployment.sweep("after")
        [after] = [d for d in deployment.decisions() if d["event_id"] == "after"]
        assert (after["reason"], after["compliance"]) == ("StreamActive", "pass")


class TestStreamsDasGuardDidNotStart:
    def test_a_stream_on_an_insiders_own_key_fails_and_is_not_stopped(self, world: World) -> None:
        deployment = world.deploy()
        kms = deployment.aws.client("kms")
        own_key = kms.create_key(Description="the insider's own")["KeyMetadata"]["Arn"]
        deployment.add_cluster("orders-pg")
        das_extension.set_activity_stream("orders-pg", "started", "async", own_key, **where(deployment))
        deployment.sweep("s")
        [decision] = [d for d in deployment.decisions() if d.get("cluster_id") == "orders-pg"]
        assert (decision["outcome"], decision["reason"], decision["compliance"]) == (
            "Violation",
            "StreamKeyNotDesignated",
            "fail",
        )
        assert own_key in decision["detail"]
        assert deployment.stream("orders-pg")["Status"] == "started", "DAS Guard never stops a stream"
        digest = [a for a in deployment.alerts() if a["Subject"].startswith("DAS Guard sweep")][
            -1
        ]  # the latest of the daily digests
        assert "orders-pg: StreamKeyNotDesignated" in digest["Message"]

    def test_a_key_das_guard_cannot_describe_is_not_vouched_for(self, world: World) -> None:
        deployment = world.deploy()
        kms = deployment.aws.client("kms")
        foreign = kms.create_key(Description="another team's")["KeyMetadata"]["KeyId"]
        deployment.add_cluster("orders-pg")
        das_extension.set_activity_stream("orders-pg", "started", "async", foreign, **where(deployment))
        deployment.fail("DescribeKey", "AccessDeniedException", status=400)
        deployment.sweep("s")
        [decision] = [d for d in deployment.decisions() if d.get("cluster_id") == "orders-pg"]
        assert (decision["reason"], decision["compliance"]) == ("StreamKeyUnverifiable", "fail")
        assert "kms:DescribeKey" in decision["fix"]


class TestOddRecords:
    def test_a_cluster_record_without_an_arn_costs_no_other_cluster(self, world: World, deployment: Deployment) -> None:
        deployment.add_cluster("orders-pg")
        real_pages = RdsClusters.cluster_pages

        def with_an_old_record(self: RdsClusters) -> Any:
            for page in real_pages(self):
                yield [*page, {"DBClusterIdentifier": "odd-one", "Engine": "aurora-postgresql", "Status": "available"}]

        with patch.object(RdsClusters, "cluster_pages", with_an_old_record):
            summary = deployment.sweep("s")
        decided = {d.get("cluster_id"): (d["outcome"], d["reason"]) for d in deployment.decisions()}
        assert decided["odd-one"] == ("Failed", "MalformedClusterRecord")
        assert decided["orders-pg"][0] == "Started"
        assert summary["clusters_seen"] == 2

    def test_a_limitless_version_without_its_scalability_type_is_not_told_to_upgrade(
        self, world: World, deployment: Deployment
    ) -> None:
        deployment.add_cluster("shards", version="16.4-limitless", instances=[])
        deployment.sweep("s")
        [decision] = [d for d in deployment.decisions() if d.get("cluster_id") == "shards"]
        assert decision["reason"] == "LimitlessNotSupported"
        assert "upgrade" not in decision["fix"].lower().replace("no upgrade", "")

    def test_a_megabyte_source_address_still_pages(self, prod: Deployment) -> None:
        prod.aws.client("rds").stop_activity_stream(
            ResourceArn="arn:aws:rds:us-east-1:123456789012:cluster:orders-pg", ApplyImmediately=True
        )
        event = load_sample("cloudtrail-stop-activity-stream")
        event["detail"]["requestParameters"]["resourceArn"] = "arn:aws:rds:us-east-1:123456789012:cluster:orders-pg"
        event["detail"]["sourceIPAddress"] = "203.0.113.7" + "x" * 1_000_000
        prod.deliver(event)
        [alert] = [a for a in prod.alerts() if "STOPPED" in a["Subject"]]
        assert len(alert["Message"].encode()) < 262_144
        assert "cut by DAS Guard" in alert["Message"]

    @pytest.mark.parametrize("event", [[], "x", 7, None])
    def test_a_sweep_invoked_with_anything_but_an_object_is_answered(self, deployment: Deployment, event: Any) -> None:
        with deployment.capturing():
            answer = deployment._handlers.sweep(event, LambdaContext(aws_request_id="odd"))  # type: ignore[arg-type]
        assert answer == {"ignored": "NotAScheduledEvent"}
        assert [r for r in deployment.records() if r.get("message") == "not a scheduled event: ignored"]

    def test_the_result_event_of_a_stop_fits_eventbridge(self, prod: Deployment) -> None:
        prod.stop_stream("orders-pg", by=DBA + "y" * 100_000)
        prod.drain()
        for event in prod.result_events():
            assert len(json.dumps(event)) < 256_000


class TestMysqlNetworkPrerequisite:
    """Only Aurora MySQL 2 <= 2.11.3, 2.12.0 and 3 <= 3.04.2 need their instances to reach KMS."""

    def cluster_in_a_vpc(self, deployment: Deployment, name: str, version: str, *, kms_endpoint: bool) -> None:
        ec2, rds = deployment.aws.client("ec2"), deployment.aws.client("rds")
        vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"][
                "SubnetId"
            ]
            for i, z in ((1, "a"), (2, "b"))
        ]
        rds.create_db_subnet_group(DBSubnetGroupName=f"{name}-subnets", DBSubnetGroupDescription="x", SubnetIds=subnets)
        if kms_endpoint:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.kms", VpcEndpointType="Interface")
        deployment.add_cluster(
            name, engine="aurora-mysql", version=version, instances=[], DBSubnetGroupName=f"{name}-subnets"
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-1",
            DBClusterIdentifier=name,
            Engine="aurora-mysql",
            DBInstanceClass="db.r6g.large",
            DBSubnetGroupName=f"{name}-subnets",
            PubliclyAccessible=False,
        )

    @pytest.mark.parametrize(("endpoint", "warned"), [(False, True), (True, False)])
    def test_an_affected_version_is_checked_for_a_route_to_kms(
        self, world: World, deployment: Deployment, endpoint: bool, warned: bool
    ) -> None:
        self.cluster_in_a_vpc(deployment, "old-mysql", "8.0.mysql_aurora.3.04.0", kms_endpoint=endpoint)
        deployment.sweep("s")
        [decision] = [d for d in deployment.decisions() if d.get("cluster_id") == "old-mysql"]
        assert decision["outcome"] in ("Started", "Scheduled"), "a route DAS Guard cannot see (NAT) is no refusal"
        codes = [w["code"] for w in decision.get("warnings", [])]
        assert ("KmsNetworkUnconfirmed" in codes) is warned
        assert deployment.api.calls["ec2:DescribeVpcEndpoints"] == 1

    def test_a_later_version_has_no_such_prerequisite(self, world: World, deployment: Deployment) -> None:
        self.cluster_in_a_vpc(deployment, "new-mysql", "8.0.mysql_aurora.3.05.2", kms_endpoint=False)
        deployment.sweep("s")
        [decision] = [d for d in deployment.decisions() if d.get("cluster_id") == "new-mysql"]
        assert "KmsNetworkUnconfirmed" not in [w["code"] for w in decision.get("warnings", [])]
        assert deployment.api.calls["ec2:DescribeVpcEndpoints"] == 0


class TestNothingUnseen:
    """A cluster in a region where no DAS Guard stack runs is never seen by its events: the sweep says so."""

    def test_the_sweep_lists_regions_with_aurora_clusters_and_no_das_guard(self, world: World) -> None:
        home = world.deploy(DAS_GUARD_ENFORCER_FUNCTION="das-guard-enforcer")
        home.add_cluster("orders-pg")
        elsewhere = world.session(region="eu-west-1").client("rds")
        scenario_cluster(elsewhere, "far-away-pg")
        covered = world.session(region="eu-central-1")
        scenario_cluster(covered.client("rds"), "watched-pg")
        enforcer_in(covered)  # a DAS Guard stack of the same deployment runs there
        summary = home.sweep("s")
        assert summary["uncovered_regions"] == ["eu-west-1: 1 Aurora cluster(s) and no DAS Guard stack in this region"]
        digest = [a for a in home.alerts() if a["Subject"].startswith("DAS Guard sweep")][-1]
        assert "eu-west-1: 1 Aurora cluster(s) and no DAS Guard stack" in digest["Message"]
        assert "all is well" not in digest["Subject"], "a region nobody audits needs a person"

    def test_without_the_setting_no_other_region_is_read(self, world: World, deployment: Deployment) -> None:
        deployment.sweep("s")
        assert deployment.api.calls["ec2:DescribeRegions"] == 0


def scenario_cluster(rds: Any, name: str) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="admin_user", MasterUserPassword="x" * 12
    )


def enforcer_in(session: Any) -> None:
    role = session.client("iam").create_role(
        RoleName=f"enforcer-{session.region_name}", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    session.client("lambda").create_function(
        FunctionName="das-guard-enforcer",
        Runtime="python3.13",
        Role=role,
        Handler="das_guard.handlers.handle_queue",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
