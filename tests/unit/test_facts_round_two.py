"""The facts of shared/reference/das-facts.md, "round 2", each as AWS documents it (pure: no AWS)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from das_guard.decision import checks, windows
from das_guard.decision.stops import assess_stop
from das_guard.enforcer import _undocumented_refusal
from das_guard.gateway import AwsError
from das_guard.model import ClusterInfo, Decision, InstanceInfo, MalformedRecord, Outcome, StopInfo
from das_guard.policy import parse_policy

from .factories import cluster

ZURICH = "arn:aws:rds:eu-central-2:123456789012:cluster:c1"


class TestRegionSupportIsAwssToSay:
    def test_aws_saying_yes_overrides_the_static_list(self) -> None:
        c = replace(cluster(), arn=ZURICH)
        support = checks.check_support(c, lambda *_: ("async", "sync"))
        assert support.problems == ()

    def test_aws_saying_no_is_explained_by_the_region(self) -> None:
        c = replace(cluster(), arn=ZURICH)
        [problem] = checks.check_support(c, lambda *_: ()).problems
        assert problem.code == "UnsupportedRegion"
        assert "DescribeOrderableDBInstanceOptions" in problem.detail

    def test_the_static_list_decides_only_where_aws_cannot_be_asked(self) -> None:
        c = replace(cluster(), arn=ZURICH)
        assert [p.code for p in checks.check_support(c, lambda *_: None).problems] == ["UnsupportedRegion"]
        assert [p.code for p in checks.check_support(c, None).problems] == ["UnsupportedRegion"]


def test_postgres_minimums_are_patch_levels() -> None:
    finding = checks.check_engine_version(cluster("aurora-postgresql", "14.3"))
    assert finding is not None
    assert "latest patch" in finding.fix
    assert "minor version." not in finding.fix


@pytest.mark.parametrize(
    ("version", "needs"),
    [
        ("5.7.mysql_aurora.2.11.3", True),
        ("5.7.mysql_aurora.2.11.4", False),
        ("5.7.mysql_aurora.2.12.0", True),
        ("5.7.mysql_aurora.2.12.1", False),
        ("8.0.mysql_aurora.3.04.2", True),
        ("8.0.mysql_aurora.3.04.3", False),
        ("8.0.mysql_aurora.3.05.2", False),
        ("8.4.mysql_aurora.8.4.0", False),
    ],
)
def test_the_mysql_kms_route_is_needed_only_by_the_versions_aws_names(version: str, needs: bool) -> None:
    assert checks.needs_kms_network(cluster("aurora-mysql", version)) is needs
    assert not checks.needs_kms_network(cluster("aurora-postgresql", "13.4"))


def test_a_public_instance_or_an_endpoint_confirms_the_route() -> None:
    old = cluster("aurora-mysql", "8.0.mysql_aurora.3.02.0")
    private = replace(old, instances=(InstanceInfo("i0", "db.r6g.large", "available", False, "vpc-1"),))
    public = replace(old, instances=(InstanceInfo("i0", "db.r6g.large", "available", True, "vpc-1"),))
    assert checks.check_kms_network(public, lambda _vpc: False) is None
    assert checks.check_kms_network(private, lambda vpc: vpc == "vpc-1") is None
    warning = checks.check_kms_network(private, lambda _vpc: False)
    assert warning is not None
    assert warning.code == "KmsNetworkUnconfirmed"
    assert "com.amazonaws.us-east-1.kms" in warning.fix


def test_an_unattributed_stop_speaks_of_the_engine_at_hand() -> None:
    policy = parse_policy('{"version": 1, "defaults": {"kms_key": "alias/k"}}')
    rds_event = StopInfo("unknown", (), "", "", "RDS")
    postgres, _ = assess_stop(cluster(), policy, rds_event, datetime.now(UTC).date())
    old_mysql, _ = assess_stop(
        cluster("aurora-mysql", "8.0.mysql_aurora.3.02.0"), policy, rds_event, datetime.now(UTC).date()
    )
    assert postgres is not None
    assert old_mysql is not None
    assert "MySQL" not in postgres.fix + postgres.detail
    assert "KMS" in old_mysql.fix


class TestUndocumentedRefusals:
    START = Decision(Outcome.STARTED, "StreamStarted", "starting", cluster_id="c1")

    def refused(self, code: str, message: str) -> Decision:
        return _undocumented_refusal(self.START, AwsError("rds:StartActivityStream", code, message, transient=False))

    def test_already_starting_is_a_race(self) -> None:
        d = self.refused("InvalidParameterCombination", "The activity stream is already starting for cluster c1")
        assert (d.outcome, d.reason, d.start) == (Outcome.DEFERRED, "AlreadyStarting", None)

    def test_this_configuration_is_a_violation_that_quotes_aws(self) -> None:
        said = "You can't start a database activity stream in this configuration."
        d = self.refused("InvalidParameterCombination", said)
        assert (d.outcome, d.reason) == (Outcome.VIOLATION, "UnsupportedConfiguration")
        assert said in d.detail
        assert "latest patch" in d.fix

    def test_anything_else_is_failed_with_aws_words_in_the_fix(self) -> None:
        d = self.refused("InvalidParameterValue", "Invalid resource ARN: arn:aws:rds:...:db:x")
        assert (d.outcome, d.reason) == (Outcome.FAILED, "StartRefused")
        assert "Invalid resource ARN" in d.fix
        assert "InvalidParameterValue" in d.fix


class TestOddRecords:
    def test_a_record_without_an_arn_or_identifier_is_malformed_not_a_crash(self) -> None:
        with pytest.raises(MalformedRecord):
            ClusterInfo.from_api({"DBClusterIdentifier": "c1"}, [])
        with pytest.raises(MalformedRecord):
            ClusterInfo.from_api({"DBClusterArn": ZURICH}, [])

    def test_every_other_field_is_optional(self) -> None:
        info = ClusterInfo.from_api(
            {
                "DBClusterIdentifier": "c1",
                "DBClusterArn": ZURICH,
                "TagList": [{"Key": "a"}, {"Value": "no key"}, "junk"],
                "DBClusterMembers": [{"IsClusterWriter": True}, {"DBInstanceIdentifier": "i1"}],
                "EngineVersion": "16.4-limitless",
                "Engine": "aurora-postgresql",
            },
            [{"DBInstanceClass": "db.r6g.large"}, {"DBInstanceIdentifier": "i1", "PubliclyAccessible": "yes"}],
        )
        assert info.tags == {"a": ""}
        assert info.member_ids == ("i1",)
        assert [i.identifier for i in info.instances] == ["i1"]
        assert info.instances[0].publicly_accessible is None
        assert info.is_limitless, "a -limitless version without ClusterScalabilityType is still Limitless"
        limitless = checks.check_cluster_type(info)
        assert limitless is not None
        assert "upgrade" not in limitless.fix.lower()


def test_the_next_maintenance_window() -> None:
    after = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday
    assert windows.next_window("sun:03:00-sun:03:30", after) == (
        datetime(2026, 12, 6, 3, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 3, 30, tzinfo=UTC),
    )
    assert windows.next_window("sat:23:30-sun:00:30", after) == (
        datetime(2026, 12, 5, 23, 30, tzinfo=UTC),
        datetime(2026, 12, 6, 0, 30, tzinfo=UTC),
    )
    inside = datetime(2026, 12, 6, 3, 10, tzinfo=UTC)
    assert windows.next_window("sun:03:00-sun:03:30", inside)[0] == datetime(2026, 12, 13, 3, 0, tzinfo=UTC)  # type: ignore[index]
    assert windows.next_window("whenever", after) is None
