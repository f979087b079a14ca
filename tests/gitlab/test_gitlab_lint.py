"""`cluster-mgmt gitlab lint`: GitLab's CI lint with dry_run, messages with job names."""

from __future__ import annotations

from pathlib import Path

from gitlab_fake import FakeGitLab


def test_generated_pipeline_is_valid_once_its_includes_are_pushed(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    # GitLab resolves `include: local` from the repository at the linted ref.
    before = run_cli("-C", project_dir, "gitlab", "lint")
    assert before.exit_code == 2
    assert "Local file `.gitlab/ci/environments.yml` does not exist!" in before.stdout
    assert run_cli("-C", project_dir, "gitlab", "bootstrap").exit_code == 0
    result = run_cli("-C", project_dir, "gitlab", "lint")
    assert result.exit_code == 0, result.stdout + result.stderr
    jobs = [f"{job}:{env}" for env in ("dev", "staging") for job in
            ("validate", "plan", "apply", "verify", "drift", "upgrade", "kind-e2e")]  # fmt: skip
    assert f".gitlab-ci.yml is valid: {len(jobs)} jobs ({', '.join(jobs)})" in result.stdout
    assert "warning" not in result.stdout  # workflow:rules is there


def test_broken_pipeline_is_reported_with_job_names(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    assert run_cli("-C", project_dir, "gitlab", "bootstrap").exit_code == 0
    pipeline = project_dir / ".gitlab-ci.yml"
    pipeline.write_text(
        pipeline.read_text() + '\n"plan:dev":\n  scripts: [x]\n"validate:dev":\n  stage: check\n'
    )
    result = run_cli("-C", project_dir, "gitlab", "lint")
    assert result.exit_code == 2
    out = result.stdout
    assert (
        ".gitlab-ci.yml: error: job plan:dev: jobs:plan:dev config contains unknown keys: scripts"
        in out
    )
    assert "error: job validate:dev: jobs:validate:dev chosen stage check does not exist" in out
    assert ".gitlab-ci.yml is invalid (2 errors)" in result.stderr
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
