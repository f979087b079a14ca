"""Packet statistics from Hubble metrics: PromQL, counter arithmetic and report shaping.

Pure: no I/O. The use case (``ops.stats``) runs the queries this module builds and hands the
series back here.

How totals are counted. Each measure is **one** range query that returns the raw counter
series, sampled at every step of the window. Per series, the increase between two
consecutive samples is ``b - a``, or ``b`` when ``b < a`` (a counter reset: the agent
restarted and counted up from zero again, the rule Prometheus' ``increase()`` uses). The
first sample of a series is its baseline. Summing these increases, rather than asking
Prometheus for ``increase(...[range])``, keeps totals exact: ``increase()`` extrapolates to
the window edges and returns fractions. A gap (steps without a sample) does not lose counts:
the increase across it is added to the totals; the rate series has ``null`` there.

A flow is attributed to every *selected* namespace among its ``source`` and ``destination``
labels, once per namespace: a flow inside NS (source = destination = NS) counts once for NS,
which is what GitLab's ``... or on(source,destination,verdict) ...`` query achieved.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

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
LOOKBACK_S = 300

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
    """The steps a range query evaluates: ``start``, ``start + step``, …, ``end``.

    ``end - start`` is always a whole number of steps, so every step interval is complete.
    """

    start: int
    end: int
    step: int

    @property
    def intervals(self) -> int:
        """How many step intervals the window has (one fewer than points)."""
        return (self.end - self.start) // self.step

    @property
    def seconds(self) -> int:
        """The window's length in seconds."""
        return self.end - self.start

    def step_times(self) -> list[int]:
        """The end of every step interval: ``start + step`` … ``end``."""
        return [self.start + (i + 1) * self.step for i in range(self.intervals)]


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
    """Turn the ``--since/--start/--end/--step`` options into a whole-step window.

    With ``--start``, the window starts there and ends at the last whole step before
    ``--end`` (or now). Otherwise it ends at ``--end``, or at now rounded down to the step
    (repeated runs agree and the last interval is complete), and reaches back ``--since``
    (default 24h) in whole steps.

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
    intervals = span // step
    if intervals < 1:
        raise UserError(f"--step {step}s is longer than the time range ({span}s)")
    if intervals + 1 > MAX_POINTS:
        raise UserError(
            f"{intervals + 1} points per series is more than Prometheus allows ({MAX_POINTS})",
            hint=f"use a larger --step (at least {math.ceil(span / (MAX_POINTS - 1))}s)",
        )
    if start is not None:
        return TimeWindow(start=start, end=start + intervals * step, step=step)
    if end is None:
        until -= until % step
    return TimeWindow(start=until - intervals * step, end=until, step=step)


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


def _selector(metric: str, matchers: Sequence[str], namespaces: Sequence[str]) -> str:
    """``metric{…}`` for all namespaces, or the union of its source- and destination-side."""
    if not namespaces:
        return f"{metric}{{{','.join(matchers)}}}" if matchers else metric
    # Names are validated DNS labels: no regex metacharacters to escape. PromQL anchors =~.
    alternatives = "|".join(namespaces)
    sides = []
    for side in ("destination", "source"):
        side_matchers = ",".join([*matchers, f'{side}=~"{alternatives}"'])
        sides.append(f"{metric}{{{side_matchers}}}")
    # `or` keeps each raw series once even when it matches both sides.
    return " or ".join(sides)


def flows_query(namespaces: Sequence[str] = ()) -> str:
    """The range query for forwarded and dropped flow counters (all namespaces when empty)."""
    verdicts = "|".join(VERDICTS)
    return _selector(FLOWS_METRIC, [f'verdict=~"{verdicts}"'], namespaces)


def drops_query(namespaces: Sequence[str] = ()) -> str:
    """The range query for drop counters by reason (all namespaces when empty)."""
    return _selector(DROPS_METRIC, [], namespaces)


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
class CounterIncrease:
    """What one counter series added over a window.

    Attributes:
        total: the increase over the whole window, resets and gaps accounted for.
        per_interval: the increase within each step interval (index ``i`` ends at
            ``start + (i + 1) * step``); ``None`` where a sample is missing at either end.
    """

    total: float
    per_interval: tuple[float | None, ...]


def counter_increase(points: Sequence[tuple[float, float]], window: TimeWindow) -> CounterIncrease:
    """The increase of one counter series sampled at the window's steps.

    Points off the step grid or outside the window are ignored; so are NaN and infinities.
    """
    start, step, last = window.start, window.step, window.intervals
    if len(points) == last + 1 and points[0][0] == start and points[-1][0] == window.end:
        # Fast path, the common case: a sample at every step (Prometheus returns them in
        # order, one per step), so consecutive samples are consecutive steps.
        values = [value for _, value in points]
        if not any(value - value for value in values):  # all finite
            steps = [b - a if b >= a else b for a, b in zip(values, values[1:], strict=False)]
            return CounterIncrease(total=sum(steps), per_interval=tuple(steps))
    per_interval: list[float | None] = [None] * last
    total = 0.0
    prev_index = -1
    prev_value = 0.0
    # A hot loop (series × steps): plain arithmetic, no calls.
    for timestamp, value in points:
        index, off_grid = divmod(timestamp - start, step)
        # value - value is NaN for NaN and ±inf: a sample that is not a number is missing.
        if off_grid or index < 0 or index > last or index <= prev_index or value - value:
            continue
        if prev_index >= 0:
            increase = value - prev_value if value >= prev_value else value  # reset: from zero
            total += increase
            if index == prev_index + 1:
                per_interval[int(index) - 1] = increase
        prev_index, prev_value = int(index), value
    return CounterIncrease(total=total, per_interval=tuple(per_interval))


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
    """Average rates over the step interval ending at ``t`` (``None``: no samples)."""

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
    flow_series: Iterable[LabelledSeries],
    drop_series: Iterable[LabelledSeries] | None,
    namespaces: Sequence[str] = (),
) -> Summary:
    """Statistics from the raw results of :func:`flows_query` and :func:`drops_query`.

    Args:
        window: the window both queries were evaluated over.
        flow_series: ``hubble_flows_processed_total`` series.
        drop_series: ``hubble_drop_total`` series, or ``None`` when that metric is absent.
        namespaces: the selected namespaces, reported in this order even without flows;
            empty for every namespace that appears in the flow series, sorted.
    """
    selected = frozenset(namespaces) if namespaces else None
    flows: dict[tuple[str, str], _Accumulator] = {}
    whole = {verdict: _Accumulator(window.intervals) for verdict in VERDICTS}
    for series in flow_series:
        verdict = series.labels.get("verdict", "")
        targets = _namespaces_of(series.labels, selected)
        if verdict not in VERDICTS or not targets:
            continue
        increase = counter_increase(series.points, window)
        whole[verdict].add(increase)
        for namespace in targets:
            key = (namespace, verdict)
            if key not in flows:
                flows[key] = _Accumulator(window.intervals)
            flows[key].add(increase)
    reasons = _drop_reasons(window, drop_series, selected)
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
    drop_series: Iterable[LabelledSeries] | None,
    selected: frozenset[str] | None,
) -> dict[str, dict[str, float]] | None:
    if drop_series is None:
        return None
    by_namespace: dict[str, dict[str, float]] = {}
    labelled = seen_any = False
    for series in drop_series:
        seen_any = True
        targets = _namespaces_of(series.labels, selected)
        if not targets:
            continue
        labelled = True
        reason = series.labels.get("reason") or "UNKNOWN"
        total = counter_increase(series.points, window).total
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
    step = window.step
    fwd_known, drp_known = any(forwarded.known), any(dropped.known)
    # A namespace with series of one verdict only had zero flows of the other.
    fwd = forwarded.per_interval if fwd_known or not drp_known else dropped.per_interval
    drp = dropped.per_interval if drp_known or not fwd_known else forwarded.per_interval
    series = tuple(
        RatePoint(
            t=t,
            forwarded_per_s=None if f is None else (f / step if fwd_known else 0.0),
            dropped_per_s=None if d is None else (d / step if drp_known else 0.0),
        )
        for t, f, d in zip(window.step_times(), fwd, drp, strict=True)
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
