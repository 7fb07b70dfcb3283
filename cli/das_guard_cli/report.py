"""`audit --format html`: one self-contained file an auditor would rather look at than read - a summary by
verdict, by rule and by account, then every cluster. No script, no external asset; every value from AWS or the
policy is escaped (a cluster name or a tag is text chosen by whoever created the cluster)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from html import escape
from typing import Any

COLUMNS = (
    "account",
    "region",
    "cluster",
    "engine",
    "version",
    "stream",
    "rule",
    "verdict",
    "reason",
    "compliance",
    "fix",
)
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.failing td{background:#fdecea}.num{text-align:right}
.summary{display:flex;gap:2em;flex-wrap:wrap}small{color:#666}td.id{white-space:nowrap}
"""


def _counts(title: str, counter: Counter[str], failing: Counter[str]) -> str:
    rows = "".join(
        f"<tr><td>{escape(key)}</td><td class=num>{count}</td><td class=num>{failing[key]}</td></tr>"
        for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    head = f"<tr><th>{escape(title)}</th><th>clusters</th><th>failing</th></tr>"
    return f"<div><h2>By {escape(title)}</h2><table>{head}{rows}</table></div>"


def html(rows: Sequence[Any], *, generated: datetime | None = None) -> str:
    """The report for audit rows (das_guard_cli.main.AuditRow)."""
    records = [asdict(r) for r in rows]
    failing = [r for r in records if r["compliance"] == "fail"]
    when = (generated or datetime.now(UTC)).isoformat(timespec="seconds")
    by_verdict, by_rule, by_account = Counter[str](), Counter[str](), Counter[str]()
    bad_verdict, bad_rule, bad_account = Counter[str](), Counter[str](), Counter[str]()
    for record in records:
        bad = record["compliance"] == "fail"
        for counter, bad_counter, key in (
            (by_verdict, bad_verdict, record["verdict"]),
            (by_rule, bad_rule, record["rule"]),
            (by_account, bad_account, record["account"]),
        ):
            counter[key] += 1
            bad_counter[key] += bad
    policies = sorted({r["policy"] for r in records})
    table_rows = "\n".join(_row(r) for r in records)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>DAS Guard audit</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>DAS Guard audit: {len(records)} clusters, {len(failing)} without the stream the policy requires</h1>"
        f"<p><small>generated {escape(when)}; policy: {escape(', '.join(policies) or '-')}</small></p>"
        "<div class=summary>"
        + _counts("verdict", by_verdict, bad_verdict)
        + _counts("rule", by_rule, bad_rule)
        + _counts("account", by_account, bad_account)
        + "</div><h2>Clusters</h2><table id=clusters><tr>"
        + "".join(f"<th>{c}</th>" for c in COLUMNS)
        + f"<th>checked at</th></tr>\n{table_rows}\n</table></body></html>\n"
    )


def _row(record: dict[str, Any]) -> str:
    css = " class=failing" if record["compliance"] == "fail" else ""
    cells: Iterable[str] = (escape(str(record[c])) for c in COLUMNS)
    title = escape(record["cluster_arn"], quote=True)
    cells_html = "".join(
        f'<td class=id title="{title}">{v}</td>'
        if i == 2
        else (f"<td class=id>{v}</td>" if i in _IDS else f"<td>{v}</td>")
        for i, v in enumerate(cells)
    )
    return f"<tr{css}>{cells_html}<td class=id>{escape(record['checked_at'])}</td></tr>"


_IDS = {COLUMNS.index(c) for c in ("account", "region", "engine", "version", "stream", "verdict", "compliance")}
