"""The central policy document's schema (pydantic) and its tag matching; parsing and error wording are in document.py.

The document is owned by the compliance team and stored as JSON in one SSM parameter. Cluster tags only
*select* a rule; everything a rule does (enforce, report, exempt, key, mode) is written here. So a person
who can tag a cluster can only move it between rules the compliance team wrote, never switch enforcement
off on their own.

Example::

    {
      "version": 1,
      "defaults": {"action": "enforce", "mode": "async", "kms_key": "alias/das-guard"},
      "rules": [
        {"name": "pci", "match": {"tags": {"data-class": ["pci", "pii"]}}, "mode": "sync"},
        {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt",
         "reason": "No production data; approved by CISO 2026-03"}
      ]
    }
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .terms import (
    KINESIS_MAX_RETENTION_HOURS,
    KINESIS_MIN_RETENTION_HOURS,
    MAX_EXEMPTION_DAYS,
    NEW_CLUSTERS,
    Action,
    ApplyImmediately,
    EffectiveRule,
    OnStop,
    Reader,
    RecordsTerms,
    StreamMode,
)

_KEY_ID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_ALIAS_NAME = r"alias/[a-zA-Z0-9/_-]{1,250}"
KMS_KEY_REFERENCE = re.compile(
    rf"^(?:{_KEY_ID}|{_ALIAS_NAME}"
    rf"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{{12}}:(?:key/{_KEY_ID}|{_ALIAS_NAME}))$"
)
AWS_MANAGED_ALIAS = re.compile(r"(^|:)alias/aws/")


def doc(description: str) -> Any:
    """A field's meaning, once: the JSON Schema (editors show it) and docs/policy.md's reference read it."""
    return Field(description=description)


NAME = "unique among rules and exemptions, [A-Za-z0-9_.-], up to 64; appears in logs, alerts and reports"

TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]


class TagPresence(BaseModel):
    """`{"present": true}` matches any value of the key; `{"present": false}` matches its absence."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    present: Annotated[bool, doc("true: the key is set (any value); false: the key is not set")]


TagCondition = TagValue | Annotated[list[TagValue], Field(min_length=1)] | TagPresence


class Match(BaseModel):
    """Which clusters a rule applies to, by their tags."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    tags: Annotated[
        dict[TagKey, TagCondition],
        Field(min_length=1),
        doc(
            "tag key -> condition; all must hold (AND). A value (exact), a list of values (any of), or "
            '{"present": true|false}. Case-sensitive, as in AWS'
        ),
    ]

    def matches(self, tags: Mapping[str, str]) -> bool:
        """All conditions must hold (AND). Tag keys and values are case-sensitive, as in AWS."""
        return all(condition_holds(cond, tags.get(key)) for key, cond in self.tags.items())


def condition_holds(condition: TagCondition, value: str | None) -> bool:
    if isinstance(condition, TagPresence):
        return (value is not None) == condition.present
    if isinstance(condition, list):
        return value in condition
    return value == condition


class Records(BaseModel):
    """How the records of a started stream are kept. Aurora writes them to a Kinesis stream it creates with a
    24-hour retention and deletes when the stream stops: what nobody reads in that time is gone."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    retention_hours: Annotated[
        int,
        Field(ge=KINESIS_MIN_RETENTION_HOURS, le=KINESIS_MAX_RETENTION_HOURS),
        doc("hours the Kinesis stream must keep records; an enforce rule raises a shorter retention"),
    ] = KINESIS_MIN_RETENTION_HOURS
    reader: Annotated[
        Reader,
        doc(
            "none: not checked; any: something must read the stream (a consumer, a Lambda or Firehose source, "
            "or GetRecords traffic); archive: DAS Guard's own Object Lock archive (created by enforce rules)"
        ),
    ] = Reader.NONE

    def terms(self) -> RecordsTerms:
        return RecordsTerms(self.retention_hours, self.reader)


ACTION = (
    "enforce: start the stream; report-only: evaluate and report (WouldStart), change nothing; exempt: needs a reason"
)
MODE = "async or sync; sync is Aurora PostgreSQL only (Aurora MySQL gets async and a ModeDowngraded warning)"
KMS_KEY = (
    "customer managed key: key ID, key ARN, alias/name or alias ARN (alias/aws/* is refused); "
    "it must be one of the stack's KmsKeyArns"
)
APPLY_IMMEDIATELY = (
    "new-clusters: at once on a cluster created minutes ago, in the maintenance window otherwise; false: always in "
    "the window; true: always at once - a start restarts the writer, so true on a busy cluster is an outage"
)
ON_STOP = "what an enforce rule does when someone stops the stream: restart or report"
RECORDS = "how a started stream's records are kept; a rule's records replace the default's as a whole"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    action: Annotated[Action | None, doc(ACTION)] = None
    mode: Annotated[StreamMode | None, doc(MODE)] = None
    kms_key: Annotated[str | None, doc(KMS_KEY)] = None
    apply_immediately: Annotated[ApplyImmediately | None, doc(APPLY_IMMEDIATELY)] = None
    on_stop: Annotated[OnStop | None, doc(ON_STOP)] = None
    records: Annotated[Records | None, doc(RECORDS + "; without records anywhere, records are not checked")] = None

    @field_validator("kms_key")
    @classmethod
    def _key_is_usable(cls, kms_key: str | None) -> str | None:
        if kms_key is None:
            return kms_key
        if AWS_MANAGED_ALIAS.search(kms_key):
            raise ValueError(
                f"{kms_key!r} is an AWS managed key; database activity streams need a customer managed key"
            )
        if not KMS_KEY_REFERENCE.match(kms_key):
            raise ValueError(f"{kms_key!r} is not a key ID, key ARN, alias name (alias/...) or alias ARN")
        return kms_key


