"""The DAS extension of moto models the real StartActivityStream/StopActivityStream rules and errors."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import jsonpath_ng.ext
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.sqs.models import sqs_backends

from localaws import das_extension
from localaws.scenario import create_cluster, create_multi_az_cluster
from localaws.world import World

ACCOUNT_REGION = "us-east-1:123456789012"


@pytest.fixture
def key(session: Any) -> str:
    kms = session.client("kms")
    key = kms.create_key(Description="das")["KeyMetadata"]
    kms.create_alias(AliasName="alias/das", TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def error(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def pg(rds: Any, name: str = "c1", classes: tuple[str, ...] = ("db.r6g.large",), version: str = "15.4") -> str:
    return create_cluster(rds, name, "aurora-postgresql", version, [(f"{name}-{i}", c) for i, c in enumerate(classes)])


def test_start_returns_starting_and_the_documented_stream_name(rds: Any, key: str) -> None:
    arn = pg(rds)
    response = rds.start_activity_stream(ResourceArn=arn, Mode="sync", KmsKeyId="alias/das", ApplyImmediately=True)
    cluster = rds.describe_db_clusters(DBClusterIdentifier="c1")["DBClusters"][0]
    assert response["Status"] == "starting"
    assert response["KinesisStreamName"] == "aws-rds-das-" + cluster["DbClusterResourceId"]
    assert response["KmsKeyId"] == key  # the alias is resolved to the key
    assert (response["Mode"], response["ApplyImmediately"]) == ("sync", True)
    assert cluster["ActivityStreamStatus"] == "starting"
    assert cluster["ActivityStreamMode"] == "sync"
    assert cluster["ActivityStreamKinesisStreamName"] == response["KinesisStreamName"]


def test_new_aurora_cluster_reports_a_stopped_stream_and_other_engines_none(rds: Any) -> None:
    pg(rds)
    das_extension.add_foreign_cluster("docs", "docdb", "5.0.0")
    states = {c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") for c in rds.describe_db_clusters()["DBClusters"]}
    assert states == {"c1": "stopped", "docs": None}


def test_settle_lets_time_pass(rds: Any, key: str) -> None:
    arn = pg(rds)
    rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)
    assert das_extension.settle_activity_streams() == 1
    assert rds.describe_db_clusters()["DBClusters"][0]["ActivityStreamStatus"] == "started"
    assert rds.stop_activity_stream(ResourceArn=arn, ApplyImmediately=True)["Status"] == "stopping"
    das_extension.settle_activity_streams()
    assert rds.describe_db_clusters()["DBClusters"][0]["ActivityStreamStatus"] == "stopped"


def test_unknown_cluster(rds: Any, key: str) -> None:
    arn = "arn:aws:rds:us-east-1:123456789012:cluster:nope"
    assert error(rds.start_activity_stream, ResourceArn=arn, Mode="async", KmsKeyId=key)[:2] == (
        "DBClusterNotFoundFault",
        404,
    )
    other_region = pg(rds).replace("us-east-1", "eu-west-1")
    assert error(rds.start_activity_stream, ResourceArn=other_region, Mode="async", KmsKeyId=key)[0] == (
        "DBClusterNotFoundFault"
    )


def test_instance_arn_is_refused(rds: Any, key: str) -> None:
    pg(rds)
    db = "arn:aws:rds:us-east-1:123456789012:db:"
    assert error(rds.start_activity_stream, ResourceArn=db + "c1-0", Mode="async", KmsKeyId=key)[:2] == (
        "InvalidParameterValue",
        400,
    )
    assert error(rds.start_activity_stream, ResourceArn=db + "nope", Mode="async", KmsKeyId=key)[:2] == (
        "DBInstanceNotFound",
        404,
    )


def test_mode_must_be_sync_or_async(rds: Any, key: str) -> None:
    assert (
        error(rds.start_activity_stream, ResourceArn=pg(rds), Mode="fast", KmsKeyId=key)[0] == "InvalidParameterValue"
    )


def test_cluster_must_be_available_with_an_instance(rds: Any, key: str) -> None:
    arn = create_cluster(rds, "empty", "aurora-postgresql", "15.4")
    code, status, message = error(rds.start_activity_stream, ResourceArn=arn, Mode="async", KmsKeyId=key)
    assert (code, status) == ("InvalidDBClusterStateFault", 400)
    assert "no DB instances" in message
    arn = pg(rds, "busy")
    das_extension.hold_cluster_status("busy", "modifying")
    assert rds.describe_db_clusters(DBClusterIdentifier="busy")["DBClusters"][0]["Status"] == "modifying"
    assert error(rds.start_activity_stream, ResourceArn=arn, Mode="async", KmsKeyId=key)[0] == (
        "InvalidDBClusterStateFault"
    )
    das_extension.hold_cluster_status("busy", None)
    assert (
        rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)["Status"]
        == "starting"
    )


def test_second_start_is_refused(rds: Any, key: str) -> None:
    arn = pg(rds)
    rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)
    code, _, message = error(rds.start_activity_stream, ResourceArn=arn, Mode="async", KmsKeyId=key)
    assert code == "InvalidDBClusterStateFault"
    assert "starting" in message


@pytest.mark.parametrize(
    ("engine", "version", "classes", "mode", "fragment"),
    [
        ("aurora-postgresql", "15.4", ("db.r6g.large", "db.t4g.medium"), "async", "db.t4g.medium"),
        ("aurora-postgresql", "15.4", ("db.serverless",), "async", "db.serverless"),
        ("aurora-postgresql", "10.21", ("db.r6g.large",), "async", "10.21"),
        ("aurora-mysql", "5.7.mysql_aurora.2.10.2", ("db.r6g.large",), "async", "2.10.2"),
        ("aurora-mysql", "8.0.mysql_aurora.3.05.2", ("db.r6id.large",), "async", "db.r6id.large"),
        ("aurora-mysql", "8.0.mysql_aurora.3.05.2", ("db.r6g.large",), "sync", "only the async"),
    ],
)
def test_unsupported_configurations(
    rds: Any, key: str, engine: str, version: str, classes: tuple[str, ...], mode: str, fragment: str
) -> None:
    arn = create_cluster(rds, "c9", engine, version, [(f"c9-{i}", c) for i, c in enumerate(classes)])
    code, status, message = error(rds.start_activity_stream, ResourceArn=arn, Mode=mode, KmsKeyId=key)
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert fragment in message


def test_serverless_v1_and_non_aurora_are_refused(rds: Any, key: str) -> None:
    arn = create_cluster(rds, "sls", "aurora-mysql", "5.7.mysql_aurora.2.11.4", engine_mode="serverless")
    das_extension.hold_cluster_status("sls", None)
    # serverless v1 has no instances; the model refuses it for the engine mode or the missing instance
    assert error(rds.start_activity_stream, ResourceArn=arn, Mode="async", KmsKeyId=key)[0] in {
        "InvalidParameterCombination",
        "InvalidDBClusterStateFault",
    }
    maz = create_multi_az_cluster(rds, "maz", ["maz-1"])
    assert "Engine postgres" in error(rds.start_activity_stream, ResourceArn=maz, Mode="async", KmsKeyId=key)[2]


@pytest.mark.parametrize("problem", ["missing", "disabled", "pending-deletion", "asymmetric", "aws-managed"])
def test_kms_key_must_be_usable(rds: Any, session: Any, problem: str) -> None:
    kms = session.client("kms")
    key_id = {
        "missing": lambda: "alias/does-not-exist",
        "disabled": lambda: _disabled(kms),
        "pending-deletion": lambda: _pending(kms),
        "asymmetric": lambda: kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"],
        "aws-managed": lambda: "alias/aws/rds",
    }[problem]()
    code, status, message = error(rds.start_activity_stream, ResourceArn=pg(rds), Mode="async", KmsKeyId=key_id)
    assert (code, status) == ("KMSKeyNotAccessibleFault", 400)
    assert key_id in message
    assert rds.describe_db_clusters()["DBClusters"][0]["ActivityStreamStatus"] == "stopped"


def _disabled(kms: Any) -> str:
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])  # moto wants the bare key ID here
    return str(key["Arn"])


def _pending(kms: Any) -> str:
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    return str(key["Arn"])


def test_reserved_aliases_are_aws_managed_keys(session: Any) -> None:
    assert session.client("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyManager"] == "AWS"


def test_stop_needs_a_running_stream(rds: Any) -> None:
    code, status, message = error(rds.stop_activity_stream, ResourceArn=pg(rds))
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert message == "Activity Streams feature expected to be started, but is stopped"


def test_works_through_the_threaded_server_too() -> None:
    with World(server=True) as world:
        assert world.endpoint is not None
        assert world.endpoint.startswith("http://127.0.0.1:")
        session = boto3.Session(region_name="us-east-1")
        kms, rds = session.client("kms"), session.client("rds")
        key = kms.create_key()["KeyMetadata"]["Arn"]
        arn = pg(rds, "srv")
        assert (
            rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)["Status"]
            == "starting"
        )


def test_dynamodb_answers_concurrent_transactions_and_writes_without_a_server_error() -> None:
    """moto's TransactWriteItems copies the table while other threads of its server write to it; DynamoDB applies
    each request atomically and never answers 500 for it. No retries here: a 500 would raise."""
    with World(server=True):
        client = boto3.Session(region_name="us-east-1").client("dynamodb", config=Config(retries={"max_attempts": 1}))
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for first in range(0, 1500, 25):  # a table worth copying: moto copies it whole for each transaction
            items = [{"PutRequest": {"Item": {"pk": {"S": f"old#{n}"}}}} for n in range(first, first + 25)]
            client.batch_write_item(RequestItems={"t": items})

        def write(worker: int) -> None:
            for n in range(30):
                absent = {"ConditionExpression": "attribute_not_exists(pk)"}
                client.transact_write_items(
                    TransactItems=[
                        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": f"hold#{worker}-{n}"}}, **absent}},
                        {"Put": {"TableName": "t", "Item": {"pk": {"S": f"stream#{worker}-{n}"}}, **absent}},
                    ]
                )
                client.put_item(TableName="t", Item={"pk": {"S": f"notice#{worker}-{n}"}})

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(write, range(4)))
        assert client.scan(TableName="t", Select="COUNT")["Count"] == 1500 + 4 * 30 * 2


def test_the_server_counts_operations_and_accepted_starts_for_the_bench() -> None:
    """What reaches the server is counted by operation whatever the protocol (query: RDS; JSON: DynamoDB, KMS), and
    a start counts only when RDS accepted it - the bench's evidence of 'no double start'."""
    with World(server=True):
        session = boto3.Session(region_name="us-east-1")
        kms, rds, dynamodb = session.client("kms"), session.client("rds"), session.client("dynamodb")
        key = kms.create_key()["KeyMetadata"]["Arn"]
        arn = pg(rds, "counted")
        with das_extension.counting_operations() as operations, das_extension.counting_starts() as starts:
            rds.describe_db_clusters(DBClusterIdentifier="counted")
            dynamodb.list_tables()
            rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)
            with pytest.raises(ClientError):  # the second start is refused: not a start
                rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)
        rds.describe_db_clusters(DBClusterIdentifier="counted")  # after the block: not counted
        assert operations == {"rds:DescribeDBClusters": 1, "dynamodb:ListTables": 1, "rds:StartActivityStream": 2}
        assert starts == {arn: 1}


