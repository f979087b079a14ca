"""Packet statistics from Hubble metrics: PromQL, counter arithmetic and report shaping.

Pure: no I/O. The use case (``ops.stats``) runs the queries this module builds and hands the
answers back here.

What a total is (``docs/stats.md`` has the same rule for readers). Per raw counter series,
take its samples with timestamps in ``(start, end]``, preceded by its *baseline*: the last
sample in ``[start - 5m, start]`` (Prometheus' lookback), if there is one; otherwise the
first sample in the window is the baseline and is not counted. The total is the sum, over
consecutive samples ``a, b`` of that sequence, of ``b - a``, or of ``b`` when ``b < a`` (a
counter reset: the agent restarted and counted up from zero again, Prometheus' rule).
Gaps do not matter: the increase across them is counted.

How that is computed exactly without fetching every raw sample. Each measure is **one**
range query on a step grid ending at ``end``. Per series it returns the last raw sample at
or before every grid point (``last_over_time``), the baseline (``@ start``), and a flag on
the grid points whose interval, together with the sample before it, holds a counter reset
(``resets``). Where the previous sample is known and no reset is flagged, the increase over
an interval is the difference of the two grid values, exactly. Only the intervals where a
series resets, is born or comes back after a gap of more than the lookback need the raw
samples: those are fetched by a few instant queries, series and intervals batched.

A flow is attributed to every *selected* namespace among its ``source`` and ``destination``
labels, once per namespace: a flow inside NS (source = destination = NS) counts once for NS,
which is what GitLab's ``... or on(source,destination,verdict) ...`` query achieved.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, cast

from cluster_mgmt.errors import UserError

FLOWS_METRIC = "hubble_flows_processed_total"
DROPS_METRIC = "hubble_drop_total"
FORWARDED = "FORWARDED"
DROPPED = "DROPPED"
VERDICTS = (FORWARDED, DROPPED)
DROP_METRIC_OPTION = "drop:sourceContext=namespace;destinationContext=namespace"
MISSING_METRICS_MESSAGE = (
    "Hubble flow metrics not found: is hubble.metrics.enabled set and scraped?"
)

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
# Marks the auxiliary series of a counter query (baseline, reset flags) in its answer.
AUX_LABEL = "cluster_mgmt_aux"
# Refinement queries (raw samples where grid values are not enough): at most this many
# series each, and about this many series × seconds of samples, so answers stay small.
REFINE_MAX_SERIES = 100
REFINE_BUDGET_SERIES_S = 400 * 3600

_DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
# Kubernetes namespace names are DNS-1123 labels; anything else cannot match a Hubble label.
_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class LabelledSeries(Protocol):
    """A range-query result series: its labels and ``(unix seconds, value)`` points."""

    @property
    def labels(self) -> Mapping[str, str]:
        """The series' labels."""

    @property
    def points(self) -> Sequence[tuple[float, float]]:
        """The samples, oldest first."""


# --- time window --------------------------------------------------------------------------


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


# --- PromQL -------------------------------------------------------------------------------


def check_namespaces(namespaces: Iterable[str]) -> tuple[str, ...]:
    """Validate namespace names and drop duplicates, keeping the order given.

    Raises:
        UserError: a name is not a Kubernetes namespace name.
    """
    seen: dict[str, None] = {}
    for name in namespaces:
        if not _NAMESPACE_RE.fullmatch(name):
            raise UserError(f"{name!r} is not a Kubernetes namespace name")
        seen.setdefault(name, None)
    return tuple(seen)


def _selectors(metric: str, matchers: Sequence[str], namespaces: Sequence[str]) -> tuple[str, ...]:
    """``metric{…}`` for all namespaces, or its destination- and source-side selectors."""
    if not namespaces:
        return (f"{metric}{{{','.join(matchers)}}}" if matchers else metric,)
    # Names are validated DNS labels: no regex metacharacters to escape. PromQL anchors =~.
    alternatives = "|".join(namespaces)
    sides = []
    for side in ("destination", "source"):
        side_matchers = ",".join([*matchers, f'{side}=~"{alternatives}"'])
        sides.append(f"{metric}{{{side_matchers}}}")
    return tuple(sides)


