"""The CLI needs the local AWS (localaws, moto: the `local` extra) only for --local; every other command runs
without it, so a compliance team installs `das-guard[cli]` alone."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_loads_no_local_aws_until_asked() -> None:
    code = (
        "import sys, das_guard_cli.main\n"
        "loaded = sorted(m for m in ('localaws', 'moto') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert done.stdout.strip() == ""
