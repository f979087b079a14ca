"""helmfile: the only module that runs it.

Commands are argument lists, never shell strings; secrets reach helmfile only through its
environment (``requiredEnv "GITLAB_AGENT_TOKEN"``), never through argv. Output lines are
passed through :func:`~cluster_mgmt.adapters.secrets.redact` before anyone sees them and
are streamed as they come, so a long ``apply`` shows its progress. A ``Runner`` is injected
so orchestration can be tested against a recording fake; the real binary is tested too.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cluster_mgmt.adapters.process import (
    Completed,
    LineSink,
    Runner,
    absolute_binary,
    subprocess_runner,
)
from cluster_mgmt.errors import ToolError

__all__ = ["Completed", "Helmfile", "LineSink", "Runner", "Target", "subprocess_runner"]

BUILD_TIMEOUT_S = 300.0
# A first install of the whole stack (Cilium, Prometheus, ...) can take a while.
DEPLOY_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True)
class Target:
    """Which environment, cluster and releases a helmfile command acts on."""

    environment: str
    kube_context: str | None = None
    kubeconfig: str | None = None
    selectors: tuple[str, ...] = ()


class Helmfile:
    """helmfile in v1 mode, with the helm binary it should use."""

    def __init__(
        self,
        binary: str | None = None,
        helm: str | None = None,
        runner: Runner = subprocess_runner,
    ) -> None:
        self.binary = absolute_binary(binary or shutil.which("helmfile") or "helmfile")
        self.helm = absolute_binary(helm or shutil.which("helm") or "helm")
        self._run = runner

    def _env(self, target: Target | None = None) -> dict[str, str]:
        env = {"HELMFILE_V1MODE": "true"}
        if target is not None and target.kubeconfig:
            env["KUBECONFIG"] = target.kubeconfig
        return env

    def _argv(self, target: Target, *command: str) -> list[str]:
        argv = [self.binary, "--helm-binary", self.helm, "--environment", target.environment]
        if target.kube_context:
            argv += ["--kube-context", target.kube_context]
        for selector in target.selectors:
            argv += ["--selector", selector]
        return argv + list(command)

    def build(self, project_dir: Path, environment: str) -> str:
        """``helmfile build``: the states with templates rendered, offline."""
        target = Target(environment)
        result = self._run(self._argv(target, "build"), project_dir, self._env(), BUILD_TIMEOUT_S)
        if result.returncode != 0:
            raise ToolError(
                f"helmfile build failed for environment {environment!r}:\n"
                + (result.stderr.strip() or result.stdout.strip()),
            )
        return result.stdout

    def template(self, project_dir: Path, target: Target) -> str:
        """``helmfile template --skip-deps``: manifests of local charts, offline."""
        result = self._run(
            self._argv(target, "template", "--skip-deps"),
            project_dir,
            self._env(target),
            BUILD_TIMEOUT_S,
        )
        if result.returncode != 0:
            raise ToolError(
                f"helmfile template failed for environment {target.environment!r}:\n"
                + (result.stderr.strip() or result.stdout.strip())
            )
        return result.stdout

    def diff(
        self,
        project_dir: Path,
        target: Target,
        on_line: LineSink | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Completed:
        """``helmfile diff`` with secrets suppressed; exit 0 no changes, 2 changes, else error.

        One release at a time (``--concurrency 1``) so each helm-diff block follows its own
        ``Comparing release=`` line and the changed releases can be told apart.
        ``extra_env`` adds variables to helmfile's environment (e.g. plan's placeholders).
        """
        argv = self._argv(
            target,
            "diff",
            "--suppress-secrets",
            "--detailed-exitcode",
            "--concurrency",
            "1",
            "--context",
            "3",
        )
        env = {**(extra_env or {}), **self._env(target)}
        return self._run(argv, project_dir, env, DEPLOY_TIMEOUT_S, on_line, merge_output=True)

    def apply(
        self,
        project_dir: Path,
        target: Target,
        on_line: LineSink | None = None,
        *,
        wait: bool = False,
    ) -> Completed:
        """``helmfile apply``: diffs first and upgrades only releases that differ.

        With ``wait`` helm waits until each release's resources (and jobs) are ready, so a
        check right after sees the rolled-out state. Exit 0 nothing changed, 2 releases
        were changed, anything else an error.
        """
        argv = self._argv(
            target, "apply", "--suppress-secrets", "--detailed-exitcode", "--context", "3"
        )
        if wait:
            argv += ["--wait", "--wait-for-jobs"]
        return self._run(
            argv, project_dir, self._env(target), DEPLOY_TIMEOUT_S, on_line, merge_output=True
        )