def flows_selectors(namespaces: Sequence[str] = ()) -> tuple[str, ...]:
    """Selectors of the forwarded and dropped flow counters (all namespaces when empty)."""
    verdicts = "|".join(VERDICTS)
    return _selectors(FLOWS_METRIC, [f'verdict=~"{verdicts}"'], namespaces)


def drops_selectors(namespaces: Sequence[str] = ()) -> tuple[str, ...]:
    """Selectors of the drop counters by reason (all namespaces when empty)."""
    return _selectors(DROPS_METRIC, [], namespaces)


def counter_query(selectors: Sequence[str], window: TimeWindow) -> str:
    """The one range query of a measure, evaluated on the window's grid.

    Per raw series (``or`` keeps a series matching several selectors once):

    - ``last_over_time(sel[lookback])``: the last sample at or before each grid point;
    - ``{cluster_mgmt_aux="base"}`` at the first grid point only: the baseline, the last
      sample in the 5 minutes up to ``start`` (``@`` evaluates it once);
    - ``{cluster_mgmt_aux="reset"}`` at the grid points whose range — the interval and the
      lookback before it, so the sample preceding the interval too — holds a reset.
      Sparse: resets are rare, so the answer stays about the size of the values alone.
    """
    reset_range = window.step + window.lookback
    parts = [
        f'label_replace(resets({sel}[{reset_range}s]) > 0, "{AUX_LABEL}", "reset", "", "")'
        for sel in selectors
    ]
    parts += [
        f"label_replace(last_over_time({sel}[{LOOKBACK_S}s] @ {window.start}) "
        f'and on() vector(time()) <= {window.origin}, "{AUX_LABEL}", "base", "", "")'
        for sel in selectors
    ]
    # The large operand last: each `or` hashes both sides at every step.
    parts += [f"last_over_time({sel}[{window.lookback}s])" for sel in selectors]
    return " or ".join(parts)


def presence_query(metric: str, window: TimeWindow) -> str:
    """An instant query (at ``window.end``) that is non-empty iff ``metric`` had samples."""
    return f"group(last_over_time({metric}[{window.seconds + LOOKBACK_S}s]))"


class DropMetric(Enum):
    """What Prometheus has of ``hubble_drop_total``."""

    LABELLED = "labelled"  # with source/destination: reasons per namespace
    UNLABELLED = "unlabelled"  # plain `drop` metric: reason and protocol only
    ABSENT = "absent"


DROP_METRIC_NOTES = {
    DropMetric.UNLABELLED: f"{DROPS_METRIC} has no namespace labels, so drop reasons are not "
    f"given per namespace: enable the Hubble metric {DROP_METRIC_OPTION!r}",
    DropMetric.ABSENT: f"no {DROPS_METRIC} in Prometheus, so no drop reasons: enable the "
    f"Hubble metric {DROP_METRIC_OPTION!r}",
}


def drops_presence_query(window: TimeWindow) -> str:
    """One instant query telling the three :class:`DropMetric` states apart.

    Empty when the metric is absent; an element without the ``unlabelled`` label when some
    series carry namespace labels; otherwise only ``{unlabelled="true"}``.
    """
    lookback = f"{window.seconds + LOOKBACK_S}s"
    labelled = " or ".join(
        f'group(last_over_time({DROPS_METRIC}{{{side}!=""}}[{lookback}]))'
        for side in ("source", "destination")
    )
    # `or` keeps right-hand elements whose labels differ from every left-hand one.
    anything = f"group(last_over_time({DROPS_METRIC}[{lookback}]))"
    marked = f'label_replace({anything}, "unlabelled", "true", "", "")'
    return f"{labelled} or {marked}"


def drop_metric_state(series: Iterable[LabelledSeries], *, presence: bool = False) -> DropMetric:
    """Classify a :func:`drops_query` result, or with ``presence`` a presence-query result."""
    state = DropMetric.ABSENT
    for item in series:
        labels = item.labels
        if (
            "unlabelled" not in labels
            if presence
            else (labels.get("source") or labels.get("destination"))
        ):
            return DropMetric.LABELLED
        state = DropMetric.UNLABELLED
    return state


