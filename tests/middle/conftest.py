"""The middle floor: the real pipeline, enforcer, stop responder, sweeper and reporter, assembled as the composition
root assembles them, on the in-memory stand-ins of `stand_ins.py` (no moto, no server: milliseconds a test)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from das_guard.enforcer import Enforcer
from das_guard.model import Decision
from das_guard.observability import logger, metrics
from das_guard.outputs.alerts import Where
from das_guard.outputs.channels import Channel, Signals
from das_guard.outputs.report import Alerts, Reporter, ResultEvents
from das_guard.pipeline import Pipeline
from das_guard.policy import PolicyDocument, parse_policy
from das_guard.settings import Settings
from das_guard.sweep import Sweeper
from localaws.events import load_sample, redated

from .stand_ins import Fleet, KeyRing, Memory, SteppingClock

BREAK_GLASS = "arn:aws:sts::123456789012:assumed-role/BreakGlass/carol"
DBA = "arn:aws:sts::123456789012:assumed-role/DBA/mallory"
POLICY = parse_policy(
    json.dumps(
        {
            "version": 1,
            "defaults": {"kms_key": "alias/das-guard", "mode": "async", "apply_immediately": "new-clusters"},
            "rules": [
                {"name": "sandboxes", "match": {"tags": {"env": "sandbox"}}, "action": "exempt", "reason": "no data"},
                {"name": "regulated", "match": {"tags": {"data-class": "pci"}}, "mode": "sync"},
            ],
            "stop_allowed": {"allowed_principals": [BREAK_GLASS], "hold_hours": 8},
        }
    )
)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


@pytest.fixture
def memory() -> Memory:
    return Memory()


@pytest.fixture
def policy() -> PolicyDocument:
    return POLICY


@pytest.fixture
def enforcer(fleet: Fleet, memory: Memory, clock: SteppingClock, policy: PolicyDocument) -> Enforcer:
    return Enforcer(fleet, KeyRing(), memory, lambda: policy, clock)


@dataclass
class Assembly:
    """The queue function's and the sweep's collaborators as `app.build` wires them, on stand-ins; what left DAS
    Guard (alerts, result events, retries it scheduled, sweeps handed off) is kept in lists."""

    fleet: Fleet
    memory: Memory
    clock: SteppingClock
    policy: PolicyDocument
    alerts: list[tuple[str, str]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    retries: list[tuple[str, int]] = field(default_factory=list)
    handed_off: list[str] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)  # more channels, as app.build would add them
    refuse_alerts: bool = False

    def __post_init__(self) -> None:
        self.settings = Settings(region="us-east-1", account="123456789012", policy_parameter="/das-guard/policy")
        self.enforcer = Enforcer(
            self.fleet, KeyRing(), self.memory, lambda: self.policy, self.clock, readiness_timeout=timedelta(hours=3)
        )
        where = Where("123456789012", "us-east-1", "/das-guard/policy")
        self.signals = Signals(logger, metrics)
        self.reporter = Reporter(
            self.signals,
            self.clock,
            where=where,
            alerts=Alerts(self._publish, self.clock, self.signals, where=where),
            channels=[ResultEvents(self._put_events, "das-guard-results", self.signals, where=where), *self.channels],
        )
        self.pipeline = Pipeline(
            self.settings, self.enforcer, self.reporter, scheduler=self, logger=logger, clock=self.clock
        )
        self.sweeper = Sweeper(
            self.fleet,
            self.memory,
            self.enforcer,
            lambda: self.policy,
            self.reporter,
            hand_off=self.handed_off.extend,
            logger=logger,
            clock=self.clock,
        )

    def _publish(self, subject: str, body: str) -> None:
        if self.refuse_alerts:
            raise RuntimeError("stand-in: the topic refused")
        self.alerts.append((subject, body))

    def _put_events(self, entries: list[dict[str, Any]]) -> list[str]:
        self.results += [json.loads(e["Detail"]) | {"detail-type": e["DetailType"]} for e in entries]
        return []

    def schedule_retry(self, body: str, delay_seconds: int) -> None:
        self.retries.append((body, delay_seconds))

    def deliver(self, name_or_event: str | dict[str, Any], *, receive_count: int = 1) -> Decision:
        """One queue message: a sample event (re-dated to the clock) or an event as given."""
        event = load_sample(name_or_event) if isinstance(name_or_event, str) else name_or_event
        try:
            return self.pipeline.process(json.dumps(redated(event, self.clock.now())), receive_count=receive_count)
        finally:
            self.reporter.flush_results()  # as the handler does after every batch, failed or not


@pytest.fixture
def assembly(fleet: Fleet, memory: Memory, clock: SteppingClock, policy: PolicyDocument) -> Assembly:
    return Assembly(fleet, memory, clock, policy)
