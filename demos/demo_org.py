"""`make demo-org`: DAS Guard rolled out to a local organisation (3 member accounts, 2 OUs, 2 regions) by the
central stack's StackSet, one new cluster per account, and what the security account then sees."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections import Counter
from unittest import mock

from typer.testing import CliRunner

from localaws.organisation import Organisation
from localaws.world import World

from .progress import Progress

REGIONS = ("us-east-1", "eu-west-1")


class _Unmodelled(logging.Filter):
    """moto's CloudFormation warns once per resource it does not model (each member stack's alarms, its bucket
    policy): pages of lines before the demo's result. Counted here and said in one line at the end."""

    PREFIX = "No Moto CloudFormation support for "

    def __init__(self) -> None:
        super().__init__()
        self.skipped: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.PREFIX):
            self.skipped[message.removeprefix(self.PREFIX)] += 1
            return False
        return True


def main() -> int:
    unmodelled = _Unmodelled()
    logging.getLogger("moto").addFilter(unmodelled)
    try:
        return _demo(unmodelled, Progress.for_terminal())
    finally:
        logging.getLogger("moto").removeFilter(unmodelled)


def _demo(unmodelled: _Unmodelled, progress: Progress) -> int:
    warnings.filterwarnings("ignore", message="Tried to parse AWS")
    with World() as world:
        progress(f"building a local organisation: accounts, OUs, code buckets in {len(REGIONS)} regions")
        org = Organisation(world, regions=REGIONS)
        progress("rolling out: org.package publish, the central stack, its StackSets' stack instances")
        central = org.roll_out()
        print(f"organisation {org.organization['Id']}: management {org.management}, security {org.security}")
        for name, account in org.members().items():
            print(f"  {name:8} {account}")
        instances = org.stack_instances()
        print(f"\nStackSet {', '.join(central.stack_sets)}: {len(instances)} stack instances")
        for instance in instances:
            print(f"  {instance['Account']} {instance['Region']:10} {instance['Status']}")

        progress("one new Aurora cluster per member account; each member's sweep decides")
        print("\nOne new Aurora cluster per member account (the sweep decides; policy read from the shared ARN):")
        for index, (name, account) in enumerate(org.members().items()):
            member = org.member(account, REGIONS[index % 2])
            burstable = name == "prod-b"
            member.add_cluster(
                f"{name}-orders", instances=[(f"{name}-orders-1", "db.t4g.medium" if burstable else "db.r6g.large")]
            )
            member.sweep()
            [decision] = [d for d in member.decisions() if d.get("cluster_id") == f"{name}-orders"]
            print(f"  {account}/{member.region:10} {name}-orders: {decision['outcome']} ({decision['reason']})")

        _central(org)
        _findings(world, org)
        progress("das-guard audit --org, as the security account")
        _audit(world, org)
    if unmodelled.skipped:
        skipped = ", ".join(f"{kind} x{n}" for kind, n in sorted(unmodelled.skipped.items()))
        print(f"\n(the local CloudFormation does not model {skipped}; nothing shown above depends on them)")
    return 0


def _central(org: Organisation) -> None:
    central = org.central
    assert central is not None
    events = org.central_events()
    per_source = Counter((e["detail"].get("account"), e["detail"].get("region")) for e in events)
    print(f"\nCentral bus {central.bus_arn}: {len(events)} events from {len(per_source)} account/regions")
    for event in events:
        detail = event["detail"]
        where = f"{detail.get('account')}/{detail.get('region')}"
        print(f"  {event['detail-type']:30} {where} {detail.get('outcome', '')}")
    org.notify()
    print("\nCentral alert topic (subjects, as the security team's mailbox shows them):")
    for alert in org.central_alerts():
        print(f"  {alert['Subject']}")


def _findings(world: World, org: Organisation) -> None:
    print("\nSecurity Hub findings, each imported by the account that owns the cluster:")
    for account in org.members().values():
        for region in REGIONS:
            found = world.session(account, region).client("securityhub").get_findings()["Findings"]
            for f in found:
                print(f"  {account}/{region:10} {f['Compliance']['Status']:7} {f['Title']}")


def _audit(world: World, org: Organisation) -> None:
    central = org.central
    assert central is not None
    print("\n$ das-guard audit --org --region us-east-1 --region eu-west-1 --parameter <shared policy ARN> -f json")
    from das_guard_cli import main as cli  # noqa: PLC0415 - the CLI, run as the security account

    credentials = world.session(org.security, REGIONS[0]).get_credentials()
    as_security = {
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token,
    }
    with mock.patch.dict(os.environ, as_security):
        args = ["audit", "--org", "--parameter", central.policy_arn, "--format", "json"]
        result = CliRunner().invoke(cli.app, [*args, "--region", REGIONS[0], "--region", REGIONS[1]])
    for row in json.loads(result.stdout)["clusters"]:
        print(f"  {row['account']} {row['region']:10} {row['cluster']:16} {row['verdict']:15} {row['reason']}")
    for line in result.stderr.strip().splitlines():
        print(f"  {line}")
    print(f"  (exit {result.exit_code})")


if __name__ == "__main__":
    sys.exit(main())