# --- counter arithmetic -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counter:
    """One raw counter series, as its measure's range query (:func:`counter_query`) saw it.

    Attributes:
        labels: the series' labels, without ``__name__``.
        values: the last sample at or before each grid point (index ``k`` is
            ``origin + k * step``); ``None`` where there was none within the lookback.
        base: the baseline: the last sample in the 5 minutes up to ``start``, if any.
        resets: the intervals whose grid range holds a reset.
        refined: raw samples in ``(interval start, interval end]``, for the intervals that
            need them (:func:`refine_intervals`), filled by :func:`apply_refinements`.
    """

    labels: Mapping[str, str]
    values: Sequence[float | None]
    base: float | None
    resets: frozenset[int]
    refined: dict[int, list[tuple[float, float]]] = field(default_factory=dict)


_NOT_IDENTITY = frozenset({"__name__", AUX_LABEL})


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in _NOT_IDENTITY))


def read_counters(series: Iterable[LabelledSeries], window: TimeWindow) -> list[Counter]:
    """Group the answer of a :func:`counter_query` into one :class:`Counter` per raw series.

    Points off the grid or outside it are ignored; so are NaN and infinities.
    """
    origin, step, points_wanted = window.origin, window.step, window.intervals + 1
    entries: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for item in series:
        labels = item.labels
        key = _key(labels)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = [dict(key), None, None, set()]
        aux = labels.get(AUX_LABEL)
        points = item.points
        if aux == "base":
            entry[2] = next((v for _, v in points if not v - v), None)  # v - v: NaN, ±inf
        elif aux == "reset":
            entry[3].update(round((t - origin) / step) - 1 for t, _ in points if t > origin)
        elif aux is None:
            values = [value for _, value in points]
            if (
                len(points) == points_wanted
                and points[0][0] == origin
                and not any(value - value for value in values)
            ):
                # The common case: a value at every grid point, in order.
                entry[1] = values
                continue
            grid: list[float | None] = [None] * points_wanted
            for timestamp, value in points:
                index, off_grid = divmod(timestamp - origin, step)
                if not off_grid and 0 <= index < points_wanted and not value - value:
                    grid[int(index)] = value
            entry[1] = grid
    return [
        Counter(
            labels=labels,
            values=values if values is not None else [None] * points_wanted,
            base=base,
            resets=frozenset(resets),
        )
        for labels, values, base, resets in entries.values()
    ]


def refine_intervals(counter: Counter, window: TimeWindow) -> list[int]:
    """The intervals of ``counter`` whose increase the grid values cannot give exactly.

    The increase over an interval is the difference of the grid values at its ends when
    the sample before the interval is known and was seen at the previous grid point (so it
    lies within the reset flag's range), and no reset is flagged. Otherwise — the series has
    no baseline yet (born in the window), comes back after a gap longer than the lookback,
    or resets — the interval's raw samples are needed.
    """
    values, resets = counter.values, counter.resets
    known = counter.base is not None
    if known and not resets and None not in values:
        return []
    needed: list[int] = []
    previous_seen = known
    # Before this, a grid value may be a sample from before the window (not a baseline),
    # so refining an interval may not find the series' first sample yet.
    settled = window.start + window.lookback
    for i in range(window.intervals):
        if values[i + 1] is None:
            previous_seen = False
            continue
        if not known or not previous_seen or i in resets:
            needed.append(i)
            known = known or window.origin + (i + 1) * window.step >= settled
        previous_seen = True
    return needed


@dataclass(frozen=True, slots=True)
class CounterIncrease:
    """What one counter series added over a window.

    Attributes:
        total: the increase over the whole window, resets and gaps accounted for.
        per_interval: the increase within each interval (see :class:`TimeWindow`);
            ``None`` where the series had no sample, and where it came back after a gap
            (the increase across the gap is in ``total`` only).
    """

    total: float
    per_interval: tuple[float | None, ...]


