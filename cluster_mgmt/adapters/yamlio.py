"""The one way user YAML is read: libyaml speed, with the position of every key and item.

Config, values overrides, chart data and Kubernetes manifests all go through the same
loader: PyYAML's C parser composes the nodes and the constructors below turn mappings and
sequences into :class:`PositionedDict`/:class:`PositionedList`, so every error can name
``file:line:col``. YAML 1.1 scalars (``yes``/``on`` are booleans), as helm reads values.
ruamel.yaml is used only to write a user's file back with its comments
(:func:`load_roundtrip`, :func:`dump_roundtrip`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from cluster_mgmt.core.positions import PositionedDict, PositionedList, position_of
from cluster_mgmt.errors import ConfigError, Location

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_ScalarNode: Any = yaml.ScalarNode
_SequenceNode: Any = yaml.SequenceNode
_MappingNode: Any = yaml.MappingNode
_ConstructorError: Any = yaml.constructor.ConstructorError

# Plain scalars repeat a lot in Kubernetes listings (v1, Pod, TCP, true): resolve each once.
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX = 200_000


class _Loader(_BaseLoader):  # type: ignore[misc]
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is _ScalarNode:
            if not implicit[0]:
                return _STR  # quoted: a string, as YAML 1.1 resolves it without path resolvers
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[value] = tag
            return tag
        return _MAP if kind is _MappingNode else _SEQ


def _construct(loader: Any, root: Any, track: bool, unique: bool) -> Any:
    """Objects from a composed node tree, with positions when ``track``.

    What PyYAML's SafeConstructor builds, for a fraction of its per-node cost: strings are
    taken as they are, other scalars go to the SafeConstructor's own functions, and
    anything unusual (``!!set``, ``!!omap``, unknown tags) to PyYAML itself. An anchored
    node is built once and shared, as PyYAML does, so alias bombs stay small.
    """
    memo: dict[int, Any] = {}
    scalar = loader.yaml_constructors

    def build(node: Any) -> Any:
        cls = node.__class__
        tag = node.tag
        if cls is _ScalarNode:
            if tag == _STR:
                return node.value
            ctor = scalar.get(tag)
            return ctor(loader, node) if ctor is not None else loader.construct_object(node, True)
        done = memo.get(id(node))
        if done is not None:
            return done
        if cls is _SequenceNode and tag == _SEQ:
            if not track:
                items: list[Any] = []
                memo[id(node)] = items
                items.extend([build(item) for item in node.value])
                return items
            seq = PositionedList()
            seq.start = (node.start_mark.line, node.start_mark.column)
            memo[id(node)] = seq
            for item in node.value:
                seq.append(build(item))
                mark = item.start_mark
                seq.positions.append((mark.line, mark.column))
            return seq
        if cls is _MappingNode and tag == _MAP:
            own: set[int] | None = None  # with `<<: *defaults`, the keys written here
            if any(key.tag == _MERGE for key, _ in node.value):
                own = {id(key) for key, _ in node.value if key.tag != _MERGE}
                loader.flatten_mapping(node)
            if not track:
                plain: dict[Any, Any] = {}
                memo[id(node)] = plain
                try:
                    for key_node, value_node in node.value:
                        plain[build(key_node)] = build(value_node)
                except TypeError as exc:  # an unhashable key such as a mapping
                    raise _ConstructorError(
                        None, None, f"unusable mapping key ({exc})", node.start_mark
                    ) from exc
                return plain
            data = PositionedDict()
            data.start = (node.start_mark.line, node.start_mark.column)
            memo[id(node)] = data
            positions = data.positions
            own_seen: dict[Any, tuple[int, int]] = {}
            for key_node, value_node in node.value:
                key = build(key_node)
                mark = key_node.start_mark
                here = (mark.line, mark.column)
                try:
                    if own is None:
                        first = positions.get(key)
                    elif id(key_node) in own:  # a merged key may be overridden, once
                        first = own_seen.get(key)
                        own_seen[key] = here
                    else:
                        first = None
                        hash(key)
                except TypeError as exc:  # an unhashable key such as a mapping
                    raise _ConstructorError(
                        None, None, f"unusable mapping key ({exc})", mark
                    ) from exc
                if first is not None and unique:
                    raise _ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first set on line {first[0] + 1})",
                        mark,
                    )
                data[key] = build(value_node)
                positions[key] = here
            return data
        return loader.construct_object(node, True)

    return build(root)


def _top_kind(node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "kind":
                return getattr(value, "value", None)
    return None


def _invalid(exc: yaml.YAMLError, file: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    loc = Location(file, mark.line + 1, mark.column + 1) if mark is not None else Location(file)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    return ConfigError(f"invalid YAML: {problem}", location=loc)


def load_documents(
    text: str, file: str, *, positioned_kinds: Collection[str] | None = None
) -> list[Any]:
    """Every document of a YAML text.

    With ``positioned_kinds``, only documents whose top-level ``kind`` is one of them (or a
    ``*List``) get positions and duplicate-key checks: that keeps reading thousands of
    listed pods fast. Without it, every document gets them.

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
            if positioned_kinds is None:
                track = True
            else:
                kind = _top_kind(node)
                track = kind in positioned_kinds or (
                    isinstance(kind, str) and kind.endswith("List")
                )
            docs.append(_construct(loader, node, track, track))
    except yaml.YAMLError as exc:
        raise _invalid(exc, file) from exc
    finally:
        loader.dispose()
    return docs


