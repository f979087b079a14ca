"""helm: the only module that runs it, and the only importer of pyhelm3.

helmfile has its own adapter, adapters/helmfile.py.

Commands we build are argument lists, never shell strings; values go in as files. A
``Runner`` (adapters/process.py, shared with helmfile) is injected so orchestration can be
tested against a recording fake, while the real binaries are tested separately.

Release state and rollback go through pyhelm3 (:class:`HelmReleases`, a synchronous facade
over its async ``Command``). pyhelm3 0.5.8 builds the argv, but runs it as a shell string
(``shlex.join`` through ``/bin/sh``), cannot stop helm on a timeout (the shell's child keeps
running) and mangles some flags (it *extends* the argv with the characters of
``--disable-openapi-validation``). So its command builders are used with our own ``run``: the
argv is executed directly, in its own process group, killed when the deadline passes. Only
the methods and flags listed in docs/operations.md are used, each covered by a test that
records the argv helm receives; no value we pass is a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cluster_mgmt.adapters.process import Runner, absolute_binary, subprocess_runner
from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.core.kube_objects import split_chart
from cluster_mgmt.errors import ClusterError, ToolError

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 300.0
PULL_TIMEOUT_S = 60.0


class Helm:
    """The helm binary: offline rendering of charts, and fetching a chart version."""

    def __init__(self, binary: str | None = None, runner: Runner = subprocess_runner) -> None:
        self.binary = absolute_binary(binary or shutil.which("helm") or "helm")
        self._run = runner

    def template(
        self,
        release: str,
        chart: Path,
        namespace: str,
        values_files: Sequence[Path],
        *,
        kube_version: str | None = None,
    ) -> str:
        """``helm template`` of a local chart with values files (never ``--set``)."""
        argv = [self.binary, "template", release, str(chart), "--namespace", namespace]
        for path in values_files:
            argv += ["--values", str(path)]
        if kube_version:
            argv += ["--kube-version", kube_version]
        result = self._run(argv, chart.parent, {}, DEFAULT_TIMEOUT_S)
        if result.returncode != 0:
            raise ToolError(f"helm template {release} failed:\n" + redact(result.stderr.strip()))
        return result.stdout

    def pull(self, repo_url: str, chart: str, version: str, dest: Path) -> Path:
        """``helm pull --repo URL CHART --version V --untar`` into ``dest``; the chart's dir.

        Raises:
            ToolError: helm is missing, the repository is unreachable or lacks the version.
        """
        dest.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            "pull",
            chart,
            "--repo",
            repo_url,
            "--version",
            version,
            "--untar",
            "--untardir",
            str(dest),
        ]
        result = self._run(argv, dest, {}, PULL_TIMEOUT_S)
        if result.returncode != 0:
            message = redact(result.stderr.strip() or result.stdout.strip())
            raise ToolError(f"helm pull {chart} {version} from {repo_url} failed: {message}")
        return dest / chart


@dataclass(frozen=True, slots=True)
class HelmRelease:
    """The current revision of a release, as ``helm list`` reports it."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    updated: str


@dataclass(frozen=True, slots=True)
class HelmRevision:
    """One revision of a release, as ``helm history`` reports it."""

    revision: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    updated: str
    description: str


