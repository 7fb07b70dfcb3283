"""AWS sessions for the CLI: real credentials, an endpoint URL, or the embedded local AWS; read-only by default.

Read-only commands (audit, explain, simulate, validate, records) install a botocore hook that refuses every call
that is not a read (Describe*, Get*, BatchGet*, List*, Scan, Query, Lookup*, and KMS Decrypt), so "read-only"
is a property of the session, not a promise of the code. Every call is also recorded in `CALLS` (for `--debug`
and the tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from das_guard.aws.calls import botocore_session

# Decrypt changes nothing (`das-guard records` reads activity records with it; CloudTrail logs every call)
READ_PREFIXES = ("Describe", "Get", "BatchGet", "List", "Scan", "Query", "Lookup", "Decrypt")
CALLS: list[str] = []


class ReadOnlyViolation(RuntimeError):
    """A read-only command tried to change something (a bug: it is refused before it reaches AWS)."""


@dataclass(frozen=True)
class Target:
    """Where the CLI talks to: region(s), profile, endpoint."""

    regions: tuple[str, ...]
    profile: str | None = None
    read_only: bool = True
    credentials: Mapping[str, str] | None = None  # an assumed role's (audit --org); else the profile's

    def session(self, region: str) -> boto3.Session:
        core = botocore_session()
        if self.credentials is not None:
            session = boto3.Session(botocore_session=core, region_name=region, **self.credentials)
        else:
            session = boto3.Session(botocore_session=core, profile_name=self.profile, region_name=region)
        session.events.register("before-call.*.*", _record)
        if self.read_only:
            session.events.register("before-call.*.*", _refuse_writes)
        return session


def _record(model: Any, **_: Any) -> None:
    CALLS.append(f"{model.service_model.service_name}:{model.name}")


def _refuse_writes(model: Any, **_: Any) -> None:
    if not model.name.startswith(READ_PREFIXES):
        raise ReadOnlyViolation(f"{model.service_model.service_name}:{model.name} refused: this command is read-only")


def _local_state_path() -> Path:
    """Where `das-guard local start` records the server it left running: one place per user, so every command
    finds it from any directory and any shell (`DAS_GUARD_LOCAL_STATE` overrides; XDG's state directory)."""
    if explicit := os.environ.get("DAS_GUARD_LOCAL_STATE"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "das-guard" / "local.json"


LOCAL_STATE = _local_state_path()
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def running_local() -> dict[str, Any] | None:
    """The local AWS `das-guard local start` left running (its state file, if its server answers)."""
    try:
        state: dict[str, Any] = json.loads(LOCAL_STATE.read_text(encoding="utf-8"))
        with urllib.request.urlopen(f"{state['endpoint']}/moto-api/", timeout=2):  # noqa: S310 - 127.0.0.1 only
            return state
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def endpoint(url: str | None, local: bool) -> Iterator[str | None]:
    """Point boto3 at `url`, at the local AWS `das-guard local start` keeps running, or (`--local` without one)
    at a fresh embedded local AWS seeded with the demo's account, gone when the command ends."""
    if local:
        state = running_local()
        if state is not None:
            values = LOCAL_CREDENTIALS | {"AWS_ENDPOINT_URL": state["endpoint"]}
            # the local account's region unless one is chosen: `--local` needs no AWS configuration at all
            values["AWS_DEFAULT_REGION"] = os.environ.get("AWS_DEFAULT_REGION") or str(state.get("region", "us-east-1"))
            values.setdefault("DAS_GUARD_STATE_TABLE", os.environ.get("DAS_GUARD_STATE_TABLE", state["state_table"]))
            with mock.patch.dict(os.environ, values):
                yield state["endpoint"]
            return
        try:  # the one place the CLI uses the local AWS package: an optional extra, loaded only for --local
            from localaws.world import World  # noqa: PLC0415
        except ImportError as err:
            raise SystemExit("--local needs the embedded local AWS: pip install 'das-guard[local]'") from err
        with World(server=True) as world:  # the demo's account: the stack and one cluster per sample event
            demo = world.deploy()
            demo.seed_demo_clusters()
            os.environ.setdefault("DAS_GUARD_STATE_TABLE", demo.stack.state_table)
            yield world.endpoint
        return
    if not url:
        yield None
        return
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": url}):
        yield url
