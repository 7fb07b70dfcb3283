"""A seeded account for the demo and the integration tests: the stack's resources and a mix of clusters.

`seed_stack()` creates what template.yaml deploys (KMS key, policy parameter, alert topic, queue + DLQ);
`seed_demo_clusters()` creates one cluster per situation the demo shows, matching the samples in events/.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import das_extension
from .runtime import ACCOUNT, REGION

POLICY_PARAMETER = "/das-guard/policy"
STATE_TABLE = "das-guard-state"
KEY_ALIAS = "alias/das-guard"
BREAK_GLASS = [f"arn:aws:iam::{ACCOUNT}:role/BreakGlass", f"arn:aws:sts::{ACCOUNT}:assumed-role/BreakGlass/*"]
PASSWORD = "local-only-password"  # moto requires one; nothing real is protected by it

DEMO_POLICY: dict[str, Any] = {
    "version": 1,
    "description": "Demo: regulated data gets sync streams, analytics is trialled report-only, sandboxes are exempt",
    "defaults": {"action": "enforce", "mode": "async", "kms_key": KEY_ALIAS, "apply_immediately": True},
    "rules": [
        {
            "name": "sandboxes",
            "match": {"tags": {"env": "sandbox"}},
            "action": "exempt",
            "reason": "No production data; approved by the CISO (ticket SEC-1432)",
        },
        {"name": "regulated-data", "match": {"tags": {"data-class": ["pci", "pii"]}}, "mode": "sync"},
        {"name": "analytics-trial", "match": {"tags": {"team": "analytics"}}, "action": "report-only"},
    ],
    "exemptions": [
        # expired: the cluster is enforced again, and the expiry is announced once
        {
            "name": "legacy-migration",
            "match": {"cluster_ids": ["legacy-*"]},
            "expires": "2026-10-31",
            "reason": "Migration to Aurora MySQL 3 (PROJ-88), due by the end of October",
            "approved_by": "ciso@example.com",
        },
    ],
    "stop_allowed": {"allowed_principals": BREAK_GLASS, "hold_hours": 8},
}


@dataclass(frozen=True)
class Stack:
    """What template.yaml deploys in one account and region (as far as the function sees it)."""

    key_arn: str
    queue_url: str
    dlq_url: str
    topic_arn: str
    alerts_url: str
    policy_parameter: str = POLICY_PARAMETER
    state_table: str = STATE_TABLE
    archive_bucket: str = ""  # the records archive (S3 Object Lock); "" where none was deployed
    archive_role_arn: str = ""
    account: str = ACCOUNT
    region: str = REGION

    def environment(self, **overrides: str) -> dict[str, str]:
        """The function's environment variables, as template.yaml sets them."""
        env = {
            "AWS_REGION": self.region,
            "DAS_GUARD_ACCOUNT_ID": self.account,
            "DAS_GUARD_POLICY_PARAMETER": self.policy_parameter,
            "DAS_GUARD_ALERT_TOPIC_ARN": self.topic_arn,
            "DAS_GUARD_QUEUE_URL": self.queue_url,
            "DAS_GUARD_STATE_TABLE": self.state_table,
            "DAS_GUARD_ENFORCEMENT_MODE": "enforce",
            "DAS_GUARD_READINESS_TIMEOUT_MINUTES": "180",
            "DAS_GUARD_POLICY_CACHE_SECONDS": "60",
            "DAS_GUARD_MAX_RECEIVE_COUNT": "3",
            "DAS_GUARD_ARCHIVE_BUCKET": self.archive_bucket,
            "DAS_GUARD_ARCHIVE_ROLE_ARN": self.archive_role_arn,
            "POWERTOOLS_SERVICE_NAME": "das-guard",
            "POWERTOOLS_METRICS_NAMESPACE": "DASGuard",
        }
        env.update(overrides)
        return env


