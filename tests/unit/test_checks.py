"""The DAS support matrix (Aurora User Guide), checked without AWS."""

from __future__ import annotations

import pytest

from das_guard.decision import checks
from das_guard.model import KeyLookup
from das_guard.policy import StreamMode

from .factories import cluster, lookup


@pytest.mark.parametrize(
    ("engine", "version", "supported"),
    [
        ("aurora-mysql", "8.0.mysql_aurora.3.05.2", True),
        ("aurora-mysql", "8.0.mysql_aurora.3.01.0", True),
        ("aurora-mysql", "5.7.mysql_aurora.2.11.0", True),
        ("aurora-mysql", "5.7.mysql_aurora.2.12.3", True),
        ("aurora-mysql", "5.7.mysql_aurora.2.10.2", False),
        ("aurora-mysql", "5.7.mysql_aurora.2.07.2", False),
        ("aurora-mysql", "8.4.mysql_aurora.4.0.0", True),  # newer major than the guide lists
        ("aurora-mysql", "5.7.12", False),  # old style version string of Aurora MySQL 2.0x
        ("aurora-postgresql", "16.1", True),
        ("aurora-postgresql", "16.6", True),
        ("aurora-postgresql", "15.3", True),
        ("aurora-postgresql", "15.2", False),
        ("aurora-postgresql", "14.6", True),
        ("aurora-postgresql", "14.5", False),
        ("aurora-postgresql", "13.9", True),
        ("aurora-postgresql", "13.8", False),
        ("aurora-postgresql", "12.9", True),
        ("aurora-postgresql", "12.22", True),
        ("aurora-postgresql", "11.9", True),
        ("aurora-postgresql", "11.21", True),
        ("aurora-postgresql", "11.8", False),
        ("aurora-postgresql", "10.21", False),
        ("aurora-postgresql", "17.4", True),  # newer major than the guide lists
        ("aurora-postgresql", "latest", False),
    ],
)
def test_engine_versions(engine: str, version: str, supported: bool) -> None:
    finding = checks.check_engine_version(cluster(engine, version))
    assert (finding is None) == supported
    if finding:
        assert finding.code == "UnsupportedEngineVersion"
        assert version in finding.detail


@pytest.mark.parametrize(
    ("engine", "instance_class", "supported"),
    [
        ("aurora-postgresql", "db.r6g.large", True),
        ("aurora-postgresql", "db.r7g.16xlarge", True),
        ("aurora-postgresql", "db.r8g.48xlarge", True),
        ("aurora-postgresql", "db.r6i.xlarge", True),
        ("aurora-postgresql", "db.r6id.4xlarge", True),
        ("aurora-postgresql", "db.r4.2xlarge", True),
        ("aurora-postgresql", "db.r5.24xlarge", True),
        ("aurora-postgresql", "db.x2g.2xlarge", True),
        ("aurora-postgresql", "db.t4g.medium", False),
        ("aurora-postgresql", "db.t3.large", False),
        ("aurora-postgresql", "db.serverless", False),
        ("aurora-postgresql", "db.r6gd.xlarge", False),
        ("aurora-postgresql", "db.r8gd.large", False),
        ("aurora-postgresql", "db.m6g.large", False),
        ("aurora-postgresql", "db.r6g.medium", False),
        ("aurora-mysql", "db.r6g.large", True),
        ("aurora-mysql", "db.r7i.8xlarge", True),
        ("aurora-mysql", "db.x2g.large", True),
        ("aurora-mysql", "db.r6id.large", False),  # r6id is PostgreSQL only
        ("aurora-mysql", "db.r4.large", False),  # r4 is PostgreSQL only
        ("aurora-mysql", "db.t3.medium", False),
        ("aurora-mysql", "db.serverless", False),
    ],
)
def test_instance_classes(engine: str, instance_class: str, supported: bool) -> None:
    c = cluster(engine, "16.1" if engine == "aurora-postgresql" else "8.0.mysql_aurora.3.05.2", instance_class)
    finding = checks.check_instance_classes(c, c.instances)
    assert (finding is None) == supported