def counter_increase(counter: Counter, window: TimeWindow) -> CounterIncrease:
    """The increase of one counter series over the window (see the module docstring)."""
    values, previous = counter.values, counter.base
    if previous is not None and not counter.resets and None not in values:
        # Fast path, the common case: differences of consecutive grid values.
        grid = cast("list[float]", [previous, *values[1:]])
        steps = [b - a if b >= a else b for a, b in zip(grid, grid[1:], strict=False)]
        return CounterIncrease(total=sum(steps), per_interval=tuple(steps))
    refined = counter.refined
    per_interval: list[float | None] = [None] * window.intervals
    total = 0.0
    previous_seen = previous is not None
    for i in range(window.intervals):
        value = values[i + 1]
        if value is None:
            previous_seen = False
            continue
        # Back after a gap: the increase across it counts in the total, but has no place in
        # the rate series (it happened somewhere in the gap).
        back = previous is not None and not previous_seen
        previous_seen = True
        samples = refined.get(i)
        if samples is not None:
            increase = 0.0
            seen = previous is not None
            for _, sample in samples:
                if previous is not None:
                    increase += sample - previous if sample >= previous else sample
                previous = sample
            if not seen and not samples:
                continue  # only a sample from before the window: not a baseline
        elif previous is None:
            # Not refined (cannot happen for a plan from refine_intervals): a baseline.
            previous, per_interval[i] = value, 0.0
            continue
        else:
            increase = value - previous if value >= previous else value  # reset: from zero
            previous = value
        total += increase
        per_interval[i] = None if back else increase
    return CounterIncrease(total=total, per_interval=tuple(per_interval))


@dataclass(frozen=True, slots=True)
class RefineQuery:
    """An instant query for raw samples: ``selector[range]`` evaluated at :attr:`at`.

    Attributes:
        expr: the PromQL range-vector selector.
        at: the evaluation time: the end of the last interval it covers.
        members: which counters (by index) need which of its intervals.
    """

    expr: str
    at: int
    members: tuple[tuple[int, tuple[int, ...]], ...]


def refine_queries(
    metric: str,
    counters: Sequence[Counter],
    window: TimeWindow,
    namespaces: Sequence[str] = (),
) -> list[RefineQuery]:
    """The instant queries fetching the raw samples the counters of one measure need.

    Only counters that count for a selected namespace (and, for flows, a counted verdict)
    are refined. Intervals next to each other, for whichever series, share a query; nearby
    runs are merged while the query stays small (:data:`REFINE_BUDGET_SERIES_S`,
    :data:`REFINE_MAX_SERIES`). Each query selects its series by their labels.
    """
    selected = frozenset(namespaces) if namespaces else None
    needs: dict[int, list[int]] = {}
    for index, counter in enumerate(counters):
        if not _namespaces_of(counter.labels, selected):
            continue
        if metric == FLOWS_METRIC and counter.labels.get("verdict") not in VERDICTS:
            continue
        intervals = refine_intervals(counter, window)
        if intervals:
            needs[index] = intervals
    if not needs:
        return []
    by_interval: dict[int, set[int]] = {}
    for index, intervals in needs.items():
        for i in intervals:
            by_interval.setdefault(i, set()).add(index)
    # Runs of consecutive intervals, then runs merged into groups under the budget.
    groups: list[tuple[int, int, set[int]]] = []
    for i in sorted(by_interval):
        series = by_interval[i]
        if groups:
            first, last, group = groups[-1]
            union = group | series
            seconds = window.step * (i - first + 1)
            if i == last + 1 or (
                len(union) <= REFINE_MAX_SERIES and len(union) * seconds <= REFINE_BUDGET_SERIES_S
            ):
                groups[-1] = (first, i, union)
                continue
        groups.append((i, i, set(series)))
    queries = []
    times = window.step_times()
    for first, last, group in groups:
        low = window.start if first == 0 else times[first - 1]
        ordered = sorted(group)
        for chunk_start in range(0, len(ordered), REFINE_MAX_SERIES):
            chunk = ordered[chunk_start : chunk_start + REFINE_MAX_SERIES]
            selector = _exact_selector(metric, [counters[index].labels for index in chunk])
            members = tuple(
                (index, tuple(i for i in needs[index] if first <= i <= last)) for index in chunk
            )
            queries.append(
                RefineQuery(
                    expr=f"{selector}[{times[last] - low}s]", at=times[last], members=members
                )
            )
    return queries