def seed_stack(session: Any, policy: dict[str, Any] | str | None = None, *, max_receive_count: int = 3) -> Stack:
    """Create the stack's resources with `session` (its account and region)."""
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    kms = session.client("kms", region_name=region)
    key = kms.create_key(Description="DAS Guard activity streams", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])

    document = DEMO_POLICY if policy is None else policy
    session.client("ssm", region_name=region).put_parameter(
        Name=POLICY_PARAMETER,
        Type="String",
        Overwrite=True,
        Value=document if isinstance(document, str) else json.dumps(document, indent=2),
    )

    sqs = session.client("sqs", region_name=region)
    dlq_url = sqs.create_queue(QueueName="das-guard-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="das-guard-events",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        },
    )["QueueUrl"]

    session.client("dynamodb", region_name=region).create_table(
        TableName=STATE_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )

    sns = session.client("sns", region_name=region)
    topic_arn = sns.create_topic(Name="das-guard-alerts")["TopicArn"]
    alerts_url = sqs.create_queue(QueueName="das-guard-alert-inbox")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_arn)
    bucket, role = seed_archive(session, account, region)
    return Stack(
        key["Arn"],
        queue_url,
        dlq_url,
        topic_arn,
        alerts_url,
        account=account,
        region=region,
        archive_bucket=bucket,
        archive_role_arn=role,
    )


ARCHIVE_RETENTION_DAYS = 365


def seed_archive(session: Any, account: str, region: str) -> tuple[str, str]:
    """The records archive as template.yaml deploys it: a bucket with Object Lock (COMPLIANCE, 365 days by default)
    and versioning, and the role Firehose writes it with. Returns (bucket, role ARN)."""
    bucket = f"das-guard-records-{account}-{region}"
    s3 = session.client("s3", region_name=region)
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, **where)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": ARCHIVE_RETENTION_DAYS}},
        },
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = session.client("iam")
    name = f"das-guard-archive-{region}"
    try:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=name)["Role"]["Arn"]
    return bucket, str(role)


def create_cluster(
    rds: Any,
    cluster_id: str,
    engine: str,
    version: str,
    instances: Sequence[tuple[str, str]] = (),
    *,
    tags: dict[str, str] | None = None,
    engine_mode: str = "provisioned",
    **extra: Any,
) -> str:
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine=engine,
        EngineVersion=version,
        EngineMode=engine_mode,
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        **extra,
    )["DBCluster"]
    for instance_id, instance_class in instances:
        rds.create_db_instance(
            DBInstanceIdentifier=instance_id,
            DBClusterIdentifier=cluster_id,
            Engine=engine,
            DBInstanceClass=instance_class,
        )
    return str(cluster["DBClusterArn"])


@dataclass(frozen=True)
class Expected:
    """What the demo expects for the cluster behind each sample event (asserted by the tests)."""

    cluster: str
    outcome: str
    reason: str


DEMO_EXPECTATIONS: dict[str, Expected] = {
    "cloudtrail-create-db-cluster": Expected("orders-pg", "Started", "StreamStarted"),
    "cloudtrail-restore-db-cluster-from-snapshot": Expected("billing-mysql", "Started", "StreamStarted"),
    "cloudtrail-restore-db-cluster-to-point-in-time-clone": Expected("orders-pg-clone", "WouldStart", "ReportOnly"),
    "cloudtrail-restore-db-cluster-from-s3": Expected("legacy-import", "Violation", "UnsupportedEngineVersion"),
    "cloudtrail-create-db-cluster-global-secondary": Expected("orders-pg-dr", "Started", "StreamStarted"),
    "cloudtrail-create-db-instance": Expected("dev-burst", "Violation", "UnsupportedInstanceClass"),
    "rds-event-0170-cluster-created": Expected("sessions-sls", "Violation", "UnsupportedEngineMode"),
    "rds-event-0005-instance-created": Expected("audit-pg", "AlreadyActive", "StreamActive"),
    "cloudtrail-create-db-cluster-docdb": Expected("catalog-docdb", "NotApplicable", "NotAurora"),
    "cloudtrail-create-db-cluster-still-creating": Expected("payments-pg", "Deferred", "ClusterNotAvailable"),
    "rds-event-0170-sandbox-cluster-created": Expected("sandbox-pg", "Exempt", "ExemptByPolicy"),
    "cloudtrail-create-db-instance-standalone": Expected("reporting-db", "NotApplicable", "StandaloneInstance"),
    "cloudtrail-create-db-cluster-multi-az": Expected("inventory-maz", "NotApplicable", "NotAurora"),
    "cloudtrail-add-tags-to-cluster": Expected("ledger-pg", "Started", "StreamStarted"),
    "cloudtrail-remove-tags-from-instance": Expected("audit-pg", "AlreadyActive", "StreamActive"),
    "cloudtrail-stop-activity-stream": Expected("reports-pg", "Tampered", "StoppedByUnauthorizedPrincipal"),
    "cloudtrail-stop-activity-stream-break-glass": Expected("warehouse-pg", "Tampered", "StoppedByAllowedPrincipal"),
    "rds-event-0180-stream-stopped": Expected("reports-pg", "Tampered", "StreamStoppedUnattributed"),
    "rds-event-0179-stream-started": Expected("vault-pg", "AlreadyActive", "StreamActive"),
    "cloudtrail-modify-db-cluster-rename": Expected("legacy-orders", "AlreadyActive", "StreamActive"),
    "cloudtrail-put-parameter-policy": Expected("-", "Announced", "PolicyChanged"),
    "cloudtrail-modify-db-instance-class": Expected("catalog-pg", "Started", "StreamStarted"),
    "cloudtrail-delete-db-instance": Expected("search-pg", "Started", "StreamStarted"),
    "rds-event-0014-instance-class-changed": Expected("geo-pg", "Started", "StreamStarted"),
    "rds-event-0172-cluster-renamed": Expected("crm-pg", "Started", "StreamStarted"),
    # blue/green: the green cluster gets its stream before a switchover makes it production, or at once after one
    "cloudtrail-create-blue-green-deployment": Expected("shop-pg-green-abcdef", "Started", "StreamStarted"),
    "cloudtrail-switchover-blue-green-deployment": Expected("cart-pg", "Started", "StreamStarted"),
    "rds-event-0248-blue-green-switchover-completed": Expected("pay-pg", "Started", "StreamStarted"),
}


