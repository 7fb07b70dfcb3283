"""The local world: DAS Guard deployed on an embedded local AWS (moto), in as many accounts and regions as a
scenario needs, all on one clock that the scenario moves.

    from localaws import World

    with World() as world:
        prod = world.deploy()                                   # account 123456789012, us-east-1, the stack
        prod.add_cluster("orders-pg", tags={"data-class": "pci"})
        prod.sweep()                                            # DAS Guard starts the stream
        world.advance(minutes=10)                               # RDS: starting -> started
        prod.stop_stream("orders-pg", by="arn:aws:sts::123456789012:assumed-role/DBA/bob")
        prod.drain()                                            # the CloudTrail and RDS events reach the handler
        world.advance(minutes=15)
        prod.drain()                                            # the delayed re-check restarts the stream
        print(prod.outcomes(), prod.stream("orders-pg")["Status"], [a["Subject"] for a in prod.alerts()])

What runs is what Lambda runs: each deployment's container is built by the composition root
(`das_guard.app.build`) with the world's clock and a boto3 session in that account and region, and events
reach the real handler (`das_guard.handlers`) in the SQS event shape Lambda uses, through the queue with its
redrive policy (`send` + `drain`) or as one batch straight from the event source mapping (`deliver`). Replayed
samples are re-dated to the world's clock (`localaws.events.redate`), so a scenario gives the same outcomes on
any day. Everything is read back from where a person would look: decisions and metrics from the function's
log (JSON lines and EMF), alerts from an SQS inbox subscribed to the alert topic, result events from a rule on
the default bus, stream states from DescribeDBClusters.

Time: `world.advance()` moves the clock, lets SQS delays and visibility timeouts run out by as much, and (from
one minute on) lets activity streams settle (`starting -> started`, `stopping -> stopped`) as RDS does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from unittest import mock

import boto3
from moto import mock_aws
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from das_guard.aws.calls import botocore_session
from das_guard.clock import SystemClock

from . import das_extension, scenario
from .deployment import DBA, FUNCTION_CALLS, CallCounter, Deployment, results_inbox
from .events import load_sample, redate
from .runtime import ACCOUNT, REGION

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
ARCHIVE_BUFFER = timedelta(minutes=5)  # the archive delivery streams' buffer interval (IntervalInSeconds 300)
STREAMS_SETTLE = timedelta(minutes=1)  # RDS takes minutes to start or stop a stream; the world: one minute


class ManualClock:
    """The world's clock: DAS Guard reads it through `das_guard.clock.Clock`; only the scenario moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta


