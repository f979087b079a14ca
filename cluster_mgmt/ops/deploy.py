"""`cluster-mgmt plan` and `cluster-mgmt apply`: helmfile diff and diff-based apply.

``apply`` is an ordered sequence of steps around one ``helmfile apply``: the steps in
:data:`BEFORE_HELMFILE` run first (the project must be rendered; the provider is prepared
when this apply installs Cilium for the first time), then helmfile, then the steps in
:data:`AFTER_HELMFILE`, which see which releases changed (the pods Cilium does not manage
are restarted when Cilium was installed or changed). With ``rollback_on_failure`` helmfile
and the steps after it run guarded: verify follows (its failed checks run again with a
backoff until ``verify_timeout_s``, as the stack may still be settling), and when it still
fails every release whose revision changed goes back to its previous revision and verify
runs again (:func:`~cluster_mgmt.ops.rollback.deploy_with_rollback`).

``plan`` only reads: it says when apply would prepare the provider or restart pods. The
secrets that helmfile reads with ``requiredEnv`` are protected CI/CD variables, which GitLab
gives only to pipelines of protected branches: a merge request's plan runs without them, so
plan gives helmfile a placeholder for each one that is unset and says so (the Secret it
feeds shows as changed, its data masked). ``apply`` never does: it needs the real values.
Exit codes follow helmfile's ``--detailed-exitcode``: 0 nothing to change, 2 changes, 1
error (a failed verify after a guarded apply too).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cluster_mgmt.adapters import project_fs
from cluster_mgmt.adapters.helmfile import Completed, Helmfile, LineSink, Target
from cluster_mgmt.core.alerts import KEY_ENV as ALERTS_KEY_ENV
from cluster_mgmt.core.config import Provider
from cluster_mgmt.core.release_changes import (
    Action,
    ReleaseChange,
    changes_from_apply,
    changes_from_diff,
    parse_selector,
    selects,
)
from cluster_mgmt.core.render import AGENT_TOKEN_ENV, enabled_releases, release_chart
from cluster_mgmt.core.stack import CHARTS, RELEASES
from cluster_mgmt.errors import ClusterError, UserError
from cluster_mgmt.ops.kube_target import KubeTarget, resolve_kube_target
from cluster_mgmt.ops.project import Project, load_project, plan_render
from cluster_mgmt.ops.restart import DEFAULT_TIMEOUT_S as RESTART_TIMEOUT_S

if TYPE_CHECKING:
    from cluster_mgmt.adapters.helm import HelmReleases
    from cluster_mgmt.adapters.kube import KubeClient
    from cluster_mgmt.ops.rollback import GuardedDeploy
    from cluster_mgmt.ops.verify import VerifyReport

CILIUM = "cilium"
# What plan gives helmfile for a secret variable that is not set (see the module docs).
PLAN_PLACEHOLDER = "cluster-mgmt-plan-placeholder"
DEFAULT_VERIFY_TIMEOUT_S = 300.0


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
        prepare: apply prepares the provider before the first Cilium install.
        restart: apply restarts the pods Cilium does not manage after Cilium changed.
        restart_timeout_s: the deadline of that restart.
        rollback_on_failure: apply verifies and rolls the changed releases back on failure.
        verify_timeout_s: how long each verify of a guarded apply runs its failed checks
            again (backoff 1 s doubling to 10 s) before they count as failed.
    """

    project_dir: Path
    env: str | None = None
    kube_context: str | None = None
    ambient_context: str | None = None
    kubeconfig: str | None = None
    selectors: tuple[str, ...] = ()
    output_file: Path | None = None
    prepare: bool = True
    restart: bool = True
    restart_timeout_s: float = RESTART_TIMEOUT_S
    rollback_on_failure: bool = False
    verify_timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class DeployResult:
    """What plan found or apply did.

    Attributes:
        environment: the environment.
        kube_context: its kube context, when one was given or configured.
        changes: the releases that differ (plan) or were changed (apply).
        notes: what apply did or would do besides helmfile (prepare, restart), for the report.
        problems: steps after helmfile that did not finish (e.g. pods left unmanaged).
        guard: the outcome of a guarded apply (``rollback_on_failure``).
        reports: the verify reports of a guarded apply: after the deploy, after a rollback.
    """

    environment: str
    kube_context: str | None
    changes: tuple[ReleaseChange, ...]
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    guard: GuardedDeploy | None = None
    reports: tuple[VerifyReport, ...] = ()

    @property
    def ok(self) -> bool:
        """No step failed, and a guarded apply's verify passed."""
        return not self.problems and (self.guard is None or self.guard.ok)

    @property
    def changed(self) -> bool:
        """Whether any release differs (plan) or was changed (apply)."""
        return bool(self.changes)

    def changed_release(self, name: str) -> bool:
        """Whether release ``name`` (e.g. ``cilium``) is among the changes."""
        return any(change.release == name for change in self.changes)


