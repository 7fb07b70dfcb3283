"""Time comes from one clock: the function reads the wall clock in `clock.py` only, and nothing outside the
function reaches into its objects to set time (or anything else) behind the composition root's back."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = ROOT / "functions" / "das_guard"
WALL_CLOCK = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def wall_clock_reads(path: Path) -> list[str]:
    """`datetime.now()`, `time.time()` and friends, however imported (`from time import time` included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            found += [
                f"{path.name}:{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if (node.module, a.name) in WALL_CLOCK
            ]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"{path.name}:{node.lineno}: {name}.{node.func.attr}()")
    return found


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    modules = sorted(FUNCTION.rglob("*.py"))
    assert len(modules) > 10
    reads = {p.relative_to(FUNCTION).as_posix(): wall_clock_reads(p) for p in modules}
    assert reads.pop("clock.py") == ["clock.py:27: datetime.now()"]
    assert {name: found for name, found in reads.items() if found} == {}


def test_the_check_finds_what_it_is_looking_for(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "import time\nimport datetime as dt\nfrom time import monotonic\n"
        "a = time.time()\nb = dt.datetime.now()\nc = monotonic()\n"
    )
    assert wall_clock_reads(sneaky) == [
        "sneaky.py:3: from time import monotonic",
        "sneaky.py:4: time.time()",
        "sneaky.py:5: datetime.now()",
    ]
    patched = tmp_path / "patched.py"
    patched.write_text("pipeline._clock = lambda: 0\nself._clock = 1\napp.enforcer._clock += 2\n")
    assert private_assignments(patched) == ["patched.py:1: pipeline._clock", "patched.py:3: app.enforcer._clock"]


def private_assignments(path: Path) -> list[str]:
    """`thing._attr = ...` on anything but `self`/`cls`: reaching into an object instead of handing it a value."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AugAssign | ast.AnnAssign)
            else []
        )
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr.startswith("_")
                and not (isinstance(target.value, ast.Name) and target.value.id in ("self", "cls"))
            ):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(target)}")
    return found


def test_nobody_sets_private_attributes_of_another_object() -> None:
    """Tests, demo, bench and CLI build through the composition root and drive the local world's clock.
    (localaws/das_extension/ is the one place that patches moto, by design, and is exempt.)"""
    places = [ROOT / d for d in ("tests", "bench", "cli", "localaws", "functions")]
    patcher = ROOT / "localaws" / "das_extension"
    files = [p for d in places for p in d.rglob("*.py") if patcher not in p.parents]
    assert len(files) > 30
    assert [hit for p in files for hit in private_assignments(p)] == []
