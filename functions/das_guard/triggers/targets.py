"""What a queue message becomes: a cluster to evaluate (`Target`), a policy edit to announce (`PolicyChange`), or
nothing to do, with the outcome and reason to record (`Dismissal`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from ..model import Outcome, StopInfo

RETRY_KEY = "dasGuard"
RETRY_FORMAT = 1


@dataclass(frozen=True)
class Target:
    """A cluster to evaluate (or an instance whose cluster must be looked up first)."""

    trigger: str
    event_id: str
    first_seen: datetime
    cluster_id: str | None = None
    instance_id: str | None = None
    attempt: int = 0
    stop: StopInfo | None = None
    changed_by: str | None = None  # who changed the tags or the name (these choose the rule), from CloudTrail
    blue_green_id: str | None = None  # a blue/green deployment: evaluate its blue and green clusters, as they are now
    serves_no_one: bool = False  # a green cluster before switchover: starting its stream at once restarts no workload
    lineage: str | None = None  # the cluster whose data this one holds (clone, restore, blue/green's blue)
    lineage_snapshot: str | None = None  # the cluster snapshot it was restored from (its cluster is looked up)

    @property
    def key(self) -> str:
        if self.blue_green_id:
            return f"blue-green:{self.blue_green_id}"
        return f"cluster:{self.cluster_id}" if self.cluster_id else f"instance:{self.instance_id}"

    def retry_message(self) -> str:
        """The body of the delayed message that brings a deferred cluster back."""
        return json.dumps(
            {
                RETRY_KEY: {
                    "format": RETRY_FORMAT,
                    "clusterId": self.cluster_id,
                    "trigger": self.trigger,
                    "eventId": self.event_id,
                    "firstSeen": self.first_seen.isoformat(),
                    "attempt": self.attempt + 1,
                    **({"blueGreenId": self.blue_green_id} if self.blue_green_id else {}),
                }
            }
        )


@dataclass(frozen=True)
class PolicyChange:
    """The policy parameter was written (CloudTrail PutParameter). Not about a cluster: DAS Guard reads the versions
    from SSM itself (never from the event) and announces what changed."""

    trigger: str
    event_id: str
    changed_by: str
    version: int | None  # the version the call created, if the event says


@dataclass(frozen=True)
class Dismissal:
    """A message that needs no evaluation, with the outcome and reason to record for it."""

    outcome: Outcome
    reason: str
    detail: str
    trigger: str = "unknown"
    event_id: str = ""
