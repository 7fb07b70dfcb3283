"""The local RDS's clock: moto's own, or the local world's (`use_clock`), so creation times and maintenance
windows follow a simulated clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import moto.rds.models as moto_rds

_clock: Callable[[], datetime] | None = None
_moto_utcnow: Callable[[], datetime] = moto_rds.utcnow  # type: ignore[attr-defined]


def now() -> datetime:
    """Naive UTC, as moto keeps its times."""
    return _clock().astimezone(UTC).replace(tzinfo=None) if _clock else _moto_utcnow()


def use_clock(clock: Callable[[], datetime] | None) -> None:
    """RDS's own times (cluster creation, maintenance windows) follow `clock` (the local world's), or moto's again."""
    global _clock  # noqa: PLW0603
    _clock = clock
    moto_rds.utcnow = now if clock else _moto_utcnow  # type: ignore[attr-defined]
