"""Checking values against a chart's own ``values.yaml`` and ``values.schema.json``.

Helm ignores a misspelled key without a word; this does not. A key is known when the
chart's default values have it, or its schema declares it. Below a default that is empty
(``{}``, ``[]``, ``null``) — annotations, nodeSelector, free-form config — anything goes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ChartData:
    """What we know about one chart version: its defaults and schema."""

    name: str
    version: str
    values: Mapping[str, Any]
    schema: Mapping[str, Any] | None = None
    source: str = ""
    subcharts: Mapping[str, ChartData] = field(default_factory=dict)
    documented: frozenset[Path_] = frozenset()  # keys only shown as comments in values.yaml

    def all_documented(self) -> frozenset[Path_]:
        """Commented keys of the chart and of its subcharts (under their keys)."""
        paths = set(self.documented)
        for name, sub in self.subcharts.items():
            paths.update((name, *p) for p in sub.all_documented())
        return frozenset(paths)

    def key_schema(self) -> Mapping[str, Any] | None:
        """The schema that tells which keys exist: each subchart's under its key, refs inlined.

        A parent chart's schema often lists a subchart's key with a few properties only
        (prometheus' ``alertmanager``); the subchart's own schema declares the rest, some
        of it behind ``$ref`` (alertmanager's ``config.route``).
        """
        own = _inline_refs(self.schema, self.schema) if self.schema else None
        subs: dict[str, Mapping[str, Any]] = {}
        for name, sub in self.subcharts.items():
            sub_schema = sub.key_schema()
            if sub_schema:
                subs[name] = sub_schema
        if not subs:
            return own
        merged: dict[str, Any] = dict(own or {"type": "object"})
        props: dict[str, Any] = dict(_schema_props(merged) or {})
        for name, sub_schema in subs.items():
            parent = props.get(name)
            if isinstance(parent, Mapping):
                sub_props = _schema_props(sub_schema) or {}
                parent_props = _schema_props(parent) or {}
                props[name] = {**sub_schema, **parent, "properties": {**sub_props, **parent_props}}
            else:
                props[name] = sub_schema
        merged["properties"] = props
        return merged

    def effective_defaults(self) -> dict[str, Any]:
        """Defaults with each subchart's defaults under its key (the parent's win)."""
        merged = dict(self.values)
        for name, sub in self.subcharts.items():
            parent = merged.get(name)
            sub_defaults = sub.effective_defaults()
            if isinstance(parent, Mapping):
                sub_defaults = _deep_merge(sub_defaults, parent)
            merged[name] = sub_defaults
        return merged


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """A key the chart does not know, or a value of the wrong shape."""

    path: Path_
    message: str


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<hash>#+ ?)?(?P<pad> *)(?P<key>[A-Za-z_][\w.-]*):(\s|$)")


def commented_keys(values_text: str) -> frozenset[Path_]:
    """Keys a chart documents only as comments (``# policyAuditMode: false``).

    Many charts (Cilium's among them) leave optional keys commented out in values.yaml;
    their templates still read them. A commented key sits at the column of its ``#`` (the
    way YAML is commented out), plus any spaces beyond the first after it.
    """
    stack: list[tuple[int, str]] = []
    found: set[Path_] = set()
    for line in values_text.splitlines():
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        commented = match["hash"] is not None
        indent = len(match["indent"]) + len(match["pad"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(key for _, key in stack), match["key"])
        if commented:
            found.add(path)
        stack.append((indent, match["key"]))
    return frozenset(found)


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# How many ``$ref`` hops are inlined inside one another (recursive definitions such as
# Alertmanager's nested routes stop there).
_MAX_REF_DEPTH = 4


def _inline_refs(node: Any, root: Mapping[str, Any], depth: int = 0) -> Any:
    """``node`` with local ``$ref`` (``#/definitions/...``) replaced by what they point at."""
    if isinstance(node, list):
        return [_inline_refs(item, root, depth) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {key: _inline_refs(value, root, depth) for key, value in node.items() if key != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < _MAX_REF_DEPTH:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        if isinstance(target, Mapping):
            out = {**_inline_refs(target, root, depth + 1), **out}
    return out


def _schema_props(schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not schema:
        return None
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else None


def _schema_open(schema: Mapping[str, Any] | None) -> bool:
    """Whether a schema node allows keys it does not list."""
    if not schema:
        return True
    if schema.get("additionalProperties") not in (None, False) or schema.get("patternProperties"):
        return True
    return "properties" not in schema and schema.get("type") in (None, "object")


def unknown_keys(
    values: Any,
    defaults: Any,
    schema: Mapping[str, Any] | None = None,
    path: Path_ = (),
    documented: frozenset[Path_] = frozenset(),
) -> Iterator[KeyProblem]:
    """Walk ``values`` and yield keys that neither the defaults nor the schema know."""
    if not isinstance(values, Mapping) or path in documented:
        return
    if not isinstance(defaults, Mapping) or not defaults:
        # Free-form below an empty/null default, unless the schema closes it.
        props = _schema_props(schema)
        if props is None:
            return
        defaults = {}
    props = _schema_props(schema) or {}
    for key, value in values.items():
        here = (*path, key)
        sub_schema = props.get(key) if isinstance(props.get(key), Mapping) else None
        if key in defaults:
            default = defaults[key]
            if isinstance(value, Mapping) and _is_scalar(default) and default is not None:
                yield KeyProblem(here, f"expects a {type(default).__name__}, got a mapping")
                continue
            yield from unknown_keys(value, default, sub_schema, here, documented)
        elif here in documented:
            continue
        elif sub_schema is not None:
            yield from unknown_keys(value, {}, sub_schema, here, documented)
        elif schema is not None and props and not _schema_open(schema):
            yield KeyProblem(here, _unknown(key, [*defaults, *props]))
        elif defaults:
            yield KeyProblem(here, _unknown(key, [*defaults, *props]))


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, Mapping | list)


def _unknown(key: str | int, known: list[Any]) -> str:
    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}: the chart does not define it, helm would ignore it{hint}"


def schema_problems(values: Mapping[str, Any], chart: ChartData) -> list[KeyProblem]:
    """Validate the chart defaults merged with ``values`` against the chart's schema."""
    if not chart.schema:
        return []
    import jsonschema

    defaults = chart.effective_defaults()
    # Charts write "$schema" loosely (no trailing "#"); pick the draft by name.
    declared = str(chart.schema.get("$schema", ""))
    validator_cls = next(
        (
            cls
            for draft, cls in (
                ("draft-07", jsonschema.Draft7Validator),
                ("draft-06", jsonschema.Draft6Validator),
                ("draft-04", jsonschema.Draft4Validator),
                ("2019-09", jsonschema.Draft201909Validator),
            )
            if draft in declared
        ),
        jsonschema.Draft202012Validator,
    )
    validator = validator_cls(chart.schema)

    def errors(doc: Mapping[str, Any]) -> dict[tuple[Path_, str], None]:
        found = validator.iter_errors(doc)
        return {(tuple(e.absolute_path), f"schema: {e.message}"): None for e in found}

    # Only what the values add: a chart's defaults are not always valid against its schema.
    baseline = errors(defaults)
    added = [key for key in errors(_deep_merge(defaults, values)) if key not in baseline]
    return [KeyProblem(path, message) for path, message in sorted(added, key=str)]
