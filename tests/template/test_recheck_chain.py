"""Re-checks survive Lambda's recursive loop detection by design: a deferred cluster is sent back to the function's
own queue (SQS -> function -> the same queue), which Lambda stops after about 16 invocations unless the function's
RecursiveLoop is Allow (Lambda DG, "recursive loop detection"). This counts the hops of the longest re-check chain the
settings allow and checks the deployed function says Allow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from das_guard.settings import Settings

LOOP_DETECTION_HOPS = 16


def hops(settings: Settings) -> int:
    """The number of times one cluster's re-check goes back to the queue before the readiness window ends."""
    waited, attempt = 0, 0
    while waited <= settings.readiness_timeout.total_seconds():
        waited += settings.retry_delay(attempt)
        attempt += 1
    return attempt


def test_the_longest_recheck_chain_is_longer_than_loop_detection_allows() -> None:
    default = Settings(region="r", account="a", policy_parameter="p")
    assert hops(default) == 62  # 1 min, 2 min, then every 3 minutes until past the 3 hours
    assert hops(Settings(region="r", account="a", policy_parameter="p", readiness_timeout=timedelta(minutes=30))) > (
        LOOP_DETECTION_HOPS / 2
    )
    assert hops(default) > LOOP_DETECTION_HOPS, "without RecursiveLoop: Allow a slow cluster never reaches its alert"


def test_the_enforcer_lets_its_own_rechecks_loop(transformed: dict[str, Any]) -> None:
    [function] = [
        r
        for r in transformed["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "das_guard.handlers.handle_queue"
    ]
    assert function["Properties"]["RecursiveLoop"] == "Allow"
