"""Policy files as compliance teams write them (JSON or YAML), with the line of every field for messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
MAX_BYTES = 64 * 1024  # SSM parameters hold at most 8 KB (advanced tier); anything far larger is not a policy


class PolicyFileError(Exception):
    """The file cannot be read or parsed at all (with the line where parsing stopped)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


@dataclass
class PolicyFile:
    path: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    columns: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[Path_] = field(default_factory=list)  # keys given twice in one mapping (each second one)

    def line_of(self, location: Path_) -> int | None:
        """The line of `location`, or of its nearest parent that has one."""
        return self.position_of(location)[0]

    def position_of(self, location: Path_) -> tuple[int | None, int | None]:
        """(line, column) of `location`, or of its nearest parent that has one (1-based)."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line, self.columns.get(tuple(location[:end]))
        return None, None

    def where(self, location: Path_) -> str:
        """`file:line:column` for messages (editors and CI annotations jump there)."""
        line, column = self.position_of(location)
        return f"{self.path}:{line or '?'}:{column or 1}"

    def canonical_json(self) -> str:
        """The document as DAS Guard stores it in the SSM parameter."""
        return json.dumps(self.data, indent=2, default=str) + "\n"


def load(path: Path) -> PolicyFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PolicyFileError(f"cannot read {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise PolicyFileError(f"not UTF-8 text: {err.reason} at byte {err.start}") from err
    if len(text.encode()) > MAX_BYTES:
        raise PolicyFileError(f"the file has {len(text.encode())} bytes; a policy document is at most {MAX_BYTES}")
    try:
        return _load(path, text)
    except RecursionError as err:
        raise PolicyFileError("the document is nested too deeply to be a policy") from err


def _load(path: Path, text: str) -> PolicyFile:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise PolicyFileError(f"not valid JSON: {err.msg} (column {err.colno})", err.lineno) from err
    else:
        _refuse_aliases(text)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise PolicyFileError(
                f"not valid YAML: {getattr(err, 'problem', err)}", mark.line + 1 if mark else None
            ) from err
    if data is None:
        raise PolicyFileError(
            "the file is empty: a policy needs at least `version: 1` and `defaults` (docs/policy.md)", 1
        )
    data = _plain(data)
    lines, columns, duplicates = _positions(text)
    return PolicyFile(path, data, lines, columns, duplicates)


def _refuse_aliases(text: str) -> None:
    """A policy needs no YAML anchors; aliases are how a small file becomes a huge or endless document (an
    "alias bomb", or an alias to itself), so they are refused before anything is built from them."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                raise PolicyFileError(
                    f"YAML aliases (*{event.anchor}) are not allowed in a policy file: write the value out",
                    mark.line + 1 if mark else None,
                )
    except yaml.YAMLError:
        return  # the loader below reports the syntax error with its line


def _plain(value: Any) -> Any:
    """YAML turns `2026-12-31` into a date; the policy schema reads dates from strings, as JSON has them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _positions(text: str) -> tuple[dict[Path_, int], dict[Path_, int], list[Path_]]:
    """Every path's 1-based line and column, and the keys a mapping gives twice (JSON is YAML, so one walker
    serves both). A repeated key is an error, not "the last one wins": it is how a weakening edit hides."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}, {}, []
    lines: dict[Path_, int] = {}
    columns: dict[Path_, int] = {}
    duplicates: list[Path_] = []

    def walk(node: Any, path: Path_) -> None:
        lines[path], columns[path] = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key, value in node.value:
                at = (*path, key.value)
                if key.value in seen:
                    duplicates.append(at)
                    lines[(*at, "#duplicate")] = key.start_mark.line + 1
                    columns[(*at, "#duplicate")] = key.start_mark.column + 1
                    continue
                seen.add(key.value)
                walk(value, at)
                lines[at], columns[at] = key.start_mark.line + 1, key.start_mark.column + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return lines, columns, duplicates
