"""docs/outcomes.md, generated from the one catalogue of reasons (das_guard.reasons): `make outcomes` writes it and a
test fails when it is stale, so the page a compliance team reads is the table every output uses."""

from __future__ import annotations

from collections import defaultdict

from das_guard.model import Outcome
from das_guard.reasons import CATALOGUE, Compliance, Reason

HEADER = """# Outcomes and reasons

Generated from `functions/das_guard/reasons.py` (`make outcomes`; the suite fails when this page is stale). Every
output - log line, metric, result event, alert, Security Hub finding, OCSF event and every `das-guard audit` format -
reads this one catalogue. **Only `StreamActive` passes**: the stream is `started` with the rule's key and mode, and
that key is enabled, not pending deletion, and DAS Guard could describe it.

| compliance | means | ASFF `Compliance.Status` | OCSF `compliance.status_id` | `audit` exit code |
|---|---|---|---|---|
| `pass` | audited as the policy requires | `PASSED` | 1 Pass | 0 |
| `fail` | not audited, or not as the policy requires | `FAILED` | 3 Fail | 1 |
| `pending` | on its way (starting, creating, waiting for an upgrade); not audited yet | `WARNING` | 2 Warning | 0 |
| `exempt` | the policy accepts it unaudited, with a reason and an end | `WARNING` | 2 Warning | 0 |
| `not-applicable` | nothing runs to audit (not Aurora, deleted, stopped, no instance) | no finding | no finding | 0 |
| `-` | not a verdict on a cluster (an ignored event, a policy notice, a warning) | no finding | no finding | 0 |

"""


def _row(row: Reason) -> str:
    compliance = row.compliance.value if row.compliance else "-"
    return f"| `{row.code}` | {compliance} | {row.severity.value} | {row.meaning} | {row.fix} |"


def render() -> str:
    by_outcome: dict[str, list[Reason]] = defaultdict(list)
    for row in CATALOGUE.values():
        by_outcome[row.outcome.value if row.outcome else "Warning"].append(row)
    order = [o.value for o in Outcome] + ["Warning"]
    parts = [HEADER]
    for outcome in order:
        rows = by_outcome.get(outcome)
        if not rows:
            continue
        title = "Warnings (attached to a decision)" if outcome == "Warning" else f"`{outcome}`"
        parts.append(f"## {title}\n\n| reason | compliance | severity | meaning | fix |\n|---|---|---|---|---|")
        parts.append("\n".join(_row(r) for r in rows) + "\n")
    failing = sorted(r.code for r in CATALOGUE.values() if r.compliance is Compliance.FAIL)
    parts.append(f"{len(CATALOGUE)} reasons; {len(failing)} fail.\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
