"""What every command shares: the consoles, exit codes, the common options, AWS error handling, and DAS Guard
built as the function is (the composition root), read-only."""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from das_guard import app as composition
from das_guard.aws import PolicyParameter
from das_guard.enforcer import Enforcer
from das_guard.gateway import AwsError
from das_guard.model import Decision
from das_guard.policy import PolicyDocument, PolicyError, parse_policy, validate_policy
from das_guard.settings import Settings

from . import aws_session
from .policy_files import PolicyFileError, load

# markup=False: a file name like "[bold]team.yaml" or a regex in an error is printed as it is, never interpreted
out = Console(soft_wrap=True, markup=False, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False, emoji=False)


FINDINGS, USAGE, INTERNAL = 1, 2, 3
DEBUG = {"on": False}  # --debug: a failure shows its traceback (set by the top-level option)

DEFAULT_PARAMETER = "/das-guard/policy"
Region = Annotated[list[str] | None, typer.Option("--region", "-r", help="AWS region (repeatable).")]
Profile = Annotated[str | None, typer.Option(help="AWS profile.")]
Endpoint = Annotated[str | None, typer.Option(help="AWS endpoint URL, e.g. a local moto server.")]
Local = Annotated[bool, typer.Option("--local", help="Use the embedded local AWS with the demo's account.")]
PolicyPath = Annotated[Path | None, typer.Option("--policy", help="A local policy file instead of the deployed one.")]
Parameter = Annotated[str, typer.Option(help="SSM parameter holding the deployed policy.")]
StateTable = Annotated[
    str | None, typer.Option(envvar="DAS_GUARD_STATE_TABLE", help="DAS Guard's state table, to see break-glass holds.")
]


T = TypeVar("T")


@dataclass(frozen=True)
class Connection:
    """The AWS options every command takes (--region, --profile, --endpoint-url, --local), as one value."""

    region: list[str] | None
    profile: str | None
    endpoint_url: str | None
    local: bool

    @contextmanager
    def target(self, *, first_region_only: bool = False, read_only: bool = True) -> Iterator[aws_session.Target]:
        """The regions asked (or the configured one) on a session of these options; AWS errors as usage errors."""
        with aws_session.endpoint(self.endpoint_url, self.local), aws_errors():
            regions = regions_of(self.region, default_region())
            yield aws_session.Target(regions[:1] if first_region_only else regions, self.profile, read_only=read_only)


@contextmanager
def judging(
    connection: Connection, policy: Path | None, parameter: str, state_table: str | None
) -> Iterator[tuple[aws_session.Target, composition.App, PolicyDocument]]:
    """One region's DAS Guard, read-only, and the policy it judges by (a local file, or the deployed one)."""
    with connection.target(first_region_only=True) as target:
        reader = reader_for(target, target.regions[0], parameter, state_table)
        yield target, reader, load_policy(policy, reader.policy_parameter)


def start_timing(evaluation: Decision) -> str:
    """Whether the start DAS Guard would make restarts the cluster: a platform team reads this before deploying."""
    if evaluation.start is None:
        return "-"
    return "now (restarts the cluster)" if evaluation.start.apply_immediately else "maintenance window"


class Usage(Exception):
    """Exit 2 with this message."""


# AWS error codes that mean the same thing to a person, and what to do about it
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
_INVALID_CREDENTIALS = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"})


def aws_problem(operation: str, code: str, message: str) -> str:
    """One line naming the cause and the fix of an AWS error a person can act on (the CLI's credentials or rights)."""
    first = message.splitlines()[0][:300] if message else code
    if code in _EXPIRED:
        return f"your AWS credentials have expired ({operation}: {code}): refresh them (e.g. `aws sso login`) and rerun"
    if code in _INVALID_CREDENTIALS:
        return f"AWS does not accept these credentials ({operation}: {code}): check the profile or the keys"
    if code in _THROTTLED:
        return f"AWS throttled {operation} after retries ({code}): rerun later, or with fewer regions or --parallel"
    if code in _DENIED:
        action = re.search(r"perform: ([a-z0-9-]+:[A-Za-z0-9]+)", message or "")
        needed = action.group(1) if action else f"the permission for {operation}"
        return f"access denied: these credentials lack {needed} ({operation}: {code}); grant it or use another role"
    return f"{operation} failed: {code}: {first}"


