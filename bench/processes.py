"""How the bench runs and counts the tools: each as a process of its own (the deployed function with the
template's environment, Cloud Custodian from its own venv), requests counted at the local server's door."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localaws import das_extension
from localaws.world import Deployment

ROOT = Path(__file__).resolve().parent.parent
C7N_PYTHON = ROOT / ".venv-bench-c7n" / "bin" / "python"
C7N_POLICY = """policies:
  - name: aurora-without-activity-stream
    resource: rds-cluster
    filters:
      - ActivityStreamStatus: stopped
"""


class RequestCounter(logging.Handler):
    """Counts HTTP requests reaching moto's server (werkzeug logs one line each)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "HTTP/1.1" in record.getMessage():
            self.count += 1


@contextmanager
def counting_requests() -> Iterator[RequestCounter]:
    log = logging.getLogger("werkzeug")
    counter = RequestCounter()
    level, propagate, others = log.level, log.propagate, list(log.handlers)
    log.setLevel(logging.INFO)
    log.propagate = False
    log.handlers = [counter]  # werkzeug's own console handler would print every request
    try:
        yield counter
    finally:
        log.handlers = others
        log.setLevel(level)
        log.propagate = propagate


def counting_operations() -> contextlib.AbstractContextManager[Counter[str]]:
    """AWS operations reaching the local server, whichever process sent them (localaws' observer)."""
    return das_extension.counting_operations()


def function_environment(account: Deployment, **overrides: str) -> dict[str, str]:
    """A process of the deployed function: its environment as the template sets it (result events on the default
    bus unless overridden), AWS at the local endpoint."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        **account.stack.environment(**{"DAS_GUARD_EVENT_BUS": "default", **overrides}),
        "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def timed_process(command: list[str], env: dict[str, str], cwd: str | Path, *, check: bool = True) -> tuple[float, str]:
    """Wall time of a whole process (interpreter start, imports, work), as `time` would show it, and its stdout."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, check=False, stdout=out, stderr=subprocess.PIPE, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        seconds = time.perf_counter() - started
        out.seek(0)
        return seconds, out.read()
