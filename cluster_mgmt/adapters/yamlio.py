"""Reading user YAML with positions, so every error can name ``file:line:col``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from cluster_mgmt.errors import ConfigError, Location


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.preserve_quotes = True
    return yaml


def load_text(text: str, file: str) -> Any:
    """Parse one YAML document with positions (round-trip types). Raises ConfigError."""
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", location=Location(file, line, col)) from exc
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", location=Location(file)) from exc


def load_file(path: Path, display: str | None = None) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", location=Location(name)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", location=Location(name)) from exc
    return load_text(text, name)


def locate(root: Any, path: tuple[str | int, ...], file: str) -> Location:
    """The position of the deepest node along ``path`` (keys and list indexes).

    A path that runs past the document (a missing key) points at the parent mapping.
    """
    node = root
    line: int | None = None
    col: int | None = None
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            line, col = node.lc.key(part)
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
            node = node[part]
        else:
            if line is None and hasattr(node, "lc"):
                line, col = node.lc.line, node.lc.col
            break
    field = ".".join(str(p) for p in path) or None
    if line is None:
        return Location(file, 1, 1, field) if not path else Location(file, field=field)
    return Location(file, line + 1, (col or 0) + 1, field)


def child_mapping(parent: Any, key: str, *, before: str | None = None) -> Any:
    """``parent[key]`` as a round-trip mapping, added (before ``before``) when absent."""
    child = parent.get(key)
    if isinstance(child, dict):
        return child
    child = CommentedMap()
    if key in parent:
        parent[key] = child
        return child
    keys = list(parent.keys())
    position = keys.index(before) if before in keys else len(keys)
    parent.insert(position, key, child)
    return child


def dump_roundtrip(data: Any) -> str:
    """Write round-trip YAML back, keeping the user's comments and order."""
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()


def to_plain(data: Any) -> Any:
    """Round-trip types to plain dicts/lists (for validation and merging)."""
    if isinstance(data, dict):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_plain(v) for v in data]
    if hasattr(data, "__class__") and data.__class__.__module__.startswith("ruamel"):
        for base in (bool, int, float, str):
            if isinstance(data, base):
                return base(data)
    return data
