"""How firmly the policy guards a cluster's stream, and when a change made it softer.

A rank, not a rule: a tag, a rename or a policy edit can move a running stream's cluster to a softer rule - the
usual first step of someone who wants to stop the stream next without it being restarted. The stream record in
the state table keeps the rank DAS Guard last saw; a lower one now is news (see `protection_lowered`).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ..model import ClusterInfo, Finding, Protection, StreamRecord
from ..policy import Action, OnStop

if TYPE_CHECKING:
    from ..policy import PolicyDocument  # pydantic loads with the first policy read


def protection(cluster: ClusterInfo, policy: PolicyDocument, today: date) -> Protection:
    """How firmly the policy guards this cluster's stream today (tags and name choose; see model.Protection)."""
    exemption, _ = policy.exemption_for(cluster.identifier, cluster.tags, today)
    if exemption is not None:
        return Protection(0, f"exemption {exemption.name!r} until {exemption.expires.isoformat()}")
    rule = policy.rule_for(cluster.tags)
    if rule.action is Action.EXEMPT:
        return Protection(0, f"rule {rule.name!r} (exempt)")
    if rule.action is Action.REPORT_ONLY:
        return Protection(1, f"rule {rule.name!r} (report-only)")
    if rule.on_stop is OnStop.REPORT:
        return Protection(2, f"rule {rule.name!r} (enforce, on_stop: report)")
    return Protection(3, f"rule {rule.name!r} (enforce)")


def protection_lowered(record: StreamRecord | None, now: Protection | None, changed_by: str) -> Finding | None:
    """A running stream's cluster moved to a softer rule (a tag, a rename, or an edit of the rules themselves).

    Not a violation - the stream still runs - but the usual first step of someone who wants to stop it next
    without DAS Guard restarting it. The stop itself is reported whatever the rule; this tells who prepared it."""
    before = record.protection if record else None
    if before is None or now is None or now.rank >= before.rank:
        return None
    consequence = {
        0: "a missing stream would no longer be started and a stop no longer restarted",
        1: "a missing stream would only be reported and a stop no longer restarted",
    }.get(now.rank, "a stop would be reported but no longer restarted")
    return Finding(
        "ProtectionLowered",
        f"{changed_by} moved the cluster from {before.label} to {now.label} while its activity stream runs: "
        f"{consequence}",
        "If the compliance team did not agree to this, restore the cluster's tags or name (CloudTrail shows the "
        "call and its caller) and find out why this principal may change them.",
    )


def softer_than_its_source(
    cluster: str, now: Protection | None, source: str, then: Protection | None, changed_by: str
) -> Finding | None:
    """A cluster that holds another's data (a clone, a restore, blue/green's green taking over the production name)
    under a softer rule than that cluster: the data is the same, the audit is not. Told as a notice naming who and
    both rules."""
    if now is None or then is None or now.rank >= then.rank:
        return None
    return Finding(
        "ProtectionLowered",
        f"{changed_by} put the data of {source} ({then.label}) into {cluster}, which is under {now.label}: the same "
        "data is audited less",
        f"If the compliance team did not agree to this, tag {cluster} like {source} (CloudTrail shows the call and "
        "its caller), or exempt it in the policy with a reason.",
    )
