"""The documentation as a reader meets it: a README front page of about 200 lines, links that lead somewhere,
generated references that match the code, and examples that run - every `das-guard` command line names real
commands and options, every `make` target exists, every policy example validates, the demo excerpt is what the
demo prints."""

from __future__ import annotations

import json
import re
import shlex
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from das_guard_cli import main as cli
from das_guard_cli import reference_docs
from demos import rehearsal

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def blocks(page: Path, language: str) -> list[str]:
    return reference_docs.code_blocks(page.read_text(encoding="utf-8"), language)


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for page in ("deploying", "policy", "cli", "operating", "security", "evidence", "contributing"):
        assert f"](docs/{page}.md)" in readme, f"the README links docs/{page}.md"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_somewhere(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: no heading for #{anchor} in {linked.name}"


def test_the_generated_references_match_the_code() -> None:
    for page in reference_docs.GENERATED:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert reference_docs.rendered(page, text) == text, f"docs/{page} is stale: run `make docs`"


def test_a_renamed_option_makes_the_reference_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    monkeypatch.setattr(reference_docs, "GENERATED", {"cli.md": ("commands", lambda: "a different reference")})
    assert reference_docs.rendered("cli.md", text) != text


def test_the_readme_demo_excerpt_is_what_the_demo_prints() -> None:
    [excerpt] = [b for b in blocks(ROOT / "README.md", "") if "sample events from events/eventbridge" in b]
    golden = {" ".join(line.split()) for line in (ROOT / "tests/integration/demo.golden.txt").read_text().splitlines()}
    for line in excerpt.splitlines():
        assert " ".join(line.split()) in golden, line


def command_tree() -> Any:
    return typer.main.get_command(cli.app)


def check_command_line(line: str) -> None:
    """`das-guard ...` as a reader would type it: the command path exists and every option belongs to it."""
    words = shlex.split(line.split(" #", 1)[0].split(" > ", 1)[0].split(" | ", 1)[0])
    command, words = command_tree(), words[1:]
    while words and hasattr(command, "list_commands") and not words[0].startswith("-"):
        sub = command.get_command(command.context_class(command), words[0])
        assert sub is not None, f"{line}: no command {words[0]!r}"
        command, words = sub, words[1:]
    known = {name for p in command.params for name in [*p.opts, *getattr(p, "secondary_opts", [])]} | {"--help"}
    for word in words:
        if word.startswith("-") and word != "-":
            assert word.split("=", 1)[0] in known, f"{line}: {word} is not an option of this command"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_example_command_is_a_real_command(page: Path) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))
    environments = set(re.findall(r"^\[([\w-]+)\.deploy\.parameters\]", (ROOT / "samconfig.toml").read_text(), re.M))
    text = page.read_text(encoding="utf-8")
    lines = [line.strip() for block in blocks(page, "bash") for line in block.splitlines()]
    lines += re.findall(r"`(das-guard [^`]+)`", text)
    for line in lines:
        if line.startswith("das-guard ") and "<" not in line.split(" #")[0]:
            check_command_line(line)
        if line.startswith("make "):
            assert line.split()[1] in targets, f"{page.name}: make {line.split()[1]} is not a target"
        for name in re.findall(r"--config-env (?:\"?)([\w-]+)", line):
            assert name in environments, f"{page.name}: no samconfig environment {name}"


def test_the_policy_example_validates_as_copied(tmp_path: Path) -> None:
    [example] = [b for b in blocks(ROOT / "docs" / "policy.md", "json") if '"version"' in b]
    document = rehearsal.example_policy(rehearsal.EXAMPLES_WRITTEN)
    assert document == json.loads(example)
    path = tmp_path / "das-guard-policy.json"
    path.write_text(json.dumps(rehearsal.example_policy(date.today())), encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["policy", "validate", str(path), "--no-check-keys"])
    assert result.exit_code == 0, result.stdout
    assert "valid (0 error(s)" in result.stdout


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_json_example_is_json(page: Path) -> None:
    for block in blocks(page, "json"):
        json.loads(re.sub(r"<[^>]+>", "x", block))  # placeholders such as <das-guard-role-arn> stay strings
