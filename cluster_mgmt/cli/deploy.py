"""Deploy commands: plan (helmfile diff) and apply (diff-based helmfile apply)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cluster_mgmt.cli import state
from cluster_mgmt.cli.options import context_from_flag, junit_option, kube_options, timeout_option

if TYPE_CHECKING:
    from cluster_mgmt.ops.deploy import DeployRequest, DeployResult

F = TypeVar("F", bound=Callable[..., Any])


class _UsageErrorExit1(click.UsageError):
    exit_code = 1


class _ExitCode1Command(click.Command):
    """A command whose usage errors exit 1: with --detailed-exitcode, 2 means "changes".

    A mistyped flag in a CI job must fail the job, not pass as "drift found" where the
    drift job is allowed to fail with 2.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _UsageErrorExit1(exc.format_message(), exc.ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _UsageErrorExit1(exc.format_message(), exc.ctx) from None


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
    **apply_options: Any,
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
        **apply_options,
    )


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _report(result: DeployResult, verb: str, none: str) -> None:
    from cluster_mgmt.cli.output import echo_table

    where = f"environment {result.environment}"
    if result.kube_context:
        where += f" (context {result.kube_context})"
    if result.guard is not None and result.guard.deploy_error is not None:
        click.echo(f"{where}: helmfile apply failed")
    elif not result.changed:
        click.echo(f"{where}: {none}")
    else:
        click.echo(f"{where}: {len(result.changes)} release(s) {verb}")
        echo_table(
            ["RELEASE", "NAMESPACE", "CHANGE"],
            [[c.release, c.namespace, str(c.action)] for c in result.changes],
        )
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


def _changes_exit(result: DeployResult, verb: str, detailed: bool) -> None:
    from cluster_mgmt.errors import ChangesDetected

    if detailed and result.changed:
        raise ChangesDetected(f"{len(result.changes)} release(s) {verb}", exit_code=2)


def _errors_exit_1(run: Callable[[], DeployResult]) -> DeployResult:
    """Every failure exits 1: with --detailed-exitcode, 2 must mean "changes" only."""
    from cluster_mgmt.errors import UserError

    try:
        return run()
    except UserError as exc:
        exc.exit_code = 1
        raise


@click.command("plan", cls=_ExitCode1Command)
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
    _report(result, "would change", "no changes")
    _changes_exit(result, "would change", detailed_exitcode)


@click.command("apply", cls=_ExitCode1Command)
@_deploy_options
@click.option(
    "--skip-prepare",
    is_flag=True,
    help="Do not prepare the provider before the first Cilium install (see `prepare`).",
)
@click.option(
    "--skip-restart",
    is_flag=True,
    help="Do not restart the pods Cilium does not manage after Cilium was installed or "
    "changed (see `restart-unmanaged-pods`).",
)
@timeout_option(
    "10m",
    "Deadline of that restart (PodDisruptionBudget refusals included); pods left are "
    "reported and apply exits 1, without a rollback.",
    flag="--restart-timeout",
)
@click.option(
    "--rollback-on-failure",
    is_flag=True,
    help="Wait for the releases, run verify's checks (without --probe), and when they fail "
    "roll every changed release back to its previous revision and verify again; exit 1.",
)
@timeout_option(
    "5m",
    "With --rollback-on-failure: how long verify runs its failed checks again (after 1 s, "
    "doubling to 10 s) while the stack settles, before it rolls back; the same after a "
    "rollback.",
    flag="--verify-timeout",
)
@junit_option(
    "With --rollback-on-failure: write the verify results (after the deploy, and after "
    "a rollback) as JUnit XML, for GitLab's test report."
)
@click.pass_context
def apply_cmd(
    ctx: click.Context,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    selectors: tuple[str, ...],
    detailed_exitcode: bool,
    skip_prepare: bool,
    skip_restart: bool,
    restart_timeout: float,
    rollback_on_failure: bool,
    verify_timeout: float,
    junit: Path | None,
) -> None:
    """Deploy the environment: helmfile apply, upgrading only releases that differ.

    Before the first Cilium install the provider is prepared as `prepare` does (EKS:
    aws-node kept off Cilium's nodes); after Cilium was installed or changed, the pods it
    does not manage are restarted as `restart-unmanaged-pods` does. With
    --rollback-on-failure, verify runs after the deploy; when it fails, every release whose
    revision changed is rolled back to its previous one, verify runs again, both outcomes
    are reported and the exit code is 1.

    \b
    Examples:
      cluster-mgmt apply --env production
      cluster-mgmt apply --env production --rollback-on-failure --junit verify.xml
    """  # noqa: D301 - click's \\b keeps the example lines unwrapped
    from cluster_mgmt.ops.deploy import DeployError, apply

    if junit is not None and not rollback_on_failure:
        raise click.UsageError("--junit needs --rollback-on-failure (else use `verify --junit`)")
    request = _request(
        ctx, env, kube_context, kubeconfig, selectors,
        prepare=not skip_prepare, restart=not skip_restart, restart_timeout_s=restart_timeout,
        rollback_on_failure=rollback_on_failure, verify_timeout_s=verify_timeout,
    )  # fmt: skip
    result = _errors_exit_1(lambda: apply(request, on_line=_progress))
    _report(result, "changed", "nothing to change")
    if result.guard is not None:
        click.echo("rollback-on-failure:")
        for line in result.guard.summary():
            click.echo(f"  {line}")
    if junit is not None:
        _write_junit(junit, result)
    if result.guard is not None and not result.guard.ok:
        rolled = len(result.guard.rolled_back)
        second = result.guard.second
        after = (
            ""
            if second is None
            else f"; verify after rollback {'passed' if second.ok else 'failed'}"
        )
        what = "helmfile apply failed" if result.guard.deploy_error else "verify failed after apply"
        raise DeployError(f"{what}: {rolled} release(s) rolled back{after}")
    if result.problems:
        raise DeployError("apply finished, but: " + "; ".join(result.problems))
    _changes_exit(result, "changed", detailed_exitcode)


def _write_junit(path: Path, result: DeployResult) -> None:
    from cluster_mgmt.adapters.project_fs import write_atomic
    from cluster_mgmt.core.junit import junit_suites_xml

    env = result.environment
    names = ("after deploy", "after rollback")
    suites = [
        (f"cluster-mgmt verify {env} ({name})", report.results, f"verify.{env}.{name.split()[1]}")
        for name, report in zip(names, result.reports, strict=False)
    ]
    write_atomic(path, junit_suites_xml(suites))
    click.echo(f"wrote {path}", err=True)
