"""Where moto misstates an API DAS Guard depends on: paging, renames, SNS subjects, KMS key usage and reserved
aliases, a held cluster status, and PutEvents' input-path parsing. Each fix models the real API's rule. And where moto
costs what AWS does not (a cost growing with the region, a parser built per event), so that the bench measures the
tools, not the local AWS: the answers stay as they were."""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from moto.core.responses import ActionResult
from moto.kms.models import KmsBackend
from moto.rds.exceptions import (
    InvalidParameterCombination,
    InvalidParameterValue,
)
from moto.rds.models import DBCluster, DBInstanceClustered, RDSBackend
from moto.rds.responses import RDSResponse
from moto.rds.utils import FilterDef
from moto.sns.models import SNSBackend


def _parse_each_input_path_once() -> None:
    """moto builds a new jsonpath parser (a PLY grammar) for every input path of every target of every put event:
    about 20 ms per event delivered, which made a local PutEvents of ten entries take 0.2-0.4 s and every bench
    with result events measure moto, not DAS Guard. Parsed expressions are immutable; one per distinct path."""
    import jsonpath_ng.ext  # noqa: PLC0415

    parse = jsonpath_ng.ext.parse  # type: ignore[attr-defined]
    if not hasattr(parse, "cache_info"):
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(parse)  # type: ignore[attr-defined]


def _cluster_filters_with_resource_id() -> dict[str, Any]:
    """DescribeDBClusters' filters as the RDS API documents them: moto knows `db-cluster-id` and `engine`, not
    `db-cluster-resource-id` (the identity that stays with a cluster through renames; an unknown filter is
    InvalidParameterValue, as moto already says for any other)."""
    return {
        **DBCluster.SUPPORTED_FILTERS,
        "db-cluster-resource-id": FilterDef(["db_cluster_resource_id"], "DB Cluster Resource Ids"),
    }


def _status_that_can_be_held() -> property:
    original: Any = DBCluster.__dict__["status"]

    def status(cluster: DBCluster) -> str:
        held: str | None = cluster.__dict__.get("_das_held_status")
        return held if held is not None else str(original.__get__(cluster))

    return property(status, original.fset)


CLUSTER_FILTER_VALUES = 100  # as RDS answers beyond it (seen in Cloud Custodian's issue #10132)


def _paged(operation: Any, key: str) -> Any:
    """RDS paging: `MaxRecords` (20..100, default 100) items per page and an opaque `Marker` for the next one; and
    RDS's limit of 100 unique cluster identifiers in a `db-cluster-id` filter (InvalidParameterCombination), which
    moto does not enforce.

    moto returns every cluster at once and its generic paginator fails past the first page of RDS results, which
    would hide how many calls a sweep makes; this pages the full result of moto's own handler.
    """

    def paged(self: RDSResponse) -> Any:
        for named in self.params.get("Filters") or []:
            if named.get("Name") == "db-cluster-id" and len(set(named.get("Values") or [])) > CLUSTER_FILTER_VALUES:
                raise InvalidParameterCombination(
                    "Only up to 100 unique filter DB Cluster Identifiers may be specified per filter."
                )
        max_records = int(self.params.get("MaxRecords") or 100)
        if not 20 <= max_records <= 100:
            raise InvalidParameterValue(f"Invalid value {max_records} for MaxRecords. Must be between 20 and 100")
        marker = str(self.params.get("Marker") or "")
        start = int(marker.removeprefix("page-")) if marker.startswith("page-") else 0
        self.params.pop("MaxRecords", None)
        self.params.pop("Marker", None)
        result = dict(operation(self)._result)
        items = list(result[key])
        result[key] = items[start : start + max_records]
        if start + max_records < len(items):
            result["Marker"] = f"page-{start + max_records}"
        return ActionResult(result)

    return paged


def _rename_keeping_members() -> Any:
    modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        old, new = kwargs.get("db_cluster_identifier"), kwargs.get("new_db_cluster_identifier")
        result = modify(self, kwargs)
        if new and new != old:
            for instance in self.databases.values():
                if isinstance(instance, DBInstanceClustered) and instance.db_cluster_identifier == old:
                    instance.db_cluster_identifier = new
        return result

    return modify_db_cluster


_MEMBERSHIP = threading.local()


