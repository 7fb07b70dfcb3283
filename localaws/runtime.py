"""Just enough of the Lambda runtime to run DAS Guard's real handler locally.

`QueuePoller` plays the part of Lambda's SQS event source mapping: it receives batches from the queue,
invokes the handler with the exact event shape Lambda uses, deletes what succeeded and leaves reported
failures on the queue for redelivery (and, through the queue's redrive policy, the dead-letter queue).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class LambdaContext:
    function_name: str = "das-guard-enforcer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:das-guard-enforcer"
    aws_request_id: str = "local-request"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/das-guard-enforcer"
    log_stream_name: str = "local"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def sqs_record(
    body: str,
    *,
    message_id: str | None = None,
    receive_count: int = 1,
    queue_arn: str = f"arn:aws:sqs:{REGION}:{ACCOUNT}:das-guard-events",
    sent_at_ms: int = 1_764_062_042_000,
) -> dict[str, Any]:
    """One record of the SQS event Lambda hands to the function."""
    digest = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
    return {
        "messageId": message_id or f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
        "receiptHandle": f"AQEB{digest}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent_at_ms),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent_at_ms + 120),
        },
        "messageAttributes": {},
        "md5OfBody": digest,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_event(bodies: Iterable[str], **kwargs: Any) -> dict[str, Any]:
    return {"Records": [sqs_record(body, **kwargs) for body in bodies]}


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class PollResult:
    invocations: int = 0
    delivered: int = 0
    failed: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)


LOOP_DETECTION_INVOCATIONS = 16  # Lambda "drops requests after exceeding 16 invocations" of one chain


def lineage(message: dict[str, Any]) -> int:
    """How many invocations of one chain a message has been through: the count in the `Lineage` field of the trace
    header (`AWSTraceHeader`) Lambda puts on what a function's code sends; 0 for a message from anywhere else."""
    header = message.get("Attributes", {}).get("AWSTraceHeader", "")
    header = str(header.get("StringValue", "") if isinstance(header, dict) else header)  # as SQS stores it
    for part in header.split(";"):
        if part.startswith("Lineage="):
            return int(part.rsplit(":", 1)[-1])
    return 0


class QueuePoller:
    """Lambda's SQS event source mapping, for a queue on the local AWS.

    Lambda's recursive loop detection is modelled: the chain's length (`lineage`) of each message is handed to
    `in_chain` before the handler runs (so what the function sends carries the chain on), and with
    `recursive_loop="Terminate"` (Lambda's default) a message whose chain already made 16 invocations is not
    delivered; `on_loop_stopped` gets it (Lambda sends it to the dead-letter queue where one is configured)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        recursive_loop: str = "Allow",
        in_chain: Callable[[int], None] | None = None,
        on_loop_stopped: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._recursive_loop = recursive_loop
        self._in_chain = in_chain
        self._on_loop_stopped = on_loop_stopped
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._handler = handler
        self._batch_size = batch_size

    def drain(self, *, max_invocations: int = 100) -> PollResult:
        """Invoke the handler until no message is visible (delayed messages stay for later)."""
        result = PollResult()
        while result.invocations < max_invocations:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self._batch_size,
                AttributeNames=["All"],
                VisibilityTimeout=30,
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            if self._recursive_loop == "Terminate":
                stopped = [m for m in messages if lineage(m) >= LOOP_DETECTION_INVOCATIONS]
                for message in stopped:
                    if self._on_loop_stopped:
                        self._on_loop_stopped(message)
                    self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
                messages = [m for m in messages if m not in stopped]
                if not messages:
                    continue
            if self._in_chain:
                self._in_chain(max(lineage(m) for m in messages))
            event = {"Records": [self._record(m) for m in messages]}
            answer = self._handler(event, LambdaContext(aws_request_id=f"local-{result.invocations}"))
            result.invocations += 1
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            for message in messages:
                result.delivered += 1
                if message["MessageId"] in failed:
                    result.failed += 1
                    # Lambda leaves a failed message for redelivery after the visibility timeout;
                    # locally that timeout is zero so the next poll sees it again.
                    self._sqs.change_message_visibility(
                        QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return result

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        record = sqs_record(
            message["Body"],
            message_id=message["MessageId"],
            receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
            queue_arn=self._queue_arn,
            sent_at_ms=int(attributes.get("SentTimestamp", "0")),
        )
        record["receiptHandle"] = message["ReceiptHandle"]
        return record
