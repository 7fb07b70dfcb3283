"""One queue message, start to finish: parse, evaluate, follow up, report.

Follow-up is where "nothing is lost" is made true:
- a Deferred cluster is sent back to the queue with a delay (1, 2, then every 3 minutes) until it is
  ready or the readiness window ends, when a person is alerted;
- a transient failure (throttling, 5xx, broken policy) fails the message so SQS delivers it again, and on
  the last delivery it is reported as Failed, alerted, and left to SQS to park in the dead-letter queue;
- every other message ends in a recorded outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn, Protocol

from aws_lambda_powertools import Logger

from .clock import Clock
from .enforcer import Enforcer
from .gateway import AwsError
from .model import Decision, Outcome
from .outputs.report import Reporter
from .policy import PolicyError
from .policy.changes import WEAKER, summarise
from .settings import Settings
from .triggers import Dismissal, PolicyChange, Target, parse_message

PolicyVersions = Callable[[int | None], tuple[str | None, str, int]]
BUG_FIX = "This is a DAS Guard bug: keep the log lines and report it; redrive the DLQ after upgrading."


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
        policy_versions: PolicyVersions | None = None,
    ) -> None:
        self._settings = settings
        self._policy_versions = policy_versions
        self._enforcer = enforcer
        self._reporter = reporter
        self._scheduler = scheduler
        self._logger = logger
        self._clock = clock

    def process(self, body: str, *, receive_count: int = 1, batch: dict[str, Decision] | None = None) -> Decision:
        """Handle one message. Returns its evaluation, or raises RetryLater to have SQS deliver it again.

        `batch` maps clusters already evaluated in this batch to their evaluation, so that the several events
        one creation produces (API call, RDS event, instance events) cost one evaluation. Whatever fails, even
        before a cluster is known, is a log line, and on the last delivery a Failed record: never a silent retry.
        """
        try:
            return self._process(body, receive_count=receive_count, batch={} if batch is None else batch)
        except RetryLater:
            raise
        except Exception as err:
            self._logger.exception("message could not be handled", extra={"receive_count": receive_count})
            if receive_count >= self._settings.max_receive_count:
                failed = Decision(
                    Outcome.FAILED,
                    "InternalError",
                    f"gave up after {receive_count} deliveries: {type(err).__name__}: {err}; the message goes to "
                    "the DLQ",
                    fix=BUG_FIX,
                )
                self._reporter.record(failed, trigger="unknown", event_id="")
            raise RetryLater(f"{type(err).__name__}: {err}") from err

    def _process(self, body: str, *, receive_count: int, batch: dict[str, Decision]) -> Decision:
        parsed = parse_message(
            body,
            region=self._settings.region,
            account=self._settings.account,
            now=self._clock.now(),
            policy_parameter=self._settings.policy_parameter,
        )
        if isinstance(parsed, PolicyChange):
            self._logger.set_correlation_id(parsed.event_id or None)
            return self._announce(parsed, receive_count)
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
            if parsed.stop is not None and receive_count == 1:
                self._stop_while_blind(parsed)
            self._retry_or_give_up(
                parsed,
                "PolicyInvalid",
                str(err),
                receive_count,
                fix="Fix the policy document (see docs/policy.md).",
            )
        except AwsError as err:
            fix = (
                "AWS kept failing (throttling or an outage); redrive the DLQ once it recovers."
                if err.transient
                else f"AWS refused {err.operation} ({err.code}): check the DAS Guard role's permissions and the "
                "resource, then redrive the DLQ."
            )
            self._retry_or_give_up(parsed, "AwsCallFailed", str(err), receive_count, fix=fix)  # str(err): the code
        except Exception as err:
            self._logger.exception("unexpected error while evaluating", extra={"cluster_id": parsed.cluster_id})
            self._retry_or_give_up(
                parsed,
                "InternalError",
                f"{type(err).__name__}: {err}",
                receive_count,
                fix=BUG_FIX,
            )

        for key in {parsed.key, f"cluster:{evaluation.cluster_id}"}:
            batch[key] = evaluation
        for report in reports:
            self._reporter.record(report, trigger=parsed.trigger, event_id=parsed.event_id)
        self._reporter.record(evaluation, trigger=parsed.trigger, event_id=parsed.event_id)
        return evaluation

    def _announce(self, change: PolicyChange, receive_count: int) -> Decision:
        """Tell what a policy edit changed (read from the parameter's history, not from the event), who made it,
        and whether the new document is valid, so an edit that weakens enforcement is news at once."""
        if self._policy_versions is None:
            return Decision(Outcome.IGNORED, "NoPolicyHistory", "policy change seen; no history reader configured")
        try:
            before, after, version = self._policy_versions(change.version)
        except AwsError as err:
            if receive_count < self._settings.max_receive_count:
                self._logger.warning(f"will retry: {err}", extra={"reason": err.code, "receive_count": receive_count})
                raise RetryLater(str(err)) from err
            failed = Decision(
                Outcome.FAILED,
                "AwsCallFailed",
                f"could not read the policy's history to announce a change by {change.changed_by}: {err}",
                fix="Allow ssm:GetParameterHistory on the policy parameter; read the change in the SSM console.",
            )
            self._reporter.record(failed, trigger=change.trigger, event_id=change.event_id)
            raise RetryLater(str(err)) from err
        changes = summarise(before, after)
        problems: list[str] = []
        try:
            from .policy import parse_policy  # noqa: PLC0415 - the schema loads only where a document is parsed

            parse_policy(after, today=self._clock.now().date(), max_exemption_days=self._settings.max_exemption_days)
        except PolicyError as err:
            problems = err.problems
        weaker = sum(line.startswith(WEAKER) for line in changes)
        announced = Decision(
            Outcome.ANNOUNCED,
            "PolicyChanged",
            f"policy version {version} written by {change.changed_by}: {len(changes)} change(s), {weaker} weaker"
            + (f"; the new document is INVALID ({len(problems)} problem(s))" if problems else ""),
        )
        self._reporter.policy_changed(changes, problems, who=change.changed_by, version=version)
        self._reporter.record(announced, trigger=change.trigger, event_id=change.event_id)
        return announced

    def _stop_while_blind(self, target: Target) -> None:
        """A stop arrived while the policy cannot be read (perhaps broken on purpose, just before the stop): it is
        news now, not when somebody fixes the policy. Whether it was allowed is decided on redelivery."""
        assert target.stop is not None
        who = target.stop.principal if target.stop.known else "someone (RDS reports it; see CloudTrail)"
        self._reporter.record(
            Decision(
                Outcome.TAMPERED,
                "StoppedWhilePolicyInvalid",
                f"activity stream stopped by {who}; the policy document is invalid, so DAS Guard cannot tell whether "
                "this principal may stop streams, nor restart it: the event is retried until the policy is fixed",
                cluster_id=target.cluster_id,
                actor=target.stop,
                fix="Fix the policy document now (see the policy-invalid alert), then check who stopped the stream.",
            ),
            trigger=target.trigger,
            event_id=target.event_id,
        )

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
        """Check the cluster again later: the same message, due after the next delay (decide() has already
        turned a deferral past the readiness window into Failed/ReadinessTimeout)."""
        assert evaluation.cluster_id is not None
        retry = replace(target, cluster_id=evaluation.cluster_id, instance_id=None, stop=None)
        delay = (
            # CloudTrail may take minutes to say who stopped a stream (a break-glass stop then places its hold first);
            # a stopped PostgreSQL stream waits as long for its upgrade to begin
            self._settings.attribution_wait_seconds
            if evaluation.reason in ("AwaitingAttribution", "AwaitingUpgrade")
            else self._settings.retry_delay(target.attempt)
        )
        self._scheduler.schedule_retry(retry.retry_message(), delay)
        return replace(
            evaluation, detail=f"{evaluation.detail}; next check in {delay} s (attempt {target.attempt + 1})"
        )
