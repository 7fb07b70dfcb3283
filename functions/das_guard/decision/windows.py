"""RDS maintenance windows (`PreferredMaintenanceWindow`, "ddd:hh24:mi-ddd:hh24:mi" in UTC): when the next one
begins and ends. Pure; a window that cannot be read is None (callers then use a bound of their own)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):(\d\d):(\d\d)-(mon|tue|wed|thu|fri|sat|sun):(\d\d):(\d\d)$")
WEEK = timedelta(days=7)


def _minute_of_week(day: str, hour: str, minute: str) -> int | None:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        return None
    return DAYS.index(day) * 1440 + h * 60 + m


def next_window(window: str, after: datetime) -> tuple[datetime, datetime] | None:
    """(start, end) of the first window that begins after `after` (a start requested for "the next maintenance
    window" waits for one that has not begun yet). None if `window` is not a window."""
    m = _WINDOW.match(window.strip().lower())
    if not m:
        return None
    start = _minute_of_week(*m.group(1, 2, 3))
    end = _minute_of_week(*m.group(4, 5, 6))
    if start is None or end is None:
        return None
    length = timedelta(minutes=(end - start) % (7 * 1440) or 7 * 1440)
    moment = after.astimezone(UTC) if after.tzinfo else after.replace(tzinfo=UTC)
    monday = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    begins = monday + timedelta(minutes=start)
    while begins <= moment:
        begins += WEEK
    return begins, begins + length
