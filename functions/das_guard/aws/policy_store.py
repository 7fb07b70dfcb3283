"""SSM: the central policy document - its current text (cached for a minute) and its version history."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3

from ..clock import Clock
from ..gateway import AwsError
from .calls import CLIENT_CONFIG, TtlCache, call, pages


class PolicyParameter:
    def __init__(self, session: boto3.Session, clock: Clock, parameter: str, *, cache_seconds: float = 60.0) -> None:
        self._session = session
        self.parameter = parameter
        self._cache = TtlCache(cache_seconds, clock)
        self.version: int | None = None  # of the policy text last read

    @cached_property
    def _ssm(self) -> Any:
        """In the policy parameter's own region: an organisation's policy is one parameter, shared through AWS RAM
        from the security account, and a shared parameter is read by its ARN in the region it lives in."""
        return self._session.client("ssm", config=CLIENT_CONFIG, region_name=parameter_region(self.parameter))

    def text(self) -> str:
        """The policy document, cached for `cache_seconds` (by the injected clock, hence not Powertools
        Parameters, whose cache follows the wall clock).

        Every failure to read it is reported as transient: the cure (creating or fixing the parameter,
        or its IAM permission) happens outside this function, and the events must wait for it, not be lost.
        """
        return self._cache.get_or_load(self.parameter, self._read)

    def _read(self) -> str:
        try:
            response = call("ssm:GetParameter", self._ssm.get_parameter, Name=self.parameter)
        except AwsError as err:
            raise AwsError(err.operation, err.code, err.message, transient=True) from err
        self.version = int(response["Parameter"].get("Version") or 0)  # for evidence (the CLI's audit)
        return str(response["Parameter"]["Value"])

    def versions(self, version: int | None) -> tuple[str | None, str, int]:
        """(the text before `version`, the text of `version`, its number) from the parameter's history, read
        live; the newest version when `version` is None or unknown. None: there was no earlier version."""
        history = [
            entry
            for page in pages(self._ssm, "ssm:GetParameterHistory", "Parameters", Name=self.parameter)
            for entry in page
        ]
        history.sort(key=lambda p: int(p.get("Version", 0)))
        if not history:
            raise AwsError("ssm:GetParameterHistory", "ParameterNotFound", self.parameter, transient=True)
        index = next((i for i, p in enumerate(history) if p.get("Version") == version), len(history) - 1)
        before = str(history[index - 1]["Value"]) if index > 0 else None
        return before, str(history[index]["Value"]), int(history[index]["Version"])


def parameter_region(parameter: str) -> str | None:
    """The region of a parameter given by ARN (arn:aws:ssm:<region>:<account>:parameter/...); None for a name."""
    parts = parameter.split(":")
    return parts[3] if parameter.startswith("arn:") and len(parts) > 5 and parts[3] else None
