"""samconfig.toml and docs/deploying.md's table of its environments say the same, and every override is a real parameter
with a value the template accepts (a region is set wherever a key names one)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent


def environments() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    return {name: sections for name, sections in config.items() if isinstance(sections, dict) and "deploy" in sections}


def readme_rows() -> dict[str, tuple[str, list[str]]]:
    text = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.split("| environment | region | parameter overrides |", 1)[1].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        name, region, overrides = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name.strip("`")] = (region, re.findall(r"`([^`]+)`", overrides))
    return rows


def test_readme_lists_every_environment_as_samconfig_deploys_it() -> None:
    rows = readme_rows()
    assert set(rows) == set(environments())
    for name, sections in environments().items():
        region, overrides = rows[name]
        assert overrides == sections["deploy"]["parameters"]["parameter_overrides"], name
        assert region == sections.get("global", {}).get("parameters", {}).get("region", "(your configured region)")


def test_every_override_is_a_template_parameter_with_an_accepted_value() -> None:
    parameters = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))["Parameters"]
    for name, sections in environments().items():
        for override in sections["deploy"]["parameters"]["parameter_overrides"]:
            key, _, value = override.partition("=")
            assert key in parameters, (name, key)
            allowed = parameters[key].get("AllowedValues")
            assert allowed is None or value in [str(v) for v in allowed], (name, override)
            if key == "KmsKeyArns":  # a key must be in the stack's region
                key_region = value.split(":")[3]
                assert sections["global"]["parameters"].get("region") == key_region, (name, "region")


def test_the_default_environment_is_a_safe_first_roll_out() -> None:
    overrides = environments()["default"]["deploy"]["parameters"]["parameter_overrides"]
    assert "DefaultAction=report-only" in overrides
    assert "ApplyImmediately=new-clusters" in overrides
    assert any(o.startswith("AlertEmail=") and "@" in o for o in overrides), "somebody hears of a violation"
    assert "build" in tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["default"]
