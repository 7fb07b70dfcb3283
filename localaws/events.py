"""Keeps events/sqs in step with events/eventbridge: the SQS-wrapped form the function receives.

    python -m localaws.events          (or: make events)

`sam local invoke -e events/sqs/<name>.json` then runs the handler with exactly what Lambda would pass
after the EventBridge rule delivered the sample to the queue.
"""

from __future__ import annotations

import json
from pathlib import Path

from .runtime import sqs_event

ROOT = Path(__file__).resolve().parent.parent / "events"


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