class ClusterAccess:
    """The cluster of one apply: API and helm clients, made on first use."""

    def __init__(self, target: KubeTarget) -> None:
        self.target = target
        self._kube: KubeClient | None = None
        self._helm: HelmReleases | None = None

    @property
    def kube(self) -> KubeClient:
        """The Kubernetes API client."""
        if self._kube is None:
            from cluster_mgmt.ops.kube_target import kube_client

            self._kube = kube_client(self.target)
        return self._kube

    @property
    def helm(self) -> HelmReleases:
        """Release state and rollback through helm."""
        if self._helm is None:
            from cluster_mgmt.adapters.helm import HelmReleases

            self._helm = HelmReleases(
                kube_context=self.target.context, kubeconfig=self.target.kubeconfig
            )
        return self._helm


@dataclass(slots=True)
class ApplyRun:
    """State shared by the steps of one apply."""

    project: Project
    target: Target
    helmfile: Helmfile
    on_line: LineSink
    request: DeployRequest
    cluster: ClusterAccess
    result: DeployResult | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Pods the restart step could not restart (a budget, a workload that did not come back).
    restart_left: int = 0

    def progress(self, line: str) -> None:
        """A progress line of a step (streamed like helmfile's own lines)."""
        self.on_line(f"cluster-mgmt: {line}")


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


def deploys_release(project: Project, target: Target, name: str) -> bool:
    """Whether a helmfile run on ``target`` acts on release ``name``.

    It does when the release is enabled in the environment and the selectors pick it (by
    helmfile's default labels).
    """
    if name not in enabled_releases(project.config, target.environment):
        return False
    pin = release_chart(project.config, target.environment, name)
    labels = {"name": name, "namespace": RELEASES[name].namespace}
    if pin is not None:
        labels["chart"] = CHARTS[pin[0]].chart
    return selects(target.selectors, labels)


def _provider(run: ApplyRun) -> Provider:
    return Provider(run.project.config.environments[run.target.environment].provider)


def _prepare_provider(run: ApplyRun) -> None:
    """Before the first Cilium install: what Cilium's guide for the provider asks."""
    if not deploys_release(run.project, run.target, CILIUM):
        return
    if not run.request.prepare:
        run.progress("prepare: skipped (--skip-prepare)")
        return
    from cluster_mgmt.ops.prepare import prepare_before_first_install

    result = prepare_before_first_install(
        run.cluster.kube, run.cluster.helm, run.project.config, run.target.environment
    )
    if result is None:
        return  # Cilium is installed: the provider was prepared before
    provider = _provider(run)
    for change in result.applied:
        run.progress(f"prepare ({provider}): {change.description}")
    for finding in result.plan.findings:
        run.progress(f"prepare ({provider}): {finding.level}: {finding.message}")
    run.notes.append(
        f"prepared {provider} for the first Cilium install: "
        + (f"{len(result.applied)} change(s)" if result.applied else "nothing to change")
    )


def _cilium_change(run: ApplyRun) -> ReleaseChange | None:
    assert run.result is not None
    return next(
        (c for c in run.result.changes if c.release == CILIUM and c.action != Action.DELETE),
        None,
    )


def _restart_unmanaged(run: ApplyRun) -> None:
    """After Cilium was installed or changed: recreate the pods it does not manage."""
    change = _cilium_change(run)
    if change is None:
        return
    if not run.request.restart:
        run.progress("restart: skipped (--skip-restart)")
        return
    from cluster_mgmt.ops.restart import restart_unmanaged

    run.progress(f"restart: cilium {change.action}: restarting the pods Cilium does not manage")
    report = restart_unmanaged(
        run.cluster.kube,
        timeout_s=run.request.restart_timeout_s,
        progress=lambda line: run.progress(f"restart: {line}"),
    )
    left = report.left
    restarted = len(report.results) - len(left)
    run.notes.append(f"restarted {restarted} pod(s) Cilium did not manage")
    if left:
        # The releases are fine: this fails apply (exit 1) but is never a reason to roll back.
        run.restart_left = len(left)
        run.problems.append(
            f"{len(left)} pod(s) not restarted: "
            + ", ".join(
                f"{r.pod.namespace}/{r.pod.name} ({r.outcome}: {r.message})" for r in left[:5]
            )
            + (" …" if len(left) > 5 else "")
            + " (see `cluster-mgmt restart-unmanaged-pods --dry-run`, `kubectl get pdb -A`)"
        )


