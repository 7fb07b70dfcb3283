"""The sample events: loading them, re-dating them for a replay, and keeping events/sqs in step.

    python -m localaws.events          (or: make events)

The samples in events/ keep fixed, realistic timestamps: they are also what `sam local invoke -e` sends, and a
reader compares them with real CloudTrail records. Whatever *replays* them (the demo, the tests, the bench)
re-dates them first with `redate()`, so that a sample describes something that happened just now, whatever
the calendar says. Decisions that depend on time (the readiness window, hold lengths, exemption expiry) then
come out the same on any day.

`sam local invoke -e events/sqs/<name>.json` runs the handler with exactly what Lambda would pass after the
EventBridge rule delivered the sample to the queue.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .runtime import sqs_event

ROOT = Path(__file__).resolve().parent.parent / "events"

# The two timestamp shapes the samples carry: ISO 8601 in UTC (EventBridge `time`, CloudTrail `eventTime`, RDS
# `Date`, `creationDate`) and the one CloudTrail uses inside RDS response elements ("Nov 25, 2026, 9:14:02 AM").
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$")
_CLOUDTRAIL_RDS = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$")
_CLOUDTRAIL_RDS_FORMAT = "%b %d, %Y, %I:%M:%S %p"


def load_sample(name: str, folder: str = "eventbridge") -> dict[str, Any]:
    """A sample event as stored (fixed timestamps)."""
    loaded: dict[str, Any] = json.loads((ROOT / folder / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def event_time(event: dict[str, Any]) -> datetime:
    """When the event says it happened (the EventBridge envelope's `time`)."""
    value = event.get("time")
    if not isinstance(value, str) or not _ISO.match(value):
        raise ValueError(f"event {event.get('id')!r} has no ISO 8601 `time`")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def redate(events: Sequence[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Copies of `events` moved in time so that the latest happened at `now`.

    Every timestamp in every event moves by the same amount, so their order and spacing (the instance created
    two minutes after the cluster, CloudTrail's record of a stop a minute after RDS's) are kept. Events without
    an envelope time (DAS Guard's own retry messages) are copied unchanged.
    """
    dated = [e for e in events if isinstance(e.get("time"), str)]
    if not dated:
        return [copy.deepcopy(e) for e in events]
    shift = now.astimezone(UTC).replace(microsecond=0) - max(event_time(e) for e in dated)
    return [_shifted(copy.deepcopy(e), shift) for e in events]


def redated(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One event, re-dated to `now` (see `redate`)."""
    return redate([event], now)[0]


def _shifted(value: Any, shift: timedelta) -> Any:
    if isinstance(value, dict):
        return {k: _shifted(v, shift) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, shift) for v in value]
    if isinstance(value, str):
        return _shift_text(value, shift)
    return value


def _shift_text(text: str, shift: timedelta) -> str:
    iso = _ISO.match(text)
    if iso:
        moved = datetime.fromisoformat(iso.group(1)) + shift
        return moved.strftime("%Y-%m-%dT%H:%M:%S") + (iso.group(2) or "") + "Z"
    if _CLOUDTRAIL_RDS.match(text):
        moved = datetime.strptime(text, _CLOUDTRAIL_RDS_FORMAT) + shift
        return f"{moved:%b} {moved.day}, {moved.year}, {int(moved.strftime('%I'))}:{moved:%M:%S %p}"
    return text


def sample_names(folder: str = "eventbridge") -> Iterable[str]:
    return sorted(p.stem for p in (ROOT / folder).glob("*.json"))


def expected_sqs_samples() -> dict[str, str]:
    """File name -> content of every SQS sample, derived from the EventBridge samples."""
    samples: dict[str, str] = {}
    bodies = []
    for path in sorted((ROOT / "eventbridge").glob("*.json")):
        body = json.dumps(json.loads(path.read_text(encoding="utf-8")), separators=(",", ":"))
        bodies.append(body)
        samples[path.name] = json.dumps(sqs_event([body]), indent=2) + "\n"
    samples["batch-of-all-samples.json"] = json.dumps(sqs_event(bodies), indent=2) + "\n"
    return samples


def main() -> int:
    target = ROOT / "sqs"
    target.mkdir(exist_ok=True)
    for name, content in expected_sqs_samples().items():
        (target / name).write_text(content, encoding="utf-8")
    print(f"wrote {len(expected_sqs_samples())} files to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
