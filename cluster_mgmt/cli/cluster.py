"""``cluster-mgmt prepare`` and ``cluster-mgmt rollback``: provider preparation and rollbacks."""

from __future__ import annotations

import click

from cluster_mgmt.cli.options import kube_options, kube_target, output_option, timeout_option
from cluster_mgmt.cli.output import echo_json, echo_table


@click.command("prepare")
@kube_options
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--revert", is_flag=True, help="Undo the changes prepare made (EKS: aws-node).")
@output_option("table", "json")
@timeout_option("1m", "How long each answer of the API server may take.")
@click.pass_context
def prepare_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    dry_run: bool,
    revert: bool,
    fmt: str,
    timeout: float,
) -> None:
    """Prepare the cluster for Cilium, as Cilium's guide for its provider says.

    EKS (ENI mode): the AWS VPC CNI (aws-node) gets a nodeSelector so it stays off the nodes
    Cilium manages (--revert removes it). GKE: checks that Dataplane V2 and Calico are off and
    that the nodes' pod ranges lie in native_routing_cidr. kind: checks the default CNI is off.
    Exit 2 when something must be fixed before Cilium is installed.

    \b
    Examples:
      cluster-mgmt prepare --env production --dry-run
      cluster-mgmt prepare --env production
    """  # noqa: D301 - click's \\b keeps the example lines unwrapped
    from cluster_mgmt.cli import state
    from cluster_mgmt.ops.kube_target import kube_client, single_environment
    from cluster_mgmt.ops.prepare import prepare_provider
    from cluster_mgmt.ops.project import load_project

    project_dir = state(ctx).project_dir
    project = load_project(project_dir)
    target = kube_target(
        ctx, env=env, kube_context=kube_context, kubeconfig=kubeconfig,
        project_dir=project_dir, project=project,
    )  # fmt: skip
    env_name = target.env or single_environment(project, env)
    result = prepare_provider(
        kube_client(target, timeout), project.config, env_name, dry_run=dry_run, revert=revert
    )
    plan = result.plan
    verb = "would change" if dry_run else "changed"
    if fmt == "json":
        echo_json(
            {
                "env": env_name,
                "provider": str(plan.provider),
                "dry_run": dry_run,
                "changes": [
                    {
                        "description": c.description,
                        "path": c.path,
                        "patch": c.patch,
                        "applied": c in result.applied,
                    }  # fmt: skip
                    for c in plan.changes
                ],
                "findings": [
                    {"level": str(f.level), "message": f.message, "hint": f.hint}
                    for f in plan.findings
                ],
            }
        )
    else:
        click.echo(f"{env_name} ({plan.provider}, {target.describe()}):")
        for change in plan.changes:
            click.echo(f"  {verb}: {change.description}")
        if not plan.changes:
            click.echo("  nothing to change")
        rows = [(str(f.level).upper(), f.message, f.hint or "") for f in plan.findings]
        echo_table(("LEVEL", "FINDING", "HINT"), rows)
    if dry_run and plan.blocked:
        from cluster_mgmt.errors import ClusterError

        raise ClusterError(f"{env_name}: not ready for Cilium: {plan.blocked[0].message}",
                           hint=plan.blocked[0].hint)  # fmt: skip


@click.command("rollback")
@click.argument("release", required=False)
@kube_options
@click.option(
    "--to", "to_revision", type=click.IntRange(min=1), metavar="REVISION",
    help="Revision to return to (default: the one before the current). Needs RELEASE.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Show what would be rolled back; change nothing.")
@timeout_option("5m", "How long each helm rollback may take (it waits for the resources).")
@output_option("table", "json")
@click.pass_context
def rollback_cmd(
    ctx: click.Context,
    release: str | None,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    to_revision: int | None,
    dry_run: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Roll a release (or every release of the stack) back to an earlier revision.

    Without RELEASE every installed release of the stack goes back one revision. helm
    rolls back through pyhelm3 and waits until the resources are ready.

    \b
    Examples:
      cluster-mgmt rollback cilium --env production
      cluster-mgmt rollback prometheus --to 3 --env production --dry-run
    """  # noqa: D301 - click's \\b keeps the example lines unwrapped
    from cluster_mgmt.adapters.helm import HelmReleases
    from cluster_mgmt.cli import state
    from cluster_mgmt.errors import ClusterError
    from cluster_mgmt.ops.rollback import StepOutcome, plan_rollback, run_rollback, stack_releases

    if to_revision is not None and release is None:
        raise click.UsageError("--to needs a RELEASE")
    releases = stack_releases([release] if release else None)
    target = kube_target(
        ctx, env=env, kube_context=kube_context, kubeconfig=kubeconfig,
        project_dir=state(ctx).project_dir,
    )  # fmt: skip
    helm = HelmReleases(
        kube_context=target.context, kubeconfig=target.kubeconfig, timeout_s=timeout
    )
    steps, notes = plan_rollback(helm, releases, to_revision)
    if not dry_run:
        steps = run_rollback(helm, steps)
    if fmt == "json":
        echo_json([s.to_json() for s in steps])
    else:
        rows = [
            (
                s.release.name,
                s.release.namespace,
                f"{s.from_revision} ({s.from_chart})",
                f"{s.to_revision} ({s.to_chart})",
                str(s.outcome),
                s.message,
            )  # fmt: skip
            for s in steps
        ]
        echo_table(("RELEASE", "NAMESPACE", "FROM", "TO", "RESULT", "MESSAGE"), rows,
                   title=target.describe())  # fmt: skip
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if not steps and release:
        raise ClusterError(f"release {release} is not installed", hint="helm list -A")
    failed = [s for s in steps if s.outcome == StepOutcome.FAILED]
    if failed:
        raise ClusterError(
            f"{len(failed)} rollback(s) failed: {failed[0].release.name}: {failed[0].message}"
        )
