"""The layering README describes, checked: only the `aws` package talks to AWS. The decision logic, the
pipeline, the sweep and the reports receive plain data and never see boto3 or botocore; the composition root
only makes the session, and the central alert relay (a Lambda of its own) its one SNS client."""

from __future__ import annotations

import ast
from pathlib import Path

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "das_guard"
MAY_IMPORT_BOTO = {"app.py": {"boto3"}, "central.py": {"boto3"}}


def boto_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in {"boto3", "botocore"}}
    return found


def test_only_the_aws_package_imports_boto() -> None:
    outside = {
        p.relative_to(FUNCTION).as_posix(): boto_imports(p)
        for p in sorted(FUNCTION.rglob("*.py"))
        if p.parent.name != "aws"
    }
    assert {name: found for name, found in outside.items() if found} == MAY_IMPORT_BOTO
    inside = [boto_imports(p) for p in (FUNCTION / "aws").glob("*.py") if p.name != "__init__.py"]
    assert len(inside) >= 6
    assert all(found for found in inside), "every aws module does its work through boto"


def test_the_check_sees_every_way_of_importing(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import boto3.session\nfrom botocore.config import Config\nfrom . import aws\nimport json\n")
    assert boto_imports(module) == {"boto3", "botocore"}


# ---------------------------------------------------------------------------------------------------- the wings
WINGS_MAY_IMPORT = {
    # the decision is pure: plain data and the policy's vocabulary (its schema only for annotations)
    "das_guard.decision": {"das_guard.model", "das_guard.policy"},
    # the policy knows nothing of clusters, AWS or outputs
    "das_guard.policy": set(),
    # outputs say what was decided: the data, the catalogue, the policy's errors, the clock for timestamps
    "das_guard.outputs": {"das_guard.model", "das_guard.reasons", "das_guard.policy", "das_guard.clock"},
}


def wing_imports() -> dict[str, set[str]]:
    """Per wing, the das_guard modules outside it that its modules import (lazy and TYPE_CHECKING imports too)."""
    from bench.structure import graph  # noqa: PLC0415 - the one import-graph reader

    found: dict[str, set[str]] = {wing: set() for wing in WINGS_MAY_IMPORT}
    for module, targets in graph().items():
        wing = next((w for w in WINGS_MAY_IMPORT if module == w or module.startswith(w + ".")), None)
        if wing is None:
            continue
        for target in targets:
            if not (target == wing or target.startswith(wing + ".")):
                found[wing].add(target)
    return found


def test_each_wing_imports_only_what_its_map_says() -> None:
    for wing, imported in wing_imports().items():
        outside = {t for t in imported if not any(t == a or t.startswith(a + ".") for a in WINGS_MAY_IMPORT[wing])}
        assert outside == set(), f"{wing} imports {sorted(outside)}"


def test_no_import_runs_back_up() -> None:
    from bench.structure import measure  # noqa: PLC0415

    assert measure()["arrows back up"] == 0, "an import cycle (python -m bench.structure names the floors)"


def test_the_decision_wing_never_sees_the_clock_the_state_or_aws() -> None:
    imported = wing_imports()["das_guard.decision"]
    assert not imported & {"das_guard.clock", "das_guard.gateway", "das_guard.aws", "das_guard.settings"}
