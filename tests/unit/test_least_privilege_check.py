"""The least-privilege measurement (tests/least_privilege.py) fails where it must, or it proves nothing."""

from __future__ import annotations

from collections import Counter

from tests import least_privilege


def test_a_call_no_statement_grants_is_a_problem() -> None:
    [problem] = least_privilege.check(Counter({"rds:StopActivityStream": 1}), whole_suite=False)
    assert "rds:StopActivityStream" in problem


def test_a_batch_send_is_authorised_as_send_message() -> None:
    assert least_privilege.check(Counter({"sqs:SendMessageBatch": 2}), whole_suite=False) == []


def test_on_a_whole_run_a_statement_never_used_is_a_problem_unless_justified() -> None:
    problems = least_privilege.check(Counter({"rds:DescribeDBClusters": 1}), whole_suite=True)
    assert any(p.startswith("statement StartActivityStreamsOnClusters grants") for p in problems)
    assert any("rds:DescribeDBInstances" in p for p in problems), "a statement used only in part is reported too"
    assert not any("WriteOwnLogs" in p for p in problems), "the runtime's own log writes are a listed exception"