@pytest.mark.parametrize(
    ("operation", "key", "count"),
    [("describe_db_clusters", "DBClusters", 45), ("describe_db_instances", "DBInstances", 45)],
)
def test_describe_calls_page_like_rds(rds: Any, operation: str, key: str, count: int) -> None:
    for n in range(count):
        create_cluster(rds, f"c{n:02d}", "aurora-postgresql", "16.1", [(f"c{n:02d}-1", "db.r6g.large")])
    first = getattr(rds, operation)(MaxRecords=20)
    assert len(first[key]) == 20
    assert first["Marker"]
    pages = list(rds.get_paginator(operation).paginate(PaginationConfig={"PageSize": 20}))
    assert [len(p[key]) for p in pages] == [20, 20, 5]
    names = [i.get("DBClusterIdentifier") for p in pages for i in p[key]]
    assert names == sorted(names)
    assert len(set(names)) == count
    assert "Marker" not in getattr(rds, operation)()  # default page size is 100


@pytest.mark.parametrize("operation", ["describe_db_clusters", "describe_db_instances"])
def test_a_cluster_filter_takes_at_most_100_identifiers_like_rds(rds: Any, operation: str) -> None:
    names = [f"c{n:03d}" for n in range(101)]
    create_cluster(rds, "c000", "aurora-postgresql", "16.1", [("c000-1", "db.r6g.large")])
    refused = error(getattr(rds, operation), Filters=[{"Name": "db-cluster-id", "Values": names}])
    assert refused[:2] == ("InvalidParameterCombination", 400)
    answer = getattr(rds, operation)(Filters=[{"Name": "db-cluster-id", "Values": names[:100]}])
    assert len(answer["DBClusters" if operation == "describe_db_clusters" else "DBInstances"]) == 1
    repeated = getattr(rds, operation)(Filters=[{"Name": "db-cluster-id", "Values": [*names[:100], "c000"]}])
    key = "DBClusters" if operation == "describe_db_clusters" else "DBInstances"
    assert len(repeated[key]) == 1, "the limit counts unique identifiers"