# The ordered steps of apply around helmfile. Each is a function of the run.
BEFORE_HELMFILE: tuple[Step, ...] = (_require_rendered, _prepare_provider)
AFTER_HELMFILE: tuple[Step, ...] = (_restart_unmanaged,)


def _kube_target(request: DeployRequest, project: Project) -> KubeTarget:
    """The one resolver's answer: ``--env`` beats ``KUBE_CONTEXT``, which beats the only env."""
    return resolve_kube_target(
        request.project_dir,
        env=request.env,
        kube_context=request.kube_context,
        ambient_context=request.ambient_context,
        kubeconfig=request.kubeconfig,
        project=project,
    )


def _target(request: DeployRequest, project: Project) -> tuple[Target, KubeTarget]:
    """What helmfile deploys to, and the cluster the steps around it talk to."""
    if request.env is None and len(project.config.environments) > 1:
        names = ", ".join(project.config.environments)
        raise UserError(f"several environments ({names}): choose one with --env")
    env = request.env or next(iter(project.config.environments))
    kube = _kube_target(request, project)
    selectors: list[str] = []
    for text in request.selectors:
        try:
            selectors.append(parse_selector(text))
        except ValueError as exc:
            raise UserError(str(exc), hint="see `helmfile --help`, --selector") from None
    return Target(env, kube.context, request.kubeconfig, tuple(selectors)), kube


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


def deploy_secrets(project: Project, target: Target) -> dict[str, str]:
    """The variables helmfile reads with ``requiredEnv`` for ``target``, and their releases."""
    env = target.environment
    wanted = {AGENT_TOKEN_ENV: "gitlab-agent"}
    if project.config.alerting(env):
        wanted[ALERTS_KEY_ENV] = "prometheus"
    return {name: rel for name, rel in wanted.items() if deploys_release(project, target, rel)}