def _members_grouped_once_per_read() -> None:
    """moto finds a cluster's instances by scanning every DB instance of the region, and does so three times for each
    cluster it describes (members, writer, zones): a page of 100 clusters in a region of 5,000 instances is 1.5
    million comparisons, so a DescribeDBClusters page cost 0.3 s at 1,000 clusters and 1.1 s at 5,000, growing with
    the region as RDS's pages do not (the bench's 5,000-cluster audit measured this scan for both tools). Within one
    read-only RDS request (Describe*) the instances are grouped by cluster once, on first need; any other request,
    and code outside a request, scans as moto does. What RDS answers is unchanged."""
    scan = DBCluster.__dict__["_members"]

    def members(cluster: DBCluster) -> list[DBInstanceClustered]:
        grouped: dict[int, dict[str, list[DBInstanceClustered]]] | None = getattr(_MEMBERSHIP, "grouped", None)
        if grouped is None:
            return list(scan.__get__(cluster))
        backend = cluster.backend
        if id(backend) not in grouped:
            by_cluster: dict[str, list[DBInstanceClustered]] = {}
            for instance in backend.databases.values():
                if isinstance(instance, DBInstanceClustered):
                    by_cluster.setdefault(instance.db_cluster_identifier, []).append(instance)
            grouped[id(backend)] = by_cluster
        return list(grouped[id(backend)].get(cluster.resource_id, ()))

    call_action = RDSResponse.call_action

    def reading_once(self: RDSResponse) -> Any:
        if not str(self._get_action()).startswith("Describe"):
            return call_action(self)
        _MEMBERSHIP.grouped = {}
        try:
            return call_action(self)
        finally:
            _MEMBERSHIP.grouped = None

    DBCluster._members = property(members)  # type: ignore[method-assign,assignment]
    RDSResponse.call_action = reading_once  # type: ignore[method-assign,assignment]


ALIASES_KEPT = 50_000  # (picker, class, shape, member) combinations; 0 works every one out anew (the test's control)
_ALIASES: dict[tuple[Any, ...], tuple[Any, tuple[str, ...]]] = {}


def _attribute_names_found_once() -> None:
    """moto's response serializer looks for each member of each shape on each object by trying every alias it might
    go by (explicit, model, shape and class prefixes, snake_case): for every attribute of every item. A page of 100
    clusters or a Scan of 800 small items spent most of its 0.1-0.7 s there, in the local server alone, which both
    tools of the bench waited for. The aliases depend only on the picker, the object's class, the shape and the
    member, so they are worked out once for each; the values are still read from each object."""
    from moto.core.serialize import AttributePicker, XFormedAttributePicker  # noqa: PLC0415

    found = _ALIASES

    def once(work_out: Any) -> Any:
        def get_possible_keys(self: AttributePicker, context: Any) -> Iterator[str]:
            shape = context.shape
            key = (type(self), tuple(self.alias_providers), type(context.obj), id(shape), context.key)
            known = found.get(key)
            if known is None or known[0] is not shape:  # the shape is kept, so its id is never another's
                if len(found) >= ALIASES_KEPT:
                    found.clear()
                known = found[key] = (shape, tuple(work_out(self, context)))
            return iter(known[1])

        return get_possible_keys

    AttributePicker.get_possible_keys = once(AttributePicker.get_possible_keys)  # type: ignore[method-assign]
    XFormedAttributePicker.get_possible_keys = once(XFormedAttributePicker.get_possible_keys)  # type: ignore[method-assign]


_SUBJECT_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _publish_checking_the_subject() -> Any:
    publish = SNSBackend.publish

    def checked(self: SNSBackend, message: str, **kwargs: Any) -> Any:
        subject = kwargs.get("subject")
        if isinstance(subject, str) and (_SUBJECT_REFUSED.search(subject) or not subject.strip()):
            raise ValueError("Subject must be UTF-8 text with no line breaks or control characters")
        return publish(self, message, **kwargs)

    return checked


