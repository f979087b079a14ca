"""`cluster-mgmt gitlab lint`: GitLab's CI lint with dry_run, messages with job names."""

from __future__ import annotations

from pathlib import Path

from gitlab_fake import FakeGitLab


def test_generated_pipeline_is_valid_with_its_warning(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    result = run_cli("-C", project_dir, "gitlab", "lint")
    assert result.exit_code == 0, result.stderr
    assert ".gitlab-ci.yml is valid: 3 jobs (validate, plan, apply)" in result.stdout
    assert ".gitlab-ci.yml: warning: job apply: jobs:apply may allow multiple pipelines" in (
        result.stdout
    )


def test_broken_pipeline_is_reported_with_job_names(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    pipeline = project_dir / ".gitlab-ci.yml"
    text = pipeline.read_text()
    text = text.replace("  stage: plan\n  script:", "  stage: plan\n  scripts:", 1)
    text = text.replace("  stage: validate", "  stage: check", 1)
    pipeline.write_text(text)
    result = run_cli("-C", project_dir, "gitlab", "lint")
    assert result.exit_code == 2
    out = result.stdout
    assert ".gitlab-ci.yml: error: job plan: jobs:plan config contains unknown keys: scripts" in out
    assert "error: job plan: jobs:plan config should implement the script:" in out
    assert "error: job validate: jobs:validate chosen stage check does not exist" in out
    assert ".gitlab-ci.yml is invalid (3 errors)" in result.stderr
    # The local file was sent as it is, with dry_run.
    assert ("POST", f"/api/v4/projects/{fake.project('my-group/clusters').id}/ci/lint") in (
        fake.requests
    )


def test_yaml_syntax_error(project_dir: Path, fake: FakeGitLab, run_cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("stages: [a\njob:\n  script: x\n")
    result = run_cli("-C", project_dir, "gitlab", "lint", "--file", broken)
    assert result.exit_code == 2
    assert f"{broken}: error: pipeline: " in result.stdout
    assert "line" in result.stdout


def test_missing_file(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    (project_dir / ".gitlab-ci.yml").unlink()
    result = run_cli("-C", project_dir, "gitlab", "lint")
    assert result.exit_code == 2
    assert ".gitlab-ci.yml: file not found" in result.stderr
