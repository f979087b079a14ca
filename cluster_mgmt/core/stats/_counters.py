"""Counter arithmetic: a counter series' increase over a window, exact at any step.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cluster_mgmt.core.stats._promql import (
    AUX_LABEL,
    FLOWS_METRIC,
    VERDICTS,
    LabelledSeries,
    exact_selector,
    namespaces_of,
)
from cluster_mgmt.core.stats._window import TimeWindow

# Refinement queries (raw samples where grid values are not enough): at most this many
# series each, and about this many series × seconds of samples, so answers stay small.
REFINE_MAX_SERIES = 100
REFINE_BUDGET_SERIES_S = 400 * 3600


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
        if not namespaces_of(counter.labels, selected):
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
            selector = exact_selector(metric, [counters[index].labels for index in chunk])
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