def load_text(text: str, file: str) -> Any:
    """Parse one YAML document with positions (an empty text is ``None``).

    Raises:
        ConfigError: with ``file:line:col`` when the text is not valid YAML, holds a
            duplicate key or more than one document.
    """
    docs = load_documents(text, file)
    if len(docs) > 1:
        raise ConfigError(
            "invalid YAML: expected one document, found several", location=Location(file)
        )
    return docs[0] if docs else None


def load_plain(text: str, file: str) -> Any:
    """One YAML document as plain dicts and lists, without positions (chart data)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct(loader, node, False, False)
    except yaml.YAMLError as exc:
        raise _invalid(exc, file) from exc
    finally:
        loader.dispose()


def read_text(path: Path, display: str | None = None) -> str:
    """A user's text file; a missing or unreadable file is a ConfigError."""
    name = display or str(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", location=Location(name)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", location=Location(name)) from exc


def load_file(path: Path, display: str | None = None) -> Any:
    """Read and parse a one-document YAML file with positions."""
    name = display or str(path)
    return load_text(read_text(path, name), name)


def load_manifest_file(
    path: Path, display: str, positioned_kinds: Collection[str] | None = None
) -> list[Any]:
    """The documents of a ``.yaml``/``.yml``/``.json`` manifest file.

    JSON that YAML 1.1 does not accept (tabs, some escapes) is read as JSON, without
    positions.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {display}: {exc}", location=Location(display)) from exc
    if path.suffix == ".json":
        try:
            return load_documents(text, display, positioned_kinds=positioned_kinds)
        except ConfigError:
            try:
                return [json.loads(text)]
            except ValueError as exc:
                loc = Location(display, getattr(exc, "lineno", None), getattr(exc, "colno", None))
                raise ConfigError(f"invalid JSON: {exc}", location=loc) from exc
    return load_documents(text, display, positioned_kinds=positioned_kinds)


def locate(root: Any, path: tuple[str | int, ...], file: str) -> Location:
    """The position of the deepest node along ``path`` (keys and list indexes).

    A path that runs past the document (a missing key) points at the last key found.
    """
    field = ".".join(str(p) for p in path) or None
    if not path:
        return Location(file, 1, 1)
    pos = position_of(root, path)
    if pos is None:
        return Location(file, field=field)
    return Location(file, pos[0] + 1, pos[1] + 1, field)


def to_plain(data: Any) -> Any:
    """Positioned (or round-trip) types to plain dicts/lists with string keys."""
    if isinstance(data, dict):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_plain(v) for v in data]
    if data.__class__.__module__.startswith("ruamel"):
        for base in (bool, int, float, str):
            if isinstance(data, base):
                return base(data)
    return data


def _roundtrip() -> Any:
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.allow_duplicate_keys = False
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long value (a URL) that is written back
    return rt


def load_roundtrip(path: Path, display: str | None = None) -> Any:
    """A YAML file as ruamel round-trip types, to be edited and written back."""
    from ruamel.yaml.error import YAMLError

    name = display or str(path)
    text = read_text(path, name)
    try:
        return _roundtrip().load(text)
    except YAMLError as exc:
        load_text(text, name)  # the same message and position as every other read
        raise ConfigError(f"invalid YAML: {exc}", location=Location(name)) from exc


def child_mapping(parent: Any, key: str, *, before: str | None = None) -> Any:
    """``parent[key]`` as a round-trip mapping, added (before ``before``) when absent."""
    from ruamel.yaml.comments import CommentedMap

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


def set_scalar(mapping: Any, key: str, value: Any, *, after: str | None = None) -> None:
    """Set ``mapping[key]``; a new key goes right after ``after`` (else first).

    Comment lines below ``after`` stay below the new key, so a new line never lands
    under the comment block that follows (an end-of-line comment stays on ``after``).
    """
    if key in mapping:
        mapping[key] = value
        return
    keys = list(mapping.keys())
    position = keys.index(after) + 1 if after in keys else 0
    mapping.insert(position, key, value)
    if position == 0:
        return
    previous = mapping.ca.items.get(keys[position - 1])
    token = previous[2] if previous is not None and len(previous) > 2 else None
    if token is None:
        return
    own, sep, below = token.value.partition("\n")
    if own.strip().startswith("#"):  # an end-of-line comment stays where it is
        if not below.strip():
            return
        token.value = own + sep
    else:
        previous[2] = None
        below = token.value.lstrip(" ").removeprefix("\n")
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    mapping.ca.items[key] = [None, None, CommentToken("\n" + below, CommentMark(0), None), None]


def dump_roundtrip(data: Any) -> str:
    """Write round-trip YAML back, keeping the user's comments and order."""
    stream = io.StringIO()
    _roundtrip().dump(data, stream)
    return stream.getvalue()
