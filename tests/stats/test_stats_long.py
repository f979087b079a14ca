"""Exact totals over long windows at the default step, against a real Prometheus.

Two data sets, each scraped far more often than the default step (about 720 points):
2 days every 15 s (default step 300 s) and 10 days every 60 s (default step 1800 s, and
more samples than a range query may return per series). Each has a counter reset in the
middle of a step, a restart after missed scrapes, a series born and one ending inside the
window, a gap longer than the lookback, and a series whose last sample before the window is
older than the lookback. Expected totals are worked out by hand from the definition in
``docs/stats.md`` and cross-checked with a direct implementation of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from stats_hubble import _require_binaries, _serve
from test_stats_cli import run
from test_stats_counting import reference_total

from cluster_mgmt.adapters.prometheus import PrometheusClient
from cluster_mgmt.core import stats as core
from cluster_mgmt.ops import stats as ops

pytestmark = [pytest.mark.integration, pytest.mark.long]


@dataclass(frozen=True)
class Counter:
    """A counter ticking every scrape from ``first`` to ``last`` (tick numbers).

    It gains ``rate`` per tick; scrapes in ``missing`` are lost; at ``restart`` the agent
    restarted and the counter starts again from zero (so its value there is ``rate``).
    """

    labels: dict[str, str]
    rate: int
    base: int
    first: int
    last: int
    missing: range = range(0)
    restart: int | None = None

    def samples(self, t0: int, scrape: int) -> list[tuple[int, float]]:
        points, value = [], float(self.base)
        for k in range(self.first, self.last + 1):
            if k > self.first:
                value = float(self.rate) if k == self.restart else value + self.rate
            if k not in self.missing:
                points.append((t0 + k * scrape, value))
        return points


@dataclass(frozen=True)
class LongData:
    url: str
    t0: int
    end: int
    scrape: int
    ticks: int
    counters: dict[str, Counter]


def flow(src: str, dst: str, verdict: str) -> dict[str, str]:
    return {"source": src, "destination": dst, "verdict": verdict, "instance": "node-a:9965"}


def long_counters(ticks: int, step: int, scrape: int) -> dict[str, Counter]:
    half = ticks // 2
    # A tick in the middle of a default step: the reset is not at a grid point.
    mid_step = (half * scrape // step * step + step // 2) // scrape + 1
    assert (mid_step * scrape) % step not in (0, scrape)
    gap = range(ticks // 3, ticks // 3 + 1200 // scrape)  # 20 minutes of missed scrapes
    return {
        # +3 per tick; resets in the middle of a step.
        "reset": Counter(flow("shop", "shop", "FORWARDED"), 3, 1000, 0, ticks, restart=mid_step),
        # +1 per tick; 20 minutes of missed scrapes, then a restart.
        "restart": Counter(
            flow("payments", "shop", "DROPPED"), 1, 50, 0, ticks, gap, restart=gap.stop
        ),
        # +2 per tick from a quarter to three quarters of the window.
        "born": Counter(flow("shop", "payments", "FORWARDED"), 2, 500, ticks // 4, 3 * ticks // 4),
        # +1 per tick, 30 minutes of missed scrapes, no restart (counts continue).
        "gap": Counter(
            flow("kube-system", "shop", "FORWARDED"),
            1,
            0,
            0,
            ticks,
            range(2 * ticks // 3, 2 * ticks // 3 + 1800 // scrape),
        ),
        # Sampled until 6 minutes before the window, then again from 1 minute into it.
        "stale": Counter(
            flow("batch", "shop", "DROPPED"),
            1,
            0,
            -3600 // scrape,
            ticks,
            range(-360 // scrape + 1, 60 // scrape),
        ),
        # Not a counted verdict.
        "audit": Counter(flow("shop", "shop", "AUDIT"), 7, 0, 0, ticks),
    }


def expected_totals(ticks: int, counters: dict[str, Counter]) -> dict[str, int]:
    """The definition worked out by hand, per series."""
    restart, born, stale = counters["restart"], counters["born"], counters["stale"]
    return {
        # Every tick after the baseline adds 3, the restart's tick too (0 → 3).
        "reset": counters["reset"].rate * ticks,
        # Ticks before the gap add 1; the first after it is a reset (counts its value, 1);
        # the flows counted during the gap died with the agent.
        "restart": (restart.missing.start - 1) + 1 + (ticks - restart.missing.stop),
        # Its first sample is its baseline.
        "born": 2 * (born.last - born.first),
        # Across the gap the counter went on counting: every tick adds 1.
        "gap": ticks,
        # No baseline within 5 minutes before the window: its first sample inside is one.
        "stale": ticks - (stale.missing.stop),
    }


@pytest.fixture(scope="module", params=[(2, 15), (10, 60)], ids=["2d-15s", "10d-60s"])
def long_prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LongData]:
    _require_binaries()
    days, scrape = request.param
    ticks = days * 86400 // scrape
    step = core.auto_step(days * 86400)
    t0 = int(time.time()) // 86400 * 86400 - (days + 2) * 86400
    counters = long_counters(ticks, step, scrape)
    families = {
        "hubble_flows_processed_total": (
            "counter",
            [(c.labels, c.samples(t0, scrape)) for c in counters.values()],
        ),
        "hubble_drop_total": (
            "counter",
            [
                (
                    {"source": "payments", "destination": "shop", "reason": "POLICY_DENIED"},
                    counters["restart"].samples(t0, scrape),
                )
            ],
        ),
    }
    with _serve(tmp_path_factory.mktemp(f"prom-long-{days}d"), families) as server:
        yield LongData(server.url, t0, t0 + ticks * scrape, scrape, ticks, counters)


def reference(data: LongData, name: str, start: int, end: int) -> float:
    return reference_total(data.counters[name].samples(data.t0, data.scrape), start, end)


def test_hand_worked_totals_match_the_definition(long_prometheus: LongData) -> None:
    data = long_prometheus
    expected = expected_totals(data.ticks, data.counters)
    for name in ("reset", "restart", "born", "gap", "stale"):
        assert reference(data, name, data.t0, data.end) == expected[name], name


def test_default_step_exact_totals_through_reset_restart_birth_end_and_gaps(
    capsys: pytest.CaptureFixture[str], long_prometheus: LongData
) -> None:
    data = long_prometheus
    expected = expected_totals(data.ticks, data.counters)
    code, out, err = run(
        capsys, "stats", "--prometheus-url", data.url, "-n", "shop", "-o", "json",
        "--start", str(data.t0), "--end", str(data.end),
    )  # fmt: skip
    assert code == 0, err
    [shop] = json.loads(out)
    forwarded = expected["reset"] + expected["born"] + expected["gap"]
    dropped = expected["restart"] + expected["stale"]
    assert (shop["forwarded"], shop["dropped"]) == (forwarded, dropped)
    assert shop["drop_ratio"] == round(dropped / (forwarded + dropped), 4)
    assert shop["drop_reasons"] == {"POLICY_DENIED": expected["restart"]}
    assert (shop["start"], shop["end"]) == (core.format_time(data.t0), core.format_time(data.end))
    step = core.auto_step(data.end - data.t0)
    assert step > data.scrape and len(shop["series"]) == (data.end - data.t0) // step
    assert shop["series"][-1]["t"] == shop["end"]


def test_one_range_query_per_measure_and_few_refinements(long_prometheus: LongData) -> None:
    data = long_prometheus
    window = core.plan_window(now=time.time(), start=data.t0, end=data.end)
    client = PrometheusClient.from_url(data.url, timeout_s=30)
    report = ops.collect(client, window)
    got = {s.namespace: (s.forwarded, s.dropped) for s in report.namespaces}
    expected = expected_totals(data.ticks, data.counters)
    assert got["shop"] == (
        expected["reset"] + expected["born"] + expected["gap"],
        expected["restart"] + expected["stale"],
    )
    assert got["kube-system"] == (expected["gap"], 0)
    assert got["batch"] == (0, expected["stale"])
    # 2 range queries; raw samples for the flows' reset, restart, birth, gap return and the
    # stale series' return, which lie apart: a handful of instant queries, not per namespace.
    assert report.queries <= 2 + 6


@pytest.mark.parametrize("offset", [1000, 7])
def test_window_not_on_the_step_grid_and_since(
    capsys: pytest.CaptureFixture[str], long_prometheus: LongData, offset: int
) -> None:
    data = long_prometheus
    start, end = data.t0 + offset, data.end - 1234
    code, out, err = run(
        capsys, "stats", "--prometheus-url", data.url, "-A", "-o", "json",
        "--start", str(start), "--end", str(end),
    )  # fmt: skip
    assert code == 0, err
    docs = {d["namespace"]: d for d in json.loads(out)}
    forwarded = sum(reference(data, n, start, end) for n in ("reset", "born", "gap"))
    dropped = sum(reference(data, n, start, end) for n in ("restart", "stale"))
    assert (docs["shop"]["forwarded"], docs["shop"]["dropped"]) == (forwarded, dropped)
    assert docs["shop"]["start"] == core.format_time(start)
    assert docs["shop"]["end"] == core.format_time(end)

    # --since reaching before the data: every series starts with its first sample.
    code, out, err = run(capsys, "stats", "--prometheus-url", data.url, "-A", "-o", "json",
                         "--since", f"{(time.time() - data.t0) // 86400 + 2:.0f}d")  # fmt: skip
    assert code == 0, err
    docs = {d["namespace"]: d for d in json.loads(out)}
    early, late = data.t0 - 86400, data.end + 86400
    assert docs["kube-system"]["forwarded"] == reference(data, "gap", early, late)
    assert docs["batch"]["dropped"] == reference(data, "stale", early, late)
    assert docs["batch"]["dropped"] > reference(data, "stale", data.t0, data.end)


def test_series_rates_are_exact_averages(long_prometheus: LongData) -> None:
    data = long_prometheus
    window = core.plan_window(now=time.time(), start=data.t0, end=data.end)
    client = PrometheusClient.from_url(data.url, timeout_s=30)
    [row] = ops.collect(client, window, ["kube-system"]).namespaces
    missing = data.counters["gap"].missing
    gap = (data.t0 + (missing.start - 1) * data.scrape, data.t0 + missing.stop * data.scrape)
    counts = []
    for point, seconds in zip(row.series, window.interval_seconds(), strict=True):
        count = None if point.forwarded_per_s is None else point.forwarded_per_s * seconds
        counts.append(count)
        if point.t <= gap[0] or point.t - seconds >= gap[1]:
            # One flow per scrape, step / scrape scrapes per interval, away from the gap.
            assert count is not None and round(count, 6) == window.step // data.scrape
    # Across the gap the increase is in the total; the series has it only where the series
    # was still seen (within the lookback) at the grid point before its return.
    assert round(sum(c for c in counts if c is not None)) <= row.forwarded == data.ticks
