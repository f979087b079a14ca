"""``cluster-mgmt restart-unmanaged-pods``: restart the pods Cilium does not manage yet."""

from __future__ import annotations

import click

from cluster_mgmt.cli.options import kube_options, kube_target, output_option, timeout_option
from cluster_mgmt.cli.output import echo_json, echo_table


@click.command("restart-unmanaged-pods")
@kube_options
@click.option(
    "--dry-run", is_flag=True, help="List the pods that would be restarted; change nothing."
)
@click.option("-n", "--namespace", metavar="NS", help="Only this namespace.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace (the default).")
@click.option(
    "--include-bare-pods",
    is_flag=True,
    help="Also evict pods without a controller (nothing recreates them).",
)
@click.option(
    "--max-unavailable",
    type=click.IntRange(min=1, max=100),
    default=1,
    show_default=True,
    help="Pods of one owner evicted at a time.",
)
@timeout_option("10m", "Deadline of the whole run (PodDisruptionBudget refusals included).")
@output_option("table", "json")
@click.pass_context
def restart_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    dry_run: bool,
    namespace: str | None,
    all_namespaces: bool,
    include_bare_pods: bool,
    max_unavailable: int,
    timeout: float,
    fmt: str,
) -> None:
    """Evict the running pods that have no CiliumEndpoint, so Cilium manages them.

    Pods started before Cilium (or while it was down) are not subject to network policies
    until they are recreated. Only running pods without a CiliumEndpoint that are not on the
    host network are touched. They are evicted (PodDisruptionBudgets are honoured; a refusal
    is retried, never turned into a delete), owner by owner, --max-unavailable at a time.
    Pods without a controller are skipped unless --include-bare-pods. Each pod's outcome is
    printed: evicted, gone, blocked (a budget refused it until the deadline; the budgets are
    named), not-replaced (its owner did not bring it back within 3 minutes) or not-reached.
    Exit 0 when every pod was restarted, 1 when some were not, 2 on bad input or an
    unreachable cluster.

    \b
    Examples:
      cluster-mgmt restart-unmanaged-pods --env production --dry-run -o json
      cluster-mgmt restart-unmanaged-pods --kube-context kind-dev -n shop --max-unavailable 2
    """  # noqa: D301 - click's \\b keeps the example lines unwrapped
    from cluster_mgmt.cli import state
    from cluster_mgmt.core.unmanaged import pod_entry
    from cluster_mgmt.errors import ChangesDetected
    from cluster_mgmt.ops import restart
    from cluster_mgmt.ops.kube_target import kube_client

    if namespace and all_namespaces:
        raise click.UsageError("give -n/--namespace or -A/--all-namespaces, not both")
    target = kube_target(
        ctx, env=env, kube_context=kube_context, kubeconfig=kubeconfig,
        project_dir=state(ctx).project_dir,
    )  # fmt: skip
    kube = kube_client(target, timeout)
    if dry_run:
        selection = restart.find_unmanaged(
            kube, namespace=namespace, include_bare=include_bare_pods
        )
        if fmt == "json":
            echo_json([pod_entry(p) for p in selection.targets])
        else:
            rows = [(p.namespace, p.name, str(p.owner or "-")) for p in selection.targets]
            echo_table(("NAMESPACE", "NAME", "OWNER"), rows,
                       title=f"{len(rows)} pod(s) would be restarted")  # fmt: skip
        for pod, reason in selection.skipped:
            click.echo(f"skipped {pod.namespace}/{pod.name}: {reason}", err=True)
        return

    report = restart.restart_unmanaged(
        kube,
        namespace=namespace,
        include_bare=include_bare_pods,
        max_unavailable=max_unavailable,
        timeout_s=timeout,
        progress=lambda line: click.echo(line, err=True),
    )
    if fmt == "json":
        echo_json([r.to_json() for r in report.results])
    else:
        results = [
            (r.pod.namespace, r.pod.name, str(r.pod.owner or "-"), str(r.outcome), r.message)
            for r in report.results
        ]
        echo_table(("NAMESPACE", "NAME", "OWNER", "RESULT", "MESSAGE"), results,
                   title=f"{len(results)} unmanaged pod(s)")  # fmt: skip
    for pod, reason in report.selection.skipped:
        click.echo(f"skipped {pod.namespace}/{pod.name}: {reason}", err=True)
    left = report.left
    if left:
        kinds = sorted({str(r.outcome) for r in left})
        raise ChangesDetected(
            f"{len(left)} pod(s) not restarted ({', '.join(kinds)}): "
            + ", ".join(f"{r.pod.namespace}/{r.pod.name} ({r.outcome})" for r in left[:5])
            + (" …" if len(left) > 5 else "")
            + "; see the MESSAGE column: a PodDisruptionBudget that allows no disruption "
            "(kubectl get pdb -A), or a workload whose new pods do not become ready",
            1,
        )
