"""`cluster-mgmt plan` and `cluster-mgmt apply`: helmfile diff and diff-based apply.

``apply`` is an ordered sequence of steps around one ``helmfile apply``: steps in
:data:`BEFORE_HELMFILE` run first (the project must be rendered; more, such as preparing
the provider before the first Cilium install, belong here), then helmfile, then the steps
in :data:`AFTER_HELMFILE`, which see which releases changed (e.g. to act after Cilium was
installed or changed). Exit codes follow helmfile's ``--detailed-exitcode``: 0 nothing to
change, 2 changes, 1 error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cluster_mgmt.adapters import project_fs
from cluster_mgmt.adapters.helmfile import Completed, Helmfile, LineSink, Target
from cluster_mgmt.core.release_changes import (
    Action,
    ReleaseChange,
    changes_from_apply,
    changes_from_diff,
    parse_selector,
)
from cluster_mgmt.errors import ClusterError, UserError
from cluster_mgmt.ops.kube_target import resolve_kube_target
from cluster_mgmt.ops.project import Project, load_project, plan_render


class DeployError(ClusterError):
    """helmfile failed. Exit code 1, so 2 keeps meaning "changes" to callers and CI."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """What to plan or apply.

    Attributes:
        project_dir: the project.
        env: ``--env``; may be omitted when the project has one environment.
        kube_context: ``--kube-context`` given on the command line.
        ambient_context: ``KUBE_CONTEXT`` from the process environment.
        kubeconfig: ``--kubeconfig``/``KUBECONFIG``.
        selectors: helmfile release selectors (each ``K=V[,K=V]``; several are OR-ed).
        output_file: where plan writes the diff (redacted), for a CI artifact.
    """

    project_dir: Path
    env: str | None = None
    kube_context: str | None = None
    ambient_context: str | None = None
    kubeconfig: str | None = None
    selectors: tuple[str, ...] = ()
    output_file: Path | None = None


@dataclass(frozen=True, slots=True)
class DeployResult:
    """What plan found or apply did."""

    environment: str
    kube_context: str | None
    changes: tuple[ReleaseChange, ...]

    @property
    def changed(self) -> bool:
        """Whether any release differs (plan) or was changed (apply)."""
        return bool(self.changes)

    def changed_release(self, name: str) -> bool:
        """Whether release ``name`` (e.g. ``cilium``) is among the changes."""
        return any(change.release == name for change in self.changes)


@dataclass(slots=True)
class ApplyRun:
    """State shared by the steps of one apply."""

    project: Project
    target: Target
    helmfile: Helmfile
    on_line: LineSink
    result: DeployResult | None = None
    notes: list[str] = field(default_factory=list)


Step = Callable[[ApplyRun], None]


def _require_rendered(run: ApplyRun) -> None:
    """Refuse to deploy generated files that no longer match cluster-mgmt.yaml."""
    plan = plan_render(run.project.root, run.project.config)
    if plan.stale:
        names = ", ".join(str(p) for p in plan.stale)
        raise UserError(
            f"generated files are stale or edited: {names}",
            hint="run `cluster-mgmt render`, review and commit, then apply",
        )


# The ordered steps of apply around helmfile. Each is a function of the run.
BEFORE_HELMFILE: tuple[Step, ...] = (_require_rendered,)
AFTER_HELMFILE: tuple[Step, ...] = ()


def _target(request: DeployRequest, project: Project) -> Target:
    if request.env is None and len(project.config.environments) > 1:
        names = ", ".join(project.config.environments)
        raise UserError(f"several environments ({names}): choose one with --env")
    env = request.env or next(iter(project.config.environments))
    kube = resolve_kube_target(
        request.project_dir,
        env=env,
        kube_context=request.kube_context,
        ambient_context=request.ambient_context,
        kubeconfig=request.kubeconfig,
    )
    selectors: list[str] = []
    for text in request.selectors:
        try:
            selectors.append(parse_selector(text))
        except ValueError as exc:
            raise UserError(str(exc), hint="see `helmfile --help`, --selector") from None
    return Target(env, kube.context, request.kubeconfig, tuple(selectors))


def _check(completed: Completed, what: str, target: Target) -> None:
    if completed.returncode not in (0, 2):
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-6:])
        raise DeployError(
            f"helmfile {what} failed for environment {target.environment!r} "
            f"(exit {completed.returncode}):\n{tail}",
            hint="the full output is above",
        )


def _lines(completed: Completed) -> list[str]:
    # diff and apply run with stderr merged into stdout, in helmfile's own order.
    return [*completed.stdout.splitlines(), *completed.stderr.splitlines()]


def plan(
    request: DeployRequest,
    *,
    helmfile: Helmfile | None = None,
    on_line: LineSink = lambda _line: None,
) -> DeployResult:
    """``helmfile diff`` of one environment: which releases would change."""
    project = load_project(request.project_dir)
    target = _target(request, project)
    completed = (helmfile or Helmfile()).diff(project.root, target, on_line)
    if request.output_file is not None:
        project_fs.write_atomic(request.output_file, "\n".join(_lines(completed)) + "\n")
    _check(completed, "diff", target)
    changes = tuple(changes_from_diff(_lines(completed)))
    if completed.returncode == 2 and not changes:
        # helmfile saw a difference that its output does not attribute to a release.
        changes = (ReleaseChange("(unattributed)", "", Action.UPGRADE),)
    return DeployResult(target.environment, target.kube_context, changes)


def apply(
    request: DeployRequest,
    *,
    helmfile: Helmfile | None = None,
    on_line: LineSink = lambda _line: None,
    before: tuple[Step, ...] | None = None,
    after: tuple[Step, ...] | None = None,
) -> DeployResult:
    """Apply one environment: the steps before helmfile, ``helmfile apply``, the steps after.

    helmfile's apply diffs every release first and upgrades only those that differ, so a
    run with nothing to change upgrades nothing.
    """
    project = load_project(request.project_dir)
    run = ApplyRun(project, _target(request, project), helmfile or Helmfile(), on_line)
    for step in BEFORE_HELMFILE if before is None else before:
        step(run)
    completed = run.helmfile.apply(project.root, run.target, on_line)
    _check(completed, "apply", run.target)
    run.result = DeployResult(
        run.target.environment,
        run.target.kube_context,
        tuple(changes_from_apply(_lines(completed))),
    )
    for step in AFTER_HELMFILE if after is None else after:
        step(run)
    return run.result
