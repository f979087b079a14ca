"""helm and helmfile: the only module that runs them.

Commands are argument lists, never shell strings; values go in as files. A ``Runner`` is
injected so orchestration can be tested against a recording fake, while the real binaries
are tested separately.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.errors import ToolError

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class Completed:
    """The outcome of one command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs a command: argv, working directory, extra environment."""

    def __call__(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
    ) -> Completed:
        """Run ``argv`` in ``cwd`` with ``env`` added, for at most ``timeout`` seconds."""
        ...


def subprocess_runner(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float
) -> Completed:
    """Run for real, bounded by ``timeout``."""
    try:
        proc = subprocess.run(  # noqa: S603 - argv list, no shell
            list(argv),
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{argv[0]} not found", hint="run `make tools` or install it") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{' '.join(argv[:3])} did not finish within {timeout:.0f} s") from exc
    return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def _absolute(binary: str) -> str:
    # PATH may hold relative entries (.venv/bin); commands run in other directories.
    return str(Path(binary).resolve()) if os.sep in binary else binary


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

    def _env(self) -> dict[str, str]:
        return {"HELMFILE_V1MODE": "true"}

    def build(self, project_dir: Path, environment: str) -> str:
        """``helmfile build``: the states with templates rendered, offline."""
        argv = [
            self.binary,
            "--helm-binary",
            self.helm,
            "--environment",
            environment,
            "build",
        ]
        result = self._run(argv, project_dir, self._env(), DEFAULT_TIMEOUT_S)
        if result.returncode != 0:
            raise ToolError(
                f"helmfile build failed for environment {environment!r}:\n"
                + redact(result.stderr.strip() or result.stdout.strip()),
            )
        return result.stdout


PULL_TIMEOUT_S = 60.0


class Helm:
    """The helm binary: offline rendering of charts, and fetching a chart version."""

    def __init__(self, binary: str | None = None, runner: Runner = subprocess_runner) -> None:
        self.binary = _absolute(binary or shutil.which("helm") or "helm")
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
