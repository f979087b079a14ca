"""Read Kubernetes manifests from files: YAML/JSON, multi-document, ``kind: List`` unwrapped.

Policy documents keep the line and column of every key and item so findings can point at
``file:line:col``; other documents are read without that bookkeeping, which keeps loading a
few thousand pods fast. Parsing is ``adapters.yamlio``'s, the one YAML loader.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML: libyaml speed, comes with kubernetes

from cluster_mgmt.adapters import yamlio
from cluster_mgmt.core.policy.model import POLICY_KINDS
from cluster_mgmt.core.policy.source import SourceDoc
from cluster_mgmt.errors import ConfigError, Location

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def parse_text(text: str, file: str, *, positions: bool = False) -> list[Any]:
    """All YAML documents of a text (positions for policies, or for all with ``positions``).

    Raises:
        ConfigError: with ``file:line:col`` when the text is not valid YAML.
    """
    return yamlio.load_documents(text, file, positioned_kinds=None if positions else POLICY_KINDS)


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
            for obj in yamlio.load_manifest_file(path, display, POLICY_KINDS):
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