def plan_placeholders(
    project: Project, target: Target, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Placeholders for the unset secret variables of ``target``, and a note for each."""
    source = os.environ if environ is None else environ
    env: dict[str, str] = {}
    notes: list[str] = []
    for name, release in deploy_secrets(project, target).items():
        if source.get(name):
            continue
        env[name] = PLAN_PLACEHOLDER
        notes.append(
            f"{name} is not set (GitLab gives protected variables only to pipelines of "
            f"protected branches): plan used a placeholder, so {release}'s Secret may show as "
            "changed; apply needs the real value"
        )
    return env, tuple(notes)


def plan(
    request: DeployRequest,
    *,
    helmfile: Helmfile | None = None,
    on_line: LineSink = lambda _line: None,
) -> DeployResult:
    """``helmfile diff`` of one environment: which releases would change."""
    project = load_project(request.project_dir)
    target, _ = _target(request, project)
    placeholders, secret_notes = plan_placeholders(project, target)
    completed = (helmfile or Helmfile()).diff(project.root, target, on_line, placeholders)
    if request.output_file is not None:
        project_fs.write_atomic(request.output_file, "\n".join(_lines(completed)) + "\n")
    _check(completed, "diff", target)
    changes = tuple(changes_from_diff(_lines(completed)))
    if completed.returncode == 2 and not changes:
        # helmfile saw a difference that its output does not attribute to a release.
        changes = (ReleaseChange("(unattributed)", "", Action.UPGRADE),)
    notes = secret_notes + _plan_notes(project, target, changes)
    return DeployResult(target.environment, target.kube_context, changes, notes)


def _plan_notes(
    project: Project, target: Target, changes: tuple[ReleaseChange, ...]
) -> tuple[str, ...]:
    """What apply would do besides helmfile, told by the diff alone (no cluster read)."""
    cilium = next((c for c in changes if c.release == CILIUM), None)
    if cilium is None or cilium.action == Action.DELETE:
        return ()
    notes = []
    if cilium.action == Action.INSTALL:
        provider = project.config.environments[target.environment].provider
        notes.append(
            f"apply would prepare the provider ({provider}) before installing cilium "
            f"(see `cluster-mgmt prepare --env {target.environment} --dry-run`)"
        )
    notes.append(
        f"apply would restart the pods Cilium does not manage after cilium's {cilium.action} "
        f"(see `cluster-mgmt restart-unmanaged-pods --env {target.environment} --dry-run`)"
    )
    return tuple(notes)


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
    run with nothing to change upgrades nothing. With ``request.rollback_on_failure``
    helmfile waits for the resources, verify runs, and a failure rolls the changed
    releases back (see the module docstring); the result then carries ``guard``.
    """
    project = load_project(request.project_dir)
    target, kube_target = _target(request, project)
    run = ApplyRun(
        project, target, helmfile or Helmfile(), on_line, request, ClusterAccess(kube_target)
    )
    for step in BEFORE_HELMFILE if before is None else before:
        step(run)
    after_steps = AFTER_HELMFILE if after is None else after

    def deploy() -> None:
        completed = run.helmfile.apply(
            project.root, run.target, on_line, wait=request.rollback_on_failure
        )
        _check(completed, "apply", run.target)
        run.result = DeployResult(
            run.target.environment,
            run.target.kube_context,
            tuple(changes_from_apply(_lines(completed))),
        )
        for step in after_steps:
            step(run)

    if not request.rollback_on_failure:
        deploy()
        return _finished(run)
    return _guarded(run, deploy)


def _finished(
    run: ApplyRun, guard: GuardedDeploy | None = None, reports: tuple[VerifyReport, ...] = ()
) -> DeployResult:
    result = run.result or DeployResult(run.target.environment, run.target.kube_context, ())
    return replace(
        result, notes=tuple(run.notes), problems=tuple(run.problems), guard=guard, reports=reports
    )


def _guarded(run: ApplyRun, deploy: Callable[[], None]) -> DeployResult:
    """Deploy, verify, and on failure roll back what changed and verify again."""
    from cluster_mgmt.core.kube_objects import split_chart
    from cluster_mgmt.core.verify import after_rollback
    from cluster_mgmt.ops.rollback import (
        RollbackStep,
        StepOutcome,
        deploy_with_rollback,
        stack_releases,
        verify_until_settled,
    )
    from cluster_mgmt.ops.verify import live_verifier, run_verify

    env = run.target.environment
    kube = run.cluster.kube
    kube.server_version()  # verify could not reach the cluster: say so before deploying
    verifier = live_verifier(
        run.project.config, env, run.cluster.target, kube, run.request.verify_timeout_s
    )
    reports: list[VerifyReport] = []

    def verify() -> VerifyReport:
        when = "after rollback" if reports else "after deploy"
        run.progress(f"verify ({when}): {len(verifier.checks())} checks")

        def attempt(previous: VerifyReport | None, left_s: float) -> VerifyReport:
            if previous is None:
                report = run_verify(verifier, timeout_s=left_s)
            else:
                failed = {r.name for r in previous.failures}
                again = {
                    r.name: r for r in run_verify(verifier, timeout_s=left_s, only=failed).results
                }
                report = replace(
                    previous, results=tuple(again.get(r.name, r) for r in previous.results)
                )
            return _excuse_restart_leftovers(run, report)

        def waiting(report: VerifyReport, delay_s: float) -> None:
            names = ", ".join(r.name for r in report.failures)
            run.progress(f"verify ({when}): failing: {names}; checking again in {delay_s:g} s")

        report = verify_until_settled(attempt, run.request.verify_timeout_s, waiting=waiting)
        reports.append(report)
        for failure in report.failures:
            run.progress(f"verify ({when}): {failure.name} failed: {failure.message}")
        run.progress(f"verify ({when}): {'passed' if report.ok else 'failed'}")
        return report

    def verify_after_rollback(steps: Sequence[RollbackStep]) -> VerifyReport:
        # The releases rolled back are expected at the versions they went back to, so the
        # second verify tells whether the stack is healthy there, not that it is behind.
        versions = {
            step.release.name: split_chart(step.to_chart)[1]
            for step in steps
            if step.outcome == StepOutcome.ROLLED_BACK
        }
        nonlocal verifier
        verifier = replace(verifier, expected=after_rollback(verifier.expected, versions))
        return verify()

    guard = deploy_with_rollback(
        run.cluster.helm,
        stack_releases(),
        deploy,
        verify,
        progress=run.progress,
        verify_after_rollback=verify_after_rollback,
    )
    return _finished(run, guard=guard, reports=tuple(reports))


def _excuse_restart_leftovers(run: ApplyRun, report: VerifyReport) -> VerifyReport:
    """The verify report with ``unmanaged-pods`` skipped when the restart step left pods.

    apply reports those pods itself (exit 1); they say nothing about the releases, so they
    must not make the guard roll Cilium back.
    """
    if not run.restart_left:
        return report
    from cluster_mgmt.core.verify import CheckStatus, skipped

    why = (
        f"not judged here: the restart step left {run.restart_left} pod(s) unmanaged, which "
        "apply reports (exit 1); a rollback would not restart them"
    )
    results = tuple(
        skipped(r.name, why) if r.name == "unmanaged-pods" and r.status == CheckStatus.FAIL else r
        for r in report.results
    )
    return replace(report, results=results)
