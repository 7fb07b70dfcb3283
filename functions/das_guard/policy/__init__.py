"""The central policy document, owned by the compliance team: cluster tags select a rule, only the document says what
a rule does. `from das_guard.policy import X` is the one way to import any of it:

    terms.py     the vocabulary a decision needs (actions, modes, the effective rule, PolicyError) - no pydantic
    source.py    PolicySource: the document as the functions read it, parsed again only when its text changes
    schema.py    the document's pydantic schema and tag matching
    document.py  parsing and validation, every problem in plain words with its field
    changes.py   what an edit changed, the weakening lines marked (the policy-change notice)

The vocabulary is imported here at once; the schema and the parser only on first use (building the pydantic models
costs about 100 ms), so a cold start that has not read a policy yet never loads pydantic
(tests/unit/test_cold_start_imports.py). Modules that only annotate with the schema's types import them under
TYPE_CHECKING.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .source import PolicySource
from .terms import (
    KINESIS_MAX_RETENTION_HOURS,
    KINESIS_MIN_RETENTION_HOURS,
    MAX_EXEMPTION_DAYS,
    NEW_CLUSTERS,
    SCHEMA_VERSION,
    Action,
    ApplyImmediately,
    EffectiveRule,
    OnStop,
    PolicyError,
    Reader,
    RecordsTerms,
    StreamMode,
)

if TYPE_CHECKING:
    from .document import TAG_CONDITION_HELP, DuplicateKeyError, parse_policy, validate_policy
    from .schema import (
        AWS_MANAGED_ALIAS,
        KMS_KEY_REFERENCE,
        PRINCIPAL_PATTERN,
        Defaults,
        Exemption,
        ExemptionMatch,
        Match,
        PolicyDocument,
        Records,
        Rule,
        StopPolicy,
        TagCondition,
        TagKey,
        TagPresence,
        TagValue,
        condition_holds,
    )

_LAZY = {
    **dict.fromkeys(("TAG_CONDITION_HELP", "DuplicateKeyError", "parse_policy", "validate_policy"), "document"),
    **dict.fromkeys(
        (
            "AWS_MANAGED_ALIAS",
            "KMS_KEY_REFERENCE",
            "PRINCIPAL_PATTERN",
            "Defaults",
            "Exemption",
            "ExemptionMatch",
            "Match",
            "PolicyDocument",
            "Records",
            "Rule",
            "StopPolicy",
            "TagCondition",
            "TagKey",
            "TagPresence",
            "TagValue",
            "condition_holds",
        ),
        "schema",
    ),
}


def __getattr__(name: str) -> Any:
    """The schema's and the parser's names, loaded (with pydantic) the first time one is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AWS_MANAGED_ALIAS",
    "KINESIS_MAX_RETENTION_HOURS",
    "KINESIS_MIN_RETENTION_HOURS",
    "KMS_KEY_REFERENCE",
    "MAX_EXEMPTION_DAYS",
    "NEW_CLUSTERS",
    "PRINCIPAL_PATTERN",
    "SCHEMA_VERSION",
    "TAG_CONDITION_HELP",
    "Action",
    "ApplyImmediately",
    "Defaults",
    "DuplicateKeyError",
    "EffectiveRule",
    "Exemption",
    "ExemptionMatch",
    "Match",
    "OnStop",
    "PolicyDocument",
    "PolicyError",
    "PolicySource",
    "Reader",
    "Records",
    "RecordsTerms",
    "Rule",
    "StopPolicy",
    "StreamMode",
    "TagCondition",
    "TagKey",
    "TagPresence",
    "TagValue",
    "condition_holds",
    "parse_policy",
    "validate_policy",
]
