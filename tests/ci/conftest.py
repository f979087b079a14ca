"""Fixtures for the CI component, the generated pipelines and plan/apply."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from ci_helpers import GOLDEN, REPO, git_commit


@pytest.fixture
def make_project(tmp_path: Path, run_cli) -> Callable[..., Path]:
    """A rendered project from a golden input (or a config text), committed to git."""

    def make(case: str | None = None, config: str | None = None, name: str = "p") -> Path:
        project = tmp_path / name
        project.mkdir()
        if config is None:
            assert case is not None
            shutil.copy(GOLDEN / case / "input.yaml", project / "cluster-mgmt.yaml")
        else:
            (project / "cluster-mgmt.yaml").write_text(config)
        result = run_cli("-C", project, "render")
        assert result.exit_code == 0, result.stderr
        git_commit(project)
        return project

    return make


@pytest.fixture(scope="session")
def gitlab_ci_local() -> str:
    found = shutil.which("gitlab-ci-local") or str(REPO / ".venv" / "bin" / "gitlab-ci-local")
    if not Path(found).exists():
        pytest.skip("gitlab-ci-local not installed (run `make tools`; it needs Node.js and npm)")
    if shutil.which("git") is None:
        pytest.skip("git is not installed (scripts/install-system.sh installs it)")
    return found


@dataclass
class FakeHelmfile:
    bin_dir: Path
    log: Path

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake_helmfile(tmp_path: Path, monkeypatch) -> FakeHelmfile:
    """The recording fake installed as `helmfile`, first on PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "helmfile"
    source = (Path(__file__).parent / "fake_helmfile.py").read_text()
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(0o755)
    log = tmp_path / "helmfile-calls.jsonl"
    real = shutil.which("helmfile") or str(REPO / ".venv" / "bin" / "helmfile")
    if Path(real).exists():
        monkeypatch.setenv("REAL_HELMFILE", str(Path(real).resolve()))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELMFILE_LOG", str(log))
    return FakeHelmfile(bin_dir, log)
