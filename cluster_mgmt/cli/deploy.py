"""Deploy commands: plan (helmfile diff) and apply (diff-based helmfile apply)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cluster_mgmt.cli import state
from cluster_mgmt.cli.options import context_from_flag, kube_options

if TYPE_CHECKING:
    from cluster_mgmt.ops.deploy import DeployRequest, DeployResult

F = TypeVar("F", bound=Callable[..., Any])


def _deploy_options(f: F) -> F:
    f = click.option(
        "--detailed-exitcode",
        is_flag=True,
        help="Exit 2 when releases differ (plan) or were changed (apply); 0 when not; 1 on error.",
    )(f)
    f = click.option(
        "-l",
        "--selector",
        "selectors",
        multiple=True,
        metavar="K=V[,K=V]",
        help="Only releases matching these labels (helmfile's selector; repeat for OR), e.g. "
        "name=cilium.",
    )(f)
    return kube_options(f)


def _request(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    selectors: tuple[str, ...],
    output_file: Path | None = None,
) -> DeployRequest:
    from cluster_mgmt.ops.deploy import DeployRequest

    explicit, ambient = context_from_flag(ctx, kube_context)
    return DeployRequest(
        project_dir=state(ctx).project_dir,
        env=env,
        kube_context=explicit,
        ambient_context=ambient,
        kubeconfig=kubeconfig,
        selectors=selectors,
        output_file=output_file,
    )


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _report(result: DeployResult, verb: str, none: str, detailed: bool) -> None:
    from cluster_mgmt.cli.output import echo_table
    from cluster_mgmt.errors import ChangesDetected

    where = f"environment {result.environment}"
    if result.kube_context:
        where += f" (context {result.kube_context})"
    if not result.changed:
        click.echo(f"{where}: {none}")
        return
    click.echo(f"{where}: {len(result.changes)} release(s) {verb}")
    echo_table(
        ["RELEASE", "NAMESPACE", "CHANGE"],
        [[c.release, c.namespace, str(c.action)] for c in result.changes],
    )
    if detailed:
        raise ChangesDetected(f"{len(result.changes)} release(s) {verb}", exit_code=2)


def _errors_exit_1(run: Callable[[], DeployResult]) -> DeployResult:
    """Every failure exits 1: with --detailed-exitcode, 2 must mean "changes" only."""
    from cluster_mgmt.errors import UserError

    try:
        return run()
    except UserError as exc:
        exc.exit_code = 1
        raise


@click.command("plan")
@_deploy_options
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the diff (secrets suppressed and redacted) to this file, e.g. a CI artifact.",
)
@click.pass_context
def plan_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    selectors: tuple[str, ...],
    detailed_exitcode: bool,
    output_file: Path | None,
) -> None:
    """Show what apply would change: helmfile diff, secrets suppressed."""
    from cluster_mgmt.ops.deploy import plan

    request = _request(ctx, env, kube_context, kubeconfig, selectors, output_file)
    result = _errors_exit_1(lambda: plan(request, on_line=_progress))
    _report(result, "would change", "no changes", detailed_exitcode)


@click.command("apply")
@_deploy_options
@click.pass_context
def apply_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    selectors: tuple[str, ...],
    detailed_exitcode: bool,
) -> None:
    """Deploy the environment: helmfile apply, upgrading only releases that differ."""
    from cluster_mgmt.ops.deploy import apply

    request = _request(ctx, env, kube_context, kubeconfig, selectors)
    result = _errors_exit_1(lambda: apply(request, on_line=_progress))
    _report(result, "changed", "nothing to change", detailed_exitcode)
