"""The PNG chart and the self-contained HTML report (rendered by headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from stats_hubble import INTERVALS, STEP, HubbleData
from test_stats_cli import run, window_args

from cluster_mgmt.adapters.prometheus import PrometheusClient
from cluster_mgmt.core import stats as core
from cluster_mgmt.ops import stats as ops

pytestmark = pytest.mark.integration

CHROMIUM_TIMEOUT_S = 90


def load_png(path: Path) -> Any:
    import matplotlib.image

    return matplotlib.image.imread(str(path))


def pixels_near(image: Any, hex_color: str, tolerance: float = 0.1) -> int:
    import numpy as np

    rgb = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    distance = np.abs(image[:, :, :3] - rgb).max(axis=2)
    return int((distance < tolerance).sum())


@pytest.fixture(scope="module")
def report(hubble_prometheus: HubbleData) -> ops.StatsReport:
    client = PrometheusClient.from_url(hubble_prometheus.url, timeout_s=10)
    window = core.TimeWindow(hubble_prometheus.t0, hubble_prometheus.end, STEP)
    return ops.collect(client, window, ("shop",))


def test_figure_shows_two_labelled_series_on_a_time_axis(report: ops.StatsReport) -> None:
    import matplotlib.dates as mdates

    figure = ops.build_figure(report)
    lines = [line for axes in figure.axes for line in axes.get_lines()]
    assert [line.get_label() for line in lines] == ["forwarded/s", "dropped/s"]
    legends = [text.get_text() for axes in figure.axes for text in axes.get_legend().get_texts()]
    assert legends == ["forwarded/s", "dropped/s"]
    bottom = figure.axes[1]
    assert isinstance(bottom.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    assert bottom.get_xlabel() == "time (UTC)"
    forwarded, dropped = lines
    assert len(forwarded.get_xdata()) == INTERVALS
    assert forwarded.get_xdata()[0] == datetime.fromtimestamp(report.window.start + STEP, UTC)
    assert list(forwarded.get_ydata()[:3]) == [0.25, 0.25, 0.25]
    assert dropped.get_ydata()[0] == pytest.approx(3 / 60)  # k=1: S3 +1, S4 +2
    assert "Hubble flows — shop" in figure.get_suptitle()


def test_plot_writes_a_png_that_opens(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData, tmp_path: Path
) -> None:
    png = tmp_path / "charts" / "shop.png"
    code, _, err = run(
        capsys,
        "stats",
        "--prometheus-url",
        hubble_prometheus.url,
        "-n",
        "shop",
        "--plot",
        str(png),
        *window_args(hubble_prometheus),
    )
    assert code == 0, err
    assert f"wrote {png}" in err
    image = load_png(png)
    assert image.shape == (560, 1000, 4)
    assert pixels_near(image, ops.FORWARDED_COLOR) > 500
    assert pixels_near(image, ops.DROPPED_COLOR) > 500


def test_html_report_is_self_contained(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    code, _, err = run(
        capsys,
        "stats",
        "--prometheus-url",
        hubble_prometheus.url,
        "-A",
        "--html",
        str(page),
        *window_args(hubble_prometheus),
    )
    assert code == 0, err
    text = page.read_text()
    assert (
        '<img alt="Forwarded and dropped flows per second over time" src="data:image/png;base64,'
        in text
    )
    # Nothing to fetch: no script, stylesheet link or remote image.
    assert re.findall(r'(?:src|href)="(?!data:)', text) == []
    assert "<script" not in text and "@import" not in text
    assert "<td>shop</td><td>5,400</td><td>1,260</td><td>18.92</td>" in text
    assert "<td>payments</td><td>1,860</td><td>540</td><td>22.50</td>" in text


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium not installed (Debian package 'chromium'; scripts/install-system.sh)")
    return path


def test_html_report_renders_offline_in_headless_chromium(
    report: ops.StatsReport, tmp_path: Path
) -> None:
    browser = chromium()
    page = tmp_path / "report.html"
    ops.write_html(report, page)
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--window-size=1200,1000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_S,
        check=False,
    )
    assert shot.exists(), result.stderr[-2000:]
    image = load_png(shot)
    assert image.shape[:2] == (1000, 1200)
    non_white = (image[:, :, :3] < 0.95).any(axis=2).mean()
    assert non_white > 0.03  # text, table and chart, not a blank page
    # The inline chart was decoded and drawn: both series' colours are on screen.
    assert pixels_near(image, ops.FORWARDED_COLOR) > 500
    assert pixels_near(image, ops.DROPPED_COLOR) > 500


def test_chart_and_report_without_any_flow() -> None:
    window = core.TimeWindow(0, 600, 60)
    summary = core.summarize(window, [], None)
    report = ops.StatsReport(
        window, summary.namespaces, summary.selection, "test", 0, notes=("enable <this>",)
    )
    assert ops.render_png(report).startswith(b"\x89PNG\r\n\x1a\n")
    page = ops.render_html(report)
    assert "no flows in this window" in page
    assert '<p class="note">Note: enable &lt;this&gt;</p>' in page


def test_html_report_escapes_every_value() -> None:
    window = core.TimeWindow(0, 600, 60)
    summary = core.summarize(window, [], None)
    report = ops.StatsReport(
        window, summary.namespaces, summary.selection, 'http://p/?a=1&b="<x>"', 0, ("'q'",)
    )
    page = ops.render_html(report, datetime(2026, 1, 31, 12, tzinfo=UTC))
    source = "Prometheus: http://p/?a=1&amp;b=&#34;&lt;x&gt;&#34;"
    assert f"{source} · generated 2026-01-31 12:00:00 UTC" in page
    assert '<p class="note">Note: &#39;q&#39;</p>' in page
    assert "<x>" not in page