def seed_demo_clusters(session: Any, stack: Stack) -> None:
    """One cluster per sample event in events/eventbridge, in the state that event's story needs."""
    rds = session.client("rds")
    where = {"region": stack.region, "account": stack.account}
    pg, mysql = "aurora-postgresql", "aurora-mysql"
    create_cluster(
        rds,
        "orders-pg",
        pg,
        "15.4",
        [("orders-pg-1", "db.r6g.large"), ("orders-pg-2", "db.r6g.large")],
        tags={"data-class": "pci", "team": "orders"},
    )
    create_cluster(
        rds,
        "billing-mysql",
        mysql,
        "8.0.mysql_aurora.3.05.2",
        [("billing-mysql-1", "db.r7g.xlarge")],
        tags={"data-class": "pci"},
    )
    create_cluster(
        rds, "orders-pg-clone", pg, "15.4", [("orders-pg-clone-1", "db.r6g.large")], tags={"team": "analytics"}
    )
    create_cluster(rds, "legacy-import", mysql, "5.7.mysql_aurora.2.10.2", [("legacy-import-1", "db.r5.large")])
    rds.create_global_cluster(GlobalClusterIdentifier="orders-global", Engine=pg, EngineVersion="15.4")
    create_cluster(
        rds, "orders-pg-dr", pg, "15.4", [("orders-pg-dr-1", "db.r6g.large")], GlobalClusterIdentifier="orders-global"
    )
    create_cluster(rds, "dev-burst", pg, "16.1", [("dev-burst-1", "db.t4g.medium")], tags={"env": "dev"})
    create_cluster(
        rds, "sessions-sls", mysql, "5.7.mysql_aurora.2.11.4", engine_mode="serverless", tags={"team": "web"}
    )
    create_cluster(
        rds,
        "audit-pg",
        pg,
        "16.1",
        [("audit-pg-1", "db.r6g.large"), ("audit-pg-2", "db.r6g.large")],
        tags={"team": "audit"},
    )
    das_extension.set_activity_stream("audit-pg", "started", "async", stack.key_arn, **where)
    das_extension.add_foreign_cluster("catalog-docdb", "docdb", "5.0.0", region=stack.region, account=stack.account)
    create_cluster(rds, "payments-pg", pg, "16.1", tags={"team": "payments"})
    das_extension.hold_cluster_status("payments-pg", "creating", **where)
    create_cluster(rds, "sandbox-pg", pg, "15.4", [("sandbox-pg-1", "db.r6g.large")], tags={"env": "sandbox"})
    rds.create_db_instance(
        DBInstanceIdentifier="reporting-db",
        Engine="postgres",
        DBInstanceClass="db.m6g.large",
        AllocatedStorage=100,
        MasterUsername="admin_user",
        MasterUserPassword=PASSWORD,
    )
    create_multi_az_cluster(rds, "inventory-maz")
    # lifecycle: a compliance tag set on an existing cluster, and streams that somebody just stopped
    create_cluster(rds, "ledger-pg", pg, "15.4", [("ledger-pg-1", "db.r6g.large")], tags={"data-class": "pii"})
    for name in ("reports-pg", "warehouse-pg"):
        create_cluster(rds, name, pg, "16.1", [(f"{name}-1", "db.r6g.large")], tags={"team": "bi"})
        das_extension.set_activity_stream(name, "stopping", "async", stack.key_arn, **where)
    # fixed clusters: a member's class changed to a supported one, the unsupported member deleted, a class change
    # finished (RDS event), a cluster renamed (RDS event): each is evaluated at once, not at the next sweep
    for name, team in (("catalog-pg", "catalog"), ("search-pg", "search"), ("geo-pg", "maps"), ("crm-pg", "crm")):
        create_cluster(rds, name, pg, "16.1", [(f"{name}-1", "db.r6g.large")], tags={"team": team})
    # blue/green deployments of audited clusters: one just created (its green cluster has no stream), two switched
    # over (the cluster now holding the production name is the green one, without a stream)
    for blue, deployment, green, switched in (
        ("shop-pg", "bgd-shop0upgrade0001", "shop-pg-green-abcdef", False),
        ("cart-pg", "bgd-cart0upgrade0002", "cart-pg-green-qwerty", True),
        ("pay-pg", "bgd-pay0upgrade00003", "pay-pg-green-zxcvbn", True),
    ):
        arn = create_cluster(rds, blue, pg, "15.4", [(f"{blue}-1", "db.r6g.large")], tags={"data-class": "pii"})
        das_extension.set_activity_stream(blue, "started", "sync", stack.key_arn, **where)  # audited as its rule says
        created = rds.create_blue_green_deployment(BlueGreenDeploymentName=f"{blue}-upgrade", Source=arn)
        das_extension.pin_blue_green(
            created["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"], deployment, green, **where
        )
        if switched:
            rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=deployment)
    # a stream RDS just reported started (RDS-EVENT-0179): evaluated again, its records' Kinesis stream there now
    create_cluster(rds, "vault-pg", pg, "16.1", [("vault-pg-1", "db.r6g.large")], tags={"data-class": "pci"})
    das_extension.set_activity_stream("vault-pg", "started", "sync", stack.key_arn, **where)
    # renamed into the legacy-* pattern, whose exemption has expired: still enforced, stream still running
    create_cluster(rds, "legacy-orders", pg, "15.4", [("legacy-orders-1", "db.r6g.large")])
    das_extension.set_activity_stream("legacy-orders", "started", "async", stack.key_arn, **where)


