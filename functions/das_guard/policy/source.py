"""The policy document as the functions read it: fetched (from SSM, through a gateway), parsed the first time it is
needed and again only when its text changes. Parsing loads pydantic, so it is imported here, on the first read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from .terms import MAX_EXEMPTION_DAYS

if TYPE_CHECKING:
    from .schema import PolicyDocument


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
            from .document import parse_policy  # noqa: PLC0415 - pydantic loads with the first policy read

            today = self._today() if self._today else None
            parsed = parse_policy(text, self._source, today=today, max_exemption_days=self._max_exemption_days)
            self._parsed = (text, parsed)
        return self._parsed[1]
