"""What a policy edit changed, in a few lines a person can judge at a glance (the policy-change notice).

Works on the raw documents, so an edit that breaks the policy is still described. Lines that make enforcement
weaker (a softer action, a new or longer exemption, one more principal allowed to stop streams, longer holds)
start with "WEAKER:" - those are the ones an insider would make before stopping a stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ACTION_STRENGTH = {"exempt": 0, "report-only": 1, "enforce": 2}
Weakens = Callable[[str, Any, Any], bool]  # (field, value before, value after) -> the change weakens enforcement
WEAKER = "WEAKER: "


def summarise(before_text: str | None, after_text: str) -> list[str]:
    """One line per change from `before_text` to `after_text` (None: the parameter is new)."""
    after = _document(after_text)
    if after is None:
        return ["the new document is not a JSON object: no cluster can be evaluated until it is fixed"]
    before = _document(before_text) if before_text is not None else None
    if before is None:
        return [
            f"new policy document with {len(_named(after, 'rules'))} rule(s) and "
            f"{len(_named(after, 'exemptions'))} exemption(s)"
        ]
    lines = _defaults(before, after) + _rules(before, after) + _exemptions(before, after) + _stops(before, after)
    lines += _copies(before, after)
    return lines or ["the document was written again without a change in its content"]


def _document(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "")
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _section(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _named(document: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    items = document.get(name)
    if not isinstance(items, list):
        return {}
    return {str(i.get("name")): i for i in items if isinstance(i, dict)}


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)[:200] if value is not None else "(unset)"


def _softer(old: Any, new: Any) -> bool:
    return ACTION_STRENGTH.get(str(new), 2) < ACTION_STRENGTH.get(str(old), 2)


def _field_changes(where: str, old: dict[str, Any], new: dict[str, Any], weaker: Weakens) -> list[str]:
    """One line per field of `where` whose value changed; `weaker(field, was, now)` marks the weakening ones."""
    lines = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was != now:
            line = f"{where}{key}: {_show(was)} -> {_show(now)}"
            lines.append(WEAKER + line if weaker(key, was, now) else line)
    return lines


def _weaker_settings(key: str, was: Any, now: Any) -> bool:
    """A softer action, or stops that are no longer restarted (defaults and rules alike)."""
    return (key == "action" and _softer(was or "enforce", now or "enforce")) or (key == "on_stop" and now == "report")


def _defaults(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return _field_changes("defaults.", _section(before, "defaults"), _section(after, "defaults"), _weaker_settings)


def _rules(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _named(before, "rules"), _named(after, "rules")
    lines = []
    for name in sorted(new.keys() - old.keys()):
        rule = new[name]
        line = f"rule {name!r} added: action {rule.get('action', 'default')}, match {_show(rule.get('match'))}"
        lines.append(WEAKER + line if rule.get("action") in ("exempt", "report-only") else line)
    lines += [f"rule {name!r} removed" for name in sorted(old.keys() - new.keys())]
    for name in sorted(old.keys() & new.keys()):
        lines += _field_changes(
            f"rule {name!r} ", old[name], new[name], lambda k, was, now: k == "match" or _weaker_settings(k, was, now)
        )
    kept_old = [n for n in old if n in new]
    kept_new = [n for n in new if n in old]
    if kept_old != kept_new:
        lines.append(f"WEAKER: rule order changed (the first match wins): {kept_old} -> {kept_new}")
    return lines


def _exemptions(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _named(before, "exemptions"), _named(after, "exemptions")
    lines = []
    for name in sorted(new.keys() - old.keys()):
        e = new[name]
        lines.append(
            f"{WEAKER}exemption {name!r} added: match {_show(e.get('match'))} until {e.get('expires')} "
            f"({e.get('reason', '')!s:.80})"
        )
    lines += [f"exemption {name!r} removed" for name in sorted(old.keys() - new.keys())]
    for name in sorted(old.keys() & new.keys()):
        lines += _field_changes(
            f"exemption {name!r} ",
            old[name],
            new[name],
            lambda k, was, now: k == "match" or (k == "expires" and str(now) > str(was)),
        )
    return lines


def _stops(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _section(before, "stop_allowed"), _section(after, "stop_allowed")
    lines = []
    was = set(old.get("allowed_principals") or []) if isinstance(old.get("allowed_principals"), list) else set()
    now = set(new.get("allowed_principals") or []) if isinstance(new.get("allowed_principals"), list) else set()
    lines += [f"{WEAKER}stop_allowed: {p} may now stop streams without a restart" for p in sorted(now - was, key=str)]
    lines += [f"stop_allowed: {p} removed" for p in sorted(was - now, key=str)]
    if old.get("hold_hours") != new.get("hold_hours"):
        longer = isinstance(new.get("hold_hours"), int) and new["hold_hours"] > (old.get("hold_hours") or 24)
        line = f"stop_allowed.hold_hours: {_show(old.get('hold_hours'))} -> {_show(new.get('hold_hours'))}"
        lines.append(WEAKER + line if longer else line)
    return lines


def _copies(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`softer_copies`: refuse -> notify lets a clone or green cluster keep a softer rule than its source's."""
    was, now = before.get("softer_copies", "notify"), after.get("softer_copies", "notify")
    if was == now:
        return []
    line = f"softer_copies: {_show(was)} -> {_show(now)}"
    return [WEAKER + line if was == "refuse" else line]
