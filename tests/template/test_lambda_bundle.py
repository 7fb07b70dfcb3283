"""The Lambda runs what the suite tested: its code bundles the exact boto3, botocore and pydantic the tests run
(functions/requirements.txt; `sam build` and `make org-package` install it into the zip), instead of whatever copy the
python3.13 runtime or the Powertools layer carries that day. Lambda puts the function's code (/var/task) first on
sys.path, so the bundled copies are the ones imported; Powertools itself comes from the layer, pinned by
test_powertools_as_deployed.py. AWS's Lambda guide recommends exactly this ("include the SDK in your deployment
package") because the runtime's SDK changes under a function without a deploy."""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from org import package as org_package

from .conftest import ROOT

LAMBDA_ENVIRONMENT = {  # the markers pip evaluates for python3.13 on Lambda's arm64 Linux
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
FROM_THE_LAYER = {"aws_lambda_powertools"}
LAMBDA_UNZIPPED_QUOTA = 262_144_000  # bytes, function and layers together (Lambda quotas)
POWERTOOLS_LAYER_ALLOWANCE = 60_000_000  # generous: the layer with all its extras is well under this


def requirements() -> dict[str, str]:
    pins = {}
    for line in org_package.REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            [specifier] = requirement.specifier
            assert specifier.operator == "==", f"{line}: pin an exact version"
            pins[canonical(requirement.name)] = specifier.version
    return pins


def canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def third_party_imports() -> set[str]:
    """Top-level modules the functions import that are neither the standard library nor their own."""
    found = set()
    for path in (ROOT / "functions" / "das_guard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"das_guard", "__future__"}


def closure(roots: set[str]) -> set[str]:
    """Every distribution the roots need on Lambda's platform, read from the installed metadata."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = canonical(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(LAMBDA_ENVIRONMENT):
                pending.append(requirement.name)
    return seen


def test_the_bundle_pins_every_dependency_at_the_version_the_tests_run() -> None:
    imported = third_party_imports() - FROM_THE_LAYER
    distributions = {canonical(d) for module in imported for d in packages_distributions()[module]}
    assert distributions == {"boto3", "botocore", "pydantic"}, "a new import needs a line in requirements.txt"
    pins = requirements()
    assert set(pins) == closure(distributions), "functions/requirements.txt is the full closure, nothing else"
    assert pins == {name: version(name) for name in pins}, "each pin is the version this suite runs"


def test_the_functions_import_nothing_the_lambda_would_lack() -> None:
    bundled = {module for module, dists in packages_distributions().items() if canonical(dists[0]) in requirements()}
    assert third_party_imports() <= bundled | FROM_THE_LAYER


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The member package's code zip, dependencies installed for Lambda's platform by pip, unpacked."""
    try:
        code = org_package.build("1.0.0").code_zip
    except org_package.PackageError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"needs PyPI to install the Lambda's dependencies (CI always runs this): {err}")
    folder = tmp_path_factory.mktemp("var-task")
    zipfile.ZipFile(io.BytesIO(code)).extractall(folder)
    return folder


def test_the_zip_carries_the_tested_versions_built_for_lambdas_platform(bundle: Path) -> None:
    installed = {}
    for metadata in bundle.glob("*.dist-info/METADATA"):
        fields = dict(line.split(": ", 1) for line in metadata.read_text().splitlines() if ": " in line)
        installed[canonical(fields["Name"])] = fields["Version"]
    assert installed == requirements()
    [native] = list(bundle.rglob("*.so"))
    assert native.name.endswith("cpython-313-aarch64-linux-gnu.so"), "pydantic-core for python3.13 on arm64"
    assert (bundle / "das_guard" / "handlers.py").is_file()
    unzipped = sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file())
    assert unzipped + POWERTOOLS_LAYER_ALLOWANCE < LAMBDA_UNZIPPED_QUOTA


def test_the_bundled_sdk_is_the_one_imported(bundle: Path) -> None:
    """/var/task comes before the runtime's own boto3 on Lambda's path, as PYTHONPATH comes before site-packages."""
    probe = "import boto3, botocore; print(botocore.__file__); print(boto3.__version__, botocore.__version__)"
    environment = {**os.environ, "PYTHONPATH": str(bundle)}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True
    )
    where, versions = result.stdout.splitlines()
    assert Path(where).is_relative_to(bundle)
    assert versions == f"{requirements()['boto3']} {requirements()['botocore']}"