def _create_key_with_default_usage() -> Any:
    create_key = KmsBackend.create_key

    def create(self: KmsBackend, policy: Any, key_usage: Any, *args: Any, **kwargs: Any) -> Any:
        # AWS::KMS::Key's Tags are {Key, Value}; moto's CloudFormation hands them to KMS, which names them
        # {TagKey, TagValue}, unconverted (and fails): convert, as CloudFormation does.
        if isinstance(policy, dict):  # AWS::KMS::Key's KeyPolicy is a JSON object; KMS stores the document text
            policy = json.dumps(policy)
        tags = kwargs.get("tags")
        if tags:
            kwargs["tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t for t in tags]
        return create_key(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)

    return create


def _reserved_aliases_are_aws_managed() -> Any:
    generate = KmsBackend._generate_default_keys

    def generate_aws_managed(self: KmsBackend, alias_name: str) -> str | None:
        key_id: str | None = generate(self, alias_name)
        if key_id is not None:
            self.keys[key_id].key_manager = "AWS"
        return key_id

    return generate_aws_managed


def _publish_refused_when_the_topic_key_is_off(publish: Any) -> Any:
    """SNS encrypts a message with the topic's KMS key (`KmsMasterKeyId`) before it accepts it: with that key disabled
    or pending deletion, Publish fails (`KMSDisabled`, "The request was rejected because the specified customer
    master key (CMK) isn't enabled"; `KMSInvalidState` while pending deletion). moto ignores the key, which would
    hide the attack that silences every alert by disabling one key."""
    from moto.core.exceptions import _RESTError  # noqa: PLC0415
    from moto.kms.models import kms_backends  # noqa: PLC0415

    def checked(self: SNSBackend, message: str, arn: str | None = None, **kwargs: Any) -> Any:
        topic = self.topics.get(arn or "")
        key_id = getattr(topic, "kms_master_key_id", "") if topic is not None else ""
        if key_id and not key_id.startswith("alias/aws/"):  # an AWS managed key: nobody can disable it
            keys = kms_backends[self.account_id][self.region_name]
            try:
                state = keys.describe_key(key_id).key_state
            except Exception:  # noqa: BLE001 - a key that does not exist (any more) cannot encrypt either
                state = "NotFound"
            if state != "Enabled":
                code = "KMSInvalidState" if state == "PendingDeletion" else "KMSDisabled"
                error: Any = _RESTError(code, f"Invalid parameter: KMS key {key_id} is {state}")
                error.code = 400
                raise error
        return publish(self, message, arn=arn, **kwargs)

    return checked


_EVENTBRIDGE_FAILURES: list[dict[str, Any]] = []


def eventbridge_failures() -> list[dict[str, Any]]:
    """Deliveries EventBridge could not make (rule, target, why), as its FailedInvocations metric counts them."""
    return list(_EVENTBRIDGE_FAILURES)


def _rules_that_deliver_as_eventbridge_does() -> Any:
    """What moto's EventBridge misstates about delivery. A `DISABLED` rule matches nothing (EventBridge: "a disabled
    rule doesn't match any events"); moto delivers regardless. A scheduled rule (no EventPattern) matches no put
    event; moto sends it every one. An SNS topic is a target: moto raises NotImplementedError for SNS and Lambda
    targets, which ends the delivery of the event (and of the rest of its PutEvents call) to every other rule.

    A topic receives the event only as EventBridge would deliver it: the topic's policy must let
    `events.amazonaws.com` publish (the rule as `aws:SourceArn`), and SNS must accept it (its key usable: see
    `_publish_refused_when_the_topic_key_is_off`). A delivery that fails goes to the target's dead-letter queue
    (EventBridge does so after its retries; here at once) and is counted in `eventbridge_failures()`. Lambda targets
    are the local world's to invoke."""
    from moto.events.models import Rule  # noqa: PLC0415
    from moto.events.utils import EventTemplateParser  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    from .access import service_may  # noqa: PLC0415

    send = Rule.send_to_targets

    def to_topic(rule: Rule, target: dict[str, Any], original_event: Any, transform_input: bool) -> None:
        arn = str(target["Arn"])
        transformer: dict[str, Any] = target.get("InputTransformer", {}) if transform_input else {}
        event = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),  # type: ignore[arg-type]
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=original_event,
        )
        message = event if isinstance(event, str) else json.dumps(event)
        account, region = arn.split(":")[4], arn.split(":")[3]
        topics = sns_backends[account][region]
        topic = topics.topics.get(arn)
        why = None
        if topic is None:
            why = "NotFound: the topic does not exist"
        elif not service_may(
            "events.amazonaws.com",
            "sns:Publish",
            arn,
            json.loads(topic.policy),
            **{"aws:SourceArn": rule.arn, "aws:SourceAccount": rule.account_id},
        ):
            why = "AuthorizationError: the topic's policy does not let EventBridge publish for this rule"
        else:
            try:
                topics.publish(message, arn=arn)
            except Exception as error:  # noqa: BLE001 - whatever SNS refuses is a failed invocation
                why = f"{getattr(error, 'error_type', type(error).__name__)}: {getattr(error, 'message', error)}"
        if why is None:
            return
        _EVENTBRIDGE_FAILURES.append({"rule": rule.name, "target": target["Id"], "why": why})
        dead_letters = str(target.get("DeadLetterConfig", {}).get("Arn") or "")
        if dead_letters:
            _, _, _, dlq_region, dlq_account, dlq_name = dead_letters.split(":")
            sqs_backends[dlq_account][dlq_region].send_message(
                queue_name=dlq_name, message_body=json.dumps(original_event, default=str)
            )

    def deliver(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if self.state != "ENABLED":
            return
        if self.scheduled_expression and not self.event_pattern.dump():
            return
        if not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            service = str(target["Arn"]).split(":")[2]
            if service == "sns":
                to_topic(self, target, original_event, transform_input)
            elif service != "lambda":
                others.append(target)
        if others:
            saved, self.targets = self.targets, others
            try:
                send(self, original_event, transform_input)
            finally:
                self.targets = saved

    return deliver


def _patterns_match_inside_arrays_of_objects() -> None:
    """An event field that is an array of objects matches a pattern on its objects' fields when any element does
    (EventBridge user guide, "Arrays in event patterns": the array is matched as if flattened - CloudTrail's
    `detail.resources[].ARN` is how a rule names a KMS key). moto flattens objects but not arrays of them, so such a
    pattern never matched: here every object of an array is flattened and the values under one path gathered."""
    from moto.events.models import EventPattern  # noqa: PLC0415

    def flatten(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> dict[str, Any]:
        result = {} if result is None else result
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else key
                if isinstance(value, dict) and value:
                    flatten(value, path, result)
                elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                    for element in value:
                        for inner, leaf in (flatten(element, path) if isinstance(element, dict) else {}).items():
                            gathered = result.setdefault(inner, [])
                            gathered.extend(leaf if isinstance(leaf, list) else [leaf])
                else:
                    result[path] = value
        return result

    EventPattern._flatten_dict = staticmethod(flatten)  # type: ignore[method-assign]


def _cryptography_refused_on_keys_that_are_off() -> None:
    """KMS refuses to encrypt, decrypt or generate data keys with a key that is disabled (`DisabledException`) or
    pending deletion (`KMSInvalidStateException`) - the KMS API reference for Decrypt/Encrypt/GenerateDataKey. moto
    uses the key regardless, which would hide the one thing a disabled stream key does: every record it sealed
    becomes unreadable."""
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

    def guarded(operation: Any, key_of: Any) -> Any:
        def call(self: KmsBackend, *args: Any, **kwargs: Any) -> Any:
            result = operation(self, *args, **kwargs)
            key_id = key_of(self, result, *args, **kwargs)
            key = self.keys.get(self.any_id_to_key_id(key_id)) if key_id else None
            if key is not None and key.key_state != "Enabled":
                code = "KMSInvalidStateException" if key.key_state == "PendingDeletion" else "DisabledException"
                raise JsonRESTError(code, f"{key.arn} is {key.key_state}.")
            return result

        return call

    KmsBackend.decrypt = guarded(KmsBackend.decrypt, lambda _s, result, *a, **k: result[1])  # type: ignore[method-assign]
    KmsBackend.encrypt = guarded(KmsBackend.encrypt, lambda _s, result, *a, **k: result[1])  # type: ignore[method-assign]
    KmsBackend.generate_data_key = guarded(  # type: ignore[method-assign]
        KmsBackend.generate_data_key, lambda _s, result, *a, **k: result[2]
    )


_DYNAMODB_REQUESTS = threading.RLock()


def _dynamodb_requests_one_at_a_time(call_action: Any) -> Any:
    """DynamoDB applies each request atomically. moto's server answers requests in threads and its TransactWriteItems
    deep-copies the table (for its rollback) while other requests write to it: under concurrent writers it fails with
    a 500 ("dictionary changed size during iteration") that real DynamoDB never gives, and botocore's retries hide
    it in the call counts. One request at a time restores the atomicity; DynamoDB's latency is not what the local
    world models."""

    def one_at_a_time(self: Any) -> Any:
        with _DYNAMODB_REQUESTS:
            return call_action(self)

    return one_at_a_time


def _queue_counts_reading_the_clock_once() -> None:
    """moto computes every attribute of a queue whenever any one is read - on each send (ContentBasedDeduplication)
    and for each message received (its retention check reads MessageRetentionPeriod) - and its approximate counts
    and its list of deliverable messages read the clock once per message: a queue of thousands made each request
    cost thousands of clock reads (the bench's 10,000-event burst spent its time there). The same counts and list
    with the clock read once, and the retention check reading the one attribute it needs; what SQS answers is
    unchanged."""
    from moto.core.utils import unix_time, unix_time_millis  # noqa: PLC0415
    from moto.sqs.models import Queue, SQSBackend  # noqa: PLC0415

    def delayed(queue: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for message in queue._messages if now < message.delayed_until)

    def not_visible(queue: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for message in queue._messages if not now > message.visible_at)

    def retained(backend: SQSBackend, queue_name: str, message: Any) -> bool:
        period = float(backend.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    def deliverable(queue: Queue) -> list[Any]:
        now = unix_time_millis()
        return [message for message in queue._messages if now > message.visible_at and not now < message.delayed_until]

    Queue.messages = property(deliverable)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign,assignment]
