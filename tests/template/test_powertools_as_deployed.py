"""The Powertools the tests run is the Powertools Lambda runs.

The function takes aws-lambda-powertools from the AWS-managed layer. A layer *version number* says nothing about
the library inside (layer 27 holds 3.23.0), so the template resolves the layer through the public SSM parameter
Powertools publishes for each release: /aws/service/powertools/python/<arch>/<python>/<library version>. That path
must name exactly the version pyproject.toml pins, for the function's own architecture and runtime.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PATH = re.compile(r"^/aws/service/powertools/python/(?P<arch>arm64|x86_64)/python(?P<python>3\.\d+)/(?P<version>.+)$")


def pinned(name: str, text: str) -> str:
    match = re.search(rf"^\s*\"?{re.escape(name)}(?:\[[^\]]*\])?==(?P<v>[^\"\s,]+)", text, re.MULTILINE)
    assert match, f"{name} is not pinned"
    return match["v"]


def deployed(template: dict[str, Any]) -> dict[str, str]:
    parameter = template["Parameters"]["PowertoolsLayer"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    match = PATH.match(parameter["Default"])
    assert match, parameter["Default"]
    return match.groupdict()


def test_the_layer_deployed_holds_the_version_the_tests_pin(template: dict[str, Any]) -> None:
    layer = deployed(template)
    pyproject = pinned("aws-lambda-powertools", (ROOT / "pyproject.toml").read_text())
    constraints = pinned("aws_lambda_powertools", (ROOT / "constraints.txt").read_text())
    assert layer["version"] == pyproject == constraints == version("aws-lambda-powertools")


def test_the_layer_is_built_for_the_functions_runtime_and_architecture(template: dict[str, Any]) -> None:
    layer = deployed(template)
    function = template["Globals"]["Function"]
    assert f"python{layer['python']}" == function["Runtime"]
    assert [layer["arch"]] == function["Architectures"]
    assert function["Layers"] == [{"Ref": "PowertoolsLayer"}]
    for resource in template["Resources"].values():  # no function brings a layer of its own
        assert "Layers" not in resource.get("Properties", {})


def test_the_check_notices_a_drift() -> None:
    drifted = {
        "Parameters": {
            "PowertoolsLayer": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/aws/service/powertools/python/arm64/python3.13/3.23.0",
            }
        }
    }
    assert deployed(drifted)["version"] != pinned("aws-lambda-powertools", (ROOT / "pyproject.toml").read_text())
    assert pinned("aws-lambda-powertools", '"aws-lambda-powertools[tracer]==3.37.0",') == "3.37.0"
