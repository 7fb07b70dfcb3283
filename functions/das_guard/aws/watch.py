"""DAS Guard's own watch rules, as EventBridge reports them. Each rule watches the other, but a burst that disables
both within seconds beats them: the CloudTrail records arrive after both are off. The daily sweep looks at them
itself, so such a burst is named in the next digest instead of an "all is well"."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3

from ..gateway import AwsError
from .calls import CLIENT_CONFIG, call


class WatchRules:
    def __init__(self, session: boto3.Session, names: tuple[str, ...]) -> None:
        self._session = session
        self.names = names

    @cached_property
    def _events(self) -> Any:
        return self._session.client("events", config=CLIENT_CONFIG)

    def not_watching(self) -> list[str]:
        """One line per rule that is not ENABLED (disabled or deleted); raises AwsError when EventBridge cannot say."""
        problems = []
        for name in self.names:
            try:
                state = call("events:DescribeRule", self._events.describe_rule, Name=name).get("State")
            except AwsError as err:
                if err.code != "ResourceNotFoundException":
                    raise
                state = "DELETED"
            if state != "ENABLED":
                problems.append(
                    f"watch rule {name} is {state or 'in an unknown state'}: changes to DAS Guard are not reported "
                    "until it is enabled again (the stack's template; CloudTrail names who changed it)"
                )
        return problems
