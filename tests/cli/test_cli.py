"""`das-guard` for compliance teams, against moto: output shapes, exit codes, clear errors, and read-only."""

from __future__ import annotations

import ast
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from das_guard_cli import aws_session
from das_guard_cli.main import app
from localaws import das_extension, scenario

ROOT = Path(__file__).resolve().parents[2]
REGION = ["--region", "us-east-1"]
runner = CliRunner()


@pytest.fixture
def demo_account(session: Any, stack: scenario.Stack) -> scenario.Stack:
    scenario.seed_demo_clusters(session, stack)
    aws_session.CALLS.clear()
    return stack


def cli(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input)


def streams(rds: Any) -> dict[str, Any]:
    return {c["DBClusterIdentifier"]: c.get("ActivityStreamStatus") for c in rds.describe_db_clusters()["DBClusters"]}


def without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with no AWS credentials anywhere (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def assert_read_only() -> None:
    assert aws_session.CALLS, "the command must have talked to AWS"
    writes = [c for c in aws_session.CALLS if not c.split(":")[1].startswith(aws_session.READ_PREFIXES)]
    assert writes == []


class TestAudit:
    def test_json_has_a_verdict_per_cluster_and_exit_1_on_gaps(self, demo_account: Any, rds: Any) -> None:
        before = streams(rds)
        result = cli("audit", *REGION, "--format", "json")
        assert result.exit_code == 1, result.output
        rows = {r["cluster"]: r for r in json.loads(result.stdout)["clusters"]}
        assert len(rows) == 27
        assert {
            k: (rows[k]["verdict"], rows[k]["reason"])
            for k in ("audit-pg", "dev-burst", "orders-pg", "sandbox-pg", "catalog-docdb", "payments-pg")
        } == {
            "audit-pg": ("AlreadyActive", "StreamActive"),
            "dev-burst": ("Violation", "UnsupportedInstanceClass"),
            "orders-pg": ("WouldStart", "StreamMissing"),
            "sandbox-pg": ("Exempt", "ExemptByPolicy"),
            "catalog-docdb": ("NotApplicable", "NotAurora"),
            "payments-pg": ("Deferred", "ClusterNotAvailable"),
        }
        assert rows["dev-burst"]["classes"] == "db.t4g.medium"
        assert rows["orders-pg"]["rule"] == "regulated-data"
        assert "27 clusters, 15 without the stream the policy requires" in result.stderr
        assert streams(rds) == before
        assert_read_only()

    def test_all_compliant_exits_0(self, session: Any, stack: scenario.Stack) -> None:
        rds = session.client("rds")
        scenario.create_cluster(rds, "good-pg", "aurora-postgresql", "16.1", [("good-pg-1", "db.r6g.large")])
        das_extension.set_activity_stream("good-pg", "started", "async", stack.key_arn)
        das_extension.add_foreign_cluster("docs", "docdb", "5.0.0")
        result = cli("audit", *REGION, "--format", "csv")
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [(r["cluster"], r["verdict"]) for r in rows] == [("good-pg", "AlreadyActive"), ("docs", "NotApplicable")]

    def test_markdown_and_table(self, demo_account: Any) -> None:
        markdown = cli("audit", *REGION, "--format", "markdown").stdout.splitlines()
        assert markdown[0].startswith("**DAS Guard audit.** 1 account(s) (123456789012), region(s) us-east-1;")
        assert markdown[2].startswith("| region | cluster | engine | version | classes | stream | rule | verdict |")
        assert len(markdown) == 2 + 2 + 27
        table = cli("audit", *REGION).stdout
        assert "DAS Guard audit: 27 clusters" in table
        assert "dev-burst" in table

    @pytest.fixture
    def second_region(self, demo_account: Any) -> None:
        """DAS Guard deployed in eu-west-1 too (its policy parameter), with one cluster there."""
        scenario.create_cluster(
            boto3.client("rds", region_name="eu-west-1"),
            "eu-pg",
            "aurora-postgresql",
            "16.1",
            [("eu-pg-1", "db.r6g.large")],
        )
        boto3.client("ssm", region_name="eu-west-1").put_parameter(
            Name=scenario.POLICY_PARAMETER, Type="String", Value=json.dumps(scenario.DEMO_POLICY)
        )

    @pytest.mark.usefixtures("second_region")
    def test_several_regions(self) -> None:
        result = cli("audit", "--region", "us-east-1", "--region", "eu-west-1", "--format", "json")
        regions = [r["region"] for r in json.loads(result.stdout)["clusters"]]
        assert (regions.count("us-east-1"), regions.count("eu-west-1")) == (27, 1)

    @pytest.mark.usefixtures("second_region")
    def test_all_regions_skips_those_without_das_guard(self) -> None:
        result = cli("audit", *REGION, "--all-regions", "--format", "json")
        assert result.exit_code == 1, result.stderr[-500:]
        assert {r["region"] for r in json.loads(result.stdout)["clusters"]} == {"us-east-1", "eu-west-1"}
        [gap] = [line for line in result.stderr.splitlines() if line.startswith("not audited")]  # one line per cause
        cause, places = gap.rsplit(": ", 1)
        assert cause.endswith("DAS Guard is not deployed here (no policy parameter /das-guard/policy)")
        assert "ap-southeast-2" in places.split(", ")
        assert "eu-west-1" not in places.split(", ")
        assert cause.startswith(f"not audited ({len(places.split(', '))})")
        assert "region(s) or account(s) not audited" in result.stderr.splitlines()[-1]
        scope = json.loads(result.stdout)["scope"]
        assert "ap-southeast-2" in {s["region"] for s in scope["not_audited"]}  # the file says so too

    def test_a_local_policy_file_instead_of_the_deployed_one(self, demo_account: Any, tmp_path: Path) -> None:
        policy = tmp_path / "p.json"
        everything = {"name": "everything", "match": {"tags": {"no-such-tag": {"present": False}}}}
        policy.write_text(
            json.dumps(
                {
                    "version": 1,
                    "defaults": {"kms_key": "alias/das-guard"},
                    "rules": [{**everything, "action": "exempt", "reason": "a trial"}],
                }
            )
        )
        result = cli("audit", *REGION, "--format", "json", "--policy", str(policy))
        assert result.exit_code == 0
        # with everything exempt nothing is missing (a running stream on an exempt cluster is exempt too: the rule
        # designates no key to vouch for); streams still stopping are not-ready, not failures
        verdicts = {(r["verdict"], r["compliance"]) for r in json.loads(result.stdout)["clusters"]}
        assert verdicts == {
            ("Exempt", "exempt"),
            ("NotApplicable", "not-applicable"),
            ("Deferred", "pending"),
        }

    def test_usage_and_credential_errors_exit_2(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert cli("audit", *REGION, "--format", "xml").exit_code == 2
        without_credentials(monkeypatch)
        result = cli("audit", *REGION)
        assert result.exit_code == 2
        assert "Unable to locate credentials" in result.stderr

    @pytest.mark.parametrize("command", [["audit"], ["audit", *REGION], ["records", "orders-pg", *REGION]])
    def test_a_profile_that_does_not_exist_is_one_line_and_exit_2(
        self, monkeypatch: pytest.MonkeyPatch, command: list[str]
    ) -> None:
        """Not a traceback, and not exit 1 (which means findings to a pipeline)."""
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
        result = cli(*command)
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [
            "error: The config profile (no-such-profile) could not be found: list yours with "
            "`aws configure list-profiles`, or pass --profile"
        ]


class TestValidate:
    def write(self, tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    def test_valid_yaml(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, "version: 1\ndefaults:\n  kms_key: alias/das-guard\n")
        result = cli("policy", "validate", str(path), "--no-check-keys")
        assert (result.exit_code, result.stdout.strip()) == (0, f"{path}: valid (0 error(s), 0 other remark(s))")

    def test_schema_errors_with_their_lines(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            "version: 1\ndefaults:\n  kms_key: alias/aws/rds\nrules:\n  - name: a\n"
            "    match: {tags: {env: prod}}\n    actoin: exempt\n",
        )
        result = cli("policy", "validate", str(path))
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert lines[0].startswith(f"{path}:3:3: error: defaults.kms_key: 'alias/aws/rds' is an AWS managed key")
        assert lines[1] == f"{path}:7:5: error: rules[0].actoin: unknown field 'actoin' (did you mean 'action'?)"

    @pytest.mark.parametrize(
        ("text", "line", "message"),
        [
            (  # a billion laughs: nine aliases of nine aliases ... would be 9^8 strings once expanded
                "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n"
                + "".join(
                    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
                ),
                3,
                "YAML aliases (*a) are not allowed in a policy file",
            ),
            ("version: 1\nrules: &r [*r]\n", 2, "YAML aliases (*r) are not allowed"),
            ("version: 1\nrules: " + "[" * 5000 + "]" * 5000 + "\n", None, "nested too deeply"),
        ],
        ids=["alias-bomb", "recursive-alias", "deep-nesting"],
    )
    def test_hostile_yaml_is_refused_at_once_with_a_reason(
        self, tmp_path: Path, text: str, line: int | None, message: str
    ) -> None:
        path = self.write(tmp_path, text)
        result = cli("policy", "validate", str(path), "--no-check-keys")
        assert result.exit_code == 1
        assert result.stdout.startswith(f"{path}:{line or '?'}:1: error: ")
        assert message in result.stdout

    def test_shadowed_rules_and_expired_exemptions(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            json.dumps(
                {
                    "version": 1,
                    "defaults": {"kms_key": "alias/das-guard"},
                    "rules": [
                        {"name": "prod", "match": {"tags": {"env": ["prod", "staging"]}}},
                        {"name": "gold", "match": {"tags": {"env": "prod", "tier": "gold"}}, "mode": "sync"},
                    ],
                    "exemptions": [
                        {"name": "old", "match": {"cluster_ids": ["x-*"]}, "reason": "PROJ-1", "expires": "2026-01-01"}
                    ],
                },
                indent=2,
            ),
            "policy.json",
        )
        result = cli("policy", "validate", str(path), "--no-check-keys")  # no AWS here
        assert result.exit_code == 1
        assert (
            f"{path}:20:7: error: rule 'gold' can never apply: rule 'prod' (rules[0]) matches every cluster it "
            "matches and comes first"
        ) in result.stdout
        assert "warning: exemption 'old' expired on 2026-01-01" in result.stdout

    def test_broken_syntax_names_the_line(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, '{"version": 1,\n "defaults": {,}}', "policy.json")
        result = cli("policy", "validate", str(path))
        assert result.exit_code == 1
        assert result.stdout.startswith(f"{path}:2:1: error: not valid JSON")

    def test_without_credentials_keys_are_not_checked_and_it_says_so(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        without_credentials(monkeypatch)
        path = self.write(tmp_path, "version: 1\ndefaults:\n  kms_key: alias/typo\n")
        result = cli("policy", "validate", str(path))
        assert result.exit_code == 0
        assert f"{path}:2:1: info: KMS keys not checked: no AWS credentials" in result.stdout

    def test_missing_file_is_a_usage_error(self, tmp_path: Path) -> None:
        result = cli("policy", "validate", str(tmp_path / "nope.yaml"))
        assert result.exit_code == 2
        assert "cannot read" in result.stderr

    def test_key_references_are_resolved_with_credentials(self, demo_account: Any, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            "version: 1\ndefaults:\n  kms_key: alias/typo\nrules:\n  - name: ok\n"
            "    match: {tags: {a: b}}\n    kms_key: alias/das-guard\n",
        )
        result = cli("policy", "validate", str(path), *REGION)  # credentials present: keys are checked
        assert result.exit_code == 1
        assert (
            result.stdout.splitlines()[0]
            == f"{path}:3:3: error: us-east-1: KMS key alias/typo does not exist in us-east-1"
        )
        assert "alias/das-guard" not in result.stdout
        assert_read_only()


class TestExplain:
    def test_which_rule_why_what_now_and_which_tags(self, demo_account: Any, rds: Any) -> None:
        before = streams(rds)
        result = cli("policy", "explain", "orders-pg", *REGION)
        assert result.exit_code == 1, result.output  # no stream yet where the policy requires one: a finding
        text = result.stdout
        for fragment in (
            "tags: data-class=pci, team=orders",
            "sandboxes (exempt): no match - needs: set env=sandbox",
            "regulated-data (enforce): matches - applies",
            "applies: regulated-data -> action enforce, mode sync",
            "what DAS Guard would do now: Started (StreamStarted): would start a sync stream",
            "set env=sandbox -> rule sandboxes (exempt)",
            "remove tag 'data-class' -> rule default (enforce)",
        ):
            assert fragment in text, fragment
        assert streams(rds) == before
        assert_read_only()

    def test_expired_exemption_is_shown(self, demo_account: Any) -> None:
        text = cli("policy", "explain", "legacy-import", *REGION).stdout
        assert "exemption 'legacy-migration': matches, but expired on 2026-10-31" in text

    def test_unknown_cluster_is_a_usage_error(self, demo_account: Any) -> None:
        result = cli("policy", "explain", "nope", *REGION)
        assert result.exit_code == 2
        assert "no DB cluster 'nope' in us-east-1" in result.stderr


class TestPush:
    def deployed(self, session: Any) -> dict[str, Any]:
        value = session.client("ssm").get_parameter(Name=scenario.POLICY_PARAMETER)["Parameter"]["Value"]
        return dict(json.loads(value))

    def test_validates_shows_the_diff_and_writes(self, demo_account: Any, session: Any, tmp_path: Path) -> None:
        new = {**scenario.DEMO_POLICY, "defaults": {**scenario.DEMO_POLICY["defaults"], "mode": "sync"}}
        new["exemptions"] = []  # the demo's exemption expired: push refuses that (test below)
        path = tmp_path / "p.json"
        path.write_text(json.dumps(new, indent=2))
        result = cli("policy", "push", str(path), "--yes", *REGION)
        assert result.exit_code == 0, result.output
        assert '-    "mode": "async",' in result.stdout
        assert '+    "mode": "sync",' in result.stdout
        assert self.deployed(session)["defaults"]["mode"] == "sync"
        again = cli("policy", "push", str(path), "--yes", *REGION)
        assert "already up to date" in again.stdout

    def test_an_expired_exemption_is_an_error_at_push_time(
        self, demo_account: Any, session: Any, tmp_path: Path
    ) -> None:
        path = tmp_path / "p.json"
        path.write_text(json.dumps(scenario.DEMO_POLICY, indent=2))
        validated = cli("policy", "validate", str(path), *REGION)
        assert validated.exit_code == 0  # validate warns: the file is still a valid policy
        assert "warning: exemption 'legacy-migration' expired on 2026-10-31" in validated.stdout
        result = cli("policy", "push", str(path), "--yes", *REGION)
        assert result.exit_code == 1
        assert "error: exemption 'legacy-migration' expired on 2026-10-31" in result.stdout
        assert "push refuses it" in result.stdout
        assert self.deployed(session) == scenario.DEMO_POLICY

    def test_invalid_policy_is_not_pushed(self, demo_account: Any, session: Any, tmp_path: Path) -> None:
        path = tmp_path / "p.yaml"
        path.write_text("version: 1\ndefaults:\n  action: stop\n  kms_key: alias/x\n")
        result = cli("policy", "push", str(path), "--yes", *REGION)
        assert result.exit_code == 1
        assert f"{path}:3:3: error: defaults.action" in result.stdout
        assert self.deployed(session) == scenario.DEMO_POLICY

    def test_asks_before_writing(
        self, demo_account: Any, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "p.yaml"
        path.write_text("version: 1\ndefaults:\n  kms_key: alias/das-guard\n")
        assert cli("policy", "push", str(path), *REGION).exit_code == 2  # no terminal, no --yes
        monkeypatch.setattr("das_guard_cli.policy_commands.interactive", lambda: True)
        declined = runner.invoke(app, ["policy", "push", str(path), *REGION], input="n\n")
        assert declined.exit_code == 1
        assert self.deployed(session) == scenario.DEMO_POLICY


class TestSimulate:
    def test_an_event_through_the_decision_path_changes_nothing(self, demo_account: Any, rds: Any) -> None:
        before = streams(rds)
        result = cli("simulate", str(ROOT / "events/eventbridge/cloudtrail-create-db-cluster.json"), *REGION)
        assert result.exit_code == 0, result.output
        assert (
            "CloudTrail:CreateDBCluster: orders-pg: Started (StreamStarted): would start a sync stream" in result.stdout
        )
        assert "would call StartActivityStream(ResourceArn=arn:aws:rds:us-east-1:123456789012:cluster:orders-pg" in (
            result.stdout
        )
        assert streams(rds) == before
        assert_read_only()

    def test_a_batch_as_lambda_receives_it(self, demo_account: Any, session: Any) -> None:
        result = cli("simulate", str(ROOT / "events/sqs/batch-of-all-samples.json"), *REGION)
        assert result.exit_code == 1, result.output  # the batch holds stops and violations: a person must act
        assert "RDS:RDS-EVENT-0180: reports-pg: Deferred (AwaitingUpgrade)" in result.stdout
        assert "CloudTrail:StopActivityStream: warehouse-pg: Tampered (StoppedByAllowedPrincipal)" in result.stdout
        holds = session.client("dynamodb").scan(TableName=scenario.STATE_TABLE)["Items"]
        assert holds == [], "a simulated break-glass stop writes no hold"
        assert_read_only()

    def test_unreadable_event_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "e.json"
        bad.write_text("{nope")
        assert cli("simulate", str(bad), *REGION).exit_code == 2


def test_the_read_only_guard_refuses_writes_before_they_reach_aws(aws: None) -> None:
    session = aws_session.Target(("us-east-1",)).session("us-east-1")
    with pytest.raises(aws_session.ReadOnlyViolation, match="ssm:PutParameter refused"):
        session.client("ssm").put_parameter(Name="/x", Value="y", Type="String")


def test_the_lambda_package_imports_no_cli_library() -> None:
    allowed = {"boto3", "botocore", "aws_lambda_powertools", "pydantic"}
    imported: set[str] = set()
    for module in (ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"__future__"} <= allowed
