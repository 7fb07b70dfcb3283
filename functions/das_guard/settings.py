"""Configuration from the environment the SAM template sets. Read once per container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


class ConfigurationError(RuntimeError):
    """The function is deployed without something it cannot work without."""


@dataclass(frozen=True)
class Settings:
    """Every setting with its default, written once: `from_env` reads overrides on top of these defaults. A plain
    dataclass, not a pydantic settings model: the first event of a cold start does not need pydantic (the policy
    schema loads it later, only where a document is parsed)."""

    region: str
    account: str
    policy_parameter: str
    alert_topic_arn: str | None = None
    queue_url: str | None = None
    readiness_timeout: timedelta = timedelta(hours=3)
    policy_cache_seconds: int = 60
    max_receive_count: int = 5
    retry_base_seconds: int = 60
    retry_max_seconds: int = 180  # a cluster that became ready waits at most 3 minutes for its stream
    attribution_wait_seconds: int = 900  # SQS's longest delay: CloudTrail may take minutes to name who stopped
    state_table: str | None = None
    report_only: bool = False
    event_bus: str | None = None
    max_exemption_days: int = 365
    security_hub: bool = False  # import one Security Hub finding per cluster (template: SecurityHubFindings)
    upgrade_grace: timedelta = timedelta(minutes=15)  # a stopped PostgreSQL stream waits this long for its upgrade
    enforcer_function: str | None = None  # the enforcer's name in every region: the sweep looks for regions without it
    watch_rules: tuple[str, ...] = ()  # the rules that watch DAS Guard itself: the sweep says when one is off
    archive_bucket: str | None = None  # the records archive (rules with reader: archive); None: no archive deployed
    archive_role_arn: str | None = None  # the role Firehose reads Kinesis and writes the archive with

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        # Fail closed: without an alert topic every alert would be a silent no-op, so the function refuses to run
        # (its errors alarm and the queue's redrive make that visible) instead of enforcing without telling anyone.
        required = ("AWS_REGION", "DAS_GUARD_ACCOUNT_ID", "DAS_GUARD_POLICY_PARAMETER", "DAS_GUARD_ALERT_TOPIC_ARN")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ConfigurationError("missing environment variables: " + ", ".join(missing))
        default = cls(region="", account="", policy_parameter="")
        return cls(
            region=env["AWS_REGION"],
            account=env["DAS_GUARD_ACCOUNT_ID"],
            policy_parameter=env["DAS_GUARD_POLICY_PARAMETER"],
            alert_topic_arn=env.get("DAS_GUARD_ALERT_TOPIC_ARN") or None,
            queue_url=env.get("DAS_GUARD_QUEUE_URL") or None,
            readiness_timeout=timedelta(
                minutes=_int(
                    env, "DAS_GUARD_READINESS_TIMEOUT_MINUTES", int(default.readiness_timeout.total_seconds()) // 60
                )
            ),
            policy_cache_seconds=_int(env, "DAS_GUARD_POLICY_CACHE_SECONDS", default.policy_cache_seconds),
            max_receive_count=_int(env, "DAS_GUARD_MAX_RECEIVE_COUNT", default.max_receive_count),
            retry_base_seconds=_int(env, "DAS_GUARD_RETRY_BASE_SECONDS", default.retry_base_seconds),
            retry_max_seconds=min(_int(env, "DAS_GUARD_RETRY_MAX_SECONDS", default.retry_max_seconds), 900),
            state_table=env.get("DAS_GUARD_STATE_TABLE") or None,
            report_only=_enforcement_mode(env) == "report-only",
            event_bus=env.get("DAS_GUARD_EVENT_BUS") or None,
            max_exemption_days=_int(env, "DAS_GUARD_MAX_EXEMPTION_DAYS", default.max_exemption_days),
            security_hub=env.get("DAS_GUARD_SECURITY_HUB") == "true",
            enforcer_function=env.get("DAS_GUARD_ENFORCER_FUNCTION") or None,
            archive_bucket=env.get("DAS_GUARD_ARCHIVE_BUCKET") or None,
            archive_role_arn=env.get("DAS_GUARD_ARCHIVE_ROLE_ARN") or None,
            watch_rules=tuple(n.strip() for n in env.get("DAS_GUARD_WATCH_RULES", "").split(",") if n.strip()),
            upgrade_grace=timedelta(
                minutes=_int(env, "DAS_GUARD_UPGRADE_GRACE_MINUTES", int(default.upgrade_grace.total_seconds()) // 60)
            ),
        )

    def retry_delay(self, attempt: int) -> int:
        """Re-checks of a deferred cluster: after 1, 2, then every 3 minutes until the readiness timeout.

        The cap bounds how long a cluster that became ready waits for its stream when no instance event arrives
        (p95 about 3 minutes, docs/benchmarks.md); the price is one SQS message and one or two RDS reads per
        3 minutes per cluster still being created - about 60 over the default 3-hour readiness window.
        """
        return int(min(self.retry_base_seconds * 2 ** min(attempt, 16), self.retry_max_seconds))


def _enforcement_mode(env: Mapping[str, str]) -> str:
    mode = env.get("DAS_GUARD_ENFORCEMENT_MODE") or "enforce"
    if mode not in ("enforce", "report-only"):
        raise ConfigurationError(f"DAS_GUARD_ENFORCEMENT_MODE must be enforce or report-only, not {mode!r}")
    return mode


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from err
