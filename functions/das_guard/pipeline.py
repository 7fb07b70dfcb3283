"""One queue message, start to finish: parse, evaluate, follow up, report.

Follow-up is where "nothing is lost" is made true:
- a Deferred cluster is sent back to the queue with a delay (exponential, up to 15 minutes) until it is
  ready or the readiness window ends, when a person is alerted;
- a transient failure (throttling, 5xx, broken policy) fails the message so SQS delivers it again, and on
  the last delivery it is reported as Failed, alerted, and left to SQS to park in the dead-letter queue;
- every other message ends in a recorded outcome.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NoReturn, Protocol

from aws_lambda_powertools import Logger

from .clock import Clock
from .enforcer import Enforcer
from .gateway import AwsError
from .model import Decision, Outcome
from .policy import PolicyError
from .report import Reporter
from .settings import Settings
from .triggers import Dismissal, Target, parse_message


class RetryLater(Exception):
    """Raised to fail one queue message so that SQS delivers it again (and finally to the DLQ)."""


class Scheduler(Protocol):
    """Where a deferred cluster's next check goes (the function's own queue, with a delay)."""

    def schedule_retry(self, body: str, delay_seconds: int) -> None: ...


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        enforcer: Enforcer,
        reporter: Reporter,
        *,
        scheduler: Scheduler,
        logger: Logger,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._enforcer = enforcer
        self._reporter = reporter
        self._scheduler = scheduler
        self._logger = logger
        self._clock = clock

    def process(self, body: str, *, receive_count: int = 1, batch: dict[str, Decision] | None = None) -> Decision:
        """Handle one message. Returns its evaluation, or raises RetryLater to have SQS deliver it again.

        `batch` maps clusters already evaluated in this batch to their evaluation, so that the several events
        one creation produces (API call, RDS event, instance events) cost one evaluation.
        """
        batch = {} if batch is None else batch
        parsed = parse_message(
            body, region=self._settings.region, account=self._settings.account, now=self._clock.now()
        )
        if isinstance(parsed, Dismissal):
            evaluation = Decision(parsed.outcome, parsed.reason, parsed.detail)
            self._logger.set_correlation_id(parsed.event_id or None)
            self._reporter.record(evaluation, trigger=parsed.trigger, event_id=parsed.event_id)
            return evaluation

        self._logger.set_correlation_id(parsed.event_id or None)
        if parsed.stop is None and parsed.key in batch:  # a stop is never folded into another event
            earlier = batch[parsed.key]
            self._logger.info(
                f"coalesced: {parsed.key} was evaluated earlier in this batch",
                extra={"coalesced_into": earlier.outcome.value, "coalesced_trigger": parsed.trigger},
            )
            return earlier
        try:
            *reports, evaluation = self._enforcer.evaluate(parsed)
            if evaluation.outcome is Outcome.DEFERRED:
                evaluation = self._defer(parsed, evaluation)
        except PolicyError as err:
            self._reporter.policy_broken(err)
            self._retry_or_give_up(
                parsed,
                "PolicyInvalid",
                str(err),
                receive_count,
                fix="Fix the policy document (see README, 'The policy document').",
            )
        except AwsError as err:
            fix = (
                "AWS kept failing (throttling or an outage); redrive the DLQ once it recovers."
                if err.transient
                else f"AWS refused {err.operation} ({err.code}): check the DAS Guard role's permissions and the "
                "resource, then redrive the DLQ."
            )
            self._retry_or_give_up(parsed, err.code, str(err), receive_count, fix=fix)
        except Exception as err:
            self._logger.exception("unexpected error while evaluating", extra={"cluster_id": parsed.cluster_id})
            self._retry_or_give_up(
                parsed,
                "InternalError",
                f"{type(err).__name__}: {err}",
                receive_count,
                fix="This is a DAS Guard bug: keep the log lines and report it; redrive the DLQ after upgrading.",
            )

        for key in {parsed.key, f"cluster:{evaluation.cluster_id}"}:
            batch[key] = evaluation
        for report in reports:
            self._reporter.record(report, trigger=parsed.trigger, event_id=parsed.event_id)
        self._reporter.record(evaluation, trigger=parsed.trigger, event_id=parsed.event_id)
        return evaluation

    def _retry_or_give_up(self, target: Target, reason: str, detail: str, receive_count: int, *, fix: str) -> NoReturn:
        """Fail the message so SQS redelivers it; on its last delivery, record Failed and alert first."""
        if receive_count < self._settings.max_receive_count:
            self._logger.warning(
                f"will retry: {detail}",
                extra={
                    "reason": reason,
                    "receive_count": receive_count,
                    "cluster_id": target.cluster_id,
                    "instance_id": target.instance_id,
                },
            )
            raise RetryLater(detail)
        failed = Decision(
            Outcome.FAILED,
            reason,
            f"gave up after {receive_count} deliveries: {detail}; the message goes to the DLQ",
            cluster_id=target.cluster_id,
            fix=fix,
        )
        self._reporter.record(failed, trigger=target.trigger, event_id=target.event_id)
        raise RetryLater(detail)

    def _defer(self, target: Target, evaluation: Decision) -> Decision:
        waited = self._clock.now() - target.first_seen
        if waited > self._settings.readiness_timeout:
            minutes = int(waited.total_seconds() // 60)
            return replace(
                evaluation,
                outcome=Outcome.FAILED,
                reason="ReadinessTimeout",
                detail=f"still not ready after {minutes} minutes ({evaluation.reason}: {evaluation.detail})",
                fix="Make the cluster available with at least one available instance of a supported class. "
                "DAS Guard will start the stream on the next instance-created event.",
            )
        assert evaluation.cluster_id is not None
        retry = replace(target, cluster_id=evaluation.cluster_id, instance_id=None, stop=None)
        delay = (
            self._settings.retry_max_seconds  # CloudTrail may take minutes to say who stopped a stream
            if evaluation.reason == "AwaitingAttribution"
            else self._settings.retry_delay(target.attempt)
        )
        self._scheduler.schedule_retry(retry.retry_message(), delay)
        return replace(
            evaluation, detail=f"{evaluation.detail}; next check in {delay} s (attempt {target.attempt + 1})"
        )
