"""Which releases a helmfile diff or apply changes, read from its output; selector grammar.

Pure: lines in, values out. helmfile announces each release (``Comparing release=NAME,
chart=..., namespace=NS``) before helm-diff prints its blocks (``NS, NAME, KIND (VERSION) has
changed:`` / ``has been added:`` / ``has been removed:``; a release not yet installed says
``Release was not present in Helm``). ``apply`` ends with ``UPDATED RELEASES:`` and
``DELETED RELEASES:`` tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

_COMPARING = re.compile(
    r"Comparing release=(?P<name>[^,\s]+), chart=[^,]*, namespace=(?P<ns>[^,\s]*)"
)
_RESOURCE_CHANGE = re.compile(r"^\S+, \S+, .+ has (changed|been added|been removed):\s*$")
_NOT_PRESENT = "Release was not present in Helm"
_TABLES = {"UPDATED RELEASES:": "updated", "DELETED RELEASES:": "deleted"}
_SELECTOR_TERM = re.compile(r"[A-Za-z0-9_./-]+!?=[A-Za-z0-9_./-]+")


class Action(StrEnum):
    """What happens to a release."""

    INSTALL = "install"
    UPGRADE = "upgrade"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class ReleaseChange:
    """One release that differs from (plan) or was changed in (apply) the cluster."""

    release: str
    namespace: str
    action: Action


def parse_selector(text: str) -> str:
    """A helmfile release selector, ``K=V`` or ``K!=V`` terms joined by commas.

    Raises:
        ValueError: the text is not a selector (it would otherwise reach helmfile's argv).
    """
    terms = text.split(",")
    if not text or not all(_SELECTOR_TERM.fullmatch(term) for term in terms):
        raise ValueError(
            f"invalid selector {text!r}: expected KEY=VALUE or KEY!=VALUE terms joined by "
            "commas, e.g. name=cilium or namespace=monitoring,name!=prometheus"
        )
    return text


def selects(selectors: Sequence[str], labels: Mapping[str, str]) -> bool:
    """Whether helmfile's ``--selector`` arguments pick a release with these labels.

    As helmfile does: the terms of one selector must all hold (``K=V`` needs the label with
    that value; ``K!=V`` holds unless the label has that value), several selectors are
    OR-ed, and no selector picks every release. Its default labels are ``name``,
    ``namespace`` and ``chart`` (the chart's name without its repository).
    """
    if not selectors:
        return True
    for selector in selectors:
        terms = [term.split("!=", 1) if "!=" in term else term.split("=", 1)
                 for term in selector.split(",")]  # fmt: skip
        negated = ["!=" in term for term in selector.split(",")]
        if all(
            labels.get(key) != value if neg else labels.get(key) == value
            for (key, value), neg in zip(terms, negated, strict=True)
        ):
            return True
    return False


def changes_from_diff(lines: Iterable[str]) -> list[ReleaseChange]:
    """Releases whose helm-diff block shows a change, in output order."""
    order: list[tuple[str, str]] = []
    actions: dict[tuple[str, str], Action] = {}
    current: tuple[str, str] | None = None
    fresh: set[tuple[str, str]] = set()
    for line in lines:
        match = _COMPARING.search(line)
        if match:
            current = (match["name"], match["ns"])
            continue
        if current is None:
            continue
        if _NOT_PRESENT in line:
            fresh.add(current)
        elif _RESOURCE_CHANGE.match(line) and current not in actions:
            order.append(current)
            actions[current] = Action.INSTALL if current in fresh else Action.UPGRADE
    return [ReleaseChange(name, ns, actions[(name, ns)]) for name, ns in order]


def _tables(lines: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {"updated": [], "deleted": []}
    table: str | None = None
    columns: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped in _TABLES:
            table, columns = _TABLES[stripped], []
            continue
        if table is None:
            continue
        if not stripped:
            table = None if columns else table
            continue
        cells = stripped.split()
        if columns and len(cells) < 2:
            table = None
            continue
        if not columns:
            columns = [c.upper() for c in cells]
            continue
        namespace = cells[columns.index("NAMESPACE")] if "NAMESPACE" in columns else ""
        found[table].append((cells[0], namespace))
    return found


def changes_from_apply(lines: Iterable[str]) -> list[ReleaseChange]:
    """Releases ``helmfile apply`` installed, upgraded or deleted.

    The summary tables say which releases changed; the diff printed before them tells a
    first install from an upgrade.
    """
    lines = list(lines)
    diffed = {(c.release, c.namespace): c.action for c in changes_from_diff(lines)}
    by_name = {name: action for (name, _ns), action in diffed.items()}
    tables = _tables(lines)
    changes = [
        ReleaseChange(name, ns, diffed.get((name, ns), by_name.get(name, Action.UPGRADE)))
        for name, ns in tables["updated"]
    ]
    changes += [ReleaseChange(name, ns, Action.DELETE) for name, ns in tables["deleted"]]
    return changes
