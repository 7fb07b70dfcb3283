"""Lambda entry points. They only adapt the event; the work is in pipeline.py and enforcer.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from .aws import AwsGateway
from .enforcer import Evaluation
from .pipeline import Pipeline
from .policy import PolicyError
from .report import Reporter
from .settings import Settings
from .sweep import Sweeper

SERVICE = "das-guard"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="DASGuard", service=SERVICE)
tracer = Tracer(service=SERVICE)  # X-Ray: the handler, and every boto3 call (patched) as a subsegment
# A failed record is retried on its own; the others in the batch are not redelivered.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_pipeline: Pipeline | None = None


def build_pipeline(settings: Settings, session: boto3.Session | None = None) -> Pipeline:
    gateway = AwsGateway(
        session or boto3.Session(region_name=settings.region),
        policy_parameter=settings.policy_parameter,
        alert_topic_arn=settings.alert_topic_arn,
        queue_url=settings.queue_url,
        cache_seconds=settings.policy_cache_seconds,
        state_table=settings.state_table,
    )

    def first_notice(key: str) -> bool:
        return gateway.first_notice(key, keep_seconds=400 * 86400, now=datetime.now(UTC))

    reporter = Reporter(
        logger,
        metrics,
        gateway.publish_alert,
        account=settings.account,
        region=settings.region,
        policy_parameter=settings.policy_parameter,
        service=SERVICE,
        first_notice=first_notice,
        put_events=gateway.put_events,
        event_bus=settings.event_bus,
    )
    return Pipeline(settings, gateway, reporter, logger)


def pipeline() -> Pipeline:
    """The container's pipeline, built on first use (clients and caches live across invocations)."""
    global _pipeline  # noqa: PLW0603 - one per Lambda container, by design
    if _pipeline is None:
        _pipeline = build_pipeline(Settings.from_env())
    return _pipeline


def reload_configuration(replacement: Pipeline | None = None) -> None:
    """Replace the container's pipeline; with None, the next invocation rebuilds it from the environment.

    For the local demo and the tests, which change the environment or instrument the boto3 session.
    """
    global _pipeline  # noqa: PLW0603
    _pipeline = replacement


@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handle_sweep(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The scheduled reconciliation sweep (EventBridge schedule): every cluster of the region."""
    app = pipeline()
    sweep_id = str(event.get("id") or context.aws_request_id)
    logger.set_correlation_id(sweep_id)
    sweeper = Sweeper(app.gateway, app.enforcer, app.policy, app.reporter, logger)
    try:
        return sweeper.run(sweep_id, context.get_remaining_time_in_millis).as_dict()
    except PolicyError as err:
        app.policy_broken(err)  # the sweep fails (and EventBridge retries it); the alert names the bad fields
        raise


@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handle_queue(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS batch from the EventBridge rules (and our own delayed retries); reports partial failures."""
    app = pipeline()
    batch: dict[str, Evaluation] = {}

    def record_handler(record: SQSRecord) -> str:
        receive_count = int(record.attributes.approximate_receive_count or 1)
        evaluation = app.process(record.body, receive_count=receive_count, batch=batch)
        tracer.put_annotation(key="outcome", value=evaluation.outcome.value)
        return evaluation.outcome.value

    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        app.reporter.flush_results()  # result events of the whole batch, ten per PutEvents
