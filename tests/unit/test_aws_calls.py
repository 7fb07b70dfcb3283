"""Which refusals are worth trying again: botocore's own throttling and transient lists, and any server error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.utils import parse_timestamp

from das_guard.aws import as_aws_error
from das_guard.aws.calls import iso_timestamp


def refused(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("Throttling", 400),
        ("ProvisionedThroughputExceededException", 400),  # DynamoDB's throttling: the state table under load
        ("RequestLimitExceeded", 400),
        ("RequestTimeout", 400),
        ("InternalFailure", 500),
        ("KMSInternalException", 500),
        ("ServiceUnavailable", 503),
        ("SomethingNew", 429),
    ],
)
def test_throttling_and_server_errors_are_tried_again(code: str, status: int) -> None:
    error = as_aws_error("rds:DescribeDBClusters", refused(code, status))
    assert (error.code, error.transient) == (code, True)


@pytest.mark.parametrize(
    "code", ["AccessDenied", "AccessDeniedException", "InvalidDBClusterStateFault", "KMSKeyNotAccessibleFault"]
)
def test_a_refusal_on_the_merits_is_not_tried_again(code: str) -> None:
    assert not as_aws_error("rds:StartActivityStream", refused(code, 400)).transient


def test_not_reaching_aws_is_tried_again() -> None:
    error = as_aws_error("kms:DescribeKey", EndpointConnectionError(endpoint_url="https://kms"))
    assert (error.code, error.transient) == ("EndpointConnectionError", True)


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-01T09:14:02.123Z",  # RDS: ClusterCreateTime
        "2026-12-01T09:14:02Z",
        "2026-12-01T09:14:02+02:00",
        "2026-12-01T09:14:02",  # no zone: botocore's own answer
        "Tue, 01 Dec 2026 09:14:02 GMT",  # an RFC 822 header date
        1796029442,  # epoch seconds (JSON protocols)
        1796029442.5,
    ],
)
def test_the_fast_timestamp_parser_answers_what_botocores_own_does(value: object) -> None:
    ours, theirs = iso_timestamp(value), parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset()
