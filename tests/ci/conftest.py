"""Fixtures for the CI component, the generated pipelines and plan/apply."""

from __future__ import annotations

import shutil
from collections.abc import Callable
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