def apply_refinements(
    counters: Sequence[Counter],
    window: TimeWindow,
    queries: Sequence[RefineQuery],
    answers: Sequence[Iterable[LabelledSeries]],
) -> None:
    """Give each counter the raw samples of its intervals from the queries' answers."""
    for query, answer in zip(queries, answers, strict=True):
        found = {_key(series.labels): series.points for series in answer}
        for index, intervals in query.members:
            counter = counters[index]
            buckets: dict[int, list[tuple[float, float]]] = {i: [] for i in intervals}
            for timestamp, value in found.get(_key(counter.labels), ()):
                bucket = buckets.get(window.interval_of(timestamp))  # type: ignore[arg-type]
                if bucket is not None and not value - value:
                    bucket.append((timestamp, value))
            counter.refined.update(buckets)


def _exact_selector(metric: str, label_sets: Sequence[Mapping[str, str]]) -> str:
    """A selector matching at least the series with these label sets (and few others)."""
    matchers = []
    for name in sorted({name for labels in label_sets for name in labels}):
        values = sorted({labels.get(name, "") for labels in label_sets})
        if len(values) == 1:
            matchers.append(f"{name}={_promql_string(values[0])}")
        else:
            pattern = "|".join(_RE2_SPECIAL.sub(r"\\\g<0>", value) for value in values)
            matchers.append(f"{name}=~{_promql_string(pattern)}")
    return f"{metric}{{{','.join(matchers)}}}"


_RE2_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")


def _promql_string(text: str) -> str:
    # PromQL strings take Go's escapes, a superset of what JSON writes.
    return json.dumps(text)


class _Accumulator:
    """Totals and per-interval sums for one key (a namespace and verdict, say)."""

    __slots__ = ("known", "sums", "total")

    def __init__(self, intervals: int) -> None:
        self.total = 0.0
        self.sums = [0.0] * intervals
        self.known = [False] * intervals  # whether any series had both samples

    def add(self, increase: CounterIncrease) -> None:
        self.total += increase.total
        values = increase.per_interval
        self.sums = [s if v is None else s + v for s, v in zip(self.sums, values, strict=True)]
        self.known = [k or v is not None for k, v in zip(self.known, values, strict=True)]

    @property
    def per_interval(self) -> list[float | None]:
        """The sum per interval; ``None`` where no series had samples."""
        return [s if k else None for s, k in zip(self.sums, self.known, strict=True)]


def _namespaces_of(labels: Mapping[str, str], selected: frozenset[str] | None) -> set[str]:
    found = {labels.get("source", ""), labels.get("destination", "")}
    found.discard("")
    return found if selected is None else found & selected


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RatePoint:
    """Average rates over the interval ending at ``t`` (``None``: no samples)."""

    t: int
    forwarded_per_s: float | None
    dropped_per_s: float | None


@dataclass(frozen=True, slots=True)
class FlowStats:
    """Forwarded and dropped flows of one namespace (or of a whole selection) over a window.

    Attributes:
        namespace: the namespace, or a label such as ``3 namespaces`` for a selection.
        window: the time window.
        forwarded: flows forwarded in the window.
        dropped: flows dropped in the window.
        series: average rates per step interval.
        drop_reasons: dropped packets by ``reason`` from ``hubble_drop_total``, largest
            first; ``None`` when that metric (with namespace labels) is not enabled.
    """

    namespace: str
    window: TimeWindow
    forwarded: float
    dropped: float
    series: tuple[RatePoint, ...]
    drop_reasons: Mapping[str, float] | None

    @property
    def drop_ratio(self) -> float | None:
        """Dropped / (forwarded + dropped); ``None`` when there were no flows."""
        flows = self.forwarded + self.dropped
        return self.dropped / flows if flows else None

    @property
    def forwarded_per_s(self) -> float:
        """Average forwarded flows per second over the window."""
        return self.forwarded / self.window.seconds

    @property
    def dropped_per_s(self) -> float:
        """Average dropped flows per second over the window."""
        return self.dropped / self.window.seconds


@dataclass(frozen=True, slots=True)
class Summary:
    """The statistics of one run.

    Attributes:
        namespaces: one entry per namespace.
        selection: the whole selection with each flow counted once (what the chart shows);
            a flow between two selected namespaces is in both their rows but once here.
    """

    namespaces: tuple[FlowStats, ...]
    selection: FlowStats


