"""Where each key and item of a user's YAML file was written.

The one YAML loader (``adapters.yamlio``) builds :class:`PositionedDict` and
:class:`PositionedList`; the pure code (config errors, values checks, policy parsers) walks
them with :func:`position_of` to point at ``file:line:col`` without any I/O of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Position = tuple[int, int]  # 0-based line and column, as YAML parsers report them


class PositionedDict(dict[Any, Any]):
    """A mapping that remembers where each of its keys was written."""

    __slots__ = ("positions", "start")

    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[Any, Position] = {}
        self.start: Position | None = None


class PositionedList(list[Any]):
    """A sequence that remembers where each of its items was written."""

    __slots__ = ("positions", "start")

    def __init__(self) -> None:
        super().__init__()
        self.positions: list[Position] = []
        self.start: Position | None = None


def position_of(root: Any, path: Sequence[Any]) -> Position | None:
    """The position of the deepest key or item along ``path`` that the document has.

    A path that runs past the document (a missing key) stops at the last part found, or at
    the start of ``root`` when not even the first part is there.
    """
    best: Position | None = getattr(root, "start", None)
    node = root
    for part in path:
        pos: Position | None = None
        if isinstance(node, PositionedDict):
            pos = node.positions.get(part)
        elif isinstance(node, PositionedList) and isinstance(part, int):
            if 0 <= part < len(node.positions):
                pos = node.positions[part]
        if pos is not None:
            best = pos
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return best
