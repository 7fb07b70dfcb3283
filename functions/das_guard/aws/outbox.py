"""What DAS Guard sends out: alerts (SNS), work for later (SQS: a deferred re-check, the sweep's hand-off),
result events (EventBridge) and findings (Security Hub). Each sender reports what the service refused."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3

from ..gateway import AwsError
from .calls import CLIENT_CONFIG, call

SQS_DELAY_LIMIT = 900  # SendMessage's DelaySeconds maximum


class Outbox:
    def __init__(self, session: boto3.Session, *, alert_topic_arn: str | None, queue_url: str | None) -> None:
        self._session = session
        self.alert_topic_arn = alert_topic_arn
        self.queue_url = queue_url

    @cached_property
    def _sns(self) -> Any:
        return self._session.client("sns", config=CLIENT_CONFIG)

    @cached_property
    def _sqs(self) -> Any:
        return self._session.client("sqs", config=CLIENT_CONFIG)

    @cached_property
    def _events(self) -> Any:
        return self._session.client("events", config=CLIENT_CONFIG)

    @cached_property
    def _securityhub(self) -> Any:
        return self._session.client("securityhub", config=CLIENT_CONFIG)

    def publish_alert(self, subject: str, message: str) -> str | None:
        if not self.alert_topic_arn:
            return None
        response = call(
            "sns:Publish", self._sns.publish, TopicArn=self.alert_topic_arn, Subject=subject[:100], Message=message
        )
        return str(response.get("MessageId", ""))

    def schedule_retry(self, body: str, delay_seconds: int) -> None:
        """The same message again, due in `delay_seconds` (at most SQS's 15 minutes)."""
        call(
            "sqs:SendMessage",
            self._sqs.send_message,
            QueueUrl=self._queue("sqs:SendMessage", "cannot defer"),
            MessageBody=body,
            DelaySeconds=max(0, min(delay_seconds, SQS_DELAY_LIMIT)),
        )

    def hand_off(self, bodies: list[str]) -> None:
        """Queue evaluations the sweep had no time for (SendMessageBatch, ten per call)."""
        queue_url = self._queue("sqs:SendMessageBatch")
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
            response = call("sqs:SendMessageBatch", self._sqs.send_message_batch, QueueUrl=queue_url, Entries=entries)
            if response.get("Failed"):
                failed = response["Failed"][0]
                raise AwsError(
                    "sqs:SendMessageBatch", str(failed.get("Code")), str(failed.get("Message")), transient=True
                )

    def put_events(self, entries: list[dict[str, Any]]) -> list[str]:
        """PutEvents, ten entries a call (its limit); returns the error codes of entries EventBridge refused."""
        refused: list[str] = []
        for start in range(0, len(entries), 10):
            response = call("events:PutEvents", self._events.put_events, Entries=entries[start : start + 10])
            refused += [str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")]
        return refused

    def import_findings(self, findings: list[dict[str, Any]]) -> list[str]:
        """BatchImportFindings (at most 100); returns the ids Security Hub refused."""
        response = call("securityhub:BatchImportFindings", self._securityhub.batch_import_findings, Findings=findings)
        return [str(f.get("Id")) for f in response.get("FailedFindings", [])]

    def _queue(self, operation: str, consequence: str = "") -> str:
        if not self.queue_url:
            said = f"; {consequence}" if consequence else ""
            raise AwsError(operation, "NoQueueConfigured", f"DAS_GUARD_QUEUE_URL is not set{said}", transient=False)
        return self.queue_url