def test_max_records_is_bounded_like_rds(rds: Any) -> None:
    assert error(rds.describe_db_clusters, MaxRecords=5)[:2] == ("InvalidParameterValue", 400)


def test_queue_counts_and_retention_read_as_sqs_says(world: World) -> None:
    """The approximate counts (computed with the clock read once) and the retention check (reading the one attribute)
    answer as SQS does: delayed, in flight and waiting messages counted apart; a message past the retention period
    is never delivered."""
    sqs = world.session().client("sqs")
    url = sqs.create_queue(QueueName="counts", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"later {n}", DelaySeconds=600)
    for n in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"now {n}")
    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=300)["Messages"]
    assert len(taken) == 2
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        counts["ApproximateNumberOfMessagesDelayed"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessages"],
    ) == ("3", "2", "2")
    old = sqs.create_queue(QueueName="old", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=old, MessageBody="sent long ago")
    backend_queue = sqs_backends["123456789012"]["us-east-1"].queues["old"]
    for message in backend_queue._messages:
        message.sent_timestamp -= 61_000  # sent 61 s ago: past the queue's retention
    assert sqs.receive_message(QueueUrl=old).get("Messages", []) == []


def test_time_passes_for_sqs_delays_when_the_world_says_so(world: World) -> None:
    """moto keeps SQS delays as wall-clock instants; the world's clock moving must release them."""
    sqs = world.session().client("sqs")
    url = sqs.create_queue(QueueName="delays")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in 60 s", DelaySeconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="in 900 s", DelaySeconds=900)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    world.advance(minutes=1)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)["Messages"]
    assert [m["Body"] for m in received] == ["in 60 s"]
    world.advance(minutes=9)
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == [], "in flight; delayed"
    world.advance(minutes=5)
    bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"])
    assert bodies == ["in 60 s", "in 900 s"]  # the visibility timeout ran out too


