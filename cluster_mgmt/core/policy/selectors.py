"""Label selectors (``matchLabels`` + ``matchExpressions``) and a bitset index to evaluate them.

Selectors are evaluated against *classes* of pods (equal namespace, labels and ports), not
pods, and the result is a Python ``int`` used as a bitset: one bit per class or peer atom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """A selector is malformed; ``path`` points at the offending field (relative)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement; ``matchLabels`` entries become ``In`` with one value."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement."""
        if self.op == "In":
            return labels.get(self.key) in self.values
        if self.op == "NotIn":
            return labels.get(self.key) not in self.values
        if self.op == "Exists":
            return self.key in labels
        return self.key not in labels

    def describe(self) -> str:
        """``app=web``, ``tier in (a,b)``, ``!debug`` ..."""
        if self.op == "In" and len(self.values) == 1:
            return f"{self.key}={next(iter(self.values))}"
        if self.op in ("In", "NotIn"):
            vals = ",".join(sorted(self.values))
            return f"{self.key} {'in' if self.op == 'In' else 'notin'} ({vals})"
        return self.key if self.op == "Exists" else f"!{self.key}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; no requirement selects everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True for ``{}``: selects everything in scope."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set is selected."""
        return all(req.matches(labels) for req in self.requirements)

    def has_key(self, key: str) -> bool:
        """Whether any requirement is about ``key``."""
        return any(req.key == key for req in self.requirements)

    def with_requirement(self, req: Requirement) -> LabelSelector:
        """A copy with one more requirement (kept sorted so equal selectors compare equal)."""
        return LabelSelector(_canonical((*self.requirements, req)))

    def describe(self) -> str:
        """Human form: ``{app=web, tier in (a,b)}``; ``{}`` selects all."""
        return "{" + ", ".join(req.describe() for req in self.requirements) + "}"


def _canonical(reqs: Sequence[Requirement]) -> tuple[Requirement, ...]:
    unique = set(reqs)
    return tuple(sorted(unique, key=lambda r: (r.key, r.op, sorted(r.values))))


def parse_selector(
    raw: Any, *, key_transform: Any = None, allow_null: bool = True
) -> LabelSelector:
    """Parse a ``LabelSelector`` dict.

    Args:
        raw: the ``{matchLabels, matchExpressions}`` mapping (``None`` means ``{}`` when
            ``allow_null``).
        key_transform: optional ``str -> str`` applied to every key (Cilium source prefixes).
        allow_null: accept ``None`` as an empty selector.

    Raises:
        SelectorError: on malformed input, with the relative path of the problem.
    """
    if raw is None and allow_null:
        return LabelSelector()
    if not isinstance(raw, Mapping):
        raise SelectorError("a label selector must be a mapping")
    transform = key_transform or (lambda k: k)
    reqs: list[Requirement] = []
    for field in raw:
        if field not in ("matchLabels", "matchExpressions"):
            raise SelectorError(f"unknown selector field {field!r}", (str(field),))
    labels = raw.get("matchLabels")
    if labels is not None:  # upstream examples write `matchLabels:` with a null value
        if not isinstance(labels, Mapping):
            raise SelectorError("matchLabels must be a mapping", ("matchLabels",))
        for key, value in labels.items():
            val = "" if value is None else _label_value(value)
            reqs.append(Requirement(transform(str(key)), "In", frozenset({val})))
    exprs = raw.get("matchExpressions")
    if exprs is not None:
        if not isinstance(exprs, Sequence) or isinstance(exprs, str):
            raise SelectorError("matchExpressions must be a list", ("matchExpressions",))
        for i, expr in enumerate(exprs):
            reqs.append(_parse_expression(expr, transform, ("matchExpressions", i)))
    return LabelSelector(_canonical(reqs))


def _label_value(value: Any) -> str:
    if isinstance(value, bool):  # YAML 1.1 turns an unquoted `true` into a bool
        return "true" if value else "false"
    return str(value)


def _parse_expression(expr: Any, transform: Any, path: tuple[str | int, ...]) -> Requirement:
    if not isinstance(expr, Mapping):
        raise SelectorError("a match expression must be a mapping", path)
    unknown = set(expr) - {"key", "operator", "values"}
    if unknown:
        raise SelectorError(f"unknown match expression field {sorted(unknown)[0]!r}", path)
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values")
    if not isinstance(key, str) or not key:
        raise SelectorError("match expression needs a key", (*path, "key"))
    if op not in OPERATORS:
        raise SelectorError(
            f"operator must be one of {', '.join(OPERATORS)}, not {op!r}", (*path, "operator")
        )
    vals = [] if values is None else values
    if not isinstance(vals, Sequence) or isinstance(vals, str):
        raise SelectorError("values must be a list", (*path, "values"))
    if op in ("In", "NotIn") and not vals:
        raise SelectorError(f"operator {op} needs at least one value", (*path, "values"))
    if op in ("Exists", "DoesNotExist") and vals:
        raise SelectorError(f"operator {op} takes no values", (*path, "values"))
    return Requirement(transform(key), op, frozenset(_label_value(v) for v in vals))


class LabelIndex:
    """Inverted index from labels to bitsets over a fixed list of label sets."""

    def __init__(self, label_sets: Sequence[Mapping[str, str]], offset: int = 0) -> None:
        self.all = ((1 << len(label_sets)) - 1) << offset
        self._kv: dict[tuple[str, str], int] = {}
        self._key: dict[str, int] = {}
        self._cache: dict[LabelSelector, int] = {}
        for i, labels in enumerate(label_sets):
            bit = 1 << (i + offset)
            for key, value in labels.items():
                self._kv[(key, value)] = self._kv.get((key, value), 0) | bit
                self._key[key] = self._key.get(key, 0) | bit

    def select(self, selector: LabelSelector) -> int:
        """Bitset of the label sets the selector matches."""
        cached = self._cache.get(selector)
        if cached is not None:
            return cached
        bits = self.all
        for req in selector.requirements:
            bits &= self._requirement(req)
            if not bits:
                break
        self._cache[selector] = bits
        return bits

    def _requirement(self, req: Requirement) -> int:
        if req.op in ("In", "NotIn"):
            hit = 0
            for value in req.values:
                hit |= self._kv.get((req.key, value), 0)
            return hit if req.op == "In" else self.all & ~hit
        present = self._key.get(req.key, 0)
        return present if req.op == "Exists" else self.all & ~present
