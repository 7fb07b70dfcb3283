"""The HTML report as an auditor sees it: Chromium (Debian's, driven by Playwright) opens the page at a 1280 px
window and prints it. Asserted: nothing runs off the side, every failing cluster has its ARN, why and fix, every
cluster is there, and the printed copy is A4 landscape pages with every failing cluster on them.

Set DAS_GUARD_SCREENSHOTS=DIR to keep the screenshot and the PDF (the closing notes show them). `.ci/run` installs
Chromium; in CI a missing browser fails this test instead of skipping it."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from .test_cli import REGION, cli, demo_account

__all__ = ["demo_account"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
WIDTH = 1280

if CHROMIUM is None and os.environ.get("CI") != "true":
    pytest.skip("no Chromium here (Debian: apt-get install chromium)", allow_module_level=True)


def _keep(path: Path) -> None:
    keep = os.environ.get("DAS_GUARD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def test_an_auditor_reads_and_prints_the_report(demo_account: Any, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI installs Chromium (.ci/run): the report is checked in a real browser"
    report = tmp_path / "das-guard-audit.html"
    report.write_text(cli("audit", *REGION, "--format", "html").stdout, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(report.as_uri())

        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= WIDTH, f"the page is {overflow} px wide in a {WIDTH} px window: it scrolls sideways"
        wide = page.evaluate(
            "[...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > innerWidth)"
            ".map(t => t.id || t.caption?.textContent || 'a table')"
        )
        assert wide == [], f"tables running off the window: {wide}"

        failing = page.locator("table#failing tbody tr")
        assert failing.count() == 15
        for row in failing.all():
            cells = [c.inner_text().strip() for c in row.locator("td").all()]
            cluster, _where, verdict, why, fix = cells
            assert ":cluster:" in cluster, cells  # the ARN an auditor can look up
            assert verdict, cells
            assert why not in ("", "-"), cells
            assert fix not in ("", "-"), cells
            assert row.is_visible()

        clusters = page.locator("table#clusters tbody tr")
        assert clusters.count() == 27
        assert page.locator("table#clusters tbody tr.fail").count() == 15
        folded = page.evaluate(
            """[...document.querySelectorAll('table#clusters tbody tr')].flatMap(tr =>
                 [1, 6, 7].map(i => tr.cells[i]).filter(td => {
                   const range = document.createRange(); range.selectNodeContents(td);
                   return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
                 }).map(td => td.textContent))"""
        )
        assert folded == [], f"account ids, verdicts and reasons broken across lines: {folded}"
        assert page.locator("table#legend tbody tr").count() == 5  # pass, fail, pending, exempt, not-applicable
        assert "/das-guard/policy v1 sha256:" in page.locator("dl.scope").inner_text()

        screenshot = tmp_path / "das-guard-audit-1280.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 20_000  # something was drawn
        _keep(screenshot)

        page.emulate_media(media="print")
        printed = tmp_path / "das-guard-audit-print.png"
        page.screenshot(path=str(printed), full_page=True)
        _keep(printed)
        pdf = tmp_path / "das-guard-audit.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        _keep(pdf)
        browser.close()
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = re.findall(rb"/Type\s*/Page(?!s)", data)
    found = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", data)
    boxes = {tuple(round(float(n)) for n in box) for box in found}
    assert len(pages) >= 2, "27 clusters, the scope, the legend and the summaries take more than one page"
    assert boxes == {(842, 595)}, f"not A4 landscape (842 x 595 pt): {boxes}"
