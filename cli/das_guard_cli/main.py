"""`das-guard`: audit, explain and validate DAS Guard's policy without reading code or logs.

Every command shares the enforcer's package: the same policy model, the same `decide()`, the same AWS gateways.
Nothing here is deployed (the CLI and its libraries stay out of the Lambda package).

Exit codes, the same for every command:
  0  all good: compliant, valid, nothing for a person to do
  1  findings: a cluster without the stream the policy requires, a violation, a region without DAS Guard,
     an invalid policy file (validate, push)
  2  usage or configuration error: a bad option, no credentials, an expired token, a missing permission, AWS
     throttling, an unreadable file, an invalid policy used as input (audit/explain/simulate --policy, or the
     deployed one)
  3  internal error: a DAS Guard bug (one line; --debug shows the traceback)

Every failure is one line on stderr naming the cause and the fix; --debug adds the traceback.

Output never interprets markup in user or AWS text, and tables are plain, full-width text when stdout is not a
terminal (a file, a pipe, a CI log); rich tables only on a terminal.

The commands, one module each, over what they share (`common.py`):
  audit.py            audit (regions, --all-regions, --org)
  policy_commands.py  policy validate | explain | push, with policy_check.py (every remark about a file) and
                      policy_analysis.py (shadowed rules, expiring exemptions, which tags would change a rule)
  simulate.py         simulate an event through the enforcer, read-only
  records.py          records: a cluster's activity records, decrypted, as JSON lines
  local_commands.py   local start | stop | status
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import audit, local_commands, policy_commands, records, simulate
from .common import DEBUG, out

app = typer.Typer(
    help=__doc__.splitlines()[0] if __doc__ else None, no_args_is_help=True, pretty_exceptions_enable=False
)
policy_app = typer.Typer(help="Validate, explain and publish the policy document.", no_args_is_help=True)
local_app = typer.Typer(help="A local AWS (the demo's account) that lasts between commands.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(local_app, name="local")
app.command()(audit.audit)
app.command()(simulate.simulate)
app.command()(records.records)
policy_app.command("validate")(policy_commands.policy_validate)
policy_app.command("explain")(policy_commands.policy_explain)
policy_app.command("push")(policy_commands.policy_push)
policy_app.command("config-rule")(policy_commands.policy_config_rule)
local_app.command("start")(local_commands.local_start)
local_app.command("stop")(local_commands.local_stop)
local_app.command("status")(local_commands.local_status)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        out.print(f"das-guard {version('das-guard')}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="DAS_GUARD_DEBUG", help="Show the traceback of a failure.")
    ] = False,
) -> None:
    """das-guard: audit, explain and validate DAS Guard's policy without reading code or logs."""
    DEBUG["on"] = debug


def main() -> None:  # pragma: no cover - the console script
    app()