def create_multi_az_cluster(rds: Any, cluster_id: str, instances: Sequence[str] = ()) -> str:
    """A Multi-AZ DB cluster (RDS for PostgreSQL, not Aurora): a cluster DAS Guard must leave alone."""
    arn = create_cluster(
        rds,
        cluster_id,
        "postgres",
        "16.4",
        DBClusterInstanceClass="db.r6gd.large",
        StorageType="io1",
        Iops=3000,
        AllocatedStorage=100,
    )
    for instance_id in instances:
        rds.create_db_instance(
            DBInstanceIdentifier=instance_id,
            DBClusterIdentifier=cluster_id,
            Engine="postgres",
            DBInstanceClass="db.r6gd.large",
        )
    return arn


def finish_creating(session: Any, cluster_id: str, instance_id: str, instance_class: str = "db.r6g.large") -> None:
    """What RDS does a few minutes after CreateDBCluster + CreateDBInstance: the cluster becomes usable."""
    account = session.client("sts").get_caller_identity()["Account"]
    das_extension.hold_cluster_status(cluster_id, None, region=session.region_name, account=account)
    rds = session.client("rds")
    engine = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]["Engine"]
    rds.create_db_instance(
        DBInstanceIdentifier=instance_id, DBClusterIdentifier=cluster_id, Engine=engine, DBInstanceClass=instance_class
    )
