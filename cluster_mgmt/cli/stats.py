"""``cluster-mgmt stats``: packet statistics from Hubble metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cluster_mgmt.cli.options import kube_options, kube_target, output_option, timeout_option
from cluster_mgmt.cli.output import echo_json, echo_table
from cluster_mgmt.core.stack import PROMETHEUS_NAMESPACE, PROMETHEUS_PORT, PROMETHEUS_SERVICE

if TYPE_CHECKING:
    from cluster_mgmt.ops.stats import StatsReport


@click.command("stats")
@kube_options
@click.option(
    "--prometheus-url",
    metavar="URL",
    help="Query this Prometheus directly instead of through the Kubernetes API service proxy.",
)
@click.option(
    "--prometheus-service",
    metavar="NS/SVC:PORT",
    default=f"{PROMETHEUS_NAMESPACE}/{PROMETHEUS_SERVICE}:{PROMETHEUS_PORT}",
    show_default=True,
    help="The Prometheus Service reached through the service proxy.",
)
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="A namespace to report (repeatable). Default: all namespaces.",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Report every namespace.")
@click.option("--since", metavar="DURATION", help="Window ending now (or at --end). [default: 24h]")
@click.option("--start", metavar="TIME", help="Window start: RFC 3339 or unix seconds.")
@click.option("--end", metavar="TIME", help="Window end: RFC 3339 or unix seconds. [default: now]")
@click.option(
    "--step",
    metavar="DURATION",
    help="Resolution of the series (default: about 720 points). Totals are exact at any step.",
)
@output_option("table", "json")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.png",
    help="Write a PNG chart of forwarded vs dropped flows per second.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.html",
    help="Write a self-contained HTML report (chart and table), e.g. as a CI artifact.",
)
@timeout_option("30s", "How long to wait for each Prometheus answer.", minimum=1, maximum=600)
@click.pass_context
def stats_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    prometheus_url: str | None,
    prometheus_service: str,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    since: str | None,
    start: str | None,
    end: str | None,
    step: str | None,
    fmt: str,
    plot: Path | None,
    html_file: Path | None,
    timeout: float,
) -> None:
    """Forwarded vs dropped flows per namespace, from Hubble's metrics in Prometheus.

    Totals, drop share, average rates, rates over time and top drop reasons, over the last
    24h or any window. Prometheus is reached through the Kubernetes API service proxy (no
    exposed port; works with the GitLab agent's context in CI) or at --prometheus-url.

    \b
    Examples:
      cluster-mgmt stats --env production -n shop --since 7d
      cluster-mgmt stats --kube-context kind-dev -A -o json
      cluster-mgmt stats --prometheus-url http://127.0.0.1:9090 --html report.html
    """  # noqa: D301 - click's \\b keeps the example lines unwrapped
    from cluster_mgmt.cli import state
    from cluster_mgmt.core import stats as core
    from cluster_mgmt.ops import stats as ops

    if namespaces and all_namespaces:
        raise click.UsageError("give -n/--namespace or -A/--all-namespaces, not both")
    window = core.plan_window(
        now=time.time(),
        since_s=core.parse_duration(since) if since else None,
        start=core.parse_time(start) if start else None,
        end=core.parse_time(end) if end else None,
        step_s=core.parse_duration(step) if step else None,
    )
    selected = core.check_namespaces(namespaces)
    target = kube_target(
        ctx,
        env=env,
        kube_context=kube_context,
        kubeconfig=kubeconfig,
        project_dir=state(ctx).project_dir,
    )
    client = ops.connect(
        prometheus_url=prometheus_url,
        kube_context=target.context,
        kubeconfig=target.kubeconfig,
        service=ops.ServiceRef.parse(prometheus_service),
        timeout_s=timeout,
    )
    report = ops.collect(client, window, selected)

    if fmt == "json":
        echo_json([core.to_json(s) for s in report.namespaces])
    else:
        _print_table(report)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if plot is not None:
        ops.write_png(report, plot)
        click.echo(f"wrote {plot}", err=True)
    if html_file is not None:
        ops.write_html(report, html_file)
        click.echo(f"wrote {html_file}", err=True)


def _print_table(report: StatsReport) -> None:
    from cluster_mgmt.core import stats as core

    window = report.window
    title = (
        f"{core.format_time(window.start)} to {core.format_time(window.end)}, step {window.step}s"
    )
    if not report.namespaces:
        click.echo(f"{title}: no forwarded or dropped flows")
        return
    rows = []
    for stats in report.namespaces:
        row = core.table_row(stats)
        rows.append(
            (
                row.namespace,
                row.forwarded,
                row.dropped,
                row.drop_share,
                row.forwarded_per_s,
                row.dropped_per_s,
                row.top_drop_reasons,
            )
        )
    last = len(core.TABLE_HEADERS) - 1
    echo_table(core.TABLE_HEADERS, rows, title=title, numeric=range(1, last))
