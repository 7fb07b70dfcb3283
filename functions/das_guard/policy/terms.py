"""The policy's vocabulary, without its schema: actions, modes, what a rule resolves to, what a broken policy
raises. Plain Python: the schema (schema.py) is a pydantic model whose building costs about 100 ms, and a cold
start needs only these names (docs/benchmarks.md, cold start)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

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
