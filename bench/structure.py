"""The shape of the functions' code, counted: modules (rooms), import layers (floors: the longest chain of imports
below a module), import arrows (distinct module-to-module imports inside the package) and arrows that run back up
(an import of a module on the same or a higher floor, i.e. part of a cycle, counting lazy imports too).

    python -m bench.structure            # functions/das_guard
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "functions" / "das_guard"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["das_guard", *parts])


def imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """Modules of the package that `path` imports, wherever in the file (lazy imports count: they are arrows too)."""
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("das_guard"):
                continue
            for alias in node.names:
                found.add(f"{target}.{alias.name}")
                found.add(target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("das_guard")}
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {t for t in imports(path, root) if t in modules and t != name}
        # `from . import x` names the package and the submodule; an arrow to a package's __init__ only when
        # nothing more precise was imported from it
        edges[name] = {t for t in edges[name] if not any(o.startswith(t + ".") for o in edges[name])}
    return edges


def rooms(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph with each sub-package (a wing: decision, policy, outputs, aws, triggers) as one room."""

    def room(name: str) -> str:
        return ".".join(name.split(".")[:2])

    collapsed: dict[str, set[str]] = {}
    for name, targets in edges.items():
        here = room(name)
        collapsed.setdefault(here, set()).update(room(t) for t in targets if room(t) != here)
    collapsed.pop("das_guard", None)  # the package's own __init__ is not a room
    return {name: targets - {"das_guard"} for name, targets in collapsed.items()}


def measure(root: Path = PACKAGE, *, by_room: bool = False) -> dict[str, int]:
    edges = rooms(graph(root)) if by_room else graph(root)

    @cache
    def floor(name: str, trail: frozenset[str] = frozenset()) -> int:
        below = [floor(t, trail | {name}) for t in edges[name] if t not in trail]
        return 1 + max(below, default=0)

    floors = {name: floor(name) for name in edges}
    back = sum(1 for name, targets in edges.items() for t in targets if floors[t] >= floors[name])
    return {
        "nodes": len(edges),
        "floors": max(floors.values()),
        "arrows": sum(len(t) for t in edges.values()),
        "arrows back up": back,
    }


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE
    for level, by_room in (("modules", False), ("rooms (a wing counts once)", True)):
        print(f"{level}: " + ", ".join(f"{k} {v}" for k, v in measure(root, by_room=by_room).items()))
