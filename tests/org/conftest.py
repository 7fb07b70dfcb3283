from tests.template.conftest import template, transformed

__all__ = ["template", "transformed"]
