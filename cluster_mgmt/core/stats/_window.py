"""The time window of a statistics run: durations, timestamps and the step grid."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cluster_mgmt.errors import UserError

DEFAULT_SINCE_S = 24 * 3600
# Prometheus refuses range queries with more than 11,000 points per series.
MAX_POINTS = 11_000
# An automatic step aims at about this many points: enough for a chart, small on the wire.
TARGET_POINTS = 720
MIN_AUTO_STEP_S = 60
_NICE_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
# Prometheus' default lookback: a series counts as present this long after its last sample.
# Also how old a sample before the window may be to serve as a series' baseline.
LOOKBACK_S = 300

_DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The window ``[start, end]`` and the step grid a range query evaluates over it.

    The grid ends at ``end`` and goes back whole steps to :attr:`origin` (at or before
    ``start``): ``origin``, ``origin + step``, …, ``end``. Interval ``i`` (0-based) is
    ``(max(origin + i * step, start), origin + (i + 1) * step]``; only the first one can be
    shorter than a step, when the window is not a whole number of steps.
    """

    start: int
    end: int
    step: int

    @property
    def intervals(self) -> int:
        """How many intervals the window has (one fewer than grid points)."""
        return -(-(self.end - self.start) // self.step)

    @property
    def origin(self) -> int:
        """The first grid point: ``end`` minus whole steps, at or before ``start``."""
        return self.end - self.intervals * self.step

    @property
    def seconds(self) -> int:
        """The window's length in seconds."""
        return self.end - self.start

    @property
    def lookback(self) -> int:
        """How far back a grid point looks for its sample: a step, and at least 5 minutes.

        At least a step, so that every raw sample is seen at the end of its interval; at
        least Prometheus' lookback, so that a series scraped less often than the step still
        shows at every grid point rather than as a run of gaps.
        """
        return max(self.step, LOOKBACK_S)

    def step_times(self) -> list[int]:
        """The end of every interval: ``origin + step`` … ``end``."""
        return [self.end - (self.intervals - 1 - i) * self.step for i in range(self.intervals)]

    def interval_seconds(self) -> list[int]:
        """The length of every interval (the first can be shorter than a step)."""
        lengths = [self.step] * self.intervals
        lengths[0] = self.origin + self.step - self.start
        return lengths

    def interval_of(self, timestamp: float) -> int | None:
        """The index of the interval holding ``timestamp``; ``None`` outside ``(start, end]``."""
        if not self.start < timestamp <= self.end:
            return None
        return max(0, math.ceil((timestamp - self.origin) / self.step) - 1)


def parse_duration(text: str) -> int:
    """Parse a Prometheus-style duration (``90s``, ``15m``, ``1h30m``, ``7d``) or plain seconds.

    Raises:
        UserError: the text is not a positive duration of whole seconds.
    """
    value = text.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        pos, total_ms = 0, 0
        for match in _DURATION_RE.finditer(value):
            if match.start() != pos:
                break
            amount, unit = int(match.group(1)), match.group(2)
            total_ms += amount if unit == "ms" else amount * _DURATION_UNITS[unit] * 1000
            pos = match.end()
        if pos != len(value) or not value:
            raise UserError(
                f"invalid duration {text!r}", hint="use e.g. 30s, 15m, 24h, 7d or 1h30m"
            )
        if total_ms % 1000:
            raise UserError(f"duration {text!r} is not a whole number of seconds")
        seconds = total_ms // 1000
    if seconds <= 0:
        raise UserError(f"duration {text!r} must be positive")
    return seconds


def parse_time(text: str) -> int:
    """Parse an RFC 3339 timestamp (``2026-01-31T12:00:00Z``) or unix seconds.

    Raises:
        UserError: the text is neither, or has no UTC offset.
    """
    value = text.strip()
    try:
        return int(float(value)) if re.fullmatch(r"\d+(\.\d+)?", value) else _parse_rfc3339(value)
    except ValueError as exc:
        raise UserError(
            f"invalid time {text!r}: {exc}",
            hint="use RFC 3339 (2026-01-31T12:00:00Z) or unix seconds",
        ) from exc


def _parse_rfc3339(value: str) -> int:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no UTC offset (add Z or +01:00)")
    return math.floor(moment.timestamp())


def format_time(unix_s: float) -> str:
    """RFC 3339 in UTC, seconds precision: ``2026-01-31T12:00:00Z``."""
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def auto_step(seconds: int) -> int:
    """A round step giving about :data:`TARGET_POINTS` points over ``seconds``."""
    wanted = max(MIN_AUTO_STEP_S, math.ceil(seconds / TARGET_POINTS))
    for step in _NICE_STEPS_S:
        if step >= wanted:
            return step
    return math.ceil(wanted / 86400) * 86400


def plan_window(
    *,
    now: float,
    since_s: int | None = None,
    start: int | None = None,
    end: int | None = None,
    step_s: int | None = None,
) -> TimeWindow:
    """Turn the ``--since/--start/--end/--step`` options into a window and its step.

    ``--start`` and ``--end`` are kept as given; if the window is not a whole number of
    steps, its first interval is shorter. ``--start`` without ``--end`` ends at the last
    whole step before now. Without ``--start``, the window ends at ``--end``, or at now
    rounded down to the step (repeated runs agree and the last interval is complete), and
    reaches back ``--since`` (default 24h).

    Raises:
        UserError: conflicting options, an empty window, or too many points.
    """
    if start is not None and since_s is not None:
        raise UserError("give either --since or --start, not both")
    until = end if end is not None else math.floor(now)
    span = until - start if start is not None else (since_s or DEFAULT_SINCE_S)
    if span <= 0:
        raise UserError("the time range is empty: --start must be before --end")
    step = step_s if step_s is not None else auto_step(span)
    if step > span:
        raise UserError(f"--step {step}s is longer than the time range ({span}s)")
    intervals = -(-span // step)
    if intervals + 1 > MAX_POINTS:
        raise UserError(
            f"{intervals + 1} points per series is more than Prometheus allows ({MAX_POINTS})",
            hint=f"use a larger --step (at least {math.ceil(span / (MAX_POINTS - 1))}s)",
        )
    if start is not None:
        if end is None:  # up to now: whole steps, the last one complete
            return TimeWindow(start=start, end=start + span // step * step, step=step)
        return TimeWindow(start=start, end=end, step=step)
    if end is None:
        until -= until % step
    return TimeWindow(start=until - span, end=until, step=step)
