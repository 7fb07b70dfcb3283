"""Shared fixtures. Every AWS call in the suite goes to moto (in-process) or moto's server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

# Never reach real AWS, whatever the developer's shell has configured.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_METRICS_NAMESPACE="DASGuard",
    POWERTOOLS_SERVICE_NAME="das-guard",
)

from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.models import botocore_stubber  # noqa: E402
from moto.sqs.models import sqs_backends  # noqa: E402


def _never_real_aws(request: Any, **_: Any) -> None:
    """Outside a moto mock, every request must go to a local server (moto's, on 127.0.0.1)."""
    if botocore_stubber.enabled:  # mock_aws is active: moto answers the request in-process
        return
    if not request.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise RuntimeError(f"a test tried to reach real AWS: {request.url}")


BUILTIN_HANDLERS.append(("before-send", _never_real_aws))

from das_guard import handlers  # noqa: E402
from das_guard.settings import Settings  # noqa: E402
from localaws import das_extension, scenario  # noqa: E402
from localaws.events import load_sample, redated  # noqa: E402
from localaws.runtime import LambdaContext, sqs_event  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def sample(name: str) -> dict[str, Any]:
    """A sample event from events/eventbridge, re-dated so that it happened just now."""
    return redated(load_sample(name), datetime.now(UTC))


@pytest.fixture
def aws() -> Iterator[None]:
    das_extension.install()
    with mock_aws():
        yield


class CallCounter:
    """Counts AWS API calls as botocore makes them (service:Operation), via its event hooks."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def total(self, service: str | None = None) -> int:
        return sum(n for k, n in self.calls.items() if service is None or k.startswith(service + ":"))

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return boto3.Session(region_name="us-east-1")


@pytest.fixture
def stack(session: boto3.Session) -> scenario.Stack:
    return scenario.seed_stack(session)


@pytest.fixture
def rds(session: boto3.Session) -> Any:
    return session.client("rds")


@pytest.fixture
def sqs(session: boto3.Session) -> Any:
    return session.client("sqs")


class Enforcer:
    """The real Lambda handler wired to the seeded stack, with its API calls counted and logs captured."""

    def __init__(self, stack: scenario.Stack, session: boto3.Session, env: dict[str, str]) -> None:
        self.stack = stack
        self.api = CallCounter()
        counted = boto3.Session(region_name="us-east-1")
        counted.events.register("before-call.*.*", self.api)
        self.counted_session = counted
        self.settings = Settings.from_env(env)
        self.pipeline = handlers.build_pipeline(self.settings, counted)
        handlers.reload_configuration(self.pipeline)
        self.log = io.StringIO()
        handlers.logger.registered_handler.setStream(self.log)
        self._session = session

    def inject(
        self,
        operation: str,
        code: str,
        *,
        status: int = 400,
        times: int = 1_000_000,
        side_effect: Callable[[], None] | None = None,
    ) -> None:
        """Make `operation` fail with `code` (as if botocore's own retries were exhausted).

        Register before the first invocation: botocore clients copy their session's hooks when created.
        """
        remaining = [times]

        def fail(model: Any, **_: Any) -> None:
            if model.name != operation or remaining[0] <= 0:
                return
            remaining[0] -= 1
            if side_effect:
                side_effect()
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"injected {code}"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                operation,
            )

        self.counted_session.events.register("before-call.*.*", fail)

    def invoke(self, *bodies: str | dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
        texts = [b if isinstance(b, str) else json.dumps(b) for b in bodies]
        event = sqs_event(texts, receive_count=receive_count)
        for i, record in enumerate(event["Records"]):
            record["messageId"] = f"m{i}"
        return handlers.handle_queue(event, LambdaContext())

    def decisions(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if "outcome" in r and "trigger" in r]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.startswith("{")]

    def last(self) -> dict[str, Any]:
        return self.decisions()[-1]

    def alerts(self) -> list[dict[str, Any]]:
        sqs = self._session.client("sqs")
        out = []
        while messages := sqs.receive_message(QueueUrl=self.stack.alerts_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.stack.alerts_url, ReceiptHandle=message["ReceiptHandle"])
        return out

    def queued(self) -> list[dict[str, Any]]:
        """Messages DAS Guard put back on its own queue (deferrals), delayed or not."""
        queue = sqs_backends["123456789012"]["us-east-1"].queues["das-guard-events"]
        return [
            {"body": json.loads(m.body), "delay": round(m.delayed_until / 1000 - time.time())} for m in queue._messages
        ]


@pytest.fixture
def enforcer(stack: scenario.Stack, session: boto3.Session) -> Iterator[Enforcer]:
    yield Enforcer(stack, session, stack.environment())
    handlers.reload_configuration()


@pytest.fixture
def make_enforcer(stack: scenario.Stack, session: boto3.Session) -> Iterator[Callable[..., Enforcer]]:
    def make(**env: str) -> Enforcer:
        return Enforcer(stack, session, stack.environment(**env))

    yield make
    handlers.reload_configuration()
