"""docs/threat-model.md names, for every path, the test that proves its control: each test and sample it names
exists (a renamed or deleted test makes the table lie)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")


def test_every_test_the_threat_model_names_exists() -> None:
    named = re.findall(r"`(test_[a-z_]+\.py)(?:::([A-Za-z_]+))?(?:::([A-Za-z_]+))?`", DOC)
    assert len(named) > 15
    for module, first, second in named:
        [path] = list((ROOT / "tests").rglob(module))
        text = path.read_text(encoding="utf-8")
        for name in (first, second):
            if name:
                assert re.search(rf"(def|class) {name}\b", text), f"{module}::{name} is named but does not exist"


def test_every_sample_the_threat_model_names_exists() -> None:
    samples = re.findall(r"`(events/[a-z-]+/[a-z0-9-]+\.json)`", DOC)
    assert samples
    assert [s for s in samples if not (ROOT / s).exists()] == []


def test_every_row_has_its_rights_control_and_test() -> None:
    rows = [line for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("| path")]
    assert len(rows) >= 20
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 6, row
        assert all(cells[:3]), row
