"""Exact totals from grid values plus refinements, against the documented definition.

A small simulation of what Prometheus answers to :func:`core.counter_query` and to the
refinement queries — with Prometheus 2's closed ranges ``[t - r, t]`` and Prometheus 3's
left-open ones ``(t - r, t]`` — is checked against a direct implementation of the
definition in ``docs/stats.md``, over random counters with resets, gaps, births and ends,
on random windows and steps. The integration tests check the same against a real server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cluster_mgmt.core import stats as core
from cluster_mgmt.core.stats._promql import exact_selector

Samples = list[tuple[int, float]]


@dataclass(frozen=True)
class S:
    labels: dict[str, str]
    points: list[tuple[float, float]]


def reference_total(samples: Samples, start: int, end: int, *, closed: bool = True) -> float:
    """The definition: baseline (last sample in the lookback up to start) then (start, end].

    The lookback is ``[start - 5m, start]`` on Prometheus 2 (``closed``) and
    ``(start - 5m, start]`` on Prometheus 3, which leaves out a sample exactly 5 minutes
    before (docs/stats.md).
    """
    low = start - core.LOOKBACK_S
    baseline = [(t, v) for t, v in samples if (low <= t if closed else low < t) and t <= start]
    baseline = baseline[-1:]
    chain = baseline + [(t, v) for t, v in samples if start < t <= end]
    return sum(b - a if b >= a else b for (_, a), (_, b) in zip(chain, chain[1:], strict=False))


class FakePrometheus:
    """What Prometheus answers, from raw samples, for the two kinds of stats queries."""

    def __init__(self, series: dict[str, Samples], *, closed: bool) -> None:
        self.series = series
        self.closed = closed  # Prometheus 2: ranges include their lower bound
        self.refinements = 0

    def _in(self, samples: Samples, low: float, high: float) -> Samples:
        return [(t, v) for t, v in samples if (low <= t if self.closed else low < t) and t <= high]

    def range_answer(self, window: core.TimeWindow) -> list[S]:
        grid = [window.origin + k * window.step for k in range(window.intervals + 1)]
        answer = []
        for name, samples in self.series.items():
            labels = {"id": name, "verdict": "FORWARDED", "source": "a"}
            values = []
            resets = []
            for t in grid:
                recent = self._in(samples, t - window.lookback, t)
                if recent:
                    values.append((float(t), recent[-1][1]))
                span = self._in(samples, t - window.step - window.lookback, t)
                if any(b < a for (_, a), (_, b) in zip(span, span[1:], strict=False)):
                    resets.append((float(t), 1.0))
            base = self._in(samples, window.start - core.LOOKBACK_S, window.start)
            if values:
                answer.append(S(labels, values))
            if resets:
                answer.append(S({**labels, core.AUX_LABEL: "reset"}, resets))
            if base:
                answer.append(S({**labels, core.AUX_LABEL: "base"}, [(grid[0], base[-1][1])]))
        return answer

    def raw_answer(self, query: core.RefineQuery) -> list[S]:
        self.refinements += 1
        match = re.fullmatch(r"(\w+)\{(.*)\}\[(\d+)s\]", query.expr)
        assert match, query.expr
        seconds = int(match.group(3))
        return [
            S(
                {"__name__": match.group(1), "id": name, "verdict": "FORWARDED", "source": "a"},
                [(float(t), v) for t, v in self._in(samples, query.at - seconds, query.at)],
            )
            for name, samples in self.series.items()
            if f'"{name}"' in match.group(2)
            or f"{name}|" in match.group(2)
            or f"|{name}" in match.group(2)
        ]


def totals(prometheus: FakePrometheus, window: core.TimeWindow) -> dict[str, float]:
    counters = core.read_counters(prometheus.range_answer(window), window)
    queries = core.refine_queries(core.FLOWS_METRIC, counters, window)
    answers = [prometheus.raw_answer(query) for query in queries]
    core.apply_refinements(counters, window, queries, answers)
    result = {}
    for counter in counters:
        increase = core.counter_increase(counter, window)
        known = [v for v in increase.per_interval if v is not None]
        assert sum(known) <= increase.total  # the series leaves out only gap crossings
        result[counter.labels["id"]] = increase.total
    return result


@st.composite
def counters(draw: st.DrawFn) -> Samples:
    """A counter scraped every 15-120 s, with resets, gaps, restarts, a birth and an end."""
    interval = draw(st.sampled_from([15, 30, 60, 120]))
    t = draw(st.integers(min_value=-3000, max_value=6000)) // 15 * 15
    value = float(draw(st.integers(min_value=0, max_value=1000)))
    samples: Samples = []
    for _ in range(draw(st.integers(min_value=1, max_value=120))):
        samples.append((t, value))
        event = draw(st.sampled_from(["scrape"] * 6 + ["reset", "gap", "restart", "jitter"]))
        t += interval
        if event in ("gap", "restart"):  # a restart: missed scrapes, then counting from 0
            t += draw(st.integers(min_value=1, max_value=80)) * 15
        elif event == "jitter":
            t += draw(st.integers(min_value=1, max_value=interval - 1))
        # Now and then a burst: a counter that restarted can overtake its old value.
        burst = draw(st.sampled_from([50] * 5 + [3000]))
        increment = draw(st.integers(min_value=0, max_value=burst))
        value = float(increment if event in ("reset", "restart") else value + increment)
    return samples


@pytest.mark.long
@settings(max_examples=400, deadline=None)
# A sample exactly 5 minutes before start is a baseline on Prometheus 2 only.
@example([[(-45, 0.0), (270, 1.0), (285, 1.0)]], 255, 15, 15, False)
@example([[(-45, 0.0), (270, 1.0), (285, 1.0)]], 255, 15, 15, True)
@given(
    st.lists(counters(), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=4000),
    st.integers(min_value=1, max_value=9000),
    st.sampled_from([15, 60, 90, 120, 300, 600, 1800, 3600]),
    st.booleans(),
)
def test_totals_follow_the_definition_at_any_step(
    series: list[Samples], start: int, span: int, step: int, closed: bool
) -> None:
    step = min(step, span)
    window = core.TimeWindow(start=start, end=start + span, step=step)
    named = {f"s{i}": samples for i, samples in enumerate(series)}
    prometheus = FakePrometheus(named, closed=closed)
    got = totals(prometheus, window)
    for name, samples in named.items():
        expected = reference_total(samples, window.start, window.end, closed=closed)
        assert got.get(name, 0.0) == expected, name


def test_plain_counters_need_no_raw_samples() -> None:
    samples = [(t, float(t // 3)) for t in range(-600, 20_000, 15)]
    window = core.TimeWindow(start=0, end=18_000, step=600)
    prometheus = FakePrometheus({"a": samples}, closed=True)
    assert totals(prometheus, window) == {"a": reference_total(samples, 0, 18_000)} == {"a": 6000}
    assert prometheus.refinements == 0


@pytest.mark.parametrize("closed", [True, False])
def test_a_reset_inside_a_long_step_is_counted_from_raw_samples(closed: bool) -> None:
    # 15 s samples, +1 each; the agent restarts at 10,000 s (mid-step) and counts from 0.
    samples: Samples = []
    value = 500.0
    for t in range(0, 20_000, 15):
        value = 0.0 if t == 10_005 else value + 1
        samples.append((t, value))
    window = core.TimeWindow(start=0, end=19_800, step=3600)
    prometheus = FakePrometheus({"a": samples}, closed=closed)
    # 1,320 samples after t=0, each +1, except the restart's first one (0 after a reset).
    assert totals(prometheus, window) == {"a": 1319.0}
    assert prometheus.refinements == 1


def test_the_first_interval_is_partial_when_the_window_is_not_whole_steps() -> None:
    window = core.TimeWindow(start=1000, end=2000, step=300)
    assert (window.intervals, window.origin) == (4, 800)
    assert window.step_times() == [1100, 1400, 1700, 2000]
    assert window.interval_seconds() == [100, 300, 300, 300]
    assert [window.interval_of(t) for t in (1000, 1000.5, 1100, 1101, 2000, 2001)] == [
        None, 0, 0, 1, 3, None,
    ]  # fmt: skip


def test_refinement_selectors_escape_label_values() -> None:
    labels: Sequence[dict[str, str]] = [
        {"source": "a.b", "destination": 'q"x', "verdict": "DROPPED"},
        {"source": "a|c", "destination": 'q"x', "verdict": "DROPPED"},
    ]
    selector = exact_selector(core.FLOWS_METRIC, labels)
    assert selector == (
        'hubble_flows_processed_total{destination="q\\"x",source=~"a\\\\.b|a\\\\|c",'
        'verdict="DROPPED"}'
    )
