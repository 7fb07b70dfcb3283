from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


def installed_tool(variable: str, local: Path, name: str) -> str:
    """A scanner's binary: the one `make test` names in `variable`, else the one it installs into .venv-tools, else
    one on the PATH. Missing is a failure, never a skip: CI installs them."""
    candidates = [os.environ.get(variable), str(local), shutil.which(name)]
    found = next((c for c in candidates if c and Path(c).exists()), None)
    if found is None:
        pytest.fail(f"{name} is not installed: `make test` (or `make scan`) installs it into .venv-tools")
    return found


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml with CloudFormation's short-form tags parsed into their long forms."""
    return dict(yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8")))


def deployed(template: dict[str, Any]) -> dict[str, Any]:
    """A SAM template as CloudFormation deploys it (aws-sam-translator, offline, as after `sam package`)."""

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://das-guard-artifacts/enforcer.zip"
    return dict(transform(packaged, {}, NoManagedPolicies()))


@pytest.fixture(scope="session")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template SAM deploys."""
    return deployed(template)


@pytest.fixture(scope="session")
def shipped_templates(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every template DAS Guard ships, as CloudFormation receives it: the one SAM deploys, the StackSet's member
    template, the organisation's central stack (SAM too) and its artifact bucket."""
    from org import package as org_package  # noqa: PLC0415 - builds the member template (a zip) only when asked

    def read(name: str) -> dict[str, Any]:
        return dict(yaml_parse((ROOT / "org" / name).read_text(encoding="utf-8")))

    return {
        "single-account": transformed,
        "member": json.loads(org_package.build("1.0.0").template_body),
        "central": deployed(read("central.yaml")),
        "artifact-bucket": read("artifact-bucket.yaml"),
    }
