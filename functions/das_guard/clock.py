"""The one place DAS Guard reads the wall clock.

Every decision that depends on time - how long a new cluster has been waiting, when a break-glass hold ends,
whether an exemption has expired, when a cached policy is stale, when an alert may repeat - asks a `Clock`
handed in by the composition root (`app.py`). In Lambda that is `SystemClock`; the local world (`localaws`)
hands in a clock it can move, so a scenario can let three hours pass in a millisecond and a test gives the
same answer on any day. A test fails if any other module of the function calls `datetime.now()` or
`time.time()` itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time (the only wall-clock read in the function)."""

    def now(self) -> datetime:
        return datetime.now(UTC)
