"""`audit --format html`: one self-contained page an auditor can file. It says what was looked at and by what
(scope: accounts and regions audited and not audited with why, policy version and digest, das-guard version, time),
what the states mean (legend, from the reason catalogue), a summary by verdict, rule and account, then the failing
clusters first - each with its ARN, why and fix - then every cluster. It fits a 1280 px window (long values wrap
inside their cell) and prints on A4 landscape. No script, no external asset; every value from AWS or the policy is
escaped (a cluster name or a tag is text chosen by whoever created the cluster)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from html import escape
from typing import TYPE_CHECKING, Any

from das_guard.reasons import COMPLIANCE_MEANINGS, Compliance

if TYPE_CHECKING:
    from .audit import Scope

FAILING_COLUMNS = ("cluster", "where", "verdict", "why", "fix")
ALL_COLUMNS = ("cluster", "account", "region", "engine", "stream", "rule", "verdict", "reason", "compliance")
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:100%}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
table.wide{width:100%;table-layout:fixed}#clusters{font-size:.9em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3}.num{text-align:right}
tr.fail td{background:#fdecea}tr.pending td{background:#fff8e1}
.summary{display:flex;gap:2em;flex-wrap:wrap}small,.arn{color:#555}.arn{font-size:.85em}
dl.scope{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.scope dt{font-weight:600}
dl.scope dd{margin:0;overflow-wrap:anywhere}
.state{display:inline-block;padding:0 .4em;border-radius:3px;font-weight:600}
.state.fail{background:#f5c2bd}.state.pass{background:#cdebd0}.state.pending{background:#ffe9a8}
.state.exempt{background:#dde3f0}.state.not-applicable{background:#eee}
@page{size:A4 landscape;margin:12mm}
@media print{body{margin:0;font-size:9pt}h2{break-after:avoid}tr{break-inside:avoid}
thead{display:table-header-group}.summary{display:block}tr.fail td,.state{print-color-adjust:exact}}
"""


def html(rows: Sequence[Any], scope: Scope) -> str:
    """The report for audit rows (das_guard_cli.audit.AuditRow) and the audit's scope."""
    records = sorted(
        (asdict(r) for r in rows),
        key=lambda r: (r["compliance"] != Compliance.FAIL.value, r["account"], r["region"], r["cluster"]),
    )
    failing = [r for r in records if r["compliance"] == Compliance.FAIL.value]
    title = f"DAS Guard audit: {len(records)} clusters, {len(failing)} without the stream the policy requires"
    if scope.not_audited:
        title += f", {len(scope.not_audited)} region(s) or account(s) not audited"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>DAS Guard audit {escape(scope.generated_at)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        + _scope(scope)
        + _legend()
        + _summaries(records)
        + _failing(failing)
        + _all(records)
        + "</body></html>\n"
    )


def _scope(scope: Scope) -> str:
    skipped = (
        "<table id=not-audited><thead><tr><th>account</th><th>region</th><th>why</th></tr></thead><tbody>"
        + "".join(
            f"<tr class=fail><td>{escape(s.account)}</td><td>{escape(s.region)}</td><td>{escape(s.why)}</td></tr>"
            for s in scope.not_audited
        )
        + "</tbody></table>"
        if scope.not_audited
        else "none: every account and region asked was audited"
    )
    items = (
        ("generated", escape(scope.generated_at)),
        ("das-guard", escape(scope.das_guard_version)),
        ("accounts audited", escape(", ".join(scope.accounts) or "-")),
        ("regions audited", escape(", ".join(scope.regions) or "-")),
        ("policy", escape(", ".join(scope.policies) or "-")),
        ("not audited", skipped),
        ("rows", "failing clusters only (--failing-only)" if scope.failing_only else "every cluster found"),
    )
    return "<h2>Scope</h2><dl class=scope>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _legend() -> str:
    rows = "".join(
        f"<tr><td><span class='state {state.value}'>{state.value}</span></td><td>{escape(meaning)}</td></tr>"
        for state, meaning in COMPLIANCE_MEANINGS.items()
    )
    return (
        "<h2>Legend</h2><table id=legend><thead><tr><th>compliance</th><th>means</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p><small>verdict and reason: the outcome DAS Guard records for the cluster "
        "and why, from the reason catalogue (docs/outcomes.md); a verdict of WouldStart means the stream is "
        "missing and DAS Guard would start it.</small></p>"
    )


def _summaries(records: list[dict[str, Any]]) -> str:
    parts = []
    for field in ("verdict", "rule", "account"):
        total, bad = Counter[str](), Counter[str]()
        for record in records:
            total[record[field]] += 1
            bad[record[field]] += record["compliance"] == Compliance.FAIL.value
        rows = "".join(
            f"<tr><td>{escape(key)}</td><td class=num>{count}</td><td class=num>{bad[key]}</td></tr>"
            for key, count in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        head = f"<thead><tr><th>{field}</th><th>clusters</th><th>failing</th></tr></thead>"
        parts.append(f"<div><h2>By {field}</h2><table class=counts>{head}<tbody>{rows}</tbody></table></div>")
    return "<div class=summary>" + "".join(parts) + "</div>"


def _failing(failing: list[dict[str, Any]]) -> str:
    if not failing:
        return "<h2>Failing clusters</h2><p>None.</p>"
    head = "".join(f"<th>{c}</th>" for c in FAILING_COLUMNS)
    rows = "".join(
        "<tr class=fail>"
        f"<td>{escape(r['cluster'])}<br><span class=arn>{escape(r['cluster_arn'])}</span></td>"
        f"<td>{escape(r['account'])}<br>{escape(r['region'])}</td>"
        f"<td>{escape(r['verdict'])}<br><small>{escape(r['reason'])}</small></td>"
        f"<td>{escape(r['detail'] or '-')}</td>"
        f"<td>{escape(r['fix'])}</td></tr>"
        for r in failing
    )
    widths = "<colgroup><col style=width:18%><col style=width:11%><col style=width:15%><col><col></colgroup>"
    return (
        f"<h2>Failing clusters ({len(failing)})</h2>"
        f"<table id=failing class=wide>{widths}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _all(records: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in (*ALL_COLUMNS, "checked at"))
    rows = "".join(
        f"<tr class={escape(r['compliance'])}>"
        f"<td title='{escape(r['cluster_arn'], quote=True)}'>{escape(r['cluster'])}</td>"
        + "".join(
            f"<td>{escape(str(r[c]) + (' ' + r['version'] if c == 'engine' and r['version'] != '-' else ''))}</td>"
            for c in ALL_COLUMNS[1:]
        )
        + f"<td>{escape(r['checked_at']).replace('T', 'T<wbr>', 1)}</td></tr>"
        for r in records
    )
    # Widths by what each column holds: an account id, a reason code and a timestamp stay whole at 1280 px.
    widths = "".join(f"<col style=width:{w}%>" for w in (12.5, 9.5, 7, 11, 6.5, 9.5, 9, 15.5, 8.5, 11))
    return (
        f"<h2>Every cluster ({len(records)})</h2>"
        f"<table id=clusters class=wide><colgroup>{widths}</colgroup><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