def test_every_instance_counts_not_just_the_writer() -> None:
    c = cluster("aurora-postgresql", "15.4", "db.r6g.large", "db.t4g.medium", "db.serverless")
    finding = checks.check_instance_classes(c, c.instances)
    assert finding is not None
    assert finding.code == "UnsupportedInstanceClass"
    assert "i1 (db.t4g.medium)" in finding.detail
    assert "i2 (db.serverless)" in finding.detail
    assert "Serverless v2" in finding.detail
    assert "i0" not in finding.detail


@pytest.mark.parametrize(
    ("mode", "code"),
    [("provisioned", None), ("serverless", "UnsupportedEngineMode"), ("parallelquery", "UnsupportedEngineMode")],
)
def test_engine_mode(mode: str, code: str | None) -> None:
    finding = checks.check_engine_mode(cluster(engine_mode=mode))
    assert (finding.code if finding else None) == code
    if mode == "serverless":
        assert finding is not None
        assert "Serverless v1" in finding.detail


def test_aurora_mysql_1_is_refused() -> None:
    finding = checks.check_engine(cluster("aurora", "5.6.mysql_aurora.1.22.5"))
    assert finding is not None
    assert finding.code == "UnsupportedEngine"


def test_sync_is_postgresql_only() -> None:
    assert checks.effective_mode(cluster("aurora-postgresql"), StreamMode.SYNC) == (StreamMode.SYNC, None)
    mode, warning = checks.effective_mode(cluster("aurora-mysql", "8.0.mysql_aurora.3.05.2"), StreamMode.SYNC)
    assert mode is StreamMode.ASYNC
    assert warning is not None
    assert warning.code == "ModeDowngraded"
    assert checks.effective_mode(cluster("aurora-mysql"), StreamMode.ASYNC) == (StreamMode.ASYNC, None)


@pytest.mark.parametrize(
    ("key_lookup", "region", "code"),
    [
        (lookup(), "us-east-1", None),
        (KeyLookup("alias/missing", None, "NotFoundException", "Alias not found"), "us-east-1", "KmsKeyNotFound"),
        (
            KeyLookup("alias/locked", None, "AccessDeniedException", "not authorized"),
            "us-east-1",
            "KmsKeyNotAccessible",
        ),
        (lookup(manager="AWS"), "us-east-1", "KmsKeyAwsManaged"),
        (lookup(state="Disabled"), "us-east-1", "KmsKeyNotEnabled"),
        (lookup(state="PendingDeletion"), "us-east-1", "KmsKeyNotEnabled"),
        (lookup(spec="RSA_2048", usage="ENCRYPT_DECRYPT"), "us-east-1", "KmsKeyWrongType"),
        (lookup(usage="GENERATE_VERIFY_MAC", spec="HMAC_256"), "us-east-1", "KmsKeyWrongType"),
        (lookup(), "eu-west-1", "KmsKeyWrongRegion"),
    ],
)
def test_kms_key(key_lookup: KeyLookup, region: str, code: str | None) -> None:
    finding = checks.check_kms_key(key_lookup, region)
    assert (finding.code if finding else None) == code
    if finding:
        assert finding.fix, "every key problem tells people how to fix it"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, None),
        ({"status": "creating"}, "ClusterNotAvailable"),
        ({"status": "backing-up"}, "ClusterNotAvailable"),
        ({"instances": (), "member_ids": ()}, "NoInstances"),
        ({"instance_status": "creating"}, "NoAvailableInstance"),
    ],
)
def test_readiness(fields: dict[str, object], code: str | None) -> None:
    finding = checks.readiness(cluster(**fields))
    assert (finding.code if finding else None) == code


@pytest.mark.parametrize(
    ("region", "supported"),
    [
        ("us-east-1", True),
        ("eu-west-1", True),
        ("ap-southeast-2", True),
        ("eu-central-2", False),
        ("il-central-1", False),
        ("cn-north-1", False),
        ("ap-southeast-4", False),
    ],
)
def test_regions_without_activity_streams(region: str, supported: bool) -> None:
    c = cluster(arn=f"arn:aws:rds:{region}:123456789012:cluster:c1")
    finding = checks.check_region(c)
    assert (finding is None) == supported
    if finding:
        assert (finding.code, region in finding.detail) == ("UnsupportedRegion", True)
