"""`make demo-org` runs on a fresh machine and shows the roll-out, the central view and the organisation audit."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from demos import demo_org


def test_the_organisation_demo_shows_what_readme_promises(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, terminal = io.StringIO(), io.StringIO()
    monkeypatch.setattr(demo_org.Progress, "for_terminal", classmethod(lambda cls: cls(terminal)))
    with contextlib.redirect_stdout(out):
        assert demo_org.main() == 0
    text = out.getvalue()
    # while the person waits, a line per phase on the terminal (stderr); none of them in the result
    assert len(terminal.getvalue().splitlines()) == 4
    assert "... das-guard audit --org" in terminal.getvalue()
    assert "... " not in text
    # quiet: no page of local-AWS warnings before the result, one line saying what was not modelled
    assert text.startswith("organisation o-")
    assert "No Moto CloudFormation support" not in capsys.readouterr().err
    assert re.search(r"\(the local CloudFormation does not model AWS::CloudWatch::Alarm x\d+", text)
    assert "StackSet das-guard-members: 6 stack instances" in text
    assert text.count("CURRENT") == 6
    assert re.search(r"DAS Guard Violation \d{12}/eu-west-1: prod-b-orders \(UnsupportedInstanceClass\)", text)
    assert re.search(r"\d{12}/eu-west-1 +FAILED  Aurora cluster prod-b-orders", text)
    assert "3 clusters, 1 without the stream the policy requires; 2 region(s) or account(s) not audited" in text
    # the two accounts outside the StackSet's targets, said plainly, one line per cause
    assert re.search(r"not audited \(2\): DAS Guard is not deployed in this account \(no state table\): \d{12}", text)
