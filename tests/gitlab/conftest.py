"""Fixtures for the GitLab commands: the stateful fake GitLab and a generated project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitlab_fake import PROJECT, TOKEN, FakeGitLab

CI_VARS = ("CI_SERVER_URL", "CI_PROJECT_PATH", "CI_DEFAULT_BRANCH", "CI_JOB_TOKEN")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    """A running fake with a group, an empty project and a Maintainer token with `api`."""
    with FakeGitLab() as server:
        server.add_group("my-group")
        server.add_project(PROJECT)
        server.add_token(TOKEN, ("api",))
        monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
        for name in CI_VARS:
            monkeypatch.delenv(name, raising=False)
        yield server


@pytest.fixture
def project_dir(tmp_path: Path, run_cli, fake: FakeGitLab) -> Path:
    """A kind project with two environments (dev, staging) pointing at the fake."""
    target = tmp_path / "clusters"
    result = run_cli(
        "init",
        target,
        "--provider",
        "kind",
        "--env",
        "dev",
        "--agent",
        "dev-agent",
        "--agent-project",
        PROJECT,
        "--gitlab-url",
        fake.url,
    )
    assert result.exit_code == 0, result.stderr
    config = target / "cluster-mgmt.yaml"
    config.write_text(
        config.read_text()
        + "  staging:          # a second cluster\n"
        + "    provider: kind\n"
        + "    agent: staging-agent\n"
    )
    rendered = run_cli("-C", target, "render")
    assert rendered.exit_code == 0, rendered.stderr
    return target
