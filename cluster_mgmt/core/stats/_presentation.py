"""What a user sees of the statistics: the JSON object and the table row of a namespace."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.stats._summary import FlowStats
from cluster_mgmt.core.stats._window import TimeWindow, format_time


def _number(value: float, digits: int | None = None) -> float | int:
    """Whole numbers as ints (counters count), others rounded for humans reading JSON."""
    if digits is None and float(value).is_integer():
        return int(value)
    return round(value, digits if digits is not None else 6)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@functools.lru_cache(maxsize=8)
def _step_labels(window: TimeWindow) -> tuple[str, ...]:
    # Every namespace of a run shares these: format them once, not once per namespace.
    return tuple(format_time(t) for t in window.step_times())


def to_json(stats: FlowStats) -> dict[str, Any]:
    """The documented JSON object of one namespace (see ``docs/stats.md``)."""
    ratio = stats.drop_ratio
    return {
        "namespace": stats.namespace,
        "start": format_time(stats.window.start),
        "end": format_time(stats.window.end),
        "forwarded": _number(stats.forwarded),
        "dropped": _number(stats.dropped),
        "drop_ratio": None if ratio is None else round(ratio, 4),
        "forwarded_per_s": _rate(stats.forwarded_per_s),
        "dropped_per_s": _rate(stats.dropped_per_s),
        "series": [
            {
                "t": label,
                "forwarded_per_s": _rate(point.forwarded_per_s),
                "dropped_per_s": _rate(point.dropped_per_s),
            }
            for label, point in zip(_step_labels(stats.window), stats.series, strict=True)
        ],
        "drop_reasons": None
        if stats.drop_reasons is None
        else {reason: _number(count) for reason, count in stats.drop_reasons.items()},
    }


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of the human table, already formatted."""

    namespace: str
    forwarded: str
    dropped: str
    drop_share: str
    forwarded_per_s: str
    dropped_per_s: str
    top_drop_reasons: str


TABLE_HEADERS = (
    "NAMESPACE",
    "FORWARDED",
    "DROPPED",
    "DROP %",
    "FWD/S",
    "DROP/S",
    "TOP DROP REASONS",
)


def table_row(stats: FlowStats, top_reasons: int = 3) -> TableRow:
    """Format one namespace for the table and the HTML report."""
    ratio = stats.drop_ratio
    if stats.drop_reasons is None:
        reasons = "n/a"
    else:
        top = list(stats.drop_reasons.items())[:top_reasons]
        reasons = ", ".join(f"{reason} ({_count_text(count)})" for reason, count in top) or "-"
    return TableRow(
        namespace=stats.namespace,
        forwarded=_count_text(stats.forwarded),
        dropped=_count_text(stats.dropped),
        drop_share="-" if ratio is None else f"{ratio * 100:.2f}",
        forwarded_per_s=f"{stats.forwarded_per_s:.3f}",
        dropped_per_s=f"{stats.dropped_per_s:.3f}",
        top_drop_reasons=reasons,
    )


def _count_text(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
