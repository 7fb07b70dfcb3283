"""Lambda entry points. They only adapt the event (an SQS batch, a schedule) and hand it to the container's
`App` (app.py); what happens to a cluster is in enforcer.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from .app import App, from_environment
from .model import Decision
from .observability import annotate, logger, metrics, traced
from .policy import PolicyError

QueueHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]
SweepHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


@dataclass(frozen=True)
class EntryPoints:
    queue: QueueHandler
    sweep: SweepHandler


def entry_points(container: Callable[[], App]) -> EntryPoints:
    """The two handlers, serving the `App` that `container()` returns.

    Lambda's come from the environment, once per container (below). The local world makes a pair per account
    and region, each serving that region's App: the same decorated code, no module state swapped in and out.
    """
    # A failed record is retried on its own; the others in the batch are not redelivered.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @traced
    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def handle_queue(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        """SQS batch from the EventBridge rules (and our own delayed retries); reports partial failures."""
        app = container()
        if not _is_sqs_batch(event) or not event["Records"]:
            # Only the SQS event source should invoke this function; anything else (someone with
            # lambda:InvokeFunction) is logged and answered, never a crash loop.
            logger.error("not an SQS batch (or an empty one): ignored", extra={"event_type": type(event).__name__})
            app.reporter.count("Ignored", "NotAnSqsBatch")
            return {"batchItemFailures": []}
        batch: dict[str, Decision] = {}

        def record_handler(record: SQSRecord) -> str:
            count = str(record.attributes.approximate_receive_count or "1")
            receive_count = int(count) if count.isdigit() and len(count) < 6 else 1
            decision = app.pipeline.process(record.body, receive_count=receive_count, batch=batch)
            annotate("outcome", decision.outcome.value)
            return decision.outcome.value

        try:
            return process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        finally:
            app.reporter.flush_results()  # result events of the whole batch, ten per PutEvents

    @traced
    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def handle_sweep(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The scheduled reconciliation sweep (EventBridge schedule): every cluster of the region."""
        app = container()
        if not isinstance(event, dict):
            # The schedule sends an object (so does `aws lambda invoke` by hand, with {}); anything else is somebody
            # else's invocation: logged, counted and answered, never a crash.
            logger.error("not a scheduled event: ignored", extra={"event_type": type(event).__name__})
            app.reporter.count("Ignored", "NotAScheduledEvent")
            return {"ignored": "NotAScheduledEvent"}
        sweep_id = str(event.get("id") or context.aws_request_id)[:128]
        logger.set_correlation_id(sweep_id)
        try:
            return app.sweeper.run(sweep_id, context.get_remaining_time_in_millis).as_dict()
        except PolicyError as err:
            app.reporter.policy_broken(err)  # the sweep fails (EventBridge retries it); the alert names the fields
            raise

    return EntryPoints(handle_queue, handle_sweep)


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and all(
        isinstance(r, dict) and isinstance(r.get("body"), str) and isinstance(r.get("messageId"), str) for r in records
    )


_lambda = entry_points(cache(from_environment))  # one App per Lambda container, built on first use
handle_queue = _lambda.queue
handle_sweep = _lambda.sweep