class World:
    """An embedded local AWS with DAS Guard deployed where the scenario says, on one movable clock.

    `server=True` serves moto on 127.0.0.1 (for other processes, the CLI, a browser) instead of in-process.
    """

    def __init__(self, *, start: datetime | None = None, server: bool = False) -> None:
        self.clock = ManualClock((start or SystemClock().now()).replace(microsecond=0))
        self.endpoint: str | None = None
        self._server_mode = server
        self._deployments: dict[tuple[str, str], Deployment] = {}
        self._exit = contextlib.ExitStack()

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        das_extension.install()
        das_extension.use_clock(self.clock.now)  # RDS creation times and maintenance windows follow this clock
        self._exit.callback(das_extension.use_clock, None)
        self._exit.enter_context(mock.patch.dict(os.environ, FAKE_CREDENTIALS | {"AWS_DEFAULT_REGION": REGION}))
        if self._server_mode:
            moto_api_backend.reset()  # an empty AWS: moto's backends are global to the process
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            self._exit.callback(server.stop)
            host, port = server.get_host_and_port()
            self.endpoint = f"http://{host}:{port}"
            self._exit.enter_context(mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": self.endpoint}))
        else:
            self._exit.enter_context(mock_aws())
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()
        das_extension.access.forget_principals()

    # -- deployments ----------------------------------------------------------------------------------------
    def deploy(
        self,
        account: str = ACCOUNT,
        region: str = REGION,
        *,
        policy: Mapping[str, Any] | str | None = None,
        max_receive_count: int = 3,
        publish_results: bool = False,
        **environment: str,
    ) -> Deployment:
        """Deploy the stack in `account`/`region` with `policy` (default: the demo policy).

        `environment` overrides the function's environment variables (`DAS_GUARD_READINESS_TIMEOUT_MINUTES="240"`),
        as template parameters would. `publish_results` sends result events to the default bus, as deployed; off by
        default so that call counts show the decision path alone.
        """
        if (account, region) in self._deployments:
            raise ValueError(f"DAS Guard is already deployed in {account}/{region}")
        session = self.session(account, region)
        stack = scenario.seed_stack(
            session, dict(policy) if isinstance(policy, Mapping) else policy, max_receive_count=max_receive_count
        )
        if publish_results:
            environment = {"DAS_GUARD_EVENT_BUS": "default", **environment}
        deployment = Deployment(self, stack, results_inbox(session), dict(environment))
        self._deployments[(account, region)] = deployment
        return deployment

    def adopt(self, account: str, region: str, environment: Mapping[str, str]) -> Deployment:
        """A stack deployed by CloudFormation (a StackSet instance), with the function's deployed `environment`:
        the scenario's inboxes are subscribed to its topic and bus; the function's settings are its own."""
        if (account, region) in self._deployments:
            raise ValueError(f"DAS Guard is already deployed in {account}/{region}")
        session = self.session(account, region)
        sqs = session.client("sqs")
        queue_url = environment["DAS_GUARD_QUEUE_URL"]
        redrive = json.loads(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"][
                "RedrivePolicy"
            ]
        )
        dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[1])["QueueUrl"]
        alerts_url = sqs.create_queue(QueueName="das-guard-alert-inbox")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        session.client("sns").subscribe(
            TopicArn=environment["DAS_GUARD_ALERT_TOPIC_ARN"], Protocol="sqs", Endpoint=alerts_arn
        )
        table = environment["DAS_GUARD_STATE_TABLE"]
        key_arn = session.client("kms").describe_key(KeyId=f"alias/{table.removesuffix('-state')}")["KeyMetadata"][
            "Arn"
        ]
        stack = scenario.Stack(
            key_arn,
            queue_url,
            dlq_url,
            environment["DAS_GUARD_ALERT_TOPIC_ARN"],
            alerts_url,
            policy_parameter=environment["DAS_GUARD_POLICY_PARAMETER"],
            state_table=table,
            account=account,
            region=region,
        )
        deployment = Deployment(self, stack, results_inbox(session), dict(environment))
        self._deployments[(account, region)] = deployment
        return deployment

    def deployment(self, account: str = ACCOUNT, region: str = REGION) -> Deployment:
        return self._deployments[(account, region)]

    def session(
        self, account: str = ACCOUNT, region: str = REGION, *, principal: das_extension.access.Principal | None = None
    ) -> boto3.Session:
        """A boto3 session acting in `account`/`region` (another account: through an assumed role, as in AWS).

        `principal`: a session of that role, whose requests the local IAM evaluates (`das_extension.access`);
        without it, the local world's own hand."""
        if account == ACCOUNT and principal is None:
            return _session(region_name=region)
        credentials = boto3.client("sts", region_name=region).assume_role(
            RoleArn=principal.role_arn if principal else f"arn:aws:iam::{account}:role/das-guard-local",
            RoleSessionName=principal.session_name if principal else "local-world",
        )["Credentials"]
        if principal is not None:
            das_extension.access.as_principal(principal, credentials["AccessKeyId"])
        return _session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

    # -- time -----------------------------------------------------------------------------------------------
    def advance(self, delta: timedelta | None = None, *, minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        """Let time pass everywhere: the clock, SQS delays and visibility timeouts, activity streams."""
        step = (delta or timedelta(0)) + timedelta(minutes=minutes, hours=hours, days=days)
        self.clock.advance(step)
        das_extension.let_time_pass_in_queues(step.total_seconds())
        if step >= STREAMS_SETTLE:
            das_extension.settle_activity_streams()
        if step >= ARCHIVE_BUFFER:  # Firehose's buffer interval: what the Kinesis streams got reaches the archive
            das_extension.deliver_archives(self.session)

    def now(self) -> datetime:
        return self.clock.now()

    def sample(self, name: str) -> dict[str, Any]:
        """A sample from events/eventbridge as if it had just happened (re-dated to the world's clock)."""
        return redate([load_sample(name)], self.now())[0]


__all__ = ["DBA", "FUNCTION_CALLS", "CallCounter", "Deployment", "ManualClock", "World"]


def _session(**arguments: str) -> boto3.Session:
    """A session as the functions make theirs (one loader of the service models for every session of the process:
    each new one would otherwise parse the same models again, most of a test's set-up)."""
    return boto3.Session(botocore_session=botocore_session(), **arguments)
