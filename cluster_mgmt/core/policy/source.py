"""Where things came from: positioned YAML nodes, locations and findings.

The YAML loader (``adapters.yamlio``) builds positioned mappings and lists
(``core.positions``) so the pure parsers here can point a finding at ``file:line:col``
without doing any I/O themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cluster_mgmt.core.positions import PositionedDict, PositionedList, position_of
from cluster_mgmt.errors import Location

__all__ = ["Finding", "PositionedDict", "PositionedList", "SourceDoc", "field_path", "locate"]


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One Kubernetes object read from a file (a List item is its own document)."""

    file: str
    obj: Mapping[str, Any]

    def locate(self, path: Sequence[str | int] = ()) -> Location:
        """Location of ``path`` inside this object (the deepest part that is known)."""
        return locate(self.file, self.obj, path)


def locate(file: str, root: Any, path: Sequence[str | int]) -> Location:
    """Walk ``path`` from ``root`` and return the last position found, with the field path."""
    best = position_of(root, path)
    field = field_path(path) or None
    if best is None:
        return Location(file, None, None, field)
    return Location(file, best[0] + 1, best[1] + 1, field)


def field_path(path: Sequence[str | int]) -> str:
    """``("spec", "ingress", 0, "from")`` -> ``spec.ingress[0].from``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class Severity(StrEnum):
    """How much a finding matters (printed and written to JSON as its value)."""

    ERROR = "error"  # the object is invalid and left out of the analysis
    WARNING = "warning"  # part of it is not analysed, or it is likely a mistake
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a parser, the linter or the safety check wants the user to know."""

    severity: Severity
    code: str
    message: str
    location: Location | None = None
    hint: str | None = None
    subject: str | None = None  # e.g. "CiliumNetworkPolicy app/allow-web"

    def render(self) -> str:
        """``file:line:col: field: [severity code] subject: message (hint: ...)``."""
        parts = []
        if self.location is not None:
            prefix = str(self.location)
            if self.location.field:
                prefix += f": {self.location.field}"
            parts.append(prefix + ":")
        parts.append(f"{self.severity} [{self.code}]")
        if self.subject:
            parts.append(f"{self.subject}:")
        parts.append(self.message)
        text = " ".join(parts)
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_json(self) -> dict[str, Any]:
        """A plain dict for ``-o json``."""
        loc = self.location
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "subject": self.subject,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.col if loc else None,
            "field": loc.field if loc else None,
            "hint": self.hint,
        }


def unknown_field_findings(
    doc: SourceDoc,
    subject: str,
    raw: Mapping[str, Any],
    known: set[str],
    path: Sequence[str | int],
    what: str,
) -> list[Finding]:
    """A warning for each key of ``raw`` outside ``known`` ("field 'x' is not WHAT ...")."""
    return [
        Finding(
            Severity.WARNING,
            "unknown-field",
            f"field {key!r} is not {what} and is not analysed",
            doc.locate((*path, str(key))),
            None,
            subject,
        )
        for key in raw
        if key not in known
    ]