def test_streams_settle_when_minutes_pass(world: World) -> None:
    deployment = world.deploy()
    deployment.add_cluster("a", stream="starting")
    deployment.add_cluster("b", stream="stopping")
    world.advance(timedelta(seconds=30))
    assert deployment.streams() == {"a": "starting", "b": "stopping"}
    world.advance(minutes=1)
    assert deployment.streams() == {"a": "started", "b": "stopped"}


@pytest.mark.parametrize("subject", ["line\nbreak", "tab\there", "bell\x07", "   "])
def test_sns_refuses_subjects_with_line_breaks_or_control_characters(session: Any, subject: str) -> None:
    sns = session.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    code, status, _ = error(sns.publish, TopicArn=topic, Subject=subject, Message="m")
    assert (code, status) == ("InvalidParameter", 400)
    assert sns.publish(TopicArn=topic, Subject="DAS Guard HIGH: fine", Message="m")["MessageId"]


def test_a_renamed_cluster_keeps_its_instances_and_its_resource_id(rds: Any) -> None:
    pg(rds, "orders-pg")
    before = rds.describe_db_clusters(DBClusterIdentifier="orders-pg")["DBClusters"][0]
    rds.modify_db_cluster(DBClusterIdentifier="orders-pg", NewDBClusterIdentifier="orders-v2", ApplyImmediately=True)
    [after] = rds.describe_db_clusters()["DBClusters"]
    assert (after["DBClusterIdentifier"], after["DbClusterResourceId"]) == ("orders-v2", before["DbClusterResourceId"])
    assert after["DBClusterArn"].endswith(":cluster:orders-v2")
    assert [m["DBInstanceIdentifier"] for m in after["DBClusterMembers"]] == ["orders-pg-0"]
    [instance] = rds.describe_db_instances()["DBInstances"]
    assert instance["DBClusterIdentifier"] == "orders-v2"