class Defaults(_Settings):
    """The rule for clusters that no rule matches. Every field a rule omits is taken from here."""

    action: Annotated[Action, doc("enforce or report-only; never exempt (every unnamed cluster unaudited)")] = (
        Action.ENFORCE
    )
    mode: Annotated[StreamMode, doc(MODE)] = StreamMode.ASYNC
    # Starting a stream immediately restarts the cluster: harmless while it is being brought up, an outage once it
    # carries workload. By default only clusters still new get it at once; the rest in their maintenance window.
    apply_immediately: Annotated[ApplyImmediately, doc(APPLY_IMMEDIATELY)] = NEW_CLUSTERS
    on_stop: Annotated[OnStop, doc(ON_STOP)] = OnStop.RESTART

    @field_validator("action")
    @classmethod
    def _never_exempt_by_default(cls, action: Action) -> Action:
        if action is Action.EXEMPT:
            raise ValueError(
                "'exempt' as the default would leave every cluster no rule names unaudited, with no reason or "
                "expiry; use 'report-only', and exempt clusters by rules with a reason or by time-boxed exemptions"
            )
        return action


class Rule(_Settings):
    """Evaluated in order, first match wins; every field it omits is taken from `defaults`."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$"), doc(NAME)]
    description: Annotated[str, doc("free text for people")] = ""
    match: Annotated[Match, doc("the tags of the clusters it applies to")]
    reason: Annotated[str, doc("why; mandatory for exempt, shown in logs and alerts")] = ""

    @model_validator(mode="after")
    def _exemptions_are_justified(self) -> Rule:
        if self.action is Action.EXEMPT and not self.reason.strip():
            raise ValueError(f"rule {self.name!r} exempts clusters, so it needs a 'reason'")
        return self


class ExemptionMatch(BaseModel):
    """Clusters by identifier pattern (`legacy-*`, shell-style) and/or by tags; all given conditions must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    cluster_ids: Annotated[
        Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=63)]], Field(min_length=1)] | None,
        doc("cluster identifier patterns, shell-style (legacy-*)"),
    ] = None
    tags: Annotated[
        Annotated[dict[TagKey, TagCondition], Field(min_length=1)] | None, doc("tag conditions, as in a rule's match")
    ] = None

    @model_validator(mode="after")
    def _says_something(self) -> ExemptionMatch:
        if self.cluster_ids is None and self.tags is None:
            raise ValueError("an exemption must match 'cluster_ids' or 'tags' (or both)")
        return self

    def matches(self, cluster_id: str, tags: Mapping[str, str]) -> bool:
        if self.cluster_ids is not None and not any(
            fnmatch.fnmatchcase(cluster_id, pattern.lower()) for pattern in self.cluster_ids
        ):
            return False
        return self.tags is None or all(condition_holds(c, tags.get(k)) for k, c in self.tags.items())


class Exemption(BaseModel):
    """A time-boxed exception: it needs a reason and ends on `expires` (the last day it applies)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$"), doc(NAME)]
    match: Annotated[ExemptionMatch, doc("the clusters it exempts; all conditions given must hold")]
    reason: Annotated[str, StringConstraints(min_length=3), doc("why (mandatory), shown in logs and alerts")]
    expires: Annotated[
        date, doc("YYYY-MM-DD, the last day it applies; at most the stack's MaxExemptionDays (365) ahead")
    ]
    approved_by: Annotated[str, doc("who approved it (optional)")] = ""

    @field_validator("expires")
    @classmethod
    def _time_boxed(cls, expires: date, info: ValidationInfo) -> date:
        """An exemption ending in 9999 is a permanent hole: the deployment sets how far ahead one may end. The
        bound is checked against the day the document is validated (`context`), so it never expires by itself."""
        context = info.context if isinstance(info.context, dict) else {}
        today, days = context.get("today"), int(context.get("max_exemption_days", MAX_EXEMPTION_DAYS))
        if isinstance(today, date) and expires > today + timedelta(days=days):
            raise ValueError(
                f"expires {expires.isoformat()} is more than {days} days after today ({today.isoformat()}); "
                "exemptions are time-boxed: renew one when it ends (the limit is the stack's MaxExemptionDays)"
            )
        return expires

    def active_on(self, today: date) -> bool:
        return today <= self.expires


# A principal pattern names one account and one role or user: `*` may narrow a session or a path, never widen the
# grant to every account, every role or every principal (that would let anyone switch auditing off).
PRINCIPAL_PATTERN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|assumed-role|user)/[A-Za-z0-9+=,.@_-]+(/.*)?$")


def _one_account_one_role(principal: str) -> str:
    if not PRINCIPAL_PATTERN.match(principal):
        raise ValueError(
            f"{principal!r} must be the ARN of one role or user in one account, e.g. "
            "arn:aws:iam::111122223333:role/BreakGlass or arn:aws:sts::111122223333:assumed-role/BreakGlass/*"
            " (no wildcard account, role or principal)"
        )
    return principal


class StopPolicy(BaseModel):
    """Who may stop a stream without it being restarted, and for how long it then stays stopped."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    allowed_principals: Annotated[
        list[Annotated[str, AfterValidator(_one_account_one_role)]],
        doc(
            "ARNs of one role or user in one account (arn:aws:sts::111122223333:assumed-role/BreakGlass/*); "
            "* may narrow a session, never stand for the account, the role or every principal"
        ),
    ] = Field(default_factory=list)
    hold_hours: Annotated[int, Field(ge=1, le=720), doc("how long a stream they stop stays stopped")] = 24

    def allows(self, principals: tuple[str, ...]) -> bool:
        """Patterns are shell-style, e.g. arn:aws:sts::111122223333:assumed-role/BreakGlass/*."""
        return any(fnmatch.fnmatchcase(p, pattern) for p in principals for pattern in self.allowed_principals)


