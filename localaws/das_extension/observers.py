"""Observers for the bench and the tests: every operation the local server answered, and every start it accepted."""

from __future__ import annotations

import contextlib
import io
import re
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

from moto.rds.models import RDSBackend

from . import streams


# ------------------------------------------------------------------------------------------------- observers
@contextlib.contextmanager
def counting_operations() -> Iterator[Counter[str]]:
    """AWS operations (`service:Operation`) reaching moto's server, from any process, while the block runs: every
    request passes moto's domain dispatcher. The service is the SigV4 credential scope's, the operation is
    X-Amz-Target's (JSON protocols) or the form's Action (query protocols)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415

    counts: Counter[str] = Counter()
    original = DomainDispatcherApplication.__call__

    def observed(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            operation = target.rsplit(".", 1)[-1]
        else:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            operation = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        counts[f"{scope.group(1) if scope else '?'}:{operation}"] += 1
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = observed  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]


@contextlib.contextmanager
def counting_starts() -> Iterator[Counter[str]]:
    """StartActivityStream calls the local RDS accepted while the block runs, per cluster ARN (a double start of
    one cluster counts 2; a refused start counts nothing)."""
    accepted: Counter[str] = Counter()
    original = streams._start  # the one start path of the local model, observed

    def start(backend: RDSBackend, resource_arn: str, mode: str, kms_key_id: str, apply_immediately: bool) -> Any:
        answer = original(backend, resource_arn, mode, kms_key_id, apply_immediately)
        accepted[resource_arn] += 1
        return answer

    streams._start = start
    try:
        yield accepted
    finally:
        streams._start = original
