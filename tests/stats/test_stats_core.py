"""Unit tests of the pure stats core: time parsing, windows, PromQL, counter arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster_mgmt.core import stats as core
from cluster_mgmt.errors import UserError


@dataclass(frozen=True)
class S:
    labels: dict[str, str]
    points: list[tuple[float, float]]


W = core.TimeWindow(start=1000, end=1600, step=60)  # ten intervals


def flow(src: str, dst: str, verdict: str, values: list[float | None]) -> core.Counter:
    """A counter with these values at W's grid points, its first value as the baseline."""
    labels = {"source": src, "destination": dst, "verdict": verdict}
    return core.Counter(labels, values, values[0], frozenset())


# --- parsing and windows ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("90", 90),
        ("1w", 604800),
        ("1500ms", None),
        ("", None),
        ("5x", None),
        ("h", None),
        ("0s", None),
        ("1h 30m", None),
        ("-5m", None),
    ],
)
def test_parse_duration(text: str, seconds: int | None) -> None:
    if seconds is None:
        with pytest.raises(UserError):
            core.parse_duration(text)
    else:
        assert core.parse_duration(text) == seconds


def test_parse_time_rfc3339_and_unix() -> None:
    assert core.parse_time("2026-01-31T12:00:00Z") == 1769860800
    assert core.parse_time("2026-01-31T13:00:00+01:00") == 1769860800
    assert core.parse_time("1769860800") == 1769860800
    assert core.parse_time("1769860800.9") == 1769860800
    with pytest.raises(UserError, match="no UTC offset"):
        core.parse_time("2026-01-31T12:00:00")
    with pytest.raises(UserError, match="invalid time"):
        core.parse_time("yesterday")
    assert core.format_time(1769860800) == "2026-01-31T12:00:00Z"


def test_window_since_ends_on_a_whole_step_before_now() -> None:
    window = core.plan_window(now=1_000_030.5, since_s=3600, step_s=60)
    assert (window.start, window.end, window.step) == (996_420, 1_000_020, 60)
    assert window.intervals == 60
    assert window.step_times()[0] == 996_480 and window.step_times()[-1] == 1_000_020


def test_window_default_is_24h_with_auto_step() -> None:
    window = core.plan_window(now=86_400 * 100)
    assert window.seconds == 86_400 and window.step == 120 and window.intervals == 720


