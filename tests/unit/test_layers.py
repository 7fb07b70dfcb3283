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
