"""One deployment of DAS Guard in the local world: its stack in one account and region, its function's container
(built by the composition root), the scenario's hand on that account (clusters, stops, renames, blue/green), and
what came out of the function (decisions, metrics, alerts, result events, stream states).

Longer than most modules on purpose: `Deployment` is the local world's one object per account and region, and
its methods are the vocabulary every scenario, test and bench is written in (docs/contributing.md, "Replaying a
scenario"); split, a reader would have to know which of several objects says `stop_stream` and which `alerts`."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from das_guard import app as composition
from das_guard import handlers
from das_guard.observability import logger as function_logger
from das_guard.settings import Settings

from . import activity, das_extension, scenario
from .das_extension.access import Principal
from .events import redate
from .runtime import ACCOUNT, LambdaContext, PollResult, QueuePoller, sqs_event

if TYPE_CHECKING:
    from .world import World

DBA = f"arn:aws:sts::{ACCOUNT}:assumed-role/DBA/bob"

FUNCTION_CALLS: Counter[str] = Counter()  # every call any deployed function made in this process (least privilege)


class CallCounter:
    """AWS API calls a container made (`service:Operation`), counted by botocore's event hooks. Every call is also
    added to FUNCTION_CALLS, which the test suite compares with the template's IAM statements."""

    _lock = threading.Lock()  # a function calls AWS from more than one thread (the sweep reads its listing aside)

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        call = f"{model.service_model.service_name}:{model.name}"
        with self._lock:
            self.calls[call] += 1
            FUNCTION_CALLS[call] += 1

    def total(self, service: str | None = None) -> int:
        return sum(n for k, n in self.calls.items() if service is None or k.startswith(service + ":"))

    def reset(self) -> None:
        self.calls.clear()


@dataclass
class _Output:
    """What one deployment's function wrote: JSON log lines and EMF metric lines."""

    log: io.StringIO = field(default_factory=io.StringIO)
    stdout: io.StringIO = field(default_factory=io.StringIO)

    def lines(self) -> list[dict[str, Any]]:
        text = self.log.getvalue() + self.stdout.getvalue()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