def test_window_explicit_start_and_end_are_kept_the_first_interval_may_be_partial() -> None:
    window = core.plan_window(now=0, start=1000, end=1650, step_s=60)
    assert (window.start, window.end, window.origin, window.intervals) == (1000, 1650, 990, 11)
    assert window.interval_seconds() == [50] + [60] * 10
    assert window.step_times()[:2] == [1050, 1110] and window.step_times()[-1] == 1650
    # Up to now: whole steps, the last one complete.
    assert core.plan_window(now=5000, start=1000, step_s=60).end == 4960
    assert core.plan_window(now=0, since_s=600, end=1650, step_s=60).start == 1050
    since = core.plan_window(now=0, since_s=630, end=1650, step_s=60)
    assert (since.start, since.origin, since.interval_seconds()[0]) == (1020, 990, 30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since_s": 60, "start": 1}, "either --since or --start"),
        ({"start": 2000, "end": 1000}, "empty"),
        ({"start": 1000, "end": 1030, "step_s": 60}, "longer than the time range"),
        ({"since_s": 86400 * 30, "step_s": 60}, "more than Prometheus allows"),
    ],
)
def test_window_refusals(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(UserError, match=message):
        core.plan_window(now=10_000_000, **kwargs)


@pytest.mark.parametrize(
    ("span", "step"),
    [(600, 60), (86400, 120), (7 * 86400, 900), (30 * 86400, 3600), (400 * 86400, 86400)],
)
def test_auto_step(span: int, step: int) -> None:
    assert core.auto_step(span) == step


# --- PromQL -------------------------------------------------------------------------------


def test_queries_all_namespaces_are_one_selector_per_measure() -> None:
    assert core.flows_selectors() == ('hubble_flows_processed_total{verdict=~"FORWARDED|DROPPED"}',)
    assert core.drops_selectors() == ("hubble_drop_total",)


def test_queries_for_namespaces_match_either_side_once() -> None:
    assert core.flows_selectors(["shop", "payments"]) == (
        'hubble_flows_processed_total{verdict=~"FORWARDED|DROPPED",destination=~"shop|payments"}',
        'hubble_flows_processed_total{verdict=~"FORWARDED|DROPPED",source=~"shop|payments"}',
    )
    assert core.drops_selectors(["shop"]) == (
        'hubble_drop_total{destination=~"shop"}',
        'hubble_drop_total{source=~"shop"}',
    )


def test_counter_query_values_baseline_and_reset_flags() -> None:
    window = core.TimeWindow(start=1000, end=8200, step=3600)  # origin 1000: whole steps
    assert core.counter_query(['m{a="b"}'], window) == (
        'label_replace(resets(m{a="b"}[7200s]) > 0, "cluster_mgmt_aux", "reset", "", "")'
        ' or label_replace(last_over_time(m{a="b"}[300s] @ 1000) and on() vector(time()) <= '
        '1000, "cluster_mgmt_aux", "base", "", "")'
        ' or last_over_time(m{a="b"}[3600s])'
    )
    # Sides are or-ed term by term: a series matching both sides is kept once.
    query = core.counter_query(core.flows_selectors(["shop"]), W)
    assert query.count(" or ") == 5 and query.endswith('source=~"shop"}[300s])')


def test_namespace_names_are_validated_and_deduplicated() -> None:
    assert core.check_namespaces(["b", "a", "b"]) == ("b", "a")
    with pytest.raises(UserError, match="not a Kubernetes namespace"):
        core.check_namespaces(['x"} or vector(1) or {a="'])


def test_presence_queries_cover_window_and_lookback() -> None:
    assert core.presence_query(core.FLOWS_METRIC, W) == (
        "group(last_over_time(hubble_flows_processed_total[900s]))"
    )
    query = core.drops_presence_query(W)
    assert 'group(last_over_time(hubble_drop_total{source!=""}[900s]))' in query
    marked = 'label_replace(group(last_over_time(hubble_drop_total[900s])), "unlabelled", "true",'
    assert query.endswith(f'{marked} "", "")')


def test_drop_metric_states() -> None:
    labelled = S({"source": "a", "destination": "", "reason": "X"}, [])
    plain = S({"reason": "X", "protocol": "TCP"}, [])
    assert core.drop_metric_state([plain, labelled]) is core.DropMetric.LABELLED
    assert core.drop_metric_state([plain]) is core.DropMetric.UNLABELLED
    assert core.drop_metric_state([]) is core.DropMetric.ABSENT
    marker = S({"unlabelled": "true"}, [])
    assert core.drop_metric_state([marker, S({}, [])], presence=True) is core.DropMetric.LABELLED
    assert core.drop_metric_state([marker], presence=True) is core.DropMetric.UNLABELLED
    assert core.drop_metric_state([], presence=True) is core.DropMetric.ABSENT


# --- counter arithmetic -------------------------------------------------------------------


def test_read_counters_groups_values_baseline_and_reset_flags() -> None:
    labels = {"source": "a", "destination": "b", "verdict": "FORWARDED"}
    answer = [
        S({**labels, core.AUX_LABEL: "reset"}, [(1180, 1), (1240, 1)]),
        S(labels, [(1000 + 60 * k, float(k)) for k in range(11) if k != 5]),
        S({**labels, core.AUX_LABEL: "base"}, [(1000, 0.5)]),
        S({**labels, "verdict": "DROPPED"}, [(1000 + 60 * k, 7.0) for k in range(11)]),
        S({**labels, "verdict": "AUDIT"}, [(1030, 1.0), (1060, float("nan")), (1120, 2.0)]),
    ]
    forwarded, dropped, audit = core.read_counters(answer, W)
    assert forwarded.labels == labels
    assert forwarded.values == [0, 1, 2, 3, 4, None, 6, 7, 8, 9, 10]
    assert (forwarded.base, forwarded.resets) == (0.5, frozenset({2, 3}))
    assert dropped.values == [7.0] * 11 and dropped.base is None
    # Off the grid or not a number: no value.
    assert audit.values == [None, None, 2.0] + [None] * 8


def test_counter_increase_fast_path_gap_and_refined_reset() -> None:
    plain = core.Counter({}, [5, 6, 8, 8, 9, 10, 10, 10, 12, 13, 20], 5, frozenset())
    assert core.counter_increase(plain, W) == core.CounterIncrease(
        15, (1, 2, 0, 1, 1, 0, 0, 2, 1, 7)
    )
    # A reset in interval 1 (flagged there and in the next), a gap over 4-5, back in 6.
    values: list[float | None] = [100, 110, 20, 25, 30, None, None, 45, 50, 55, 60]
    counter = core.Counter({}, values, 100, frozenset({1, 2}))
    assert core.refine_intervals(counter, W) == [1, 2, 6]
    # Raw samples every 30 s: 110 → 130, restart → 20; then 22, 25; after the gap 40, 45.
    counter.refined.update(
        {1: [(1090, 130), (1120, 20)], 2: [(1150, 22), (1180, 25)], 6: [(1390, 40), (1420, 45)]}
    )
    result = core.counter_increase(counter, W)
    # +10; +20 and 20 after the reset; +5; +5; gap; 30 → 45 in the total only; +5 +5 +5
    assert result.per_interval == (10, 40, 5, 5, None, None, None, 5, 5, 5)
    assert result.total == 10 + 40 + 5 + 5 + 15 + 15


def test_counter_born_late_counts_from_its_first_sample() -> None:
    values: list[float | None] = [None, None, 40, 41, 41, 43, 43, 50, 50, 50, 50]
    counter = core.Counter({}, values, None, frozenset())
    # Until a lookback (300 s) into the window, a grid value may be a sample from before it.
    assert core.refine_intervals(counter, W) == [1, 2, 3, 4]
    counter.refined.update({1: [(1090, 39), (1120, 40)], 2: [(1180, 41)], 3: [], 4: [(1300, 43)]})
    result = core.counter_increase(counter, W)
    assert result.per_interval[:5] == (None, 1, 1, 0, 2)
    assert result.total == 1 + 1 + 0 + 2 + 0 + 7
    # Seen only through the lookback, from a sample before the window: not counted.
    before = core.Counter({}, [None, 7, 7, None] + [None] * 7, None, frozenset())
    assert core.refine_intervals(before, W) == [0, 1]
    before.refined.update({0: [], 1: []})
    assert core.counter_increase(before, W) == core.CounterIncrease(0, (None,) * 10)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=0, max_value=10**9),
    st.sets(st.integers(min_value=0, max_value=39)),
)
def test_counter_fast_path_equals_the_refined_one(
    steps: list[tuple[int, bool]], baseline: int, flagged: set[int]
) -> None:
    """Sampled once per interval, grid values and raw samples give the same counts."""
    window = core.TimeWindow(start=0, end=60 * len(steps), step=60)
    value, values = baseline, [float(baseline)]
    for increment, restart in steps:
        value = increment if restart else value + increment
        values.append(float(value))
    fast = core.counter_increase(core.Counter({}, values, values[0], frozenset()), window)
    flags = frozenset(i for i in flagged if i < len(steps))
    slow = core.Counter({}, values, values[0], flags)
    slow.refined.update({i: [(60.0 * (i + 1), values[i + 1])] for i in flags})
    assert core.counter_increase(slow, window) == fast
    expected = [b - a if b >= a else b for a, b in zip(values, values[1:], strict=False)]
    assert fast.per_interval == tuple(expected)


