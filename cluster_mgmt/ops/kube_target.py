"""The one place that decides which cluster a live command talks to.

Precedence, most explicit first:

1. ``--kube-context`` given on the command line;
2. ``--env ENV``: the environment's context from cluster-mgmt.yaml (``<project>:<agent>``
   by default, which is the GitLab agent's context in CI);
3. ``KUBE_CONTEXT`` from the process environment (set per environment scope in CI);
4. in a project directory, the context of its only environment (with several, the
   command asks for ``--env``: it never guesses between clusters);
5. outside a project, the kubeconfig's current context.

``--kubeconfig`` (or ``KUBECONFIG``) selects the file in every case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cluster_mgmt.adapters.kube import KubeClient
    from cluster_mgmt.ops.project import Project


@dataclass(frozen=True, slots=True)
class KubeTarget:
    """A kube context (None: the current one) in a kubeconfig (None: the default file).

    Attributes:
        context: the context name, or None for the kubeconfig's current context.
        kubeconfig: the kubeconfig file, or None for ``KUBECONFIG``/``~/.kube/config``.
        env: the project environment this cluster is, when known.
        origin: where the context came from, for messages.
    """

    context: str | None
    kubeconfig: str | None = None
    env: str | None = None
    origin: str = "the kubeconfig's current context"

    def describe(self) -> str:
        """``context X (from ...)`` for messages."""
        if self.context is None:
            return self.origin
        return f"context {self.context!r} ({self.origin})"


def resolve_kube_target(
    project_dir: Path,
    *,
    env: str | None = None,
    kube_context: str | None = None,
    ambient_context: str | None = None,
    kubeconfig: str | None = None,
    project: Project | None = None,
) -> KubeTarget:
    """Resolve the cluster to talk to (see the module docstring for the precedence).

    Args:
        project_dir: the project, read when ``env`` is given or no context is.
        env: ``--env``; must name an environment of the project.
        kube_context: ``--kube-context`` given on the command line.
        ambient_context: ``KUBE_CONTEXT`` from the process environment.
        kubeconfig: ``--kubeconfig``/``KUBECONFIG``.
        project: the project at ``project_dir`` when the caller has loaded it already.

    Raises:
        UserError: ``env`` is given but there is no project or no such environment.
    """
    if env is not None:
        project = project or _load(project_dir)
        [name] = project.env_names(env)
        if kube_context:
            return KubeTarget(kube_context, kubeconfig, name, "--kube-context")
        return _environment_target(project, name, kubeconfig)
    if kube_context:
        return KubeTarget(kube_context, kubeconfig, None, "--kube-context")
    if ambient_context:
        return KubeTarget(ambient_context, kubeconfig, None, "KUBE_CONTEXT")
    from cluster_mgmt.core.config import CONFIG_FILE

    if project is not None or (project_dir / CONFIG_FILE).is_file():
        project = project or _load(project_dir)
        return _environment_target(project, single_environment(project, None), kubeconfig)
    return KubeTarget(None, kubeconfig)


def _load(project_dir: Path) -> Project:
    from cluster_mgmt.ops.project import load_project  # pydantic: only when a project is read

    return load_project(project_dir)


def _environment_target(project: Project, name: str, kubeconfig: str | None) -> KubeTarget:
    return KubeTarget(project.config.kube_context(name), kubeconfig, name, f"environment {name}")


def environment_targets(
    project: Project, env: str | None, kubeconfig: str | None = None
) -> dict[str, KubeTarget]:
    """Each environment's target (one named, or all), keyed by environment name."""
    return {name: _environment_target(project, name, kubeconfig) for name in project.env_names(env)}


def kube_client(target: KubeTarget, timeout_s: float | None = None) -> KubeClient:
    """A Kubernetes API client for ``target`` (errors: one line, exit 2).

    ``timeout_s`` (the command's ``--timeout``) caps how long each request may wait.
    """
    from cluster_mgmt.adapters.kube import KubeClient

    return KubeClient.from_kubeconfig(target.context, target.kubeconfig, timeout_s)


def single_environment(project: Project, env: str | None) -> str:
    """The environment a one-cluster command acts on: ``--env``, or the project's only one.

    Raises:
        UserError: no ``--env`` and the project has several environments.
    """
    names = project.env_names(env)
    if len(names) != 1:
        from cluster_mgmt.errors import UserError

        raise UserError(
            f"the project has {len(names)} environments ({', '.join(names)}): say which with "
            "--env (or give --kube-context)"
        )
    return names[0]
