"""The embedded local AWS: moto plus DAS Guard's activity-stream extension, and the local world built on it.

`World` (localaws/world.py) is the public API that the tests, the demo, the bench and the CLI's `--local` use:
accounts and regions with the stack, clusters, events delivered into the real handler, the sweep, a clock to
move, and what came out (decisions, alerts, metrics, result events, stream states).

Never deployed: this package is outside the Lambda CodeUri (functions/). Importing the package loads nothing:
`localaws.runtime` (the Lambda runtime stand-ins) is used by processes that talk to a local server and need
no moto (the bench's function processes).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .das_extension import install
    from .world import Deployment, ManualClock, World

__all__ = ["Deployment", "ManualClock", "World", "install"]
_HOMES = {"install": "das_extension", "Deployment": "world", "ManualClock": "world", "World": "world"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
