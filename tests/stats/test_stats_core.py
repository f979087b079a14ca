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


def flow(src: str, dst: str, verdict: str, values: list[float | None]) -> S:
    pts = [(W.start + 60 * i, v) for i, v in enumerate(values) if v is not None]
    return S({"source": src, "destination": dst, "verdict": verdict}, pts)


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


def test_window_explicit_start_is_kept_and_end_trimmed_to_whole_steps() -> None:
    window = core.plan_window(now=0, start=1000, end=1650, step_s=60)
    assert (window.start, window.end) == (1000, 1600)
    assert core.plan_window(now=5000, start=1000, step_s=60).end == 4960
    assert core.plan_window(now=0, since_s=600, end=1650, step_s=60).start == 1050


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
    assert core.flows_query() == 'hubble_flows_processed_total{verdict=~"FORWARDED|DROPPED"}'
    assert core.drops_query() == "hubble_drop_total"


def test_queries_for_namespaces_match_either_side_once() -> None:
    assert core.flows_query(["shop", "payments"]) == (
        'hubble_flows_processed_total{verdict=~"FORWARDED|DROPPED",destination=~"shop|payments"}'
        ' or hubble_flows_processed_total{verdict=~"FORWARDED|DROPPED",source=~"shop|payments"}'
    )
    assert core.drops_query(["shop"]) == (
        'hubble_drop_total{destination=~"shop"} or hubble_drop_total{source=~"shop"}'
    )


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


def test_counter_increase_reset_gap_and_bad_points() -> None:
    points = [
        (1000, 100),
        (1060, 110),
        (1120, 130),
        (1180, 5),
        (1240, 15),
        (1270, 999),  # off the step grid: ignored
        (1300, float("nan")),  # not a number: a missing sample
        (1420, 45),
        (1480, 50),
        (1540, 60),
        (1600, 70),
        (1660, 1),
    ]  # last: after end
    result = core.counter_increase(points, W)
    # +10 +20, reset → +5, +10, gap (1300, 1360 missing) → +30, +5 +10 +10
    assert result.total == 100
    assert result.per_interval == (10, 20, 5, 10, None, None, None, 5, 10, 10)


def test_counter_series_born_late_counts_from_its_first_sample() -> None:
    result = core.counter_increase([(1300, 40), (1360, 41)], W)
    assert result.total == 1
    assert result.per_interval[:6] == (None, None, None, None, None, 1)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=0, max_value=10**9),
)
def test_counter_total_is_the_exact_sum_of_increments(
    steps: list[tuple[int, bool]], baseline: int
) -> None:
    """Sampled at every step, any sequence of increments and restarts is counted exactly."""
    window = core.TimeWindow(start=0, end=60 * len(steps), step=60)
    value, points = baseline, [(0.0, float(baseline))]
    for i, (increment, restart) in enumerate(steps, start=1):
        value = increment if restart else value + increment
        points.append((60.0 * i, float(value)))
    result = core.counter_increase(points, window)
    # A restart whose first value is >= the old one cannot be seen; Prometheus has that too.
    visible = [
        inc
        for (inc, restart), (_, prev), (_, now) in zip(steps, points, points[1:], strict=False)
        if not restart or now < prev
    ]
    hidden = [
        now - prev
        for (inc, restart), (_, prev), (_, now) in zip(steps, points, points[1:], strict=False)
        if restart and now >= prev
    ]
    assert result.total == sum(visible) + sum(hidden)
    assert sum(v for v in result.per_interval if v is not None) == result.total
    # The fast path (a sample at every step) and the general one agree: an extra point off
    # the step grid sends the same series down the general path, which ignores that point.
    assert core.counter_increase([*points, (30.0, 1.0)], window) == result


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
    def drop(src: str, dst: str, reason: str, total: int) -> S:
        return S({"source": src, "destination": dst, "reason": reason}, [(1000, 0), (1600, total)])

    series = [flow("a", "b", "DROPPED", [0] * 10 + [5])]
    drops = [drop("a", "b", "POLICY_DENIED", 3), drop("", "a", "STALE", 4), drop("b", "", "X", 0)]
    stats = {s.namespace: s for s in core.summarize(W, series, drops).namespaces}
    assert stats["a"].drop_reasons == {"STALE": 4, "POLICY_DENIED": 3}
    assert list(stats["a"].drop_reasons) == ["STALE", "POLICY_DENIED"]
    assert stats["b"].drop_reasons == {"POLICY_DENIED": 3}
    unlabelled = [S({"reason": "POLICY_DENIED"}, [(1000, 0), (1600, 3)])]
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