def summarize(
    window: TimeWindow,
    flow_counters: Iterable[Counter],
    drop_counters: Iterable[Counter] | None,
    namespaces: Sequence[str] = (),
) -> Summary:
    """Statistics from the counters of the flows and drops measures.

    Args:
        window: the window both queries were evaluated over.
        flow_counters: ``hubble_flows_processed_total`` series (:func:`read_counters`),
            refined where needed (:func:`apply_refinements`).
        drop_counters: ``hubble_drop_total`` series, or ``None`` when that metric is absent.
        namespaces: the selected namespaces, reported in this order even without flows;
            empty for every namespace that appears in the flow series, sorted.
    """
    selected = frozenset(namespaces) if namespaces else None
    flows: dict[tuple[str, str], _Accumulator] = {}
    whole = {verdict: _Accumulator(window.intervals) for verdict in VERDICTS}
    for counter in flow_counters:
        verdict = counter.labels.get("verdict", "")
        targets = _namespaces_of(counter.labels, selected)
        if verdict not in VERDICTS or not targets:
            continue
        increase = counter_increase(counter, window)
        if not increase.total and all(v is None for v in increase.per_interval):
            continue  # only seen through the lookback, before the window: not in it
        whole[verdict].add(increase)
        for namespace in targets:
            key = (namespace, verdict)
            if key not in flows:
                flows[key] = _Accumulator(window.intervals)
            flows[key].add(increase)
    reasons = _drop_reasons(window, drop_counters, selected)
    names = list(namespaces) if namespaces else sorted({namespace for namespace, _ in flows})
    empty = _Accumulator(window.intervals)
    rows = tuple(
        _flow_stats(
            name,
            window,
            flows.get((name, FORWARDED), empty),
            flows.get((name, DROPPED), empty),
            None if reasons is None else reasons.get(name, {}),
        )
        for name in names
    )
    label = names[0] if len(names) == 1 else f"{len(names)} namespaces"
    selection = _flow_stats(label, window, whole[FORWARDED], whole[DROPPED], None)
    return Summary(namespaces=rows, selection=selection)


def _drop_reasons(
    window: TimeWindow,
    drop_counters: Iterable[Counter] | None,
    selected: frozenset[str] | None,
) -> dict[str, dict[str, float]] | None:
    if drop_counters is None:
        return None
    by_namespace: dict[str, dict[str, float]] = {}
    labelled = seen_any = False
    for counter in drop_counters:
        seen_any = True
        targets = _namespaces_of(counter.labels, selected)
        if not targets:
            continue
        labelled = True
        reason = counter.labels.get("reason") or "UNKNOWN"
        total = counter_increase(counter, window).total
        for namespace in targets:
            counts = by_namespace.setdefault(namespace, {})
            counts[reason] = counts.get(reason, 0.0) + total
    if seen_any and not labelled:
        return None  # the metric exists without namespace labels: nothing to attribute
    return {
        namespace: dict(sorted(((r, c) for r, c in counts.items() if c > 0), key=_by_count))
        for namespace, counts in by_namespace.items()
    }


def _by_count(item: tuple[str, float]) -> tuple[float, str]:
    return (-item[1], item[0])


def _flow_stats(
    namespace: str,
    window: TimeWindow,
    forwarded: _Accumulator,
    dropped: _Accumulator,
    drop_reasons: Mapping[str, float] | None,
) -> FlowStats:
    fwd_known, drp_known = any(forwarded.known), any(dropped.known)
    # A namespace with series of one verdict only had zero flows of the other.
    fwd = forwarded.per_interval if fwd_known or not drp_known else dropped.per_interval
    drp = dropped.per_interval if drp_known or not fwd_known else forwarded.per_interval
    series = tuple(
        RatePoint(
            t=t,
            forwarded_per_s=None if f is None else (f / seconds if fwd_known else 0.0),
            dropped_per_s=None if d is None else (d / seconds if drp_known else 0.0),
        )
        for t, seconds, f, d in zip(
            window.step_times(), window.interval_seconds(), fwd, drp, strict=True
        )
    )
    return FlowStats(
        namespace=namespace,
        window=window,
        forwarded=forwarded.total,
        dropped=dropped.total,
        series=series,
        drop_reasons=drop_reasons,
    )


# --- output shapes ------------------------------------------------------------------------


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
