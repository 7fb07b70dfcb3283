"""A local AWS that outlives one command: `das-guard local start` runs this in the background.

    python -m localaws.serve --state ~/.local/state/das-guard/local.json   (what `das-guard local start` runs)

The demo's account (the stack and one cluster per sample event) on a moto server at 127.0.0.1; the state file
says where, and goes when the server stops (SIGTERM from `das-guard local stop`). What one command changes
(`policy push --local`) the next one sees (`audit --local`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .world import World


def serve(state: Path) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with World(server=True) as world:
        demo = world.deploy()
        demo.seed_demo_clusters()
        temporary = state.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {
                    "endpoint": world.endpoint,
                    "pid": os.getpid(),
                    "region": demo.region,
                    "account": demo.account,
                    "state_table": demo.stack.state_table,
                }
            ),
            encoding="utf-8",
        )
        temporary.replace(state)  # appears whole: the starter waits for it
        try:
            stop.wait()
        finally:
            state.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws.serve")
    parser.add_argument("--state", type=Path, required=True)
    return serve(parser.parse_args(argv).state)


if __name__ == "__main__":
    sys.exit(main())
