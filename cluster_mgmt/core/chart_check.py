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
_MISSING = object()


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


def _validator_class(schema: Mapping[str, Any]) -> Any:
    import jsonschema

    # Charts write "$schema" loosely (no trailing "#"); pick the draft by name.
    declared = str(schema.get("$schema", ""))
    return next(
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


# Maps whose every key a chart's templates render (one file per key), although its defaults
# list some: any key is meant. fluentd: templates/fluentd-configurations-cm.yaml ranges over
# fileConfigs to build the ConfigMap mounted as /etc/fluent/config.d/.
_TEMPLATE_RANGED: Mapping[str, frozenset[Path_]] = {"fluentd": frozenset({("fileConfigs",)})}


class ChartCheck:
    """The checks of one chart version, prepared once and run on any number of values.

    Building the merged defaults, the documented keys, the schema validator and the
    chart's own baseline of schema errors costs far more than checking one values file,
    so a run prepares each chart once, whatever the number of environments.
    """

    __slots__ = (
        "_baseline",
        "_key_schema",
        "_local",
        "_validator",
        "chart",
        "defaults",
        "documented",
    )

    def __init__(self, chart: ChartData) -> None:
        self.chart = chart
        self.defaults = chart.effective_defaults()
        self.documented = chart.all_documented() | _TEMPLATE_RANGED.get(chart.name, frozenset())
        self._key_schema = chart.key_schema()
        self._validator: Any = None
        self._baseline: dict[tuple[Path_, str], None] | None = None
        self._local: dict[int, dict[str, Any]] = {}  # object schemas without their properties
        if chart.schema:
            self._validator = _validator_class(chart.schema)(chart.schema)

    def unknown_keys(self, values: Any) -> Iterator[KeyProblem]:
        """Keys of ``values`` that neither the chart's defaults nor its schema know."""
        return unknown_keys(values, self.defaults, self._key_schema, documented=self.documented)

    def _errors(self, doc: Mapping[str, Any]) -> dict[tuple[Path_, str], None]:
        found = self._validator.iter_errors(doc)
        return {(tuple(e.absolute_path), f"schema: {e.message}"): None for e in found}

    def _added_errors(
        self, schema: Any, default: Any, node: Any, path: Path_, out: dict[tuple[Path_, str], None]
    ) -> None:
        """The schema errors of ``node`` (at ``path``), skipping subtrees left at default.

        A subtree that is the defaults' own object can only repeat the baseline's errors.
        Where the schema is a plain object schema (``properties``, no ``$ref``, which older
        drafts let override its siblings), its own keywords are checked on the node with
        every property schema set to ``true``, and each property the node has is checked
        against its schema the same way, recursively: the same errors as one validation
        of the whole document, for a fraction of the work.
        """
        if node is default:
            return
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        if not isinstance(node, Mapping) or not isinstance(props, Mapping) or "$ref" in schema:
            for err in self._validator.evolve(schema=schema).iter_errors(node):
                out[((*path, *err.absolute_path), f"schema: {err.message}")] = None
            return
        local = self._local.get(id(schema))
        if local is None:
            local = {**schema, "properties": dict.fromkeys(props, True)}
            self._local[id(schema)] = local
        for err in self._validator.evolve(schema=local).iter_errors(node):
            out[((*path, *err.absolute_path), f"schema: {err.message}")] = None
        defaults = default if isinstance(default, Mapping) else {}
        for key, value in node.items():
            if key in props:
                self._added_errors(
                    props[key], defaults.get(key, _MISSING), value, (*path, key), out
                )

    def schema_problems(self, values: Mapping[str, Any]) -> list[KeyProblem]:
        """Schema errors of the defaults merged with ``values`` that the defaults lack."""
        if self._validator is None:
            return []
        if self._baseline is None:
            # Only what the values add: a chart's defaults are not always valid against
            # its schema.
            self._baseline = self._errors(self.defaults)
        baseline = self._baseline
        found: dict[tuple[Path_, str], None] = {}
        schema = self.chart.schema
        self._added_errors(schema, self.defaults, _deep_merge(self.defaults, values), (), found)
        added = [key for key in found if key not in baseline]
        return [KeyProblem(path, message) for path, message in sorted(added, key=str)]


def schema_problems(values: Mapping[str, Any], chart: ChartData) -> list[KeyProblem]:
    """Validate the chart defaults merged with ``values`` against the chart's schema."""
    return ChartCheck(chart).schema_problems(values)


def chart_to_json(chart: ChartData) -> dict[str, Any]:
    """A chart's data as plain JSON (the package ships the pinned charts this way)."""
    return {
        "name": chart.name,
        "version": chart.version,
        "source": chart.source,
        "values": chart.values,
        "schema": chart.schema,
        "documented": sorted(list(p) for p in chart.documented),
        "subcharts": {name: chart_to_json(sub) for name, sub in chart.subcharts.items()},
    }


def chart_from_json(data: Mapping[str, Any]) -> ChartData:
    """The inverse of :func:`chart_to_json`."""
    return ChartData(
        str(data["name"]),
        str(data["version"]),
        data["values"],
        data.get("schema"),
        str(data.get("source", "")),
        {name: chart_from_json(sub) for name, sub in data.get("subcharts", {}).items()},
        frozenset(tuple(p) for p in data.get("documented", [])),
    )
