"""Database activity streams for moto's RDS: the one place DAS Guard extends moto (this package).

moto 5.2 raises NotImplementedError for StartActivityStream/StopActivityStream. This module adds both to
moto's RDS (in-process `mock_aws` and the threaded server alike), modelling what the Aurora User Guide and
the API reference document (see shared/reference/das-facts.md):

StartActivityStream
  - `ResourceArn` must be a cluster ARN of this account/region          -> DBClusterNotFoundFault (404)
    (a `:db:` ARN: DBInstanceNotFound if absent, else InvalidParameterValue: instance-level streams are
    for RDS for Oracle/SQL Server, which this model does not cover)
  - `Mode` is `sync` or `async`                                         -> InvalidParameterValue
  - the cluster is `available`, its stream `stopped`, and it has at least one instance
                                                                        -> InvalidDBClusterStateFault
  - engine Aurora MySQL/PostgreSQL, provisioned, a supported version, every instance of a supported
    class, and `sync` only on Aurora PostgreSQL                        -> InvalidParameterCombination
    (AWS documents the console message for these, not the API code: the code is this model's choice)
  - the KMS key (ID, ARN, alias or alias ARN) exists in this account/region, is enabled, symmetric
    ENCRYPT_DECRYPT and customer managed                               -> KMSKeyNotAccessibleFault
  - on success the stream is `starting`, named `aws-rds-das-<DbClusterResourceId>`.
StopActivityStream
  - cluster checks as above; the stream must be `starting`/`started`  -> InvalidParameterCombination
    ("Activity Streams feature expected to be started, but is stopped", as seen from the real API)
  - on success the stream is `stopping`.

Time does not pass in moto, so `settle_activity_streams()` moves `starting -> started` and
`stopping -> stopped`, as RDS does minutes later, and `let_time_pass_in_queues()` makes SQS delays and
visibility timeouts run out (the local world calls both when its clock moves). Other simulation controls live here too:
`hold_cluster_status()` (moto flips a new cluster to `available` after one read), `add_foreign_cluster()`
(moto has no DocumentDB engine, but RDS's DescribeDBClusters lists DocumentDB clusters too), and a fix
so that reserved `alias/aws/*` keys are AWS managed and a key created without `KeyUsage` is
`ENCRYPT_DECRYPT`, as in KMS (moto leaves both wrong, which would hide key-type checks), and DescribeDBClusters
pages by `MaxRecords`/`Marker` (default and maximum 100) as RDS does, where moto returns every cluster at once
(which would hide how many calls a sweep makes); DescribeDBInstances pages the same way. SNS Publish refuses a
`Subject` with line breaks or control characters, as SNS does ("Subjects must be UTF-8 text with no line breaks or
control characters, and less than 100 characters long"); moto checks only the length, which would hide an alert
lost to a hostile principal name. Renaming a cluster (ModifyDBCluster `NewDBClusterIdentifier`) keeps its
instances as members under the new name, as in RDS; moto leaves them pointing at the old name.
DescribeOrderableDBInstanceOptions answers for both Aurora engines with `SupportedActivityStreamModes` as RDS does
(`[sync, async]` for Aurora PostgreSQL, `[async]` for Aurora MySQL, `[]` where DAS is unsupported for that region,
version or class); moto's own data covers Aurora PostgreSQL only and has no activity stream modes. The answer comes
from this module's model of the facts, not from DAS Guard's code, so a test compares two independent readings.
StartActivityStream with `ApplyImmediately=false` leaves the stream `stopped` with a start pending until the cluster's
next maintenance window (`PreferredMaintenanceWindow`) has passed, when it becomes `starting` (the console guide: "the
stream doesn't start until the next maintenance window"; how RDS reports the pending start is undocumented, and this
model's `stopped` is the cautious reading); a second start while one is pending is refused (InvalidDBClusterStateFault).
`use_clock()` makes RDS creation times and maintenance windows follow the local world's clock.

IAM: moto enforces no resource policy, so `access.py` evaluates explicit Denies - the caller's role's policies and the
queue's, topic's or table's policy - for the callers a scenario names (`Principal`, with `lambda:SourceFunctionArn`
for a function's code), with IAM's rules in `iam_policy.py`. SNS refuses to publish on a topic whose key is disabled
(`KMSDisabled`/`KMSInvalidState`); EventBridge delivers only from enabled rules, matches patterns inside arrays of
objects (CloudTrail's `resources[].ARN`), and delivers to a topic only as the topic's policy lets
`events.amazonaws.com` publish, parking what fails in the target's DLQ (`eventbridge_failures()`); moto's
CloudFormation applies AWS::SNS::TopicPolicy and AWS::SQS::QueuePolicy. KMS refuses Encrypt, Decrypt and
GenerateDataKey with a key that is disabled or pending deletion.

The package, one job per module: `streams.py` (the activity-stream API and orderable options), `controls.py`
(simulation controls), `fixes.py` (where moto misstates an API), `org_scale.py` (what an organisation roll-out
needs), `observers.py` (counting what the server answered), `access.py` and `iam_policy.py` (IAM's explicit Denies);
`install()` below applies them all.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.kms.models import KmsBackend
from moto.rds.models import DBCluster, RDSBackend
from moto.rds.responses import RDSResponse
from moto.sns.models import SNSBackend

from . import access
from .clock import use_clock
from .controls import (
    add_foreign_cluster,
    archive_freshness,
    deliver_archives,
    drop_pending_start,
    hold_cluster_status,
    kinesis_reading,
    let_time_pass_in_queues,
    next_window,
    pin_blue_green,
    queued_messages,
    set_activity_stream,
    settle_activity_streams,
)
from .fixes import (
    _attribute_names_found_once,
    _cluster_filters_with_resource_id,
    _create_key_with_default_usage,
    _cryptography_refused_on_keys_that_are_off,
    _dynamodb_requests_one_at_a_time,
    _members_grouped_once_per_read,
    _paged,
    _parse_each_input_path_once,
    _patterns_match_inside_arrays_of_objects,
    _publish_checking_the_subject,
    _publish_refused_when_the_topic_key_is_off,
    _queue_counts_reading_the_clock_once,
    _rename_keeping_members,
    _reserved_aliases_are_aws_managed,
    _rules_that_deliver_as_eventbridge_does,
    _status_that_can_be_held,
    eventbridge_failures,
)
from .observers import counting_operations, counting_starts
from .org_scale import install_organisation
from .streams import (
    AURORA,
    DEFAULT_ACCOUNT_ID,
    STREAM_PREFIX,
    _orderable_response,
    _start_response,
    _stop_response,
    _stream_attribute,
    orderable_classes,
    start_activity_stream,
    stop_activity_stream,
)

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Add the activity-stream API to moto. Idempotent; call before creating clients or starting a server.

    Patching is done with setattr on moto's classes: this module is the one place that knows.
    """
    global _installed  # noqa: PLW0603
    with _lock:
        if _installed:
            return
        patches: dict[tuple[type, str], Any] = {
            (RDSResponse, "start_activity_stream"): _start_response,
            (RDSResponse, "stop_activity_stream"): _stop_response,
            (DBCluster, "activity_stream_status"): _stream_attribute("status"),
            (DBCluster, "activity_stream_mode"): _stream_attribute("mode"),
            (DBCluster, "activity_stream_kms_key_id"): _stream_attribute("kms_key_id"),
            (DBCluster, "activity_stream_kinesis_stream_name"): _stream_attribute("stream_name"),
            (DBCluster, "status"): _status_that_can_be_held(),
            (DBCluster, "SUPPORTED_FILTERS"): _cluster_filters_with_resource_id(),
            (KmsBackend, "create_key"): _create_key_with_default_usage(),
            (KmsBackend, "_generate_default_keys"): _reserved_aliases_are_aws_managed(),
            (RDSResponse, "describe_db_clusters"): _paged(RDSResponse.describe_db_clusters, "DBClusters"),
            (RDSResponse, "describe_db_instances"): _paged(RDSResponse.describe_db_instances, "DBInstances"),
            (SNSBackend, "publish"): _publish_checking_the_subject(),
            (RDSBackend, "modify_db_cluster"): _rename_keeping_members(),
            (RDSResponse, "describe_orderable_db_instance_options"): _orderable_response,
        }
        for (cls, name), value in patches.items():
            setattr(cls, name, value)
        from moto.core.responses import BaseResponse  # noqa: PLC0415
        from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415
        from moto.events.models import Rule  # noqa: PLC0415

        DynamoHandler.call_action = _dynamodb_requests_one_at_a_time(DynamoHandler.call_action)  # type: ignore[method-assign]
        SNSBackend.publish = _publish_refused_when_the_topic_key_is_off(SNSBackend.publish)  # type: ignore[method-assign]
        Rule.send_to_targets = _rules_that_deliver_as_eventbridge_does()  # type: ignore[method-assign]
        BaseResponse._authenticate_and_authorize_normal_action = access.authorising(  # type: ignore[method-assign]
            BaseResponse._authenticate_and_authorize_normal_action
        )
        install_organisation()
        _parse_each_input_path_once()
        _patterns_match_inside_arrays_of_objects()
        _cryptography_refused_on_keys_that_are_off()
        _queue_counts_reading_the_clock_once()
        _members_grouped_once_per_read()
        _attribute_names_found_once()
        _installed = True


__all__ = [
    "AURORA",
    "DEFAULT_ACCOUNT_ID",
    "STREAM_PREFIX",
    "access",
    "add_foreign_cluster",
    "archive_freshness",
    "counting_operations",
    "counting_starts",
    "deliver_archives",
    "drop_pending_start",
    "eventbridge_failures",
    "hold_cluster_status",
    "install",
    "install_organisation",
    "kinesis_reading",
    "let_time_pass_in_queues",
    "next_window",
    "orderable_classes",
    "pin_blue_green",
    "queued_messages",
    "set_activity_stream",
    "settle_activity_streams",
    "start_activity_stream",
    "stop_activity_stream",
    "use_clock",
]
