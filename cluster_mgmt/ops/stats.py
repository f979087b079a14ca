"""The ``stats`` use case: query Hubble metrics, summarize, chart and report.

Queries per run: one range query for flows and one for drop reasons, whatever the number of
namespaces. Instant queries are added only when needed: when a range query comes back empty,
to tell "no such metric" from "no traffic"; and to fetch raw samples where a series resets,
is born or comes back after a gap in the window, so that totals stay exact.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.adapters.prometheus import DEFAULT_TIMEOUT_S, PrometheusClient
from cluster_mgmt.core import stack
from cluster_mgmt.core import stats as core
from cluster_mgmt.errors import ClusterError, UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORWARDED_COLOR = "#2e7d32"
DROPPED_COLOR = "#c62828"
# Queries in flight at once: the two range queries, then the refinement queries.
REFINE_WORKERS = 4
_SERVICE_RE = re.compile(r"(?P<ns>[a-z0-9-]+)/(?P<name>[a-z0-9-]+):(?P<port>[A-Za-z0-9-]+)")


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A Kubernetes Service port: ``namespace/name:port``."""

    namespace: str
    name: str
    port: int | str

    @classmethod
    def parse(cls, text: str) -> ServiceRef:
        """Parse ``namespace/name:port`` (port a number or a port name).

        Raises:
            UserError: the text has another shape.
        """
        match = _SERVICE_RE.fullmatch(text.strip())
        if match is None:
            raise UserError(
                f"invalid service {text!r}",
                hint="use NAMESPACE/SERVICE:PORT, e.g. monitoring/prometheus-server:80",
            )
        port = match["port"]
        return cls(match["ns"], match["name"], int(port) if port.isdigit() else port)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"


DEFAULT_SERVICE = ServiceRef(
    stack.PROMETHEUS_NAMESPACE, stack.PROMETHEUS_SERVICE, stack.PROMETHEUS_PORT
)