class Deployment:
    """DAS Guard's stack in one account and region, its function's container, and what came out of it."""

    def __init__(self, world: World, stack: scenario.Stack, results_url: str, environment: dict[str, str]) -> None:
        self.world = world
        self.stack = stack
        self.account = stack.account
        self.region = stack.region
        self.aws = world.session(self.account, self.region)  # the scenario's own hand (not the function's)
        self._results_url = results_url
        self._output = _Output()
        self._alerts: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []
        self._environment = environment  # as deployed; `configure` overrides on top
        # who the function's code and its event source mapping are to IAM: unnamed (the local world's own hand,
        # not evaluated) unless the template's defences are on (`localaws.guarded.guard`)
        self.function_principal: Principal | None = None
        self.mapping_principal: Principal | None = None
        self.recursive_loop = "Allow"  # the enforcer's RecursiveLoop, as template.yaml deploys it
        self.loop_stopped: list[dict[str, Any]] = []  # messages Lambda's loop detection did not deliver
        self._chain = 0  # invocations so far in the chain of the batch being handled (Lambda's trace lineage)
        self.configure()

    # -- the function ---------------------------------------------------------------------------------------
    def configure(self, **environment: str) -> None:
        """Redeploy the function with these environment variables on top of the deployment's: a new container
        (cold caches, calls counted from zero)."""
        self.settings = Settings.from_env(self.stack.environment(**{**self._environment, **environment}))
        self.api = CallCounter()
        self.function_session = self.world.session(self.account, self.region, principal=self.function_principal)
        self.function_session.events.register("before-call.*.*", self.api)
        mapping = (
            self.aws
            if self.mapping_principal is None
            else self.world.session(self.account, self.region, principal=self.mapping_principal)
        )
        self._mapping_sqs = mapping.client("sqs")  # Lambda's event source mapping polls with the role
        self.function_session.events.register("before-parameter-build.sqs.SendMessage", self._carry_chain)
        self.function_session.events.register("before-parameter-build.sqs.SendMessageBatch", self._carry_chain)
        self.app = self.container(self.function_session)
        self._handlers = handlers.entry_points(lambda: self.app)

    def redeploy(self, **environment: str) -> None:
        """Change the function's deployed environment (as a stack update would) and start a new container."""
        self._environment.update(environment)
        self.configure()

    def container(self, session: boto3.Session | None = None) -> composition.App:
        """Another container of this function (its own clients and caches), built by the composition root."""
        return composition.build(
            self.settings, session=session or self.world.session(self.account, self.region), clock=self.world.clock
        )

    def fail(
        self,
        operation: str,
        code: str,
        *,
        status: int = 400,
        times: int = 1_000_000,
        side_effect: Callable[[], None] | None = None,
    ) -> None:
        """Make the function's `operation` calls fail with `code` (as if botocore's own retries were exhausted),
        `times` times; `side_effect` runs first (e.g. someone else starts the stream meanwhile).

        Call it before the container's first use of that service: botocore clients copy their session's hooks.
        """
        remaining = [times]

        def refuse(model: Any, **_: Any) -> None:
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

        self.function_session.events.register("before-call.*.*", refuse)

    # -- the scenario's hand --------------------------------------------------------------------------------
    def add_cluster(
        self,
        cluster_id: str,
        *,
        engine: str = "aurora-postgresql",
        version: str = "16.1",
        instances: Sequence[tuple[str, str]] | None = None,
        tags: Mapping[str, str] | None = None,
        stream: str | None = None,
        creating: bool = False,
        **extra: Any,
    ) -> str:
        """An Aurora cluster (by default one db.r6g.large instance). `stream`: its activity stream's status, as
        if started earlier (with the stack's key). `creating`: RDS is still creating it (no instance yet)."""
        members = instances if instances is not None else ([] if creating else [(f"{cluster_id}-1", "db.r6g.large")])
        arn = scenario.create_cluster(
            self.aws.client("rds"), cluster_id, engine, version, members, tags=dict(tags or {}), **extra
        )
        if stream is not None:
            das_extension.set_activity_stream(
                cluster_id, stream, "async", self.stack.key_arn, region=self.region, account=self.account
            )
        if creating:
            das_extension.hold_cluster_status(cluster_id, "creating", region=self.region, account=self.account)
        return arn

    def finish_creating(
        self, cluster_id: str, instance_id: str | None = None, instance_class: str = "db.r6g.large"
    ) -> None:
        """What RDS does minutes after CreateDBCluster + CreateDBInstance: the cluster becomes usable."""
        scenario.finish_creating(self.aws, cluster_id, instance_id or f"{cluster_id}-1", instance_class)

    def seed_fleet(self, n: int) -> Counter[str]:
        """n clusters `c00000`... (the bench's fleet): 60 % supported without a stream, 20 % streaming, 10 %
        burstable (an unsupported class), 10 % DocumentDB. Returns how many of each kind."""
        kinds: Counter[str] = Counter()
        for i in range(n):
            cid = f"c{i:05d}"
            if i % 10 < 6:
                self.add_cluster(cid)
                kinds["supported"] += 1
            elif i % 10 < 8:
                self.add_cluster(
                    cid,
                    engine="aurora-mysql",
                    version="8.0.mysql_aurora.3.05.2",
                    instances=[(f"{cid}-1", "db.r7g.large")],
                )
                das_extension.set_activity_stream(
                    cid, "started", "async", self.stack.key_arn, region=self.region, account=self.account
                )
                kinds["streaming"] += 1
            elif i % 10 < 9:
                self.add_cluster(cid, instances=[(f"{cid}-1", "db.t4g.medium")])
                kinds["burstable"] += 1
            else:
                das_extension.add_foreign_cluster(cid, "docdb", "5.0.0", region=self.region, account=self.account)
                kinds["docdb"] += 1
        return kinds

    def seed_demo_clusters(self) -> None:
        """One cluster per sample event in events/eventbridge (the demo's account)."""
        scenario.seed_demo_clusters(self.aws, self.stack)

    def put_policy(self, document: Mapping[str, Any] | str) -> None:
        """Store a policy document in the parameter (a compliance engineer's `policy push`)."""
        self.aws.client("ssm").put_parameter(
            Name=self.stack.policy_parameter,
            Type="String",
            Overwrite=True,
            Value=document if isinstance(document, str) else json.dumps(document, indent=2),
        )

    def stop_stream(self, cluster_id: str, *, by: str = DBA, source_ip: str = "203.0.113.24") -> None:
        """Somebody stops the cluster's activity stream: the call in RDS, then what EventBridge brings to the
        queue (the CloudTrail record of the call and RDS-EVENT-0180), as it would."""
        arn = f"arn:aws:rds:{self.region}:{self.account}:cluster:{cluster_id}"
        answer = self.aws.client("rds").stop_activity_stream(ResourceArn=arn, ApplyImmediately=True)
        call, stopped = (
            self.world.sample("cloudtrail-stop-activity-stream"),
            self.world.sample("rds-event-0180-stream-stopped"),
        )
        for event in (call, stopped):
            event["account"], event["region"] = self.account, self.region
        detail = call["detail"]
        detail["requestParameters"]["resourceArn"] = arn
        detail["responseElements"].update(
            kinesisStreamName=answer["KinesisStreamName"], kmsKeyId=answer["KmsKeyId"], status=answer["Status"]
        )
        detail["sourceIPAddress"] = source_ip
        detail["userIdentity"]["arn"] = by
        role = by.split(":assumed-role/", 1)[-1].split("/", 1)[0] if ":assumed-role/" in by else None
        detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
            f"arn:aws:iam::{self.account}:role/{role}" if role else by
        )
        stopped["detail"]["SourceArn"] = arn
        stopped["detail"]["SourceIdentifier"] = f"rds:{cluster_id}"
        self.send(stopped, call, redate=False)

    def database_activity(self, cluster_id: str, *statements: activity.Statement, heartbeat: bool = True) -> None:
        """People run statements on the cluster: Aurora puts one encrypted activity record on the stream's Kinesis
        stream (`activity.py`), as it does while the activity stream is started."""
        cluster = self.aws.client("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        data = activity.activity_record(self.aws, cluster, statements, self.world.now(), heartbeat=heartbeat)
        self.aws.client("kinesis").put_record(
            StreamName=cluster["ActivityStreamKinesisStreamName"],
            Data=data,
            PartitionKey=cluster["DbClusterResourceId"],
        )

    def cluster_event(self, cluster_id: str, event_id: str, message: str) -> None:
        """RDS announces something about a cluster (RDS-EVENT-0150 stopped, 0151 started, 0176 major version
        upgraded, ...): the event EventBridge brings to the queue, shaped as the 0170 sample."""
        event = self.world.sample("rds-event-0170-cluster-created")
        arn = f"arn:aws:rds:{self.region}:{self.account}:cluster:{cluster_id}"
        event["account"], event["region"], event["resources"] = self.account, self.region, [arn]
        event["detail"].update(SourceArn=arn, SourceIdentifier=f"rds:{cluster_id}", EventID=event_id, Message=message)
        self.send(event)

    def rename_cluster(self, cluster_id: str, new_id: str, *, by: str = DBA) -> None:
        """Somebody renames the cluster (ModifyDBCluster NewDBClusterIdentifier): the call in RDS, then the
        CloudTrail record EventBridge brings to the queue."""
        self.aws.client("rds").modify_db_cluster(
            DBClusterIdentifier=cluster_id, NewDBClusterIdentifier=new_id, ApplyImmediately=True
        )
        call = self.world.sample("cloudtrail-modify-db-cluster-rename")
        call["account"], call["region"] = self.account, self.region
        detail = call["detail"]
        detail["requestParameters"].update(dBClusterIdentifier=cluster_id, newDBClusterIdentifier=new_id)
        detail["responseElements"].update(
            dBClusterIdentifier=new_id, dBClusterArn=f"arn:aws:rds:{self.region}:{self.account}:cluster:{new_id}"
        )
        detail["userIdentity"]["arn"] = by
        self.send(call, redate=False)

    def create_blue_green(self, cluster_id: str, *, by: str = DBA) -> tuple[str, str]:
        """Somebody creates a blue/green deployment of the cluster: RDS creates the green cluster, and EventBridge
        brings the CloudTrail record and RDS-EVENT-0244. Returns (deployment id, green cluster name)."""
        arn = f"arn:aws:rds:{self.region}:{self.account}:cluster:{cluster_id}"
        created = self.aws.client("rds").create_blue_green_deployment(
            BlueGreenDeploymentName=f"{cluster_id}-upgrade", Source=arn
        )["BlueGreenDeployment"]
        deployment_id, green = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
        call = self.world.sample("cloudtrail-create-blue-green-deployment")
        call["detail"]["requestParameters"]["source"] = arn
        call["detail"]["responseElements"]["blueGreenDeployment"].update(
            blueGreenDeploymentIdentifier=deployment_id, source=arn
        )
        call["detail"]["userIdentity"]["arn"] = by
        self.send(call, self._blue_green_event(deployment_id, "RDS-EVENT-0244", "Blue/green deployment created."))
        return deployment_id, green

    def switchover(self, deployment_id: str, *, by: str = DBA) -> None:
        """Somebody switches a blue/green deployment over: RDS renames green to the production name and blue to
        <name>-old1, and EventBridge brings the CloudTrail record and RDS-EVENT-0248."""
        self.aws.client("rds").switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=deployment_id)
        call = self.world.sample("cloudtrail-switchover-blue-green-deployment")
        call["detail"]["requestParameters"]["blueGreenDeploymentIdentifier"] = deployment_id
        call["detail"]["responseElements"]["blueGreenDeployment"]["blueGreenDeploymentIdentifier"] = deployment_id
        call["detail"]["userIdentity"]["arn"] = by
        self.send(call, self._blue_green_event(deployment_id, "RDS-EVENT-0248", "Switchover completed."))

    def _blue_green_event(self, deployment_id: str, event_id: str, message: str) -> dict[str, Any]:
        event = self.world.sample("rds-event-0248-blue-green-switchover-completed")
        arn = f"arn:aws:rds:{self.region}:{self.account}:deployment:{deployment_id}"
        event["account"], event["region"], event["resources"] = self.account, self.region, [arn]
        event["detail"].update(SourceArn=arn, SourceIdentifier=deployment_id, EventID=event_id, Message=message)
        return event

    # -- events in ------------------------------------------------------------------------------------------
    def send(self, *events: Mapping[str, Any] | str, redate: bool = True) -> None:
        """Put events on the function's queue, as the EventBridge rules do (re-dated to now, order kept)."""
        sqs = self.aws.client("sqs")
        for body in self._bodies(events, redate):
            sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=body)

    def drain(self, *, max_invocations: int = 100) -> PollResult:
        """Lambda's event source mapping: invoke the handler with batches until nothing is due on the queue."""
        poller = QueuePoller(
            self._mapping_sqs,
            self.stack.queue_url,
            self.handle_queue,
            recursive_loop=self.recursive_loop,
            in_chain=self._in_chain,
            on_loop_stopped=self._loop_stopped,
        )
        try:
            return poller.drain(max_invocations=max_invocations)
        finally:
            self._chain = 0

    def _in_chain(self, invocations: int) -> None:
        self._chain = invocations

    def _carry_chain(self, params: dict[str, Any], **_: Any) -> None:
        """Lambda's trace header on what the function's code sends: the chain's invocations so far, plus this one."""
        header = {"DataType": "String", "StringValue": f"Root=1-local;Lineage=das-guard:{self._chain + 1}"}
        for message in params.get("Entries", [params]):
            message.setdefault("MessageSystemAttributes", {})["AWSTraceHeader"] = header

    def _loop_stopped(self, message: dict[str, Any]) -> None:
        """Lambda's loop detection stopped this message: it goes to the dead-letter queue, as Lambda sends it."""
        self.loop_stopped.append(message)
        self.aws.client("sqs").send_message(QueueUrl=self.stack.dlq_url, MessageBody=message["Body"])

    def deliver(self, *events: Mapping[str, Any] | str, receive_count: int = 1, redate: bool = True) -> dict[str, Any]:
        """One SQS batch straight into the handler (record ids m0, m1, ...); returns its partial-failure answer."""
        event = sqs_event(
            self._bodies(events, redate),
            receive_count=receive_count,
            queue_arn=f"arn:aws:sqs:{self.region}:{self.account}:das-guard-events",
            sent_at_ms=int(self.world.now().timestamp() * 1000),
        )
        for i, record in enumerate(event["Records"]):
            record["messageId"] = f"m{i}"
        return self.handle_queue(event, LambdaContext(aws_request_id="local-deliver"))

    def sweep(
        self, sweep_id: str = "local-sweep", *, remaining_ms: int = 60_000, context: LambdaContext | None = None
    ) -> dict[str, Any]:
        """The scheduled reconciliation sweep, as EventBridge Scheduler invokes it (`context`: a Lambda context of
        your own, e.g. one whose remaining time runs out)."""
        context = context or LambdaContext(aws_request_id=sweep_id, remaining_ms=remaining_ms)
        with self.capturing():
            return self._handlers.sweep({"id": sweep_id}, context)  # type: ignore[arg-type]

    def handle_queue(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The function's queue handler, its output captured for `decisions()`, `metrics()` and `records()`."""
        with self.capturing():
            return dict(self._handlers.queue(event, context))

    # -- what came out --------------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every JSON log line the function wrote, in order."""
        return [r for r in self._output.lines() if "_aws" not in r]

    def decisions(self) -> list[dict[str, Any]]:
        """The decision log lines (one per decision: outcome, reason, detail, fix, cluster, rule, trigger)."""
        return [r for r in self.records() if "outcome" in r and "trigger" in r]

    def outcomes(self) -> list[str]:
        return [d["outcome"] for d in self.decisions()]

    def last(self) -> dict[str, Any]:
        return self.decisions()[-1]

    def log_text(self) -> str:
        """The function's raw output (JSON log lines, then EMF lines), as CloudWatch Logs would hold it."""
        return self._output.log.getvalue() + self._output.stdout.getvalue()

    def metrics(self) -> list[dict[str, Any]]:
        """The CloudWatch EMF documents the function wrote."""
        return [r for r in self._output.lines() if "_aws" in r]

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert published to the alert topic so far (SNS envelopes: Subject, Message)."""
        self._alerts += _drain(self.aws.client("sqs"), self.stack.alerts_url)
        return list(self._alerts)

    def result_events(self) -> list[dict[str, Any]]:
        """Every result event a subscriber of the default bus received so far."""
        self._results += _drain(self.aws.client("sqs"), self._results_url)
        return list(self._results)

    def resource_id(self, cluster_id: str) -> str:
        """The cluster's DbClusterResourceId (the key of its holds and stream records in the state table)."""
        cluster = self.aws.client("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        return str(cluster["DbClusterResourceId"])

    def stream(self, cluster_id: str) -> dict[str, Any]:
        """The cluster's ActivityStream* fields from DescribeDBClusters (`Status`, `Mode`, `KmsKeyId`, ...)."""
        cluster = self.aws.client("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        return {k.removeprefix("ActivityStream"): v for k, v in cluster.items() if k.startswith("ActivityStream")}

    def streams(self) -> dict[str, str]:
        """Every cluster's ActivityStreamStatus (`n/a` where the engine has none)."""
        clusters = self.aws.client("rds").get_paginator("describe_db_clusters").paginate()
        return {
            c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") or "n/a"
            for page in clusters
            for c in page["DBClusters"]
        }

    def queued(self) -> list[dict[str, Any]]:
        """Messages waiting on the function's queue, delayed or not, with the seconds until each is due."""
        return das_extension.queued_messages(self.stack.queue_url, region=self.region, account=self.account)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages parked in the dead-letter queue (their bodies)."""
        sqs = self.aws.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.stack.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    # -- plumbing -------------------------------------------------------------------------------------------
    def _bodies(self, events: Sequence[Mapping[str, Any] | str], dated: bool) -> list[str]:
        parsed = [e for e in events if not isinstance(e, str)]
        moved = iter(redate([dict(e) for e in parsed], self.world.now()) if dated else [dict(e) for e in parsed])
        return [e if isinstance(e, str) else json.dumps(next(moved)) for e in events]

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Route the function's log lines and EMF output (stdout) to this deployment for one invocation."""
        handler = function_logger.registered_handler
        assert isinstance(handler, logging.StreamHandler)
        previous = handler.setStream(self._output.log)
        try:
            with contextlib.redirect_stdout(self._output.stdout):
                yield
        finally:
            handler.setStream(previous)


def results_inbox(session: boto3.Session) -> str:
    """A subscriber to DAS Guard's result events on the account's default bus (what a SIEM would be)."""
    sqs = session.client("sqs")
    results_url = str(sqs.create_queue(QueueName="das-guard-result-inbox")["QueueUrl"])
    results_arn = sqs.get_queue_attributes(QueueUrl=results_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = session.client("events")
    events.put_rule(Name="das-guard-results-subscriber", EventPattern=json.dumps({"source": ["das-guard"]}))
    events.put_targets(Rule="das-guard-results-subscriber", Targets=[{"Id": "inbox", "Arn": results_arn}])
    return results_url


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out
