"""Parsing and validation of the policy document, every problem in plain words with its field. The schema and tag
matching are in schema.py, the vocabulary (no pydantic) in terms.py; `das_guard.policy` is the one name to import
any of them by.

The document is owned by the compliance team and stored as JSON in one SSM parameter. Cluster tags only
*select* a rule; everything a rule does (enforce, report, exempt, key, mode) is written in the document.
"""

from __future__ import annotations

import difflib
import json
from datetime import date
from typing import Any

from pydantic import ValidationError

from .schema import (
    Defaults,
    Exemption,
    ExemptionMatch,
    Match,
    PolicyDocument,
    Rule,
    StopPolicy,
)
from .terms import (
    MAX_EXEMPTION_DAYS,
    PolicyError,
)

TAG_CONDITION_HELP = 'must be a tag value (string), a list of values, or {"present": true} / {"present": false}'
_UNION_MEMBERS = ("str", "TagPresence")


class DuplicateKeyError(ValueError):
    """A JSON object names a key twice: JSON parsers silently keep the last, which can hide a weakening edit."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(f"key {key!r} appears twice in one object; only one value may be given")
        seen[key] = value
    return seen


def parse_policy(
    text: str, source: str = "policy", *, today: date | None = None, max_exemption_days: int = MAX_EXEMPTION_DAYS
) -> PolicyDocument:
    """Parse and validate a JSON policy document, or raise PolicyError naming every bad field. With `today`,
    exemptions may end at most `max_exemption_days` later."""
    try:
        raw: Any = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except DuplicateKeyError as err:
        raise PolicyError([str(err)], source) from err
    except json.JSONDecodeError as err:
        raise PolicyError([f"not valid JSON at line {err.lineno} column {err.colno}: {err.msg}"], source) from err
    except RecursionError as err:
        raise PolicyError(["the document is nested too deeply"], source) from err
    return validate_policy(raw, source, today=today, max_exemption_days=max_exemption_days)


def validate_policy(
    raw: Any, source: str = "policy", *, today: date | None = None, max_exemption_days: int = MAX_EXEMPTION_DAYS
) -> PolicyDocument:
    """Validate an already parsed document (the CLI reads JSON or YAML files itself, to report line numbers)."""
    if not isinstance(raw, dict):
        raise PolicyError([f"the document must be a JSON object, not {type(raw).__name__}"], source)
    try:
        return PolicyDocument.model_validate(raw, context={"today": today, "max_exemption_days": max_exemption_days})
    except ValidationError as err:
        problems, locations = _problems(err.errors())
        raise PolicyError(problems, source, locations) from err


def _problems(errors: list[Any]) -> tuple[list[str], list[tuple[str | int, ...]]]:
    """One message per bad field. A tag condition that fits none of its three forms gets one message, not three."""
    problems: list[str] = []
    locations: list[tuple[str | int, ...]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        union_at = next((i for i, part in enumerate(loc) if _is_union_member(part)), None)
        if union_at is not None:
            loc = loc[:union_at]
            message = f"{_json_path(loc)}: {TAG_CONDITION_HELP}"
        else:
            path = _json_path(loc)
            text = _plain_words(error, loc)
            message = f"{path}: {text}" if path else text
        if message not in problems:
            problems.append(message)
            locations.append(loc)
    return problems, locations


def _plain_words(error: Any, loc: tuple[Any, ...]) -> str:
    """pydantic's message in the words of a policy author: what was expected, and the likely fix."""
    kind = str(error.get("type", ""))
    text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if kind == "extra_forbidden" and loc and isinstance(loc[-1], str):
        close = difflib.get_close_matches(loc[-1], sorted(_FIELD_NAMES), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown field {loc[-1]!r}{hint}"
    if kind.startswith(("date_", "datetime_")):
        return f"must be a date written YYYY-MM-DD, e.g. 2027-03-31 (got {error.get('input')!r})"
    if kind == "missing":
        return "required field is missing"
    if kind == "enum" and "expected" in error.get("ctx", {}):
        return f"must be one of {error['ctx']['expected']} (got {error.get('input')!r})"
    return text


def _is_union_member(part: Any) -> bool:
    return isinstance(part, str) and (part in _UNION_MEMBERS or part.startswith(("list[", "constrained-str")))


def _json_path(loc: tuple[Any, ...]) -> str:
    """pydantic's location tuple as a readable path, e.g. rules[2].match.tags.env."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _field_names() -> frozenset[str]:
    names: set[str] = set()
    for model in (PolicyDocument, Defaults, Rule, Match, Exemption, ExemptionMatch, StopPolicy):
        names |= set(model.model_fields)
    return frozenset(names)


_FIELD_NAMES = _field_names()
