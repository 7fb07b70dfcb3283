"""The one shape of an output. Every place a decision goes besides its log line and metrics - SNS alerts, EventBridge
result events, Security Hub findings - is a `Channel`: the Reporter hands each channel every decision with its one
serialisation (`detail`, `report.result_detail`), the sweep's report once the sweep is done, and asks it to flush
after each batch of messages and at the end of a sweep.

A channel never raises into the decision it reports: it tells of its own failures through `Signals` (a log line and a
metric the template alarms on). Add one: a class with the three methods below and one entry in `app.build`'s
channels (docs/contributing.md, "Add an output channel").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..model import Decision


@dataclass(frozen=True)
class SweepReport:
    """What a sweep tells its channels when it is done."""

    summary: Mapping[str, Any]  # the counts (sweep.SweepSummary.as_dict: docs/evidence.md, "Sweep summary")
    needs_a_person: Sequence[str]  # one line per violation, lost stream, uncovered region, watch rule off
    softened: Sequence[str]  # running streams now guarded by a softer rule
    live: Sequence[str]  # the DbClusterResourceId of every cluster the sweep saw (what is not here was deleted)


class Channel(Protocol):
    def take(self, evaluation: Decision, detail: Mapping[str, Any], *, summarised: bool) -> None:
        """One decision and its result detail. `summarised`: a sweep's, which its summary reports (a channel may
        leave out the steady ones)."""

    def sweep_done(self, report: SweepReport) -> None:
        """The sweep has evaluated every cluster it could."""

    def flush(self) -> None:
        """Send what is queued; never raises."""


class Signals:
    """Metrics and failure reports for the reporter and its channels, built before either (so no channel is
    attached after construction): `count` is a decision's metric, `problem` a channel's own failure."""

    def __init__(self, logger: Logger, metrics: Metrics, *, service: str = "das-guard") -> None:
        self.logger = logger
        self._metrics = metrics
        self._service = service

    def count(self, name: str, reason: str, *, dimension: str = "Reason", value: int = 1) -> None:
        """One metric per outcome (for alarms) plus a per-reason breakdown (for dashboards); `Compliance` is counted
        by state (pass, fail, pending, exempt, not-applicable) the same way."""
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=self._metrics.namespace,
            default_dimensions={"service": self._service},
        ) as metric:
            metric.add_dimension(name=dimension, value=reason or "None")

    def metric(self, name: str, value: float) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def problem(
        self,
        metric: str,
        message: str,
        err: Exception | None = None,
        fields: dict[str, Any] | None = None,
        count: int = 1,
    ) -> None:
        """A channel failed: logged (with the exception, where there is one) and counted under `metric`."""
        if err is not None:
            self.logger.exception(message, extra=fields or {})
        else:
            self.logger.error(message, extra=fields or {})
        self.metric(metric, count)
