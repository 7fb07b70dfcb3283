"""The reference parts of docs/policy.md and docs/cli.md, generated from the policy model's JSON Schema and from the
CLI's own command tree, so that a field or an option cannot be added, renamed or re-described without the page
following (`make docs`; tests/cli/test_docs.py fails when a page is stale).

    python -m das_guard_cli.reference_docs            # rewrite the generated blocks in place
    python -m das_guard_cli.reference_docs --check    # exit 1 and name the stale pages
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from .schema import policy_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


# ---------------------------------------------------------------------------------------------- the policy fields
def _type(spec: dict[str, Any]) -> str:
    """A schema node in the words of the page: `enforce` \\| `report-only`, list of `Rule`, ..."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[1]
        return f"[`{name}`](#{name.lower()})"
    if "anyOf" in spec:
        return " or ".join(_type(option) for option in spec["anyOf"] if option.get("type") != "null")
    if "const" in spec:
        return f"`{str(spec['const']).lower()}`"
    if "enum" in spec:
        return " \\| ".join(f"`{value}`" for value in spec["enum"])
    kind = spec.get("type")
    if kind == "array":
        return f"list of {_type(spec['items'])}"
    if kind == "object" and "additionalProperties" in spec:
        return f"map of string to {_type(spec['additionalProperties'])}"
    if kind == "string" and spec.get("format") == "date":
        return "date"
    return str(kind or "any")


def _limits(spec: dict[str, Any]) -> str:
    words = []
    for key, word in (("minimum", ">="), ("maximum", "<="), ("minLength", "length >="), ("maxLength", "length <=")):
        if key in spec:
            words.append(f"{word} {spec[key]}")
    if "pattern" in spec:
        words.append(f"`{spec['pattern']}`")
    return ", ".join(words)


def _default(spec: dict[str, Any]) -> str:
    if "default" not in spec or spec["default"] in (None, "", [], {}):
        return ""
    value = spec["default"]
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _enum_values(definitions: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Inline an enum definition (Action, StreamMode, ...) so the table shows its values, not a link."""
    if "$ref" in spec:
        target = definitions[spec["$ref"].rsplit("/", 1)[1]]
        if "enum" in target:
            return {**spec, **{k: v for k, v in target.items() if k in ("enum", "type")}, "$ref": None}
    if "anyOf" in spec:
        return {**spec, "anyOf": [_enum_values(definitions, option) for option in spec["anyOf"]]}
    return spec


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None}


def _object_table(name: str, node: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    lines = [f"### `{name}`", ""]
    if node.get("description"):
        lines += [node["description"], ""]
    lines += ["| field | type | required | default | meaning |", "|---|---|---|---|---|"]
    required = set(node.get("required", []))
    for field, raw in sorted(node["properties"].items(), key=lambda item: (item[0] not in required, item[0])):
        spec = _clean(_enum_values(definitions, raw))
        if "anyOf" in spec:
            spec["anyOf"] = [_clean(option) for option in spec["anyOf"]]
        kind = _type(spec)
        limits = _limits(spec) or ", ".join(filter(None, (_limits(o) for o in spec.get("anyOf", []))))
        cells = [
            f"`{field}`",
            kind + (f" ({limits})" if limits else ""),
            "yes" if field in required else "",
            _default(spec),
            (spec.get("description") or "").replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def policy_reference() -> str:
    schema = policy_schema()
    definitions = schema["$defs"]
    lines = [
        "Generated from the policy model (`functions/das_guard/policy/schema.py`) by `make docs`; the same schema is",
        "[policy.schema.json](policy.schema.json), which editors use to validate as you type.",
        "",
    ]
    lines += _object_table("PolicyDocument", schema, definitions)
    for name in sorted(definitions):
        if "properties" in definitions[name]:
            lines += _object_table(name, definitions[name], definitions)
    return "\n".join(lines).rstrip("\n")


# ------------------------------------------------------------------------------------------------- the commands
# Typer carries its own copy of click (typer._click): the tree is read by duck typing, not by click's classes.
def _is_argument(parameter: Any) -> bool:
    return str(getattr(parameter, "param_type_name", "")) == "argument"


def _option(parameter: Any) -> str:
    if _is_argument(parameter):
        return f"`{str(parameter.name).upper()}`"
    return " / ".join(f"`{name}`" for name in [*parameter.opts, *parameter.secondary_opts])


def _param_help(parameter: Any) -> str:
    text = getattr(parameter, "help", None) or ""
    default = parameter.default
    shown = getattr(parameter, "show_default", True) is not False
    if shown and default not in (None, False, (), []) and not callable(default) and not _is_argument(parameter):
        text += f" (default: `{default}`)"
    if getattr(parameter, "multiple", False) and "repeatable" not in text.lower():
        text += " Repeatable."
    envvar = getattr(parameter, "envvar", None)
    if envvar:
        text += f" Env: `{envvar}`."
    if parameter.required:
        text = "Required. " + text
    return " ".join(text.split()).replace("|", "\\|")


def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def _commands(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    if _is_group(command):
        context = command.context_class(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                found += _commands(sub, [*path, name])
    return found


def cli_reference() -> str:
    from .main import app  # noqa: PLC0415 - the command tree, built only when documenting it

    root = typer.main.get_command(app)
    lines = ["Generated from the command tree (`cli/das_guard_cli/main.py`) by `make docs`.", ""]
    for path, command in _commands(root, ["das-guard"]):
        if _is_group(command) and len(path) > 1:
            continue
        arguments = [str(p.name).upper() for p in command.params if _is_argument(p)]
        usage = " ".join(["[OPTIONS]", *(["COMMAND [ARGS]..."] if _is_group(command) else arguments)])
        lines += [f"### `{' '.join(path)}`", "", " ".join((command.help or "").split()), ""]
        lines += ["```", f"{' '.join(path)} {usage}".rstrip(), "```", ""]
        parameters = [p for p in command.params if p.name not in ("help", "install_completion", "show_completion")]
        if parameters:
            lines += ["| option | meaning |", "|---|---|"]
            lines += [f"| {_option(p)} | {_param_help(p)} |" for p in parameters]
            lines.append("")
    return "\n".join(lines).rstrip("\n")


# ------------------------------------------------------------------------------------------------------ the pages
def code_blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of a page in one language ("" for plain fences), read fence by fence (a regex across
    fences pairs one block's closing fence with the next one's opening)."""
    found: list[str] = []
    current: list[str] = []
    opened: str | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if opened is None:
                opened, current = line[3:].strip(), []
            else:
                if opened == language:
                    found.append("\n".join(current) + "\n")
                opened = None
        elif opened is not None:
            current.append(line)
    return found


GENERATED: dict[str, tuple[str, Callable[[], str]]] = {
    "policy.md": ("policy fields", policy_reference),
    "cli.md": ("commands", cli_reference),
}


def rendered(page: str, text: str) -> str:
    name, render = GENERATED[page]
    begin, end = f"<!-- BEGIN generated: {name} -->", f"<!-- END generated: {name} -->"
    if begin not in text or end not in text:
        raise ValueError(f"docs/{page} has no {begin} ... {end} block")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{render()}\n{end}{rest.split(end, 1)[1]}"


def main(argv: list[str]) -> int:
    stale = []
    for page in GENERATED:
        path = DOCS / page
        text = path.read_text(encoding="utf-8")
        fresh = rendered(page, text)
        if fresh != text:
            stale.append(page)
            if "--check" not in argv:
                path.write_text(fresh, encoding="utf-8")
    if stale and "--check" in argv:
        print(f"stale: {', '.join('docs/' + p for p in stale)} (run `make docs`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
