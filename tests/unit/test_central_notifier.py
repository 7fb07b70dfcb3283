"""The organisation notifier's alerts: account and region in every subject, SNS-safe, from members' events."""

from __future__ import annotations

from typing import Any

from das_guard.central import render

ACCOUNT, REGION = "549584224625", "eu-west-1"


def result(**detail: Any) -> dict[str, Any]:
    base = {"account": ACCOUNT, "region": REGION, "cluster_id": "orders-pg", "cluster_arn": "arn:c", "rule": "default"}
    return {"detail-type": "DAS Guard Enforcement Result", "source": "das-guard", "detail": base | detail}


def test_a_violation_names_account_region_cluster_and_fix() -> None:
    subject, body = render(result(outcome="Violation", reason="UnsupportedInstanceClass", fix="Use db.r6g"))
    assert subject == f"DAS Guard Violation {ACCOUNT}/{REGION}: orders-pg (UnsupportedInstanceClass)"
    assert f"Account:  {ACCOUNT}" in body
    assert "How to fix: Use db.r6g" in body


def test_a_stop_names_who() -> None:
    subject, body = render(
        result(outcome="Tampered", reason="StoppedByUnauthorizedPrincipal", stopped_by={"principal": "arn:dba"})
    )
    assert subject.startswith(f"DAS Guard Tampered {ACCOUNT}/{REGION}")
    assert "Stopped by: arn:dba" in body


def test_a_softened_rule_is_a_notice() -> None:
    subject, _ = render(
        result(outcome="AlreadyActive", reason="StreamActive", warnings=[{"code": "ProtectionLowered", "detail": "x"}])
    )
    assert subject == f"DAS Guard notice {ACCOUNT}/{REGION}: ProtectionLowered on orders-pg"


def test_watch_and_alarm_events_take_account_and_region_from_where_aws_puts_them() -> None:
    call = {
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventName": "DisableRule",
            "recipientAccountId": ACCOUNT,
            "awsRegion": REGION,
            "userIdentity": {"arn": "arn:aws:sts::1:assumed-role/Admin/mallory"},
        },
    }
    subject, body = render(call)
    assert subject == f"DAS Guard HIGH {ACCOUNT}/{REGION}: DisableRule by mallory"
    assert "switching database auditing off" in body
    alarm = {
        "detail-type": "CloudWatch Alarm State Change",
        "account": ACCOUNT,
        "region": REGION,
        "detail": {"alarmName": "das-guard-tampered"},
    }
    assert render(alarm)[0] == f"DAS Guard alarm {ACCOUNT}/{REGION}: das-guard-tampered"


def test_a_hostile_cluster_name_cannot_cost_the_alert() -> None:
    subject, _ = render(result(outcome="Violation", reason="R", cluster_id="x\n" * 80))
    assert "\n" not in subject
    assert len(subject) < 100
