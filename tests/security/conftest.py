from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from localaws import World
from localaws.guarded import Guarded, guard
from localaws.world import Deployment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml, CloudFormation's short-form tags in their long forms."""
    return dict(yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8")))


@pytest.fixture
def guarded(prod: Deployment, world: World, template: dict[str, Any]) -> Guarded:
    """`prod` wearing the template's own defences: its queue, table and topic policies, its role (the function calls
    as the role), the operations key on the alert topic, the watch topic and the two watch rules."""
    return guard(prod, template)
