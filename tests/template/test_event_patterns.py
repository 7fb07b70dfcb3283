"""The routing tests' EventBridge matcher behaves as the EventBridge user guide documents."""

from __future__ import annotations

import pytest

from .event_patterns import matches

EVENT = {
    "source": "aws.rds",
    "detail-type": "x",
    "detail": {"eventName": "CreateDBCluster", "tags": ["a", "b"], "n": 5, "empty": None},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.rds"]}, True),
        ({"source": ["aws.ec2", "aws.rds"]}, True),
        ({"source": ["aws.ec2"]}, False),
        ({"source": ["AWS.RDS"]}, False),  # exact matching is case-sensitive
        ({"detail": {"eventName": ["CreateDBCluster"]}}, True),
        ({"detail": {"missing": ["x"]}}, False),
        ({"detail": {"errorCode": [{"exists": False}]}}, True),
        ({"detail": {"eventName": [{"exists": False}]}}, False),
        ({"detail": {"eventName": [{"exists": True}]}}, True),
        ({"detail": {"tags": ["b"]}}, True),  # an event array matches if any element does
        ({"detail": {"tags": ["c"]}}, False),
        ({"detail": {"n": ["5"]}}, False),  # a number is not its string
        ({"detail": {"n": [5]}}, True),
        ({"detail": {"empty": [None]}}, True),
        ({"detail": {"eventName": [{"prefix": "Create"}]}}, True),
        ({"detail": {"eventName": [{"anything-but": ["CreateDBCluster"]}]}}, False),
        ({"detail": {"eventName": [{"equals-ignore-case": "createdbcluster"}]}}, True),
        ({"detail": {"eventName": [{"wildcard": "Create*Cluster"}]}}, True),
        ({"detail": {"eventName": [{"wildcard": "Create*"}]}}, True),
        ({"detail": {"eventName": [{"wildcard": "*Instance"}]}}, False),
        ({"detail": {"eventName": [{"wildcard": "CreateDB.Cluster"}]}}, False),  # only * is special
        ({"source": ["aws.rds"], "detail": {"eventName": ["Delete"]}}, False),  # all fields must match
        ({"detail": ["x"]}, False),  # detail is an object, not a value
    ],
)
def test_documented_semantics(pattern: dict[str, object], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_unknown_operators_fail_loudly() -> None:
    with pytest.raises(ValueError, match="cidr"):
        matches({"source": [{"cidr": "10.0.0.0/8"}]}, EVENT)
