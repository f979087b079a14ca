"""Totals and rates per namespace from the counters of the flows and drops measures.

A flow is attributed to every *selected* namespace among its ``source`` and ``destination``
labels, once per namespace: a flow inside NS (source = destination = NS) counts once for NS,
which is what GitLab's ``... or on(source,destination,verdict) ...`` query achieved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cluster_mgmt.core.stats._counters import Counter, CounterIncrease, counter_increase
from cluster_mgmt.core.stats._promql import DROPPED, FORWARDED, VERDICTS, namespaces_of
from cluster_mgmt.core.stats._window import TimeWindow


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
        targets = namespaces_of(counter.labels, selected)
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
        targets = namespaces_of(counter.labels, selected)
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
