"""Read Kubernetes manifests from files: YAML/JSON, multi-document, ``kind: List`` unwrapped.

Policy documents keep the line and column of every key and item so findings can point at
``file:line:col``; other documents are read without that bookkeeping, which keeps loading a
few thousand pods fast (libyaml does the parsing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML: libyaml speed, comes with kubernetes

from cluster_mgmt.core.policy.model import POLICY_KINDS
from cluster_mgmt.core.policy.source import PositionedDict, PositionedList, SourceDoc
from cluster_mgmt.errors import ConfigError, Location

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    track = False


def _construct_mapping(loader: Any, node: Any) -> Iterator[Any]:
    if not loader.track:
        yield from loader.construct_yaml_map(node)
        return
    data = PositionedDict()
    data.start = (node.start_mark.line, node.start_mark.column)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            data[key] = loader.construct_object(value_node, deep=True)
        except TypeError as exc:  # an unhashable key such as a mapping
            raise yaml.constructor.ConstructorError(
                None, None, f"unusable mapping key ({exc})", key_node.start_mark
            ) from exc
        data.positions[key] = (key_node.start_mark.line, key_node.start_mark.column)


def _construct_sequence(loader: Any, node: Any) -> Iterator[Any]:
    if not loader.track:
        yield from loader.construct_yaml_seq(node)
        return
    data = PositionedList()
    data.start = (node.start_mark.line, node.start_mark.column)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.positions.append((item.start_mark.line, item.start_mark.column))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _needs_positions(node: Any) -> bool:
    if not isinstance(node, yaml.MappingNode):
        return False
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "kind":
            kind = getattr(value, "value", "")
            return kind in POLICY_KINDS or (isinstance(kind, str) and kind.endswith("List"))
    return False


def parse_text(text: str, file: str, *, positions: bool = False) -> list[Any]:
    """All YAML documents of a text (positions for policies, or for all with ``positions``).

    Raises:
        ConfigError: with ``file:line:col`` when the text is not valid YAML.
    """
    loader = _Loader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            loader.track = positions or _needs_positions(node)
            docs.append(loader.construct_document(node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", location=loc) from exc
    finally:
        loader.dispose()
    return docs


def _parse_file(path: Path, display: str) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {display}: {exc}", location=Location(display)) from exc
    if path.suffix == ".json":
        try:
            return parse_text(text, display)
        except ConfigError:
            try:  # JSON that YAML 1.1 does not accept (tabs, some escapes)
                return [json.loads(text)]
            except ValueError as exc:
                loc = Location(display, getattr(exc, "lineno", None), getattr(exc, "colno", None))
                raise ConfigError(f"invalid JSON: {exc}", location=loc) from exc
    return parse_text(text, display)


def unwrap(obj: Any, file: str) -> Iterator[SourceDoc]:
    """One document per object; ``kind: List`` and ``*List`` wrappers yield their items.

    A bare array of objects (a JSON file holding ``[{...}, {...}]``) yields its items too;
    anything without a ``kind`` is skipped.
    """
    if isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                yield from unwrap(item, file)
        return
    if not isinstance(obj, dict):
        return
    kind = obj.get("kind")
    items = obj.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and not item.get("kind") and len(kind) > len("List"):
                # The API server's typed lists (PodList...) leave out each item's kind.
                item["kind"] = kind[: -len("List")]
                if not item.get("apiVersion"):
                    item["apiVersion"] = obj.get("apiVersion")
            yield from unwrap(item, file)
        return
    if kind:
        yield SourceDoc(file, obj)


def manifest_files(root: Path) -> list[Path]:
    """``.yaml``/``.yml``/``.json`` files under a directory, recursively, hidden ones skipped."""
    if root.is_file():
        return [root]
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix in MANIFEST_SUFFIXES:
            out.append(path)
    return out


def load_manifests(paths: Iterable[Path]) -> list[SourceDoc]:
    """Every object in the given files or directories.

    Raises:
        ConfigError: a path is missing or a file does not parse.
    """
    docs: list[SourceDoc] = []
    for root in paths:
        if not root.exists():
            raise ConfigError(f"{root}: no such file or directory", location=Location(str(root)))
        for path in manifest_files(root):
            display = str(path)
            for obj in _parse_file(path, display):
                docs.extend(unwrap(obj, display))
    return docs


def dump_yaml(obj: Any) -> str:
    """Block-style YAML for a generated object (key order kept)."""
    return str(yaml.safe_dump(_plain(obj), sort_keys=False, default_flow_style=False))


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [_plain(v) for v in obj]
    return obj
