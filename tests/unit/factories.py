"""Plain-data builders for the pure decision tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from das_guard.model import ClusterInfo, InstanceInfo, KeyInfo, KeyLookup

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def cluster(engine: str = "aurora-postgresql", version: str = "15.4", *classes: str, **fields: Any) -> ClusterInfo:
    classes = classes or ("db.r6g.large",)
    instances = tuple(
        InstanceInfo(f"i{n}", c, fields.pop("instance_status", "available")) for n, c in enumerate(classes)
    )
    base = ClusterInfo(
        arn="arn:aws:rds:us-east-1:123456789012:cluster:c1",
        identifier="c1",
        resource_id="cluster-ABC",
        engine=engine,
        engine_version=version,
        engine_mode="provisioned",
        status="available",
        tags={},
        instances=instances,
        member_ids=tuple(i.identifier for i in instances),
    )
    return replace(base, **fields)


def key(**fields: Any) -> KeyInfo:
    base = KeyInfo(
        arn=KEY_ARN,
        key_id=KEY_ARN.rsplit("/", 1)[1],
        state="Enabled",
        spec="SYMMETRIC_DEFAULT",
        usage="ENCRYPT_DECRYPT",
        manager="CUSTOMER",
    )
    return replace(base, **fields)


def lookup(reference: str = "alias/das-guard", **fields: Any) -> KeyLookup:
    return KeyLookup(reference, key(**fields))