def connect(
    *,
    prometheus_url: str | None,
    kube_context: str | None = None,
    kubeconfig: str | None = None,
    service: ServiceRef = DEFAULT_SERVICE,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> PrometheusClient:
    """A Prometheus client: straight to ``prometheus_url``, else via the Kubernetes API."""
    if prometheus_url:
        return PrometheusClient.from_url(prometheus_url, timeout_s)
    kube = KubeClient.from_kubeconfig(kube_context, kubeconfig)
    return PrometheusClient.via_service_proxy(
        kube, service.namespace, service.name, service.port, timeout_s
    )


@dataclass(frozen=True, slots=True)
class StatsReport:
    """Everything one ``stats`` run found.

    Attributes:
        window: the evaluated time window.
        namespaces: one entry per namespace, in the order asked (or sorted).
        selection: the whole selection with each flow once (what the chart shows).
        source: where Prometheus was reached.
        queries: how many API queries the run sent.
        notes: things the user should know (a metric to enable, namespaces without flows).
    """

    window: core.TimeWindow
    namespaces: tuple[core.FlowStats, ...]
    selection: core.FlowStats
    source: str
    queries: int
    notes: tuple[str, ...] = ()


def collect(
    client: PrometheusClient, window: core.TimeWindow, namespaces: Sequence[str] = ()
) -> StatsReport:
    """Run the queries for ``namespaces`` (all when empty) and summarize them.

    Raises:
        ClusterError: Prometheus failed, or has no Hubble flow metrics at all in the window
            (:data:`~cluster_mgmt.core.stats.MISSING_METRICS_MESSAGE`).
    """
    selected = core.check_namespaces(namespaces)
    span = (window.origin, window.end, window.step)
    flows_query = core.counter_query(core.flows_selectors(selected), window)
    drops_query = core.counter_query(core.drops_selectors(selected), window)
    # The measures are independent: ask for both at once (Prometheus answers in parallel).
    with ThreadPoolExecutor(max_workers=REFINE_WORKERS, thread_name_prefix="prometheus") as pool:
        flows_future = pool.submit(client.query_range, flows_query, *span)
        drops_future = pool.submit(client.query_range, drops_query, *span)
        flow_result, drop_result = flows_future.result(), drops_future.result()
        if not flow_result and not client.query(
            core.presence_query(core.FLOWS_METRIC, window), window.end
        ):
            raise ClusterError(
                core.MISSING_METRICS_MESSAGE,
                hint=f"no {core.FLOWS_METRIC} samples between {core.format_time(window.start)} "
                f"and {core.format_time(window.end)} in Prometheus ({client.description})",
            )
        state = core.drop_metric_state(drop_result)
        if state is core.DropMetric.ABSENT and selected:
            # Filtered by namespace, an empty answer may just mean no drops there.
            presence = client.query(core.drops_presence_query(window), window.end)
            state = core.drop_metric_state(presence, presence=True)
        flows = core.read_counters(flow_result, window)
        drops = (
            core.read_counters(drop_result, window) if state is core.DropMetric.LABELLED else None
        )
        # Raw samples only where the grid values cannot give an exact count (resets, series
        # born or back from a gap in the window): a few instant queries, usually none.
        refinements = [
            (counters, core.refine_queries(metric, counters, window, selected))
            for metric, counters in ((core.FLOWS_METRIC, flows), (core.DROPS_METRIC, drops or []))
        ]
        answers = {
            query: pool.submit(client.raw_samples, query.expr, query.at)
            for _, queries in refinements
            for query in queries
        }
        for counters, queries in refinements:
            core.apply_refinements(
                counters, window, queries, [answers[query].result() for query in queries]
            )
    summary = core.summarize(window, flows, drops, selected)
    notes = [core.DROP_METRIC_NOTES[state]] if state in core.DROP_METRIC_NOTES else []
    silent = [s.namespace for s in summary.namespaces if _silent(s)]
    if silent:
        notes.append(f"no flows recorded in this window for: {', '.join(silent)}")
    return StatsReport(
        window=window,
        namespaces=summary.namespaces,
        selection=summary.selection,
        source=client.description,
        queries=client.queries,
        notes=tuple(notes),
    )


def _silent(stats: core.FlowStats) -> bool:
    return (
        not stats.forwarded
        and not stats.dropped
        and all(p.forwarded_per_s is None and p.dropped_per_s is None for p in stats.series)
    )


# --- chart --------------------------------------------------------------------------------


def build_figure(report: StatsReport) -> Figure:
    """Forwarded and dropped flows per second over time: two labelled series, shared time axis.

    Dropped rates are usually orders of magnitude below forwarded ones, so each gets its own
    panel (one scale would flatten the dropped line onto the axis).
    """
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    selection = report.selection
    times = [datetime.fromtimestamp(p.t, UTC) for p in selection.series]
    nan = float("nan")
    forwarded = [nan if p.forwarded_per_s is None else p.forwarded_per_s for p in selection.series]
    dropped = [nan if p.dropped_per_s is None else p.dropped_per_s for p in selection.series]

    figure = Figure(figsize=(10, 5.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # Agg: no display, no global pyplot state
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(times, forwarded, color=FORWARDED_COLOR, linewidth=1.4, label="forwarded/s")
    bottom.plot(times, dropped, color=DROPPED_COLOR, linewidth=1.4, label="dropped/s")
    for axes, what, values in ((top, "forwarded", forwarded), (bottom, "dropped", dropped)):
        axes.set_ylabel(f"{what} flows/s")
        peak = max((v for v in values if v == v), default=0.0)  # v == v: not NaN
        axes.set_ylim(0, peak * 1.3 if peak > 0 else 1.0)  # headroom for the legend
        axes.margins(x=0.01)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper left")
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(formatter)
    bottom.set_xlabel("time (UTC)")
    ratio = selection.drop_ratio
    share = "no flows" if ratio is None else f"{ratio * 100:.2f}% dropped"
    figure.suptitle(
        f"Hubble flows — {selection.namespace} — {core.format_time(report.window.start)} to "
        f"{core.format_time(report.window.end)} ({share})",
        fontsize=11,
    )
    return figure


def render_png(report: StatsReport) -> bytes:
    """The chart as PNG bytes."""
    buffer = io.BytesIO()
    build_figure(report).savefig(buffer, format="png")
    return buffer.getvalue()


def write_png(report: StatsReport, path: Path) -> None:
    """Write the chart to ``path``."""
    _write(path, render_png(report))


# --- HTML report --------------------------------------------------------------------------


def render_html(report: StatsReport, generated_at: datetime | None = None) -> str:
    """One self-contained HTML page: summary, inline PNG chart and the per-namespace table.

    No scripts, fonts or links to fetch: it opens offline, e.g. as a CI job artifact. The
    page is the package's ``report_templates/stats.html.j2``, every value escaped.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cluster_mgmt", "report_templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    selection = core.table_row(report.selection)
    share = selection.drop_share
    return env.get_template("stats.html.j2").render(
        title=report.selection.namespace,
        start=core.format_time(report.window.start),
        end=core.format_time(report.window.end),
        step=report.window.step,
        source=report.source,
        generated=(generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        selection=selection,
        share=share if share == "-" else f"{share}%",
        image=base64.b64encode(render_png(report)).decode("ascii"),
        headers=core.TABLE_HEADERS,
        rows=[astuple(core.table_row(s)) for s in report.namespaces],
        notes=report.notes,
    )


def write_html(report: StatsReport, path: Path) -> None:
    """Write the HTML report to ``path``."""
    _write(path, render_html(report).encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc
