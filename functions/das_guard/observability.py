"""The functions' Powertools logger and metrics, and X-Ray tracing only where it is switched on.

Powertools' objects are process-wide by design (the handler decorators need them at import time). The Tracer is
not built unless tracing is on (template: `TracingMode: Active` sets `POWERTOOLS_TRACE_DISABLED=false`): building it
imports the X-Ray SDK and creates its sampling clients even when tracing is disabled, about 250 ms of every cold
start (docs/benchmarks.md) for segments nobody would receive.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "das-guard"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="DASGuard", service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    """Tracing is on only in Lambda with POWERTOOLS_TRACE_DISABLED false (what Powertools itself would trace)."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on")
    return not disabled and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@cache
def _tracer() -> Tracer | None:
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - the X-Ray SDK loads only when tracing is on

    return Tracer(service=SERVICE)  # the handler, and every boto3 call (patched) as a subsegment


def traced(handler: Handler) -> Handler:
    """`handler` as an X-Ray segment when tracing is on; `handler` itself otherwise."""
    tracer = _tracer()
    if tracer is None:
        return handler
    wrapped: Handler = tracer.capture_lambda_handler(capture_response=False)(handler)
    return wrapped


def annotate(key: str, value: str) -> None:
    """An X-Ray annotation on the current segment (nothing when tracing is off)."""
    tracer = _tracer()
    if tracer is not None:
        tracer.put_annotation(key=key, value=value)
