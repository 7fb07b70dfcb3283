"""Fault injection at every AWS call of the happy path, end to end through the queue and its redrive policy.

Each fault ends in a defined outcome: a passing fault is retried by SQS and the cluster still gets its stream,
started exactly once; a lasting fault ends as a Failed decision, an alert and the message parked in the DLQ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from das_guard.aws import BATCH_WRITE_ATTEMPTS, StateTable
from das_guard.clock import SystemClock
from das_guard.gateway import AwsError
from das_guard.model import StreamMark
from localaws import scenario

from ..conftest import Enforcer, sample

OPERATIONS = ["GetParameter", "DescribeDBClusters", "DescribeDBInstances", "DescribeKey", "StartActivityStream"]


def throttling(operation: str) -> Exception:
    return ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


def server_error(operation: str) -> Exception:
    return ClientError(
        {"Error": {"Code": "InternalFailure", "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        operation,
    )


def timeout(operation: str) -> Exception:
    return ReadTimeoutError(endpoint_url=f"https://aws.example/{operation}")


FAULTS = {"throttling": throttling, "5xx": server_error, "timeout": timeout}


class Harness:
    """The real handler on the seeded queue, with faults and a count of Start calls that reached RDS."""

    def __init__(self, enforcer: Enforcer, sqs: Any) -> None:
        self.enforcer = enforcer
        self.sqs = sqs
        self.starts_that_reached_rds = 0
        enforcer.function_session.events.register("after-call.rds.StartActivityStream", self._reached)

    def _reached(self, parsed: dict[str, Any], **_: Any) -> None:
        if "Error" not in parsed:
            self.starts_that_reached_rds += 1

    def fail(self, operation: str, fault: Callable[[str], Exception], times: int, *, after: bool = False) -> None:
        remaining = [times]

        def hook(model: Any, **_: Any) -> None:
            if model.name == operation and remaining[0] > 0:
                remaining[0] -= 1
                raise fault(operation)

        # after-call: under the specific event name, so the Start counter (registered first) still sees the call
        event = f"after-call.rds.{operation}" if after else "before-call.*.*"
        self.enforcer.function_session.events.register(event, hook)

    def deliver(self, *events: dict[str, Any]) -> None:
        self.enforcer.send(*events)
        self.enforcer.drain()

    def parked(self) -> int:
        return len(self.enforcer.dead_letters())


@pytest.fixture
def harness(make_enforcer: Callable[..., Enforcer], session: Any, sqs: Any) -> Harness:
    scenario.create_cluster(
        session.client("rds"),
        "orders-pg",
        "aurora-postgresql",
        "15.4",
        [("orders-pg-1", "db.r6g.large")],
        tags={"data-class": "pci"},
    )
    return Harness(make_enforcer(), sqs)


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_passing_fault_is_retried_and_the_stream_starts_once(
    harness: Harness, rds: Any, operation: str, fault: str
) -> None:
    harness.fail(operation, FAULTS[fault], times=1)
    harness.deliver(sample("cloudtrail-create-db-cluster"))
    assert [d["outcome"] for d in harness.enforcer.decisions()] == ["Started"]
    assert harness.starts_that_reached_rds == 1
    assert rds.describe_db_clusters(DBClusterIdentifier="orders-pg")["DBClusters"][0]["ActivityStreamStatus"] == (
        "starting"
    )
    assert harness.parked() == 0


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_lasting_fault_is_failed_alerted_and_parked(harness: Harness, operation: str, fault: str) -> None:
    harness.fail(operation, FAULTS[fault], times=1_000)
    harness.deliver(sample("cloudtrail-create-db-cluster"))
    [decision] = harness.enforcer.decisions()
    assert decision["outcome"] == "Failed"
    assert "goes to the DLQ" in decision["detail"]
    assert harness.starts_that_reached_rds == 0
    assert harness.parked() == 1
    assert len(harness.enforcer.alerts()) == 1


def test_a_start_whose_response_was_lost_is_not_repeated(harness: Harness) -> None:
    """RDS started the stream but the answer timed out: the redelivery finds it starting and stops there."""
    harness.fail("StartActivityStream", timeout, times=1, after=True)
    harness.deliver(sample("cloudtrail-create-db-cluster"))
    assert [d["outcome"] for d in harness.enforcer.decisions()] == ["AlreadyActive"]
    assert harness.starts_that_reached_rds == 1
    assert harness.enforcer.api.calls["rds:StartActivityStream"] == 1


def test_a_key_rds_may_not_read_is_a_violation_not_a_retry(harness: Harness) -> None:
    harness.fail(
        "DescribeKey",
        lambda op: ClientError(
            {
                "Error": {"Code": "AccessDeniedException", "Message": "not authorized"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            op,
        ),
        times=1_000,
    )
    harness.deliver(sample("cloudtrail-create-db-cluster"))
    [decision] = harness.enforcer.decisions()
    assert (decision["outcome"], decision["reason"]) == ("Violation", "KmsKeyNotAccessible")
    assert harness.parked() == 0


@pytest.mark.parametrize("operation", ["Publish", "PutEvents", "SendMessage"])
def test_faults_in_reporting_or_deferral_lose_nothing(
    make_enforcer: Callable[..., Enforcer], session: Any, sqs: Any, operation: str
) -> None:
    rds = session.client("rds")
    scenario.create_cluster(rds, "dev-burst", "aurora-postgresql", "16.1", [("dev-burst-1", "db.t4g.medium")])
    scenario.create_cluster(rds, "payments-pg", "aurora-postgresql", "16.1")  # no instance yet: deferred
    harness = Harness(make_enforcer(DAS_GUARD_EVENT_BUS="default"), sqs)
    harness.fail(operation, throttling, times=1)
    harness.deliver(sample("cloudtrail-create-db-instance"), sample("cloudtrail-create-db-cluster-still-creating"))
    outcomes = sorted(d["outcome"] for d in harness.enforcer.decisions())
    # an alert or result event that cannot be sent never fails the decision; a deferral that cannot be scheduled
    # is redelivered and scheduled then
    assert outcomes == ["Deferred", "Violation"]
    assert harness.parked() == 0
    assert len(harness.enforcer.queued()) == 1  # the deferred cluster's delayed retry is on the queue


class TestStreamRecordsInBatches:
    """The sweep writes the running streams it saw 25 to a BatchWriteItem; what DynamoDB leaves unprocessed (it
    may, under load) is sent again, and what is still left after a few attempts is an error the sweep logs."""

    def marks(self, n: int) -> list[StreamMark]:
        at = SystemClock().now()
        return [
            StreamMark(f"cluster-{i:04d}", f"arn:aws:rds:us-east-1:123456789012:cluster:c{i}", "on", at)
            for i in range(n)
        ]

    def gateway(self) -> tuple[StateTable, Stubber]:
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        gateway = StateTable(session, "t")
        stubber = Stubber(gateway._dynamodb)
        stubber.activate()
        return gateway, stubber

    def test_unprocessed_items_are_sent_again(self) -> None:
        gateway, stubber = self.gateway()
        marks = self.marks(30)
        left = {"t": [{"PutRequest": {"Item": {"pk": {"S": "stream#cluster-0003"}}}}]}
        stubber.add_response("batch_write_item", {"UnprocessedItems": left})  # first 25: one left over
        stubber.add_response("batch_write_item", {"UnprocessedItems": {}})  # the other 5
        stubber.add_response(
            "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": left}
        )  # the leftover, on its own
        gateway.mark_streams(marks)
        stubber.assert_no_pending_responses()

    def test_what_stays_unprocessed_is_an_error(self) -> None:
        gateway, stubber = self.gateway()
        left = {"t": [{"PutRequest": {"Item": {"pk": {"S": "stream#cluster-0000"}}}}]}
        for _ in range(BATCH_WRITE_ATTEMPTS):
            stubber.add_response("batch_write_item", {"UnprocessedItems": left})
        with pytest.raises(AwsError) as raised:
            gateway.mark_streams(self.marks(1))
        assert raised.value.code == "UnprocessedItems"
        assert raised.value.transient
