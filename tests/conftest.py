"""Shared fixtures. Every AWS call in the suite goes to moto (in-process) or moto's server on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

# Never reach real AWS, whatever the developer's shell has configured.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_METRICS_NAMESPACE="DASGuard",
    POWERTOOLS_SERVICE_NAME="das-guard",
)

from botocore.handlers import BUILTIN_HANDLERS  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core.models import botocore_stubber  # noqa: E402


def _never_real_aws(request: Any, **_: Any) -> None:
    """Outside a moto mock, every request must go to a local server (moto's, on 127.0.0.1)."""
    if botocore_stubber.enabled:  # mock_aws is active: moto answers the request in-process
        return
    if not request.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise RuntimeError(f"a test tried to reach real AWS: {request.url}")


BUILTIN_HANDLERS.append(("before-send", _never_real_aws))

from localaws import das_extension, scenario  # noqa: E402
from localaws.events import load_sample  # noqa: E402
from localaws.world import CallCounter, Deployment, World  # noqa: E402

from . import least_privilege  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
__all__ = ["CallCounter", "Deployment", "Enforcer", "sample"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the controller (or the only process) starts a fresh count
        for path in least_privilege.CALLS_DIR.glob("*.json"):
            path.unlink()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Least privilege by measurement (tests/least_privilege.py): each process saves the calls its functions made;
    the controller compares them all with the template's IAM statements."""
    from localaws.world import FUNCTION_CALLS  # noqa: PLC0415

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    least_privilege.save(FUNCTION_CALLS, worker or "main")
    if worker:
        return
    config = session.config
    whole_suite = (
        exitstatus == 0
        and not config.getoption("keyword")
        and not config.getoption("markexpr")
        and [Path(a).resolve() for a in config.args] in ([], [ROOT / "tests"])
    )
    problems = least_privilege.check(least_privilege.load_all(), whole_suite=whole_suite)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        calls = least_privilege.load_all()
        reporter.write_line(
            f"least privilege: {len(calls)} distinct AWS operations, {sum(calls.values())} calls by the functions; "
            + ("checked both ways" if whole_suite else "checked made-vs-granted only (partial run)")
        )
        for problem in problems:
            reporter.write_line(f"LEAST PRIVILEGE: {problem}", red=True)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def sample(name: str) -> dict[str, Any]:
    """A sample event from events/eventbridge as stored; the world re-dates it to its clock when delivered."""
    return load_sample(name)


@pytest.fixture
def aws() -> Iterator[None]:
    """Bare moto (in-process) with the DAS extension, for tests of moto itself and of the CLI's guard."""
    das_extension.install()
    with mock_aws():
        yield


@pytest.fixture
def world() -> Iterator[World]:
    """The local world: in-process moto, DAS Guard's composition root, one clock the test moves."""
    with World() as local:
        yield local


@pytest.fixture
def deployment(world: World) -> Deployment:
    """DAS Guard deployed in 123456789012/us-east-1 with the demo policy and no clusters."""
    return world.deploy()


@pytest.fixture
def prod(world: World) -> Deployment:
    """An enforced production Aurora PostgreSQL cluster (`orders-pg`, regulated) whose stream DAS Guard started and
    that now runs: where the insider scenarios begin."""
    deployment = world.deploy()
    deployment.add_cluster("orders-pg", tags={"data-class": "pci"})
    deployment.sweep()
    world.advance(minutes=10)
    assert deployment.stream("orders-pg")["Status"] == "started"
    return deployment


@pytest.fixture
def session(deployment: Deployment) -> boto3.Session:
    """The test's own hand in the deployment's account and region (its calls are not counted)."""
    return deployment.aws


@pytest.fixture
def stack(deployment: Deployment) -> scenario.Stack:
    return deployment.stack


@pytest.fixture
def rds(session: boto3.Session) -> Any:
    return session.client("rds")


@pytest.fixture
def sqs(session: boto3.Session) -> Any:
    return session.client("sqs")


Enforcer = Deployment  # the tests' name for "the deployed function, as a test drives it"


@pytest.fixture
def enforcer(deployment: Deployment) -> Deployment:
    return deployment


@pytest.fixture
def make_enforcer(deployment: Deployment) -> Callable[..., Deployment]:
    """Redeploy the function with environment overrides (template parameters), e.g. a shorter cache."""

    def make(**env: str) -> Deployment:
        deployment.configure(**env)
        return deployment

    return make