class HelmReleases:
    """Release state and rollback through pyhelm3, synchronously, every call bounded.

    Args:
        binary: the helm executable (default: ``helm`` on PATH).
        kube_context: passed as ``--kube-context`` (None: the kubeconfig's current one).
        kubeconfig: passed as ``--kubeconfig`` (None: ``KUBECONFIG`` or ``~/.kube/config``).
        timeout_s: the longest any helm call may take; rollbacks also pass it as ``--timeout``.
    """

    def __init__(
        self,
        *,
        binary: str | None = None,
        kube_context: str | None = None,
        kubeconfig: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        found = shutil.which(binary or "helm")
        if found is None:
            raise ToolError(
                f"{binary or 'helm'} not found", hint="run `make tools` or install helm 3"
            )
        self.binary = absolute_binary(found)
        self.kube_context = kube_context
        self.timeout_s = timeout_s
        self._command = _argv_command()(
            executable=self.binary,
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            kubecontext=kube_context,
            default_timeout=f"{int(timeout_s)}s",
        )

    def releases(self, namespace: str) -> list[HelmRelease]:
        """Every release of a namespace, whatever its status (``helm list --all``)."""
        rows = self._run(
            f"helm list -n {namespace}",
            lambda: self._command.list(all=True, namespace=namespace),
        )
        return [_release(row) for row in rows or []]

    def release(self, name: str, namespace: str) -> HelmRelease | None:
        """The current revision of one release, or None when it is not installed."""
        for found in self.releases(namespace):
            if found.name == name:
                return found
        return None

    def history(self, name: str, namespace: str) -> list[HelmRevision]:
        """The revisions of a release, oldest first (empty when it is not installed)."""
        try:
            rows = self._run(
                f"helm history {name}",
                lambda: self._command.history(name, namespace=namespace),
            )
        except _NotFound:
            return []
        return sorted((_revision(row) for row in rows or []), key=lambda r: r.revision)

    def rollback(self, name: str, namespace: str, revision: int, *, wait: bool = True) -> None:
        """``helm rollback NAME REVISION`` (``--wait --wait-for-jobs`` when ``wait``)."""
        self._run(
            f"helm rollback {name} {revision}",
            lambda: self._command.rollback(
                name, revision, namespace=namespace, wait=wait, cleanup_on_fail=True
            ),
        )

    def _run(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        from pyhelm3 import errors

        async def bounded() -> T:
            return await asyncio.wait_for(call(), self.timeout_s)

        try:
            return asyncio.run(bounded())
        except TimeoutError as exc:
            raise ClusterError(f"{what} did not finish within {self.timeout_s:g} s") from exc
        except errors.ReleaseNotFoundError as exc:
            raise _NotFound(what) from exc
        except errors.Error as exc:
            detail = redact(exc.stderr.decode("utf-8", "replace").strip())
            detail = detail.removeprefix("Error: ")
            hint = None
            if "cluster unreachable" in detail or isinstance(exc, errors.ConnectionError):
                hint = "is the cluster up and the kube context right? (kubectl cluster-info)"
            raise ClusterError(f"{what} failed: {detail}", hint=hint) from exc
        except ValueError as exc:  # helm answered something that is not JSON
            raise ClusterError(f"{what}: unexpected output from helm: {exc}") from exc


def _argv_command() -> Any:
    """pyhelm3's ``Command`` with a ``run`` that executes the argv without a shell."""
    from pyhelm3 import Command, errors

    class ArgvCommand(Command):  # type: ignore[misc]
        async def run(self, command: list[Any], input: bytes | None = None) -> bytes:  # noqa: A002
            argv = [self._executable, *(str(part) for part in command)]
            if self._kubeconfig:
                argv += ["--kubeconfig", str(self._kubeconfig)]
            if self._kubecontext:
                argv += ["--kube-context", self._kubecontext]
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout stops all of it
            )
            try:
                stdout, stderr = await proc.communicate(input)
            except asyncio.CancelledError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                raise
            if proc.returncode == 0:
                return stdout
            text = stderr.decode("utf-8", "replace").lower()
            error: type[errors.Error] = errors.Error
            if "release: not found" in text:
                error = errors.ReleaseNotFoundError
            elif "cluster unreachable" in text or "etcdserver" in text:
                error = errors.ConnectionError
            raise error(proc.returncode, stdout, stderr)

    return ArgvCommand


class _NotFound(ClusterError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: release not found")


def _release(row: Mapping[str, Any]) -> HelmRelease:
    chart, version = split_chart(str(row.get("chart", "")))
    return HelmRelease(
        name=str(row.get("name", "")),
        namespace=str(row.get("namespace", "")),
        revision=int(row.get("revision") or 0),  # a string in `helm list -o json`
        status=str(row.get("status", "unknown")),
        chart=chart,
        chart_version=version,
        app_version=str(row.get("app_version", "")),
        updated=str(row.get("updated", "")),
    )


def _revision(row: Mapping[str, Any]) -> HelmRevision:
    chart, version = split_chart(str(row.get("chart", "")))
    return HelmRevision(
        revision=int(row.get("revision") or 0),
        status=str(row.get("status", "unknown")),
        chart=chart,
        chart_version=version,
        app_version=str(row.get("app_version", "")),
        updated=str(row.get("updated", "")),
        description=str(row.get("description", "")),
    )
