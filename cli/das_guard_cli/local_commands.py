"""`das-guard local start | stop | status`: a local AWS (the demo's account) that lasts between commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from . import aws_session
from .common import FINDINGS, Usage, out, run


def local_start() -> None:
    """Start the local AWS in the background; every --local command then uses it (push, then audit, sees it)."""

    def body() -> int:
        if (state := aws_session.running_local()) is not None:
            out.print(f"already running at {state['endpoint']} (pid {state['pid']})")
            return 0
        aws_session.LOCAL_STATE.unlink(missing_ok=True)
        aws_session.LOCAL_STATE.parent.mkdir(parents=True, exist_ok=True)
        log = aws_session.LOCAL_STATE.with_suffix(".log").open("w", encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "localaws.serve", "--state", str(aws_session.LOCAL_STATE)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while (state := aws_session.running_local()) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise Usage(f"the local AWS did not start; see {aws_session.LOCAL_STATE.with_suffix('.log')}")
            time.sleep(0.2)
        out.print(f"local AWS running at {state['endpoint']} (pid {state['pid']}); stop it with: das-guard local stop")
        return 0

    run(body)


def local_stop() -> None:
    """Stop the local AWS `local start` began (what it held is gone)."""

    def body() -> int:
        state = aws_session.running_local()
        if state is None:
            out.print("no local AWS is running")
            aws_session.LOCAL_STATE.unlink(missing_ok=True)
            return 0
        os.kill(int(state["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + 30
        while aws_session.LOCAL_STATE.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        out.print(f"stopped the local AWS at {state['endpoint']}")
        return 0

    run(body)


def local_status() -> None:
    """Is a local AWS running? Exit 0 yes, 1 no."""

    def body() -> int:
        state = aws_session.running_local()
        out.print(f"running at {state['endpoint']} (pid {state['pid']})" if state else "no local AWS is running")
        return 0 if state else FINDINGS

    run(body)
