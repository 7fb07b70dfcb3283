"""The demo's account, served on 127.0.0.1, for `das-guard ... --local`: the same clusters as `make demo`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from . import scenario
from .runtime import REGION
from .server import local_aws


@contextmanager
def seeded_local_aws() -> Iterator[str]:
    """Start the embedded local AWS, seed the stack and the demo clusters, and yield its endpoint URL."""
    with local_aws(REGION) as endpoint:
        session = boto3.Session(region_name=REGION)
        stack = scenario.seed_stack(session)
        scenario.seed_demo_clusters(session, stack)
        os.environ.setdefault("DAS_GUARD_STATE_TABLE", stack.state_table)
        yield endpoint
