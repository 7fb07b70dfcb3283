"""The organisation audit side by side: `das-guard audit --org` against `c7n-org run`, over a local organisation
of many member accounts x 2 regions on moto's server. Both assume the read-only role in each account (moto's STS
maps the assumed role's keys to its account) and list every cluster; both run as processes of their own.

Each member account and region holds a few Aurora clusters (60 % without a stream, like the sweep's fleet) and
the state table DAS Guard's audit reads holds from; the policy is a file for both (`--policy`), so neither reads
a parameter. Custodian's policy is the sweep's listing policy; c7n-org runs it in every account and region.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3

from localaws import das_extension, scenario
from localaws.world import World

ROOT = Path(__file__).resolve().parent.parent
C7N_ORG = ROOT / ".venv-bench-c7n" / "bin" / "c7n-org"
DAS_GUARD_CLI = ROOT / ".venv" / "bin" / "das-guard"
REGIONS = ("us-east-1", "eu-west-1")
ROLE = "das-guard-audit"
CLUSTERS_PER_REGION = 5


def organisation(world: World, accounts: int) -> list[str]:
    """An organisation with `accounts` members, each with clusters and a state table in both regions."""
    orgs = boto3.client("organizations", region_name=REGIONS[0])
    orgs.create_organization(FeatureSet="ALL")
    members = []
    for i in range(accounts):
        status = orgs.create_account(AccountName=f"member-{i:03d}", Email=f"member-{i:03d}@example.com")
        members.append(status["CreateAccountStatus"]["AccountId"])
    for account in members:
        for region in REGIONS:
            session = world.session(account, region)  # the local world's own way into a member account
            if region == REGIONS[0]:  # IAM is global: the audit role once per account
                session.client("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
            session.client("dynamodb").create_table(
                TableName="das-guard-state",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            key = session.client("kms").create_key()["KeyMetadata"]["Arn"]
            session.client("kms").create_alias(AliasName=scenario.KEY_ALIAS, TargetKeyId=key)
            rds = session.client("rds")
            for c in range(CLUSTERS_PER_REGION):
                name = f"a{account[-4:]}-{c}"
                scenario.create_cluster(rds, name, "aurora-postgresql", "16.1", [(f"{name}-1", "db.r6g.large")])
                if c % 5 >= 3:
                    das_extension.set_activity_stream(name, "started", "async", key, region=region, account=account)
    return members


def c7n_accounts(members: list[str]) -> dict[str, Any]:
    return {
        "accounts": [
            {
                "account_id": account,
                "name": f"member-{i:03d}",
                "regions": list(REGIONS),
                "role": f"arn:aws:iam::{account}:role/{ROLE}",
            }
            for i, account in enumerate(members)
        ]
    }


def run(accounts: int = 50) -> dict[str, Any]:
    from bench.processes import C7N_POLICY, counting_operations, counting_requests, timed_process  # noqa: PLC0415

    result: dict[str, Any] = {"accounts": accounts, "regions": len(REGIONS)}
    with World(server=True) as world, tempfile.TemporaryDirectory() as work:
        assert world.endpoint is not None
        members = organisation(world, accounts)
        clusters = accounts * len(REGIONS) * CLUSTERS_PER_REGION
        result["clusters"] = clusters
        Path(work, "policy.json").write_text(json.dumps(scenario.DEMO_POLICY))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        command = [str(DAS_GUARD_CLI), "audit", "--org", "--policy", "policy.json", "--format", "json"]
        for region in REGIONS:
            command += ["--region", region]
        with counting_requests() as requests, counting_operations() as operations:
            seconds, stdout = timed_process(command, env, work, check=False)
        rows = json.loads(stdout)["clusters"]
        result["das_guard"] = {
            "seconds": seconds,
            "requests": requests.count,
            "assume_role": operations["sts:AssumeRole"],
            "clusters": len(rows),
            "without_stream": sum(1 for r in rows if r["stream"] == "stopped"),
            "operations": dict(sorted(operations.items())),
        }
        if C7N_ORG.exists():
            Path(work, "accounts.yml").write_text(json.dumps(c7n_accounts(members)))
            Path(work, "policy.yml").write_text(C7N_POLICY)
            with counting_requests() as requests, counting_operations() as operations:
                seconds, _ = timed_process(
                    [str(C7N_ORG), "run", "-c", "accounts.yml", "-s", "out", "-u", "policy.yml", "--cache-period", "0"],
                    env,
                    work,
                )
            found = 0
            for listing in Path(work, "out").rglob("resources.json"):
                found += len(json.loads(listing.read_text()))
            result["c7n_org"] = {
                "seconds": seconds,
                "requests": requests.count,
                "assume_role": operations["sts:AssumeRole"],
                "without_stream": found,
                "operations": dict(sorted(operations.items())),
            }
    return result


if __name__ == "__main__":
    print(json.dumps(run(int(os.environ.get("BENCH_ORG_ACCOUNTS", "5"))), indent=2))
