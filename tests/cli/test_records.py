"""`das-guard records`: "who ran what on this cluster yesterday" in one command (issue 25). The local RDS writes real
encrypted activity records (moto's KMS data keys, the real Encryption SDK framing, heartbeats among them); the
command reads them back from the Kinesis stream, decrypts, drops heartbeats, filters and prints JSON lines."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy
from typer.testing import CliRunner

from das_guard_cli import aws_session
from das_guard_cli.main import app
from das_guard_cli.records import data_key_master, decrypt
from localaws import World
from localaws.activity import Statement
from localaws.scenario import DEMO_POLICY
from localaws.world import Deployment

REGION = ["--region", "us-east-1"]
runner = CliRunner()

BOB_READS = Statement("bob", "orders", "SELECT", "select * from cards where id = $1", "public.cards")
ALICE_GRANTS = Statement("alice", "orders", "GRANT", "grant select on cards to reporting")
BOB_UPDATES = Statement("bob", "billing", "UPDATE", "update invoices set paid = true", "public.invoices")


@pytest.fixture
def audited(world: World) -> Deployment:
    """orders-pg with a started stream and two activity records on its Kinesis stream."""
    deployment = world.deploy()
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.sweep()
    world.advance(minutes=10)
    deployment.database_activity("orders-pg", BOB_READS, ALICE_GRANTS)
    deployment.database_activity("orders-pg", BOB_UPDATES)
    aws_session.CALLS.clear()
    return deployment


def events(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_who_ran_what_is_read_back_decrypted_without_heartbeats(audited: Deployment) -> None:
    result = runner.invoke(app, ["records", "orders-pg", *REGION])
    assert result.exit_code == 0, result.output
    read = events(result.stdout)
    assert [(e["dbUserName"], e["command"], e["commandText"]) for e in read] == [
        ("bob", "SELECT", BOB_READS.text),
        ("alice", "GRANT", ALICE_GRANTS.text),
        ("bob", "UPDATE", BOB_UPDATES.text),
    ]
    assert all(e["type"] == "record" for e in read)
    assert "3 event(s) from 2 Kinesis record(s) of orders-pg (2 heartbeat(s) dropped, 0 filtered out)" in result.stderr
    writes = [c for c in aws_session.CALLS if not c.split(":")[1].startswith(aws_session.READ_PREFIXES)]
    assert writes == [], "reading records changes nothing"
    assert "kms:Decrypt" in aws_session.CALLS


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--user", "bob"], ["SELECT", "UPDATE"]),
        (["--command", "grant"], ["GRANT"]),
        (["--database", "billing"], ["UPDATE"]),
        (["--user", "bob", "--database", "orders"], ["SELECT"]),
    ],
)
def test_filters_by_user_database_and_command(audited: Deployment, options: list[str], expected: list[str]) -> None:
    result = runner.invoke(app, ["records", "orders-pg", *REGION, *options])
    assert [e["command"] for e in events(result.stdout)] == expected


def test_a_time_range_reads_only_what_arrived_in_it(audited: Deployment) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    result = runner.invoke(app, ["records", "orders-pg", *REGION, "--since", later])
    assert (result.exit_code, events(result.stdout)) == (0, [])
    result = runner.invoke(app, ["records", "orders-pg", *REGION, "--since", "1h"])
    assert len(events(result.stdout)) == 3


def test_writes_json_lines_to_a_file(audited: Deployment, tmp_path: Path) -> None:
    target = tmp_path / "orders-pg.jsonl"
    result = runner.invoke(app, ["records", "orders-pg", *REGION, "--out", str(target)])
    assert result.exit_code == 0
    assert len(events(target.read_text(encoding="utf-8"))) == 3
    assert events(result.stdout) == []


def test_a_record_kms_will_not_open_is_said_and_fails_the_command(audited: Deployment) -> None:
    key = audited.stream("orders-pg")["KmsKeyId"]
    audited.aws.client("kms").disable_key(KeyId=key.rsplit("/", 1)[1])
    result = runner.invoke(app, ["records", "orders-pg", *REGION])
    assert result.exit_code == 1
    assert "KMS refused the record's data key" in result.stderr
    assert "2 unreadable" in result.stderr


def test_a_cluster_without_a_stream_is_a_clear_usage_error(world: World) -> None:
    deployment = world.deploy()
    deployment.add_cluster("quiet-pg", tags={"env": "sandbox"})
    result = runner.invoke(app, ["records", "quiet-pg", *REGION])
    assert result.exit_code == 2
    assert "quiet-pg has no activity stream" in result.stderr


def test_a_bad_time_is_a_usage_error(audited: Deployment) -> None:
    result = runner.invoke(app, ["records", "orders-pg", *REGION, "--since", "yesterday"])
    assert result.exit_code == 2
    assert "neither an ISO 8601 time nor an age" in result.stderr


def test_the_records_are_the_messages_that_trap_awss_published_samples(audited: Deployment) -> None:
    """The records carry no key commitment: a client with the Encryption SDK's current default refuses them, which
    is why `decrypt` allows them explicitly (and why AWS's samples fail as published)."""
    kinesis, kms = audited.aws.client("kinesis"), audited.aws.client("kms")
    stream = audited.stream("orders-pg")["KinesisStreamName"]
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    data = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"][0]["Data"]
    resource_id = audited.resource_id("orders-pg")
    assert [e["type"] for e in decrypt(kms, data, resource_id)] == ["heartbeat", "record", "record"]

    record = json.loads(data)
    strict = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    plain = kms.decrypt(
        CiphertextBlob=base64.b64decode(record["key"]), EncryptionContext={"aws:rds:dbc-id": resource_id}
    )["Plaintext"]
    master = data_key_master(plain)
    with pytest.raises(aws_encryption_sdk.exceptions.ActionNotAllowedError, match="committed"):
        strict.decrypt(source=base64.b64decode(record["databaseActivityEvents"]), key_provider=master)
    with pytest.raises(Exception, match="InvalidCiphertext"):  # the context binds the data key to the cluster
        kms.decrypt(CiphertextBlob=base64.b64decode(record["key"]), EncryptionContext={"aws:rds:dbc-id": "other"})


def test_the_archive_is_read_back_after_the_stream_is_gone(world: World) -> None:
    """reader: archive - the records outlive the Kinesis stream Aurora deletes at stop."""
    document = copy.deepcopy(DEMO_POLICY)
    document["rules"][1]["records"] = {"reader": "archive"}
    deployment = world.deploy(policy=document)
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.sweep()
    world.advance(minutes=10)
    deployment.sweep()  # the stream runs: DAS Guard creates its archive
    deployment.database_activity("orders-pg", BOB_READS, ALICE_GRANTS)
    world.advance(minutes=5)  # Firehose delivers
    deployment.aws.client("kinesis").delete_stream(StreamName=deployment.stream("orders-pg")["KinesisStreamName"])

    live = runner.invoke(app, ["records", "orders-pg", *REGION])
    assert live.exit_code == 2, "the live stream is gone"
    archived = runner.invoke(
        app,
        ["records", "orders-pg", *REGION, "--source", "archive", "--archive-bucket", deployment.stack.archive_bucket],
    )
    assert archived.exit_code == 0, archived.output
    assert [(e["dbUserName"], e["command"]) for e in events(archived.stdout)] == [("bob", "SELECT"), ("alice", "GRANT")]
    assert "2 event(s) from 1 archived record(s) of orders-pg" in archived.stderr


def test_the_archive_needs_its_bucket(audited: Deployment) -> None:
    result = runner.invoke(app, ["records", "orders-pg", *REGION, "--source", "archive"])
    assert result.exit_code == 2
    assert "needs the archive bucket" in result.stderr
