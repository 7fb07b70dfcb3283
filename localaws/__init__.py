"""The embedded local AWS: moto plus DAS Guard's activity-stream extension, and the local world built on it.

`World` (localaws/world.py) is the public API that the tests, the demo, the bench and the CLI's `--local` use:
accounts and regions with the stack, clusters, events delivered into the real handler, the sweep, a clock to
move, and what came out (decisions, alerts, metrics, result events, stream states).

Never deployed: this package is outside the Lambda CodeUri (functions/).
"""

from .das_extension import install
from .world import Deployment, ManualClock, World

__all__ = ["Deployment", "ManualClock", "World", "install"]