@contextmanager
def aws_errors() -> Iterator[None]:
    """Credential, region and permission problems are usage errors (exit 2): one line with the cause and the fix."""
    try:
        yield
    except ProfileNotFound as error:
        raise Usage(f"{error}: list yours with `aws configure list-profiles`, or pass --profile") from error
    except (NoCredentialsError, NoRegionError) as error:
        raise Usage(f"{error}. Configure credentials and a region (or use --local).") from error
    except AwsError as error:
        raise Usage(aws_problem(error.operation, error.code, error.message)) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        raise Usage(
            aws_problem(error.operation_name, str(details.get("Code", "?")), str(details.get("Message", "")))
        ) from error
    except BotoCoreError as error:
        raise Usage(str(error).splitlines()[0]) from error


def run(body: Any) -> None:
    """Run a command body, mapping failures to exit codes: 2 for usage and configuration, 3 for a failure of
    DAS Guard itself (one line; the traceback with --debug)."""
    try:
        with aws_errors():  # AWS configuration problems met outside a command's own AWS block are usage errors too
            code = body()
    except Usage as error:
        _fail(error, USAGE, f" {error}")
    except PolicyError as error:  # a policy used as input (--policy, or the deployed one): an input error
        _fail(error, USAGE, f" the policy is invalid: {'; '.join(error.problems)}")
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line and a distinct exit code
        where = error.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        place = f" at {Path(where.tb_frame.f_code.co_filename).name}:{where.tb_lineno}" if where else ""
        _fail(
            error,
            INTERNAL,
            f" internal error: {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            f"{place} (a DAS Guard bug: rerun with --debug for the traceback and report it)",
        )
    raise typer.Exit(code or 0)


def _fail(error: BaseException, code: int, message: str) -> None:
    if DEBUG["on"]:
        traceback.print_exception(error)
    err.print(Text.assemble(("error:", "red"), message))
    raise typer.Exit(code) from error


WHOLE_COLUMNS = ("account", "region", "cluster", "engine", "stream", "rule", "verdict")  # names are never broken


def print_table(title: str, columns: list[str], rows: list[list[str]], failing: list[bool]) -> None:
    """A rich table on a terminal (compact: it reads at 100 columns, long text folds inside its cell, names never
    wrap); plain, aligned, full-width text elsewhere (nothing folded or cut)."""
    if out.is_terminal:
        table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True)
        for name in columns:
            table.add_column(name, overflow="fold", no_wrap=name in WHOLE_COLUMNS)
        for row, bad in zip(rows, failing, strict=True):
            table.add_row(*row, style="red" if bad else None)
        out.print(table)
        return
    sys.stdout.write(plain_table(title, columns, rows))


def plain_table(title: str, columns: list[str], rows: list[list[str]]) -> str:
    """Aligned text, every cell whole: for files, pipes and CI logs."""
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def not_deployed(error: Exception, parameter: str) -> str:
    """One line for a region where DAS Guard's policy cannot be read (usually: it is not deployed there)."""
    text = str(error)
    if "ParameterNotFound" in text:
        return f"DAS Guard is not deployed here (no policy parameter {parameter})"
    return text.splitlines()[0][:200]


def regions_of(region: list[str] | None, session_region: str | None) -> tuple[str, ...]:
    chosen = tuple(region or ([session_region] if session_region else []))
    if not chosen:
        raise Usage("no region: pass --region or set AWS_REGION")
    return chosen


def default_region() -> str | None:

    region: str | None = boto3.Session().region_name
    return region


def load_policy(path: Path | None, parameter: PolicyParameter) -> PolicyDocument:
    if path is not None:
        try:
            return validate_policy(load(path).data, str(path), today=date.today())
        except PolicyFileError as error:
            raise Usage(f"{path}:{error.line or '?'}: {error}") from error
    with aws_errors():
        return parse_policy(parameter.text(), f"SSM parameter {parameter.parameter}", today=date.today())


def reader_for(
    target: aws_session.Target, region: str, parameter: str = DEFAULT_PARAMETER, state_table: str | None = None
) -> composition.App:
    """DAS Guard as the function is built (the composition root), in dry-run, on the CLI's read-only session."""
    settings = Settings(region=region, account="", policy_parameter=parameter, state_table=state_table)
    return composition.build(settings, session=target.session(region), dry_run=True)


def read_only_enforcer(reader: composition.App, policy: PolicyDocument) -> Enforcer:
    """The enforcer in dry-run, judging by `policy`: its lookups and decisions, never a start or a hold."""
    return composition.with_policy(reader, policy)
