"""Where moto misstates an API DAS Guard depends on: paging, renames, SNS subjects, KMS key usage and reserved
aliases, a held cluster status, and PutEvents' input-path parsing. Each fix models the real API's rule."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from moto.core.responses import ActionResult
from moto.kms.models import KmsBackend
from moto.rds.exceptions import (
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


def _paged(operation: Any, key: str) -> Any:
    """RDS paging: `MaxRecords` (20..100, default 100) items per page and an opaque `Marker` for the next one.

    moto returns every cluster at once and its generic paginator fails past the first page of RDS results, which
    would hide how many calls a sweep makes; this pages the full result of moto's own handler.
    """

    def paged(self: RDSResponse) -> Any:
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