@pytest.mark.parametrize(
    ("region", "engine", "version", "instance_class", "modes"),
    [
        ("us-east-1", "aurora-postgresql", "16.1", "db.r6g.large", ["sync", "async"]),
        ("us-east-1", "aurora-mysql", "8.0.mysql_aurora.3.05.2", "db.r7g.xlarge", ["async"]),
        ("us-east-1", "aurora-postgresql", "16.1", "db.t4g.medium", []),  # orderable, but no DAS
        ("us-east-1", "aurora-postgresql", "16.1", "db.serverless", []),
        ("us-east-1", "aurora-mysql", "5.7.mysql_aurora.2.10.2", "db.r6g.large", []),  # below 2.11
        ("eu-central-2", "aurora-postgresql", "16.1", "db.r6g.large", []),  # Zurich: no DAS
        ("us-gov-west-1", "aurora-postgresql", "16.1", "db.r6g.large", []),  # GovCloud: no DAS
    ],
)
def test_orderable_options_say_which_modes_aws_offers(
    aws: None, region: str, engine: str, version: str, instance_class: str, modes: list[str]
) -> None:
    rds = boto3.client("rds", region_name=region)
    options = rds.describe_orderable_db_instance_options(
        Engine=engine, EngineVersion=version, DBInstanceClass=instance_class
    )["OrderableDBInstanceOptions"]
    assert options, "the combination is orderable"
    assert {tuple(o["SupportedActivityStreamModes"]) for o in options} == {tuple(modes)}


def test_orderable_options_page_like_rds(aws: None) -> None:
    rds = boto3.client("rds", region_name="us-east-1")
    first = rds.describe_orderable_db_instance_options(Engine="aurora-postgresql", EngineVersion="16.1", MaxRecords=20)
    assert len(first["OrderableDBInstanceOptions"]) == 20
    paginator = rds.get_paginator("describe_orderable_db_instance_options")
    everything = [
        o
        for page in paginator.paginate(Engine="aurora-postgresql", EngineVersion="16.1")
        for o in page["OrderableDBInstanceOptions"]
    ]
    assert len(everything) == len(das_extension.orderable_classes("aurora-postgresql"))


def test_a_start_for_the_maintenance_window_waits_for_it(world: World) -> None:
    deployment = world.deploy()
    arn = deployment.add_cluster("orders-pg")
    rds = deployment.aws.client("rds")
    window = rds.describe_db_clusters()["DBClusters"][0]["PreferredMaintenanceWindow"]
    response = rds.start_activity_stream(
        ResourceArn=arn, Mode="async", KmsKeyId=deployment.stack.key_arn, ApplyImmediately=False
    )
    assert (response["Status"], response["ApplyImmediately"]) == ("stopped", False)
    code, status, message = error(
        rds.start_activity_stream, ResourceArn=arn, Mode="async", KmsKeyId=deployment.stack.key_arn
    )
    assert (code, status) == ("InvalidDBClusterStateFault", 400)
    assert "pending" in message
    starts = das_extension.next_window(window, world.now().replace(tzinfo=None))
    world.advance(starts - world.now().replace(tzinfo=None) - timedelta(minutes=5))
    assert deployment.stream("orders-pg")["Status"] == "stopped", "not before the window"
    world.advance(minutes=10)
    assert deployment.stream("orders-pg")["Status"] in ("starting", "started")


