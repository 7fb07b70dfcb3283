"""The organisation's notifier (central stack): members' events on the organisation bus become alerts whose
subject names the account and region.

Why a function here at all: EventBridge can publish to SNS but cannot set a message's Subject, and a security
team reading one mailbox for a thousand accounts must see *where* from the subject line. The function only
formats and publishes (boto3 only, no Powertools: nothing to load but SNS); a failure is retried by Lambda's
asynchronous invocation and then parked in a dead-letter queue with an alarm.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from .outputs.alerts import safe_body, safe_subject

_sns: Any = None


def render(event: dict[str, Any]) -> tuple[str, str]:
    """Subject and body for one event from a member (pure, so its wording is tested)."""
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kind = str(event.get("detail-type", ""))
    account = str(detail.get("account") or detail.get("recipientAccountId") or event.get("account") or "?")
    region = str(detail.get("region") or detail.get("awsRegion") or event.get("region") or "?")
    where = f"{account}/{region}"
    if kind == "DAS Guard Enforcement Result":
        outcome, cluster, reason = detail.get("outcome"), detail.get("cluster_id"), detail.get("reason")
        warnings = [w.get("code") for w in detail.get("warnings") or [] if isinstance(w, dict)]
        if outcome not in ("Violation", "Failed", "Tampered") and warnings:
            subject = f"DAS Guard notice {where}: {', '.join(map(str, warnings))} on {cluster}"
        else:
            subject = f"DAS Guard {outcome} {where}: {cluster} ({reason})"
        lines = [
            f"Account:  {account}",
            f"Region:   {region}",
            f"Cluster:  {detail.get('cluster_arn') or cluster}",
            f"Outcome:  {outcome} ({reason})",
            f"Verdict:  {detail.get('compliance') or '-'}, severity {detail.get('severity') or '-'}",
            f"Rule:     {detail.get('rule') or '-'}",
            f"Detail:   {detail.get('detail')}",
            *(
                f"Warning:  {w.get('code')}: {w.get('detail')}"
                for w in detail.get("warnings") or []
                if isinstance(w, dict)
            ),
            *(
                [f"Stopped by: {detail['stopped_by'].get('principal')}"]
                if isinstance(detail.get("stopped_by"), dict)
                else []
            ),
            "",
            f"How to fix: {detail.get('fix') or 'see the detail above and the outcome catalogue, docs/outcomes.md.'}",
        ]
        return safe_subject(subject), "\n".join(lines)
    if kind == "CloudWatch Alarm State Change":
        alarm = detail.get("alarmName", "?")
        reason = (detail.get("state") or {}).get("reason", "")
        return safe_subject(f"DAS Guard alarm {where}: {alarm}"), f"Alarm {alarm} in {where} is ALARM.\n\n{reason}"
    if kind == "AWS API Call via CloudTrail":
        call = detail.get("eventName", "?")
        who = (detail.get("userIdentity") or {}).get("arn", "?")
        body = (
            f"{call} on DAS Guard's own resources or keys in {where} by {who} at {detail.get('eventTime')}.\n"
            "DAS Guard itself, a key it depends on, or the CloudTrail trail was changed: if nobody planned this, "
            f"someone may be switching database auditing off. CloudTrail event {detail.get('eventID')}."
        )
        return safe_subject(f"DAS Guard HIGH {where}: {call} by {who.rsplit('/', 1)[-1]}"), body
    return safe_subject(f"DAS Guard event {where}: {kind}"), json.dumps(event, indent=2, default=str)


def publish(event: dict[str, Any], sns: Any, topic_arn: str) -> dict[str, str]:
    """Render one event and publish it to the central topic."""
    subject, body = render(event)
    response = sns.publish(TopicArn=topic_arn, Subject=subject, Message=safe_body(body))
    return {"message_id": str(response["MessageId"]), "subject": subject}


def handle_org_event(event: dict[str, Any], _context: Any) -> dict[str, str]:
    """Lambda entry point (EventBridge rule on the organisation bus, asynchronous)."""
    global _sns  # noqa: PLW0603 - one client per container
    if _sns is None:
        _sns = boto3.client("sns")
    return publish(event, _sns, os.environ["DAS_GUARD_CENTRAL_TOPIC_ARN"])
