"""The suite cannot reach real AWS: a call moto does not answer is refused before it leaves the machine."""

from __future__ import annotations

import boto3
import pytest


def test_an_unmocked_aws_call_is_refused() -> None:
    with pytest.raises(RuntimeError, match="tried to reach real AWS"):
        boto3.client("sts", region_name="us-east-1").get_caller_identity()
