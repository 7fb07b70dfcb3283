"""The HTML report as a browser renders it (headless Chromium where it is installed; CI has none and skips)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .test_cli import REGION, cli, demo_account

__all__ = ["demo_account"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (Debian: apt-get install chromium)")
def test_a_browser_renders_every_cluster_and_the_summaries(demo_account: Any, tmp_path: Path) -> None:
    page = tmp_path / "audit.html"
    page.write_text(cli("audit", *REGION, "--format", "html").stdout, encoding="utf-8")
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout  # noqa: S603
    tables = re.findall(r"<table[^>]*>(.*?)</table>", dom, re.DOTALL)
    assert len(tables) == 4  # by verdict, by rule, by account, clusters
    assert tables[3].count("<tr") == 1 + 27
    assert tables[3].count('class="failing"') == 15
    screenshot = tmp_path / "audit.png"
    subprocess.run(  # noqa: S603
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.stat().st_size > 10_000  # something was drawn
