"""Questions compliance teams ask of a policy, answered without AWS: which rules can never match, which
exemptions expired, and which tag changes would move a cluster to another rule. Only the CLI asks them,
so this lives in the CLI package, not in the function's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from das_guard.policy import Exemption, Match, PolicyDocument, Rule, TagCondition, TagPresence, condition_holds


@dataclass(frozen=True)
class Remark:
    level: str  # "error" | "warning" | "info"
    path: tuple[str | int, ...]
    message: str


def _implies(stricter: TagCondition, looser: TagCondition) -> bool:
    """Does every tag value satisfying `stricter` also satisfy `looser`?"""
    if isinstance(looser, TagPresence):
        if isinstance(stricter, TagPresence):
            return stricter.present == looser.present
        return looser.present  # any value (exact or from a list) means the key is present
    if isinstance(stricter, TagPresence):
        return False
    wanted = stricter if isinstance(stricter, list) else [stricter]
    allowed = looser if isinstance(looser, list) else [looser]
    return set(wanted) <= set(allowed)


def shadows(earlier: Match, later: Match) -> bool:
    """True when every cluster `later` matches is already matched by `earlier` (so `later` never applies)."""
    return all(key in later.tags and _implies(later.tags[key], cond) for key, cond in earlier.tags.items())


def review(policy: PolicyDocument, today: date) -> list[Remark]:
    """Semantic problems a schema cannot see."""
    return review_entries(list(enumerate(policy.rules)), list(enumerate(policy.exemptions)), today)


def review_entries(
    rules: Sequence[tuple[int, Rule]], exemptions: Sequence[tuple[int, Exemption]], today: date
) -> list[Remark]:
    """The same checks over rules and exemptions given with their index in the document: a whole policy's, or (the
    CLI, when the document fails the schema) those that are valid on their own, so their locations stay true."""
    remarks: list[Remark] = []
    for position, (j, rule) in enumerate(rules):
        for i, earlier in rules[:position]:
            if shadows(earlier.match, rule.match):
                remarks.append(
                    Remark(
                        "error",
                        ("rules", j, "match"),
                        f"rule {rule.name!r} can never apply: rule {earlier.name!r} (rules[{i}]) "
                        "matches every cluster it matches and comes first",
                    )
                )
                break
    for k, exemption in exemptions:
        if exemption.expires < today:
            remarks.append(
                Remark(
                    "warning",
                    ("exemptions", k, "expires"),
                    f"exemption {exemption.name!r} expired on {exemption.expires.isoformat()}: "
                    "the clusters it names are enforced again",
                )
            )
        elif (exemption.expires - today).days <= 7:
            remarks.append(
                Remark(
                    "info",
                    ("exemptions", k, "expires"),
                    f"exemption {exemption.name!r} expires on {exemption.expires.isoformat()}",
                )
            )
    return remarks


def why_not(rule: Rule, tags: Mapping[str, str]) -> list[str]:
    """The tag conditions of `rule` that the cluster's tags do not meet, each as the change that would meet it."""
    changes = []
    for key, cond in rule.match.tags.items():
        if condition_holds(cond, tags.get(key)):
            continue
        if isinstance(cond, TagPresence):
            changes.append(f"add tag {key!r}" if cond.present else f"remove tag {key!r}")
        elif isinstance(cond, list):
            changes.append(f"set {key}={cond[0]}" if len(cond) == 1 else f"set {key} to one of {', '.join(cond)}")
        else:
            changes.append(f"set {key}={cond}")
    return changes
