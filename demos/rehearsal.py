"""docs/deploying.md's first-deploy checklist (one account and region), walked on the embedded local AWS.

    python -m demos.rehearsal            (or: make rehearse)

An account that already runs six Aurora databases and has a CloudTrail trail; each numbered step of the checklist
is done as the page says, with the real `das-guard` CLI and the real functions, and what it gave is printed under
the step's title. Where the local world stands in for something only AWS does (a CloudFormation deploy, the
subscription e-mail), the step says so. tests/integration/test_rehearsal.py runs it and checks that its steps are
the page's steps, in order, and that each gave what the page says.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from unittest import mock

import yaml
from typer.testing import CliRunner

from localaws.runtime import ACCOUNT, REGION
from localaws.world import World

ROOT = Path(__file__).resolve().parent.parent
CHECKLIST = ROOT / "docs" / "deploying.md"
POLICY_PAGE = ROOT / "docs" / "policy.md"
EXAMPLES_WRITTEN = date(2026, 12, 6)  # the policy page's example dates are as of this day; replays move them
ALERT_EMAIL = "security-alerts@example.com"

# The account before DAS Guard: six databases, running for weeks, two of which DAS Guard cannot give a stream.
EXISTING = (
    ("orders-pg", {"engine": "aurora-postgresql", "version": "16.1"}, {"team": "orders"}),
    ("billing-mysql", {"engine": "aurora-mysql", "version": "8.0.mysql_aurora.3.05.2"}, {"team": "billing"}),
    ("crm-pg", {"engine": "aurora-postgresql", "version": "15.4"}, {"team": "crm"}),
    ("sandbox-pg", {"engine": "aurora-postgresql", "version": "16.1"}, {"env": "sandbox"}),
    ("dev-burst", {"instances": [("dev-burst-1", "db.t4g.medium")]}, {"team": "dev"}),
    ("legacy-mysql", {"engine": "aurora-mysql", "version": "5.7.mysql_aurora.2.07.2"}, {"team": "legacy"}),
)


def checklist_steps(page: Path = CHECKLIST) -> list[str]:
    """The numbered steps of the page's single-account checklist, by their bold titles."""
    text = page.read_text(encoding="utf-8")
    section = text.split("## First deploy: one account and region", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. \*\*(.+?)\*\*", section, flags=re.MULTILINE)


def example_policy(today: date) -> dict[str, Any]:
    """The policy page's example, its exemption dates moved by as many days as have passed since it was written
    (as samples are re-dated when replayed), so that it means the same on any day."""
    text = POLICY_PAGE.read_text(encoding="utf-8")
    from das_guard_cli.reference_docs import code_blocks  # noqa: PLC0415 - the one reader of a page's code blocks

    document: dict[str, Any] = json.loads(code_blocks(text, "json")[0])
    shift = today - EXAMPLES_WRITTEN
    for exemption in document.get("exemptions", []):
        exemption["expires"] = (date.fromisoformat(exemption["expires"]) + shift).isoformat()
    return document


@dataclass
class Step:
    title: str
    commands: list[str]
    lines: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rehearsal:
    world: World
    folder: Path
    out: TextIO
    bundle: bool = True
    steps: list[Step] = field(default_factory=list)

    def step(self, title: str, *commands: str) -> Step:
        done = Step(title, list(commands))
        self.steps.append(done)
        print(f"\n{len(self.steps)}. {title}", file=self.out)
        for command in commands:
            print(f"   $ {command}", file=self.out)
        return done

    def say(self, step: Step, *lines: str) -> None:
        step.lines += lines
        for line in lines:
            print(f"     {line}", file=self.out)

    def plain(self, text: str) -> str:
        """What the CLI printed, with the rehearsal's temporary folder left out of its paths."""
        return text.replace(str(self.folder) + "/", "")

    def cli(self, step: Step, *args: str) -> Any:
        from das_guard_cli import main as cli  # noqa: PLC0415 - the CLI, as the person following the page runs it

        result = CliRunner().invoke(cli.app, list(args))
        step.facts.setdefault("exit_codes", []).append(result.exit_code)
        return result


def run(out: TextIO = sys.stdout, *, folder: Path | None = None, bundle: bool = True) -> list[Step]:
    """Walk the checklist; returns the steps with what each gave (the test asserts on them). `bundle`: build the
    Lambda's dependencies for step 3 (pip, cached; False skips it with a note)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="das-guard-rehearsal-"))
    weeks_ago = datetime.now(UTC) - timedelta(days=21)
    with World(start=weeks_ago) as world, mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        rehearsal = Rehearsal(world, folder, out, bundle=bundle)
        print(f"Rehearsal of {CHECKLIST.relative_to(ROOT)} on the local AWS, account {ACCOUNT}, {REGION}", file=out)
        _the_account_as_found(world)
        world.advance(days=21)  # the databases have run for three weeks when DAS Guard arrives
        for act in ACTS:
            act(rehearsal)
        return rehearsal.steps


def _the_account_as_found(world: World) -> None:
    session = world.session()
    s3, trails = session.client("s3"), session.client("cloudtrail")
    s3.create_bucket(Bucket="org-trail-logs")
    trails.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True)
    trails.start_logging(Name="org-trail")
    from localaws import scenario  # noqa: PLC0415

    rds = session.client("rds")
    for cluster_id, shape, tags in EXISTING:
        engine = str(shape.get("engine", "aurora-postgresql"))
        version = str(shape.get("version", "16.1"))
        instances = shape.get("instances", [(f"{cluster_id}-1", "db.r6g.large")])
        scenario.create_cluster(rds, cluster_id, engine, version, instances, tags=tags)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------ the steps
def check_account(r: Rehearsal) -> None:
    step = r.step(
        "Check the account, the region and the trail.",
        "aws sts get-caller-identity",
        "aws cloudtrail describe-trails",
        "aws cloudtrail get-trail-status --name org-trail",
    )
    session = r.world.session()
    trails = session.client("cloudtrail")
    identity = session.client("sts").get_caller_identity()
    [trail] = trails.describe_trails()["trailList"]
    logging = trails.get_trail_status(Name=trail["Name"])["IsLogging"]
    step.facts.update(account=identity["Account"], multi_region=trail["IsMultiRegionTrail"], logging=logging)
    r.say(
        step,
        f"account {identity['Account']}, region {session.region_name}",
        f"trail {trail['Name']}: multi-region {trail['IsMultiRegionTrail']}, IsLogging {logging}",
    )


def validate_policy(r: Rehearsal) -> None:
    path = r.folder / "das-guard-policy.yaml"
    today = r.world.now().date()
    path.write_text(yaml.safe_dump(example_policy(today), sort_keys=False), encoding="utf-8")
    step = r.step("Write the policy and validate it offline.", f"das-guard policy validate {path.name} --no-check-keys")
    result = r.cli(step, "policy", "validate", str(path), "--no-check-keys")
    r.say(step, *[r.plain(line) for line in result.stdout.strip().splitlines()[-3:]])
    r.say(step, f"(exit {result.exit_code}; the example's exemption dates are moved to today, as samples are)")


def build(r: Rehearsal) -> None:
    step = r.step("Build.", "sam build")
    if not r.bundle:
        r.say(step, "skipped here (--no-build): sam build installs functions/requirements.txt into the code")
        return
    from org import package  # noqa: PLC0415 - the same requirements sam build installs

    folder = package.install_dependencies(("3.13", package.WHEEL_PLATFORMS["arm64"]))
    versions = sorted(p.name.removesuffix(".dist-info") for p in folder.glob("*.dist-info"))
    step.facts["bundled"] = versions
    r.say(
        step,
        "what sam build installs from functions/requirements.txt, for python3.13 on arm64 (built here with pip,"
        " as sam build does):",
        ", ".join(v for v in versions if v.split("-")[0] in ("boto3", "botocore", "pydantic")) + ", ...",
    )


def deploy_report_only(r: Rehearsal) -> None:
    step = r.step(
        "Deploy in report-only.",
        "sam deploy --guided   # the default environment: EnforcementMode=report-only, AlertEmail=...",
    )
    default_policy = {"version": 1, "defaults": {"action": "report-only", "kms_key": "alias/das-guard"}}
    deployment = r.world.deploy(policy=default_policy, DAS_GUARD_ENFORCEMENT_MODE="report-only")
    sns = r.world.session().client("sns")
    sns.subscribe(TopicArn=deployment.stack.topic_arn, Protocol="email", Endpoint=ALERT_EMAIL)
    step.facts["stack"] = deployment.stack
    r.say(
        step,
        "the local world creates what the template does (CloudFormation itself is not rehearsed):",
        f"queue, DLQ, topic, state table {deployment.stack.state_table}, key alias/das-guard, "
        f"policy {deployment.stack.policy_parameter}",
    )


def confirm_subscription(r: Rehearsal) -> None:
    step = r.step("Confirm the alert subscription.", "aws sns list-subscriptions-by-topic --topic-arn <AlertTopicArn>")
    deployment = r.world.deployment()
    subscriptions = r.world.session().client("sns").list_subscriptions_by_topic(TopicArn=deployment.stack.topic_arn)
    emails = [s for s in subscriptions["Subscriptions"] if s["Protocol"] == "email"]
    step.facts["email_subscriptions"] = len(emails)
    r.say(step, *[f"{s['Endpoint']}: {s['SubscriptionArn'].rsplit(':', 1)[-1]}" for s in emails])
    r.say(step, "(AWS shows PendingConfirmation until someone clicks the e-mail's link; the local SNS does not wait)")


def push_policy(r: Rehearsal) -> None:
    step = r.step("Publish your policy.", "das-guard policy push das-guard-policy.yaml")
    result = r.cli(step, "policy", "push", str(r.folder / "das-guard-policy.yaml"), "--yes", "--region", REGION)
    said = [r.plain(line) for line in result.stdout.splitlines()]
    r.say(step, *[line for line in said if line.startswith(("pushed", "not pushed", "--- ", "+++ "))])
    r.say(step, f"(exit {result.exit_code}; the difference with the stack's default policy was shown before it)")


def sweep_now(r: Rehearsal) -> None:
    step = r.step("Sweep now.", "aws lambda invoke --function-name das-guard-sweep /dev/stdout")
    summary = r.world.deployment().sweep("rehearsal-first-sweep")
    step.facts["summary"] = summary
    keys = ("clusters_seen", "compliant", "would_start", "violations", "exempt", "started")
    r.say(step, ", ".join(f"{k} {summary.get(k)}" for k in keys))


def read_audit(r: Rehearsal) -> None:
    evidence = r.folder / "evidence"
    step = r.step("Read the audit.", "das-guard audit --format html --format csv --output evidence/")
    deployment = r.world.deployment()
    args = ["audit", "-f", "html", "-f", "csv", "-o", str(evidence), "--region", REGION]
    result = r.cli(step, *args, "--state-table", deployment.stack.state_table)
    with (evidence / "das-guard-audit.csv").open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("cluster")]
    verdicts = Counter(row["verdict"] for row in rows)
    starts = Counter(row["start"] for row in rows if row.get("start"))
    step.facts.update(verdicts=verdicts, starts=starts, files=sorted(p.name for p in evidence.iterdir()))
    r.say(
        step,
        f"wrote {', '.join(step.facts['files'])} (exit {result.exit_code}: findings)",
        "verdicts: " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items())),
        "start column: " + ", ".join(f"{s} {n}" for s, n in sorted(starts.items())),
    )
    for row in rows:
        if row["verdict"] == "Violation":
            r.say(step, f"{row['cluster']}: {row['reason']}")
            r.say(step, f"  fix: {row['fix']}")


def enforce(r: Rehearsal) -> None:
    step = r.step(
        "Enforce.",
        "sam deploy --parameter-overrides EnforcementMode=enforce",
        "aws lambda invoke --function-name das-guard-sweep /dev/stdout",
    )
    deployment = r.world.deployment()
    deployment.configure(DAS_GUARD_ENFORCEMENT_MODE="enforce")
    before = len(deployment.decisions())
    deployment.sweep("rehearsal-enforcing-sweep")
    decided = Counter(f"{d['outcome']}/{d['reason']}" for d in deployment.decisions()[before:])
    step.facts["decided"] = decided
    r.say(step, ", ".join(f"{k} {n}" for k, n in sorted(decided.items())))


def first_day(r: Rehearsal) -> None:
    step = r.step("Watch the first day.", "(your mailbox: the daily sweep's message)")
    deployment = r.world.deployment()
    r.world.advance(days=1)
    deployment.sweep("rehearsal-next-day")
    subjects = [a["Subject"] for a in deployment.alerts()]
    step.facts["subjects"] = subjects
    r.say(step, f"a day later, the sweep's message: {subjects[-1]}")


ACTS: Sequence[Callable[[Rehearsal], None]] = (
    check_account,
    validate_policy,
    build,
    deploy_report_only,
    confirm_subscription,
    push_policy,
    sweep_now,
    read_audit,
    enforce,
    first_day,
)


def main(argv: list[str] | None = None) -> int:
    steps = run(bundle="--no-build" not in (argv if argv is not None else sys.argv[1:]))
    print(f"\n{len(steps)} steps, as docs/deploying.md numbers them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
