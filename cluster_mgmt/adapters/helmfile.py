"""helmfile: the only module that runs it.

Commands are argument lists, never shell strings; secrets reach helmfile only through its
environment (``requiredEnv "GITLAB_AGENT_TOKEN"``), never through argv. Output lines are
passed through :func:`~cluster_mgmt.adapters.secrets.redact` before anyone sees them and
are streamed as they come, so a long ``apply`` shows its progress. A ``Runner`` is injected
so orchestration can be tested against a recording fake; the real binary is tested too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.errors import ToolError

BUILD_TIMEOUT_S = 300.0
# A first install of the whole stack (Cilium, Prometheus, ...) can take a while.
DEPLOY_TIMEOUT_S = 3600.0

LineSink = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Completed:
    """The outcome of one command, its output already redacted."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs a command: argv, working directory, extra environment, a deadline, a line sink."""

    def __call__(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        on_line: LineSink | None = None,
        merge_output: bool = False,
    ) -> Completed:
        """Run ``argv``; every stdout/stderr line goes to ``on_line`` (redacted) as it comes.

        With ``merge_output`` stderr joins stdout in one pipe, in the order helmfile wrote
        them (its log lines name the release that the diff lines after them belong to).
        """
        ...


def _pump(stream: IO[str], sink: list[str], on_line: LineSink | None) -> None:
    for raw in stream:
        line = redact(raw.rstrip("\n"))
        sink.append(line)
        if on_line is not None:
            on_line(line)


def subprocess_runner(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: LineSink | None = None,
    merge_output: bool = False,
) -> Completed:
    """Run for real, streaming both output streams, killed after ``timeout`` seconds."""
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            list(argv),
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
            text=True,
            bufsize=1,
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{argv[0]} not found", hint="run `make tools` or install it") from exc
    out: list[str] = []
    err: list[str] = []
    streams = [(proc.stdout, out), (proc.stderr, err)]
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink, on_line), daemon=True)
        for stream, sink in streams
        if stream is not None
    ]
    for pump in pumps:
        pump.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait(timeout=30)
        raise ToolError(f"{' '.join(argv[:3])} did not finish within {timeout:.0f} s") from exc
    for pump in pumps:
        pump.join(timeout=30)
    return Completed(tuple(argv), proc.returncode, "".join(f"{x}\n" for x in out), "\n".join(err))


def _absolute(binary: str) -> str:
    # PATH may hold relative entries (.venv/bin); commands run in other directories.
    return str(Path(binary).resolve()) if os.sep in binary else binary


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
        self.binary = _absolute(binary or shutil.which("helmfile") or "helmfile")
        self.helm = _absolute(helm or shutil.which("helm") or "helm")
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

    def diff(self, project_dir: Path, target: Target, on_line: LineSink | None = None) -> Completed:
        """``helmfile diff`` with secrets suppressed; exit 0 no changes, 2 changes, else error.

        One release at a time (``--concurrency 1``) so each helm-diff block follows its own
        ``Comparing release=`` line and the changed releases can be told apart.
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
        return self._run(
            argv, project_dir, self._env(target), DEPLOY_TIMEOUT_S, on_line, merge_output=True
        )

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
