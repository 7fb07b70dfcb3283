"""DynamoDB: DAS Guard's memory in the state table - break-glass holds, what it last knew of each stream,
once-only notices, and each cluster's last Security Hub import. Items expire by TTL. Nothing read here is
trusted beyond its shape: an item anyone with dynamodb:PutItem could have written is parsed defensively, and
the decision logic checks holds against the policy and the live cluster.

Without a table (DAS_GUARD_STATE_TABLE unset, as in the CLI) there is nothing to remember: reads find nothing
and writes are skipped - except a hold, which must not be silently lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import boto3

from ..gateway import AwsError
from ..model import FindingRecord, Hold, Protection, StreamMark, StreamRecord
from .calls import CLIENT_CONFIG, call, pages

STREAM_RECORD_STATES = frozenset({"on", "reported", "allowed", "scheduled", "awaiting-upgrade", "upgrade"})
BATCH_WRITE_ATTEMPTS = 4
BATCH_WRITE_SIZE = 25  # BatchWriteItem's limit


class StateTable:
    def __init__(self, session: boto3.Session, table: str | None) -> None:
        self._session = session
        self.table = table

    @cached_property
    def _dynamodb(self) -> Any:
        return self._session.client("dynamodb", config=CLIENT_CONFIG)

    def _item(self, key: str) -> dict[str, Any] | None:
        """One item (consistent read); None when absent or there is no table."""
        if not self.table:
            return None
        response = call(
            "dynamodb:GetItem",
            self._dynamodb.get_item,
            TableName=self.table,
            Key={"pk": {"S": key}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _scan(self, **kwargs: Any) -> list[dict[str, Any]]:
        if not self.table:
            return []
        return [
            item
            for page in pages(self._dynamodb, "dynamodb:Scan", "Items", TableName=self.table, **kwargs)
            for item in page
        ]

    def _put(self, item: dict[str, Any], **kwargs: Any) -> None:
        call("dynamodb:PutItem", self._dynamodb.put_item, TableName=self.table, Item=item, **kwargs)

    # -- holds and stream records --------------------------------------------------------------------------
    def sweep_state(self, now: datetime) -> tuple[dict[str, Hold], dict[str, StreamRecord]]:
        """One paginated scan of the table: the active holds and the stream records (what DAS Guard last knew of
        each stream, see `mark_stream`), both by DbClusterResourceId."""
        holds: dict[str, Hold] = {}
        streams: dict[str, StreamRecord] = {}
        for item in self._scan():
            key = _string(item, "pk") or ""
            if key.startswith("stream#"):
                record = _record_from_item(item)
                if record is not None:
                    streams[key.removeprefix("stream#")] = record
                continue
            hold = _hold_from_item(item)
            if hold and (hold.problem or hold.until > now):
                holds[hold.resource_id] = hold
        return holds, streams

    def place_hold(self, hold: Hold) -> None:
        if not self.table:
            raise AwsError("dynamodb:PutItem", "NoStateTable", "DAS_GUARD_STATE_TABLE is not set", transient=False)
        self._put(
            {
                "pk": {"S": f"hold#{hold.resource_id}"},
                "cluster_arn": {"S": hold.cluster_arn},
                "principal": {"S": hold.principal},
                "until": {"S": hold.until.isoformat()},
                "expires_at": {"N": str(int(hold.until.timestamp()) + 86400)},
            }
        )

    def cluster_state(self, resource_id: str, now: datetime) -> tuple[Hold | None, StreamRecord | None]:
        """A cluster's hold and stream record in one BatchGetItem (consistent reads): every evaluation consults both,
        and one request costs less than two. Keys DynamoDB leaves unprocessed are read one by one."""
        if not self.table or not resource_id:
            return None, None
        keys = [{"pk": {"S": f"hold#{resource_id}"}}, {"pk": {"S": f"stream#{resource_id}"}}]
        response = call(
            "dynamodb:BatchGetItem",
            self._dynamodb.batch_get_item,
            RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}},
        )
        items = {_string(i, "pk"): i for i in response.get("Responses", {}).get(self.table, []) if isinstance(i, dict)}
        for key in response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", []):
            pk = _string(key, "pk") or ""
            items[pk] = self._item(pk) or {}
        hold = _hold_from_item(items.get(f"hold#{resource_id}"))
        record = _record_from_item(items.get(f"stream#{resource_id}") or {})
        return (hold if hold and (hold.problem or hold.until > now) else None), record

    def claim_start(self, mark: StreamMark, now: datetime) -> tuple[Hold | None, StreamRecord | None] | None:
        """Record `mark` (the start about to be made) only if the cluster has neither a hold nor a stream record: one
        TransactWriteItems, a condition on the hold and a conditional put of the record. None: claimed (or no table
        to claim in). Otherwise nothing was written and the answer is what the table holds, from the cancellation
        itself (no second read): the caller decides again with it.

        This is the creation event's one state-table call: the read before the decision and the write after the
        start become one conditional write between them, and two evaluations of one new cluster cannot both claim it.
        """
        if not self.table or not mark.resource_id:
            return None
        hold_key = {"pk": {"S": f"hold#{mark.resource_id}"}}
        absent = {"ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        try:
            call(
                "dynamodb:TransactWriteItems",
                self._dynamodb.transact_write_items,
                TransactItems=[
                    {"ConditionCheck": {"TableName": self.table, "Key": hold_key, **absent}},
                    {"Put": {"TableName": self.table, "Item": _stream_item(mark), **absent}},
                ],
            )
        except AwsError as err:
            if err.code != "TransactionCanceledException":
                raise
            reasons = [r if isinstance(r, dict) else {} for r in (err.details.get("CancellationReasons") or [])]
            codes = {str(r.get("Code", "None")) for r in reasons}
            if codes - {"None", "ConditionalCheckFailed"} or "ConditionalCheckFailed" not in codes:
                # a concurrent transaction on the same item, or throttling: the claim may succeed later
                raise AwsError(err.operation, err.code, err.message, transient=True) from err
            found = [r.get("Item") if isinstance(r.get("Item"), dict) else None for r in reasons] + [None, None]
            hold = _hold_from_item(found[0])
            return (hold if hold and (hold.problem or hold.until > now) else None), _record_from_item(found[1] or {})
        return None

    def release_start(self, mark: StreamMark) -> None:
        """Take back a claim whose start did not happen: delete the record `claim_start` wrote, only if it is still
        the one written (a later evaluation's record stays)."""
        if self.table and mark.resource_id:
            try:
                call(
                    "dynamodb:DeleteItem",
                    self._dynamodb.delete_item,
                    TableName=self.table,
                    Key={"pk": {"S": f"stream#{mark.resource_id}"}},
                    ConditionExpression="#state = :state AND #at = :at",
                    ExpressionAttributeNames={"#state": "state", "#at": "at"},
                    ExpressionAttributeValues={":state": {"S": mark.state}, ":at": {"S": mark.at.isoformat()}},
                )
            except AwsError as err:
                if err.code != "ConditionalCheckFailedException":
                    raise

    def stream_record(self, resource_id: str) -> StreamRecord | None:
        return _record_from_item(self._item(f"stream#{resource_id}") or {}) if resource_id else None

    def mark_stream(
        self, resource_id: str, cluster_arn: str, state: str, now: datetime, protection: Protection | None = None
    ) -> None:
        """Remember what DAS Guard knows of a cluster's stream (`on`: it started it or saw it running; `reported`: a
        stop was reported; `allowed`: stopped by a break-glass principal) and the rule guarding it then, keyed by
        the resource id, which stays with the cluster through renames."""
        if self.table and resource_id:
            self._put(_stream_item(StreamMark(resource_id, cluster_arn, state, now, protection)))

    def mark_streams(self, marks: Sequence[StreamMark]) -> None:
        """Many stream records in BatchWriteItem requests of 25 (the first sweep of a region records every running
        stream: 25 times fewer requests than one PutItem each). Items DynamoDB leaves unprocessed are sent again, a
        few times; what is still left raises, and the next sweep writes it."""
        items = [_stream_item(m) for m in marks if m.resource_id]
        if not self.table or not items:
            return
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            unprocessed: list[dict[str, Any]] = []
            for first in range(0, len(pending), BATCH_WRITE_SIZE):
                answer = call(
                    "dynamodb:BatchWriteItem",
                    self._dynamodb.batch_write_item,
                    RequestItems={self.table: pending[first : first + BATCH_WRITE_SIZE]},
                )
                unprocessed += answer.get("UnprocessedItems", {}).get(self.table, [])
            if not unprocessed:
                return
            pending = unprocessed
            if attempt + 1 < BATCH_WRITE_ATTEMPTS:
                time.sleep(0.05 * 2**attempt)
        raise AwsError(
            "dynamodb:BatchWriteItem",
            "UnprocessedItems",
            f"{len(pending)} stream record(s) still unprocessed after {BATCH_WRITE_ATTEMPTS} attempts",
            transient=True,
        )

    # -- once-only notices ---------------------------------------------------------------------------------
    def first_notice(self, key: str, keep_seconds: int, now: datetime) -> bool:
        """True the first time `key` is noticed (across all containers); False while it is remembered."""
        if not self.table:
            return True
        try:
            self._put(
                {"pk": {"S": f"notice#{key}"}, "expires_at": {"N": str(int(now.timestamp()) + keep_seconds)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except AwsError as err:
            if err.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- Security Hub: each cluster's last import ----------------------------------------------------------
    def finding_record(self, resource_id: str) -> FindingRecord | None:
        return _finding_from_item(self._item(f"finding#{resource_id}") or {})

    def finding_records(self) -> list[FindingRecord]:
        """Every cluster's last import (one paginated scan, for the sweep); malformed items are skipped."""
        items = self._scan(FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": {"S": "finding#"}})
        return [r for r in map(_finding_from_item, items) if r is not None]

    def remember_finding(self, record: FindingRecord) -> None:
        if self.table:
            self._put(
                {
                    "pk": {"S": f"finding#{record.resource_id}"},
                    "fingerprint": {"S": record.fingerprint},
                    "compliance": {"S": record.compliance},
                    "asff": {"S": json.dumps(record.asff)},
                }
            )

    def forget_finding(self, resource_id: str) -> None:
        if self.table:
            call(
                "dynamodb:DeleteItem",
                self._dynamodb.delete_item,
                TableName=self.table,
                Key={"pk": {"S": f"finding#{resource_id}"}},
            )


def _stream_item(mark: StreamMark) -> dict[str, Any]:
    assert mark.state in STREAM_RECORD_STATES
    item = {
        "pk": {"S": f"stream#{mark.resource_id}"},
        "state": {"S": mark.state},
        "cluster_arn": {"S": mark.cluster_arn},
        "at": {"S": mark.at.isoformat()},
    }
    if mark.protection is not None:
        item |= {"rule": {"S": mark.protection.label}, "rank": {"N": str(mark.protection.rank)}}
    return item


def _string(item: dict[str, Any], name: str) -> str | None:
    """A DynamoDB string attribute, or None where the item (perhaps written by someone else) has anything else."""
    value = item.get(name)
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def _record_from_item(item: dict[str, Any]) -> StreamRecord | None:
    """A stream record as DAS Guard writes it; an unknown state is no record, a broken rule no protection."""
    state = _string(item, "state")
    if state not in STREAM_RECORD_STATES:
        return None
    label = _string(item, "rule")
    rank = item.get("rank")
    number = rank.get("N") if isinstance(rank, dict) else None
    try:
        at: datetime | None = datetime.fromisoformat(_string(item, "at") or "")
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        at = None
    if label is None or not isinstance(number, str) or number not in {"0", "1", "2", "3"}:
        return StreamRecord(str(state), at=at)
    return StreamRecord(str(state), Protection(int(number), label), at)


def _finding_from_item(item: dict[str, Any]) -> FindingRecord | None:
    key = _string(item, "pk") or ""
    fingerprint, compliance, text = (_string(item, n) for n in ("fingerprint", "compliance", "asff"))
    if not key.startswith("finding#") or fingerprint is None or compliance is None or text is None:
        return None
    try:
        asff = json.loads(text)
    except ValueError:
        return None
    return (
        FindingRecord(key.removeprefix("finding#"), fingerprint, compliance, asff) if isinstance(asff, dict) else None
    )


def _hold_from_item(item: dict[str, Any] | None) -> Hold | None:
    """A hold item as DAS Guard writes it; anything else becomes a Hold with `problem` set (reported, ignored)."""
    if not item:
        return None
    key = _string(item, "pk")
    if key is None or not key.startswith("hold#"):
        return None
    resource_id = key.removeprefix("hold#")
    arn = _string(item, "cluster_arn") or ""
    principal = _string(item, "principal")
    until_text = _string(item, "until")
    try:
        until = datetime.fromisoformat(str(until_text))
    except ValueError:
        until = None
    if principal is None or until is None or until.tzinfo is None:
        shown = {k: v for k, v in item.items() if k != "pk"}
        return Hold(
            resource_id,
            str(principal or "?"),
            datetime.min.replace(tzinfo=UTC),
            problem=f"malformed item {shown}"[:300],
            cluster_arn=arn,
        )
    return Hold(resource_id, principal, until, cluster_arn=arn)