class PolicyDocument(BaseModel):
    """DAS Guard's policy: cluster tags select a rule; only this document says what a rule does."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    version: Annotated[Literal[1], doc("the schema version")]
    description: Annotated[str, doc("free text: owner, date, ticket")] = ""
    defaults: Annotated[Defaults, doc("the rule for clusters no rule matches")]
    rules: Annotated[list[Rule], doc("evaluated in order, first match wins")] = Field(default_factory=list)
    exemptions: Annotated[list[Exemption], doc("time-boxed exceptions, checked before the rules")] = Field(
        default_factory=list
    )
    stop_allowed: Annotated[StopPolicy, doc("break-glass: who may stop a stream, and for how long")] = Field(
        default_factory=StopPolicy
    )
    # A clone, a restore or blue/green's green cluster holds another cluster's data. Under a softer rule than that
    # cluster's: `notify` tells (a notice naming who and both rules); `refuse` also audits it as its source is.
    softer_copies: Annotated[
        Literal["notify", "refuse"],
        doc(
            "a clone, restore or green cluster under a softer rule than its source: notify (a notice naming who and "
            "both rules) or refuse (also audited as its source is)"
        ),
    ] = "notify"

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDocument:
        seen: set[str] = set()
        for name in [r.name for r in self.rules] + [e.name for e in self.exemptions]:
            if name in seen:
                raise ValueError(f"name {name!r} is used twice; rule and exemption names must be unique")
            seen.add(name)
        for effective in [self.resolve(None), *(self.resolve(r) for r in self.rules)]:
            if effective.action is not Action.EXEMPT and not effective.kms_key:
                raise ValueError(
                    f"rule {effective.name!r} would start streams but no kms_key is set "
                    "(set it on the rule or in 'defaults')"
                )
        return self

    def resolve(self, rule: Rule | None) -> EffectiveRule:
        """A rule with every omitted field filled in from `defaults`."""
        d = self.defaults
        if rule is None:
            return EffectiveRule(
                "default", d.action, d.mode, d.kms_key, d.apply_immediately, "", d.on_stop, _terms(d.records)
            )
        return EffectiveRule(
            name=rule.name,
            action=rule.action or d.action,
            mode=rule.mode or d.mode,
            kms_key=rule.kms_key or d.kms_key,
            apply_immediately=d.apply_immediately if rule.apply_immediately is None else rule.apply_immediately,
            reason=rule.reason,
            on_stop=rule.on_stop or d.on_stop,
            records=_terms(rule.records or d.records),
        )

    def exemption_for(
        self, cluster_id: str, tags: Mapping[str, str], today: date
    ) -> tuple[Exemption | None, list[Exemption]]:
        """(the first active exemption matching the cluster, the expired ones that match it)."""
        matching = [e for e in self.exemptions if e.match.matches(cluster_id, tags)]
        active = next((e for e in matching if e.active_on(today)), None)
        return active, [e for e in matching if not e.active_on(today)]

    def expiring(self, today: date, within_days: int = 7) -> list[Exemption]:
        """Exemptions still active that end within `within_days` days (for the sweep summary)."""
        horizon = today + timedelta(days=within_days)
        return [e for e in self.exemptions if today <= e.expires <= horizon]

    def rule_for(self, tags: Mapping[str, str]) -> EffectiveRule:
        """First matching rule wins; the defaults apply when none matches."""
        for rule in self.rules:
            if rule.match.matches(tags):
                return self.resolve(rule)
        return self.resolve(None)


def _terms(records: Records | None) -> RecordsTerms | None:
    return records.terms() if records is not None else None
