"""EventBridge event-pattern matching, for the subset of the pattern language DAS Guard's rules use.

Semantics from the EventBridge user guide ("Amazon EventBridge event patterns"): every field named in the
pattern must match; a list of values matches if any matches; an event array matches if any element does;
fields not named are ignored; `{"exists": false}` matches a missing field; `"$or": [p1, p2]` matches if any of the
patterns does (together with the other fields beside it). Operators this helper does not know raise, so a template
change that relies on one cannot pass the routing tests silently.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if isinstance(event, list):  # an array of objects matches if one of them does (CloudTrail's `resources`)
        return any(matches(pattern, element) for element in event)
    if not isinstance(event, dict):
        return False
    for field, rule in pattern.items():
        if field == "$or":
            if not any(matches(alternative, event) for alternative in rule):
                return False
            continue
        value = event.get(field, _MISSING)
        if isinstance(rule, dict):
            if value is _MISSING or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_matches_value(matcher, value) for matcher in rule):
                return False
        else:
            raise ValueError(f"pattern field {field!r} must be an object or an array, not {rule!r}")
    return True


def _matches_value(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, dict):
        return _operator(matcher, value)
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_matches_value(matcher, v) for v in value)
    return bool(matcher == value and type(matcher) is type(value))


def _operator(matcher: dict[str, Any], value: Any) -> bool:
    [(name, argument)] = matcher.items()
    if name == "exists":
        return (value is not _MISSING) == bool(argument)
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_operator(matcher, v) for v in value)
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(argument).lower()
    if name == "wildcard":
        # `*` matches any run of characters (`\\*` is a literal star, unused here); everything else is literal
        regex = ".*".join(re.escape(part) for part in str(argument).split("*"))
        return isinstance(value, str) and re.fullmatch(regex, value) is not None
    if name == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return value not in excluded
    raise ValueError(f"event-pattern operator {name!r} is not supported by this test helper")
