"""How every AWS call is made: one client configuration, one classification of failures, one pagination helper.

An `AwsError` carries the API error code and whether the same call may succeed later (throttling, 5xx, timeouts,
connection failures) after botocore's own retries are exhausted. Which codes are throttling or transient is
botocore's own list (the one its standard retry mode acts on), so DAS Guard and botocore never disagree on what
"try again" means; a 5xx status or a failure to reach AWS is transient whatever the code.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import boto3
import botocore.loaders
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker
from botocore.utils import parse_timestamp

from ..clock import Clock
from ..gateway import AwsError

T = TypeVar("T")

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    user_agent_extra="das-guard/0.1",
)
# The largest page each service allows; a DynamoDB Scan page is bounded by its 1 MB instead.
PAGE_SIZES = {"rds": 100, "ssm": 50}
_TRY_AGAIN = (ThrottledRetryableChecker(), TransientRetryableChecker())


def iso_timestamp(value: Any) -> Any:
    """botocore's timestamp parser, fast for the ISO 8601 strings with a zone that RDS sends: dateutil's general
    parser, botocore's default, costs some 0.15 ms a timestamp - half a second of a 1,000-cluster sweep, which reads
    three a cluster. Anything else (epoch numbers, no zone, other shapes) goes to botocore's own parser."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return parse_timestamp(value)


@functools.cache
def _models() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def botocore_session() -> botocore.session.Session:
    """A botocore session as DAS Guard makes every one (the functions', the CLI's, the local world's): timestamps
    parsed by `iso_timestamp`, and one loader of the service models for the whole process, so each model (and the
    1.2 MB endpoints file) is parsed once however many sessions are made - `audit --org` makes one per account and
    region, the local world several per test, and a new session would otherwise read every model it uses again."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _models())
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=iso_timestamp)
    return core


def new_session(region: str | None) -> boto3.Session:
    """A boto3 session as DAS Guard's functions use it."""
    return boto3.Session(botocore_session=botocore_session(), region_name=region)


def is_transient(error_code: str, http_status: int) -> bool:
    """Whether a refused call may succeed later: botocore's throttling and transient codes, or a server error."""
    context = RetryContext(attempt_number=1, parsed_response={"Error": {"Code": error_code}})
    return http_status >= 500 or http_status == 429 or any(c.is_retryable(context) for c in _TRY_AGAIN)


def as_aws_error(operation: str, err: ClientError | BotoCoreError) -> AwsError:
    """Classify a botocore failure once, for every call."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        details = {k: v for k, v in err.response.items() if k not in ("Error", "ResponseMetadata")}
        return AwsError(
            operation, code, str(error.get("Message", "")), transient=is_transient(code, status), details=details
        )
    # connection errors, timeouts: nothing was decided by AWS
    return AwsError(operation, type(err).__name__, str(err), transient=True)


def call(operation: str, fn: Callable[..., T], **kwargs: Any) -> T:
    """One API call, its failure as an AwsError named `operation` (`service:Operation`, as IAM spells it)."""
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise as_aws_error(operation, err) from err


def pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[list[Any]]:
    """Every page of a listing through botocore's paginator for `operation` (Marker, NextToken or
    LastEvaluatedKey alike), the items under `key` a page at a time; failures mapped like every other call's."""
    method = xform_name(operation.split(":", 1)[1])  # rds:DescribeDBClusters -> describe_db_clusters
    service = operation.split(":", 1)[0]
    config = {"PageSize": PAGE_SIZES[service]} if service in PAGE_SIZES else {}
    iterator = iter(client.get_paginator(method).paginate(PaginationConfig=config, **kwargs))
    while True:
        try:
            page = next(iterator)
        except StopIteration:
            return
        except (ClientError, BotoCoreError) as err:
            raise as_aws_error(operation, err) from err
        yield list(page.get(key, []))


@dataclass
class TtlCache:
    """A tiny per-container cache whose entries expire by the injected clock. Kept hand-written because neither
    functools (no expiry) nor Powertools' parameter cache (wall-clock expiry) lets a simulated hour pass: the local
    world and the tests move the clock and must see a changed policy or key exactly as a container would."""

    ttl_seconds: float
    clock: Clock
    _items: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get_or_load(self, key: str, load: Callable[[], T]) -> T:
        now = self.clock.now().timestamp()
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > now:
                return hit[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            self._items[key] = (now + self.ttl_seconds, value)
        return value

    def offer(self, key: str, value: Any) -> None:
        """Cache `value` under `key` too, unless a fresh entry is there already."""
        now = self.clock.now().timestamp()
        with self._lock:
            hit = self._items.get(key)
            if not hit or hit[0] <= now:
                self._items[key] = (now + self.ttl_seconds, value)
