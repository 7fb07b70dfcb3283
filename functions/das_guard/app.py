"""The composition root: everything both functions need, built in one place from `Settings`, one boto3
session and one clock.

Lambda builds one `App` per container (`handlers.py`, on the first invocation) so clients, caches and the
parsed policy live across invocations. The local world (`localaws`), the tests, the demo, the bench and the
CLI build theirs here too, with their own session and clock: there is no other way to assemble the pieces,
so what they run is what Lambda runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import boto3

from .aws import KmsKeys, Outbox, PolicyParameter, RdsClusters, StateTable
from .aws.calls import new_session
from .aws.records import KinesisRecords
from .aws.watch import WatchRules
from .clock import Clock, SystemClock
from .enforcer import Enforcer
from .observability import SERVICE, logger, metrics
from .outputs.alerts import Where
from .outputs.channels import Channel, Signals
from .outputs.findings import SecurityHubChannel
from .outputs.report import Alerts, Reporter, ResultEvents
from .pipeline import Pipeline
from .policy import PolicySource
from .settings import Settings
from .sweep import Sweeper

if TYPE_CHECKING:
    from .policy import PolicyDocument  # pydantic loads with the first policy read

NOTICE_MEMORY = timedelta(days=400)  # a once-only notice (an expired exemption) is not repeated within this
# "new-clusters": created within the readiness window plus this margin, so nothing runs on the cluster yet
NEW_CLUSTER_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class App:
    """One container's collaborators. `pipeline` serves the queue, `sweeper` the schedule."""

    settings: Settings
    clock: Clock
    clusters: RdsClusters
    keys: KmsKeys
    state: StateTable
    outbox: Outbox
    policy_parameter: PolicyParameter
    policy: PolicySource
    reporter: Reporter
    enforcer: Enforcer
    pipeline: Pipeline
    sweeper: Sweeper


def build(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock | None = None,
    dry_run: bool = False,
) -> App:
    """Assemble DAS Guard. `dry_run` (the CLI): decide exactly as in production, never start or hold."""
    clock = clock or SystemClock()
    session = session or new_session(settings.region)
    clusters = RdsClusters(session, clock)
    keys = KmsKeys(session, clock, cache_seconds=settings.policy_cache_seconds)
    state = StateTable(session, settings.state_table)
    outbox = Outbox(session, alert_topic_arn=settings.alert_topic_arn, queue_url=settings.queue_url)
    parameter = PolicyParameter(session, clock, settings.policy_parameter, cache_seconds=settings.policy_cache_seconds)

    def first_notice(key: str) -> bool:
        return state.first_notice(key, keep_seconds=int(NOTICE_MEMORY.total_seconds()), now=clock.now())

    signals = Signals(logger, metrics, service=SERVICE)
    where = Where(settings.account, settings.region, settings.policy_parameter)
    channels: list[Channel] = []
    if settings.event_bus:
        channels.append(ResultEvents(outbox.put_events, settings.event_bus, signals, where=where))
    if settings.security_hub:
        channels.append(
            SecurityHubChannel(
                account=settings.account,
                region=settings.region,
                now=clock.now,
                import_findings=outbox.import_findings,
                last_import=state.finding_record,
                every_import=state.finding_records,
                remember=state.remember_finding,
                forget=state.forget_finding,
                on_error=functools.partial(signals.problem, "FindingsFailed"),
            )
        )
    alerts = Alerts(
        outbox.publish_alert, clock, signals, where=where, first_notice=first_notice, report_only=settings.report_only
    )
    reporter = Reporter(signals, clock, where=where, alerts=alerts, channels=channels)
    policy = PolicySource(
        parameter.text,
        f"SSM parameter {settings.policy_parameter}",
        today=lambda: clock.now().date(),
        max_exemption_days=settings.max_exemption_days,
    )
    enforcer = Enforcer(
        clusters,
        keys,
        state,
        policy,
        clock,
        report_only=settings.report_only,
        dry_run=dry_run,
        new_cluster_window=settings.readiness_timeout + NEW_CLUSTER_MARGIN,
        readiness_timeout=settings.readiness_timeout,
        upgrade_grace=settings.upgrade_grace,
        records=KinesisRecords(
            session, clock, archive_bucket=settings.archive_bucket, archive_role=settings.archive_role_arn
        ),
    )
    return App(
        settings=settings,
        clock=clock,
        clusters=clusters,
        keys=keys,
        state=state,
        outbox=outbox,
        policy_parameter=parameter,
        policy=policy,
        reporter=reporter,
        enforcer=enforcer,
        pipeline=Pipeline(
            settings,
            enforcer,
            reporter,
            scheduler=outbox,
            logger=logger,
            clock=clock,
            policy_versions=parameter.versions,
        ),
        sweeper=Sweeper(
            clusters,
            state,
            enforcer,
            policy,
            reporter,
            hand_off=outbox.hand_off,
            logger=logger,
            clock=clock,
            enforcer_function=settings.enforcer_function,
            watch_rules=WatchRules(session, settings.watch_rules) if settings.watch_rules else None,
        ),
    )


def from_environment() -> App:
    """The deployed function: settings from the environment the template sets, the real clock."""
    return build(Settings.from_env())


def with_policy(app: App, document: PolicyDocument) -> Enforcer:
    """An enforcer like `app`'s that judges by `document` instead of the deployed policy (the CLI's --policy)."""
    return Enforcer(
        app.clusters,
        app.keys,
        app.state,
        lambda: document,
        app.clock,
        report_only=app.settings.report_only,
        dry_run=True,
        new_cluster_window=app.settings.readiness_timeout + NEW_CLUSTER_MARGIN,
    )