def test_maintenance_windows_are_computed_like_rds_reads_them() -> None:
    from datetime import datetime  # noqa: PLC0415

    tuesday = datetime(2026, 12, 1, 12, 0)  # a Tuesday
    assert das_extension.next_window("wed:02:40-wed:03:10", tuesday) == datetime(2026, 12, 2, 2, 40)
    assert das_extension.next_window("tue:02:40-tue:03:10", tuesday) == datetime(2026, 12, 8, 2, 40)
    assert das_extension.next_window("tue:13:00-tue:13:30", tuesday) == datetime(2026, 12, 1, 13, 0)


def test_put_events_deliver_each_event_with_its_own_input_paths_parsed_once(session: Any) -> None:
    """Targets receive each event transformed from its own content, while each input path is parsed only once
    (moto rebuilt a jsonpath parser per path per event: a PutEvents of ten took 0.2-0.4 s)."""

    sqs, events = session.client("sqs"), session.client("events")
    url = sqs.create_queue(QueueName="transformed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="results", EventPattern=json.dumps({"source": ["das-guard"]}))
    transformer = {"InputPathsMap": {"cluster": "$.detail.cluster_id"}, "InputTemplate": '"<cluster> decided"'}
    events.put_targets(Rule="results", Targets=[{"Id": "q", "Arn": arn, "InputTransformer": transformer}])
    entries = [
        {"Source": "das-guard", "DetailType": "DAS Guard Decision", "Detail": json.dumps({"cluster_id": f"c{i}"})}
        for i in range(10)
    ]
    events.put_events(Entries=entries)
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(bodies) == sorted(f'"c{i} decided"' for i in range(10))
    assert jsonpath_ng.ext.parse("$.detail.cluster_id") is jsonpath_ng.ext.parse("$.detail.cluster_id")


def test_clusters_are_found_by_their_resource_id_through_renames(rds: Any) -> None:
    """DescribeDBClusters' `db-cluster-resource-id` filter (RDS API reference; moto knows only db-cluster-id and
    engine): the identity that stays with a cluster when its name moves."""
    pg(rds, "before")
    resource_id = rds.describe_db_clusters(DBClusterIdentifier="before")["DBClusters"][0]["DbClusterResourceId"]
    rds.modify_db_cluster(DBClusterIdentifier="before", NewDBClusterIdentifier="after", ApplyImmediately=True)
    found = rds.describe_db_clusters(Filters=[{"Name": "db-cluster-resource-id", "Values": [resource_id]}])
    assert [c["DBClusterIdentifier"] for c in found["DBClusters"]] == ["after"]
    nothing = rds.describe_db_clusters(Filters=[{"Name": "db-cluster-resource-id", "Values": ["cluster-NONE"]}])
    assert nothing["DBClusters"] == []
    code, status, _ = error(rds.describe_db_clusters, Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert (code, status) == ("InvalidParameterValue", 400), "an unknown filter is still refused, as by RDS"


def test_a_window_start_that_never_happens(rds: Any, key: str, session: Any) -> None:
    """drop_pending_start: RDS forgets a start requested for the maintenance window (the case DAS Guard must tell)."""
    arn = pg(rds)
    answer = rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=False)
    assert answer["Status"] == "stopped"
    das_extension.drop_pending_start("c1")
    das_extension.settle_activity_streams()
    assert rds.describe_db_clusters(DBClusterIdentifier="c1")["DBClusters"][0]["ActivityStreamStatus"] == "stopped"
    # and, not pending any more, a new start may be requested
    assert rds.start_activity_stream(ResourceArn=arn, Mode="async", KmsKeyId=key, ApplyImmediately=True)["Status"] == (
        "starting"
    )


def test_a_cluster_page_reads_the_region_s_instances_once_and_answers_as_before(rds: Any) -> None:
    """moto scanned every instance of the region three times for each cluster it described (a page's cost grew with
    the region); a Describe request now groups the instances once. Members stay right across the writes between two
    reads: an instance added, one deleted, a rename."""
    from moto.rds.models import rds_backends  # noqa: PLC0415

    for n in range(30):
        create_cluster(
            rds, f"c{n:02d}", "aurora-postgresql", "16.1", [(f"c{n:02d}-{i}", "db.r6g.large") for i in (0, 1)]
        )
    backend = rds_backends["123456789012"]["us-east-1"]
    readings = 0
    listed = type(backend.databases).values

    def counted(self: Any) -> Any:
        nonlocal readings
        readings += self is backend.databases
        return listed(self)

    type(backend.databases).values = counted  # type: ignore[method-assign]
    try:
        clusters = rds.describe_db_clusters()["DBClusters"]
        page_readings, readings = readings, 0
    finally:
        type(backend.databases).values = listed  # type: ignore[method-assign]
    assert page_readings == 1, "one grouping of the instances for a page of 30 clusters, not 90 scans"
    members = {
        c["DBClusterIdentifier"]: sorted(m["DBInstanceIdentifier"] for m in c["DBClusterMembers"]) for c in clusters
    }
    assert members["c07"] == ["c07-0", "c07-1"]
    assert sum(1 for c in clusters for m in c["DBClusterMembers"] if m["IsClusterWriter"]) == 30

    rds.delete_db_instance(DBInstanceIdentifier="c07-1")
    rds.create_db_instance(
        DBInstanceIdentifier="c07-2",
        DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
        DBClusterIdentifier="c07",
    )
    rds.modify_db_cluster(DBClusterIdentifier="c08", NewDBClusterIdentifier="c08-renamed", ApplyImmediately=True)
    after = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    assert sorted(m["DBInstanceIdentifier"] for m in after["c07"]["DBClusterMembers"]) == ["c07-0", "c07-2"]
    assert sorted(m["DBInstanceIdentifier"] for m in after["c08-renamed"]["DBClusterMembers"]) == ["c08-0", "c08-1"]


def test_remembered_attribute_names_answer_as_names_worked_out_each_time(
    session: Any, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local server's serializer remembers which name each member goes by, per class and shape; what it answers
    is what it answered when it worked each one out anew."""
    from localaws.das_extension import fixes  # noqa: PLC0415

    rds, ddb, kms = session.client("rds"), session.client("dynamodb"), session.client("kms")
    pg(rds, "c1", ("db.r6g.large", "db.r6g.xlarge"))
    rds.start_activity_stream(
        ResourceArn=rds.describe_db_clusters()["DBClusters"][0]["DBClusterArn"],
        Mode="async",
        KmsKeyId=key,
        ApplyImmediately=True,
    )
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(
        TableName="t",
        Item={
            "pk": {"S": "a"},
            "n": {"N": "1"},
            "b": {"B": b"\x00\x01"},
            "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}]}}},
        },
    )

    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="q")["QueueUrl"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    def answers() -> list[Any]:
        said = [
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"],
            sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"],
            rds.describe_db_clusters()["DBClusters"],
            rds.describe_db_instances()["DBInstances"],
            ddb.scan(TableName="t")["Items"],
            ddb.describe_table(TableName="t")["Table"],
            kms.describe_key(KeyId=key)["KeyMetadata"],
        ]
        return json.loads(json.dumps(said, default=str))

    remembered = answers()
    monkeypatch.setattr(fixes, "ALIASES_KEPT", 0)
    assert answers() == remembered
    assert remembered[4] == [
        {
            "pk": {"S": "a"},
            "n": {"N": "1"},
            "b": {"B": "b'\\x00\\x01'"},
            "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}]}}},
        }
    ]
