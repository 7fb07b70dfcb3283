"""The function's configuration: defaults written once (the dataclass), overrides from the template's environment,
and a deployment missing what it cannot work without refuses to run rather than enforce in silence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from das_guard.settings import ConfigurationError, Settings

REQUIRED = {
    "AWS_REGION": "eu-west-1",
    "DAS_GUARD_ACCOUNT_ID": "123456789012",
    "DAS_GUARD_POLICY_PARAMETER": "/das-guard/policy",
    "DAS_GUARD_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:das-guard-alerts",
}


def test_what_the_environment_leaves_out_takes_the_dataclass_default() -> None:
    assert Settings.from_env(REQUIRED) == Settings(
        region="eu-west-1",
        account="123456789012",
        policy_parameter="/das-guard/policy",
        alert_topic_arn=REQUIRED["DAS_GUARD_ALERT_TOPIC_ARN"],
    )


def test_the_template_s_values_override_the_defaults() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "DAS_GUARD_READINESS_TIMEOUT_MINUTES": "240",
            "DAS_GUARD_RETRY_MAX_SECONDS": "5000",
            "DAS_GUARD_ENFORCEMENT_MODE": "report-only",
            "DAS_GUARD_SECURITY_HUB": "true",
        }
    )
    assert (settings.readiness_timeout, settings.retry_max_seconds) == (timedelta(hours=4), 900)  # SQS's longest delay
    assert (settings.report_only, settings.security_hub) == (True, True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DAS_GUARD_ALERT_TOPIC_ARN": ""}, "missing environment variables: DAS_GUARD_ALERT_TOPIC_ARN"),
        ({"DAS_GUARD_MAX_RECEIVE_COUNT": "five"}, "DAS_GUARD_MAX_RECEIVE_COUNT must be a whole number"),
        ({"DAS_GUARD_ENFORCEMENT_MODE": "audit"}, "must be enforce or report-only"),
    ],
)
def test_a_deployment_it_cannot_work_with_is_refused(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**REQUIRED, **change})
