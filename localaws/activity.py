"""What Aurora writes to a started activity stream's Kinesis stream, for the local world: encrypted activity records
made the way the Aurora User Guide ("Monitoring database activity streams") describes them.

Each Kinesis record is JSON: `type` DatabaseActivityMonitoringRecords, `version`, `databaseActivityEvents` (base64 of
an AWS Encryption SDK message) and `key` (base64 of a data key encrypted under the activity stream's KMS key with the
encryption context {"aws:rds:dbc-id": <DbClusterResourceId>}). The message is encrypted with that data key as a raw
AES master key (provider "BC", key "DataKey") and holds the gzip-compressed JSON `databaseActivityEventList`, where
heartbeat events come between the records. The data key is a real one from (moto's) KMS GenerateDataKey, the
framing is the real Encryption SDK's; which algorithm suite RDS picks is not documented, so this writer uses the
Encryption SDK 1.x default (a suite without key commitment, which is why current SDKs refuse these messages unless
told to allow them - the trap AWS's published samples fall into).
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aws_encryption_sdk
import boto3
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey

_WRITER = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)


@dataclass(frozen=True)
class Statement:
    """One SQL statement someone ran on the cluster."""

    user: str
    database: str
    command: str  # SELECT, INSERT, UPDATE, DELETE, GRANT, ...
    text: str
    object_name: str = ""
    remote_host: str = "10.0.1.23"
    client: str = "psql"


def activity_record(
    session: boto3.Session,
    cluster: dict[str, Any],
    statements: Sequence[Statement],
    at: datetime,
    *,
    heartbeat: bool = True,
) -> bytes:
    """One Kinesis record's data, as Aurora PostgreSQL writes it for these statements (and a heartbeat first)."""
    resource_id = str(cluster["DbClusterResourceId"])
    key = session.client("kms").generate_data_key(
        KeyId=str(cluster["ActivityStreamKmsKeyId"]),
        KeySpec="AES_256",
        EncryptionContext={"aws:rds:dbc-id": resource_id},
    )
    events: list[dict[str, Any]] = []
    if heartbeat:
        events.append(_heartbeat(at))
    events += [_event(cluster, statement, at, i) for i, statement in enumerate(statements, start=1)]
    payload = {
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": resource_id,
        "instanceId": f"db-{uuid.uuid5(uuid.NAMESPACE_URL, resource_id).hex[:26].upper()}",
        "databaseActivityEventList": events,
    }
    master_key = RawMasterKey(
        provider_id="BC",
        key_id=b"DataKey",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=key["Plaintext"],
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    sealed, _ = _WRITER.encrypt(
        source=gzip.compress(json.dumps(payload).encode()),
        key_provider=master_key,
        algorithm=Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
    )
    record = {
        "type": "DatabaseActivityMonitoringRecords",
        "version": "1.2",
        "databaseActivityEvents": base64.b64encode(sealed).decode(),
        "key": base64.b64encode(key["CiphertextBlob"]).decode(),
    }
    return json.dumps(record).encode()


def _log_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00"


def _heartbeat(at: datetime) -> dict[str, Any]:
    return {"type": "heartbeat", "logTime": _log_time(at), "startTime": None}


def _event(cluster: dict[str, Any], statement: Statement, at: datetime, n: int) -> dict[str, Any]:
    """One database activity event, with the fields Aurora PostgreSQL's records carry."""
    return {
        "type": "record",
        "class": "READ" if statement.command == "SELECT" else "WRITE" if statement.command != "GRANT" else "ROLE",
        "clientApplication": statement.client,
        "command": statement.command,
        "commandText": statement.text,
        "databaseName": statement.database,
        "dbProtocol": "Postgres 3.0",
        "dbUserName": statement.user,
        "errorMessage": None,
        "exitCode": None,
        "logTime": _log_time(at),
        "netProtocol": "TCP",
        "objectName": statement.object_name or None,
        "objectType": "TABLE" if statement.object_name else None,
        "paramList": [],
        "pid": 17000 + n,
        "remoteHost": statement.remote_host,
        "remotePort": str(49000 + n),
        "rowCount": 1,
        "serverHost": "10.0.0.5",
        "serverType": "PostgreSQL",
        "serverVersion": str(cluster.get("EngineVersion", "")),
        "serviceName": "Amazon Aurora PostgreSQL-Compatible edition",
        "sessionId": f"{uuid.uuid5(uuid.NAMESPACE_URL, statement.user).hex[:8]}.{n:x}",
        "startTime": None,
        "statementId": n,
        "substatementId": 1,
        "transactionId": str(1000 + n),
    }
