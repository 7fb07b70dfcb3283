"""The policy's vocabulary, without its schema: what a rule resolves to, what a broken policy raises, and the
source that parses the document when it is first needed.

The schema (policy.py) is a pydantic model; building it costs about 100 ms, so the Lambda's import does not
load it: the first policy read does (docs/benchmarks.md, cold start). Everything that only needs these names
imports them from here; policy.py re-exports them for the CLI and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .policy import PolicyDocument

SCHEMA_VERSION = 1
MAX_EXEMPTION_DAYS = 365  # default of the deployment's MaxExemptionDays: no exemption runs for years


class Action(StrEnum):
    ENFORCE = "enforce"
    REPORT_ONLY = "report-only"
    EXEMPT = "exempt"


NEW_CLUSTERS: Literal["new-clusters"] = (
    "new-clusters"  # apply_immediately: at once on a cluster still being brought up, else in its window
)
ApplyImmediately = bool | Literal["new-clusters"]


class StreamMode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


class OnStop(StrEnum):
    """What enforce rules do when somebody stops a stream: start it again, or only report it."""

    RESTART = "restart"
    REPORT = "report"


class Reader(StrEnum):
    """Who must be reading a stream's records before they expire from Kinesis."""

    NONE = "none"  # nobody need: retention alone is checked
    ANY = "any"  # some reader: an enhanced fan-out consumer, a Lambda event source mapping or a Firehose stream
    ARCHIVE = "archive"  # DAS Guard's own archive (a Firehose delivery stream into the records bucket)


KINESIS_MIN_RETENTION_HOURS = 24  # Kinesis' minimum, and what Aurora creates the stream with
KINESIS_MAX_RETENTION_HOURS = 8760  # 365 days: IncreaseStreamRetentionPeriod's maximum


@dataclass(frozen=True)
class RecordsTerms:
    """How a rule's records are kept: the Kinesis stream keeps them `retention_hours` at least, and `reader` says
    who must read them in that time."""

    retention_hours: int = KINESIS_MIN_RETENTION_HOURS
    reader: Reader = Reader.NONE


@dataclass(frozen=True)
class EffectiveRule:
    name: str
    action: Action
    mode: StreamMode
    kms_key: str | None
    apply_immediately: ApplyImmediately
    reason: str
    on_stop: OnStop = OnStop.RESTART
    records: RecordsTerms | None = None  # None: records are not checked (the policy does not say how they are kept)


class PolicyError(ValueError):
    """The policy document cannot be used. `problems` name the offending field (JSON path) of each error;
    `locations` holds the same field as a path tuple (for tools that map it to a line of the file)."""

    def __init__(
        self, problems: list[str], source: str = "policy", locations: list[tuple[str | int, ...]] | None = None
    ) -> None:
        self.problems = problems
        self.source = source
        self.locations = locations if locations is not None else [() for _ in problems]
        super().__init__(f"{source} is invalid: " + "; ".join(problems))


class PolicySource:
    """The parsed policy, re-parsed only when the parameter's text changes (a warm container reads the text
    from its cache and skips validation as long as nobody edits the document)."""

    def __init__(
        self,
        fetch: Callable[[], str],
        source: str,
        *,
        today: Callable[[], date] | None = None,
        max_exemption_days: int = MAX_EXEMPTION_DAYS,
    ) -> None:
        self._fetch = fetch
        self._source = source
        self._today = today
        self._max_exemption_days = max_exemption_days
        self._parsed: tuple[str, PolicyDocument] | None = None

    def __call__(self) -> PolicyDocument:
        text = self._fetch()
        if self._parsed is None or self._parsed[0] != text:
            from .policy import parse_policy  # noqa: PLC0415 - pydantic loads with the first policy read

            today = self._today() if self._today else None
            parsed = parse_policy(text, self._source, today=today, max_exemption_days=self._max_exemption_days)
            self._parsed = (text, parsed)
        return self._parsed[1]
