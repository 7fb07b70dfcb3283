"""docs/deploying.md's first-deploy checklist, walked on the local AWS (`make rehearse`): its steps are the page's
steps, in the page's order, and each gives what the page promises - above all, that following it restarts no
running database and starts nothing before the last step says so."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from demos import rehearsal


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[rehearsal.Step], str]:
    out = io.StringIO()
    steps = rehearsal.run(out, folder=tmp_path_factory.mktemp("rehearsal"), bundle=False)
    return steps, out.getvalue()


def test_the_rehearsal_walks_the_pages_steps_in_order(walked: tuple[list[rehearsal.Step], str]) -> None:
    steps, transcript = walked
    assert [s.title for s in steps] == rehearsal.checklist_steps()
    assert len(steps) == 10
    for number, step in enumerate(steps, 1):
        assert f"\n{number}. {step.title}\n" in transcript


def test_each_step_gives_what_the_page_promises(walked: tuple[list[rehearsal.Step], str]) -> None:
    steps, _ = walked
    check, validate, _build, _deploy, subscribe, push, sweep, audit, enforce, first_day = steps
    assert check.facts["logging"] is True
    assert check.facts["multi_region"] is True
    assert validate.facts["exit_codes"] == [0], "the policy page's example validates as copied"
    assert any(line.endswith("valid (0 error(s), 0 other remark(s))") for line in validate.lines)
    assert subscribe.facts["email_subscriptions"] == 1
    assert push.facts["exit_codes"] == [0]
    summary = sweep.facts["summary"]
    assert summary["clusters_seen"] == len(rehearsal.EXISTING)
    assert summary["started"] == 0, "report-only starts nothing, whatever the pushed policy says"
    assert audit.facts["files"] == ["das-guard-audit.csv", "das-guard-audit.html"]
    assert audit.facts["exit_codes"] == [1], "findings: clusters without the stream they need"
    assert "now (restarts the cluster)" not in audit.facts["starts"], "no running database would restart"
    assert audit.facts["starts"]["maintenance window"] == 3
    decided = enforce.facts["decided"]
    assert decided["Scheduled/MaintenanceWindow"] == 3
    assert not [k for k in decided if k.startswith("Started/")], "existing clusters wait for their window"
    assert decided["Violation/UnsupportedInstanceClass"] == 1
    assert first_day.facts["subjects"][-1].startswith("DAS Guard sweep: 1 violation(s)")


def test_the_checklist_reads_its_titles_from_the_page(tmp_path: Path) -> None:
    page = tmp_path / "deploying.md"
    page.write_text(
        "## First deploy: one account and region\n\n1. **One.** x\n2. **Two.** y\n\n## First deploy: an organisation\n"
        "\n1. **Other.** z\n",
        encoding="utf-8",
    )
    assert rehearsal.checklist_steps(page) == ["One.", "Two."]