# --- per-namespace summaries --------------------------------------------------------------


def test_flow_within_a_namespace_counts_once_and_across_namespaces_for_both() -> None:
    series = [
        flow("a", "a", "FORWARDED", [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
        flow("a", "b", "FORWARDED", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        flow("b", "a", "DROPPED", [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]),
        flow("c", "c", "AUDIT", [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
    ]
    stats = {s.namespace: s for s in core.summarize(W, series, None).namespaces}
    assert list(stats) == ["a", "b"]
    assert (stats["a"].forwarded, stats["a"].dropped) == (110, 20)
    assert (stats["b"].forwarded, stats["b"].dropped) == (10, 20)
    assert stats["a"].drop_ratio == pytest.approx(20 / 130)
    assert stats["a"].forwarded_per_s == pytest.approx(110 / 600)
    assert stats["a"].series[0] == core.RatePoint(1060, 11 / 60, 2 / 60)
    selection = core.summarize(W, series, None).selection
    assert (selection.namespace, selection.forwarded, selection.dropped) == (
        "2 namespaces",
        110,
        20,
    )


def test_selected_namespace_without_flows_is_reported_empty() -> None:
    series = [flow("a", "a", "FORWARDED", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
    [quiet] = core.summarize(W, series, [], ["quiet"]).namespaces
    assert (quiet.forwarded, quiet.dropped, quiet.drop_ratio) == (0, 0, None)
    assert all(p.forwarded_per_s is None and p.dropped_per_s is None for p in quiet.series)
    assert quiet.drop_reasons == {}
    assert core.to_json(quiet)["drop_ratio"] is None


def test_missing_verdict_is_zero_where_the_other_has_samples() -> None:
    series = [flow("a", "a", "FORWARDED", [0, 1, 2, None, None, None, 6, 7, 8, 9, 10])]
    [stats] = core.summarize(W, series, None).namespaces
    assert [p.dropped_per_s for p in stats.series[:4]] == [0.0, 0.0, None, None]


def test_drop_reasons_sorted_and_unlabelled_metric_is_not_attributed() -> None:
    def drop(src: str, dst: str, reason: str, total: int) -> core.Counter:
        labels = {"source": src, "destination": dst, "reason": reason}
        return core.Counter(labels, [0.0] * 10 + [total], 0.0, frozenset())

    series = [flow("a", "b", "DROPPED", [0] * 10 + [5])]
    drops = [drop("a", "b", "POLICY_DENIED", 3), drop("", "a", "STALE", 4), drop("b", "", "X", 0)]
    stats = {s.namespace: s for s in core.summarize(W, series, drops).namespaces}
    assert stats["a"].drop_reasons == {"STALE": 4, "POLICY_DENIED": 3}
    assert list(stats["a"].drop_reasons) == ["STALE", "POLICY_DENIED"]
    assert stats["b"].drop_reasons == {"POLICY_DENIED": 3}
    unlabelled = [core.Counter({"reason": "POLICY_DENIED"}, [0.0] * 10 + [3], 0.0, frozenset())]
    assert core.summarize(W, series, unlabelled).namespaces[0].drop_reasons is None


def test_json_shape_is_the_documented_schema() -> None:
    series = [
        flow("a", "a", "FORWARDED", [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
        flow("a", "a", "DROPPED", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ]
    [stats] = core.summarize(W, series, []).namespaces
    doc = core.to_json(stats)
    assert list(doc) == [
        "namespace",
        "start",
        "end",
        "forwarded",
        "dropped",
        "drop_ratio",
        "forwarded_per_s",
        "dropped_per_s",
        "series",
        "drop_reasons",
    ]
    assert doc["start"] == "1970-01-01T00:16:40Z" and doc["end"] == "1970-01-01T00:26:40Z"
    assert (doc["forwarded"], doc["dropped"], doc["drop_ratio"]) == (100, 10, 0.0909)
    assert isinstance(doc["forwarded"], int)
    assert doc["forwarded_per_s"] == 0.166667 and doc["dropped_per_s"] == 0.016667
    assert doc["series"][0] == {
        "t": "1970-01-01T00:17:40Z",
        "forwarded_per_s": 0.166667,
        "dropped_per_s": 0.016667,
    }
    assert doc["drop_reasons"] == {}


def test_table_row_formats_for_humans() -> None:
    series = [
        flow("a", "a", "FORWARDED", [0] * 10 + [12345]),
        flow("a", "a", "DROPPED", [0] * 10 + [5]),
    ]
    row = core.table_row(core.summarize(W, series, None).namespaces[0])
    assert (row.forwarded, row.dropped, row.drop_share, row.top_drop_reasons) == (
        "12,345",
        "5",
        "0.04",
        "n/a",
    )
