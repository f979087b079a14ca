"""Every GitLab error a user can cause: one clear line, exit 2, no traceback; retries, adoption."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitlab_fake import DEVELOPER, PROJECT, TOKEN, FakeGitLab

from cluster_mgmt.adapters.gitlab import GitLabClient, Variable
from cluster_mgmt.errors import ClusterError


def _fails(result, *expected: str) -> str:
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, lines
    assert all(not line.strip() or line.startswith(("error: ", "hint: ")) for line in lines)
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def test_bad_token(project_dir: Path, fake: FakeGitLab, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-not-a-real-token")
    line = _fails(
        run_cli("-C", project_dir, "gitlab", "bootstrap"),
        "rejected the token in GITLAB_TOKEN (401 Unauthorized)",
        "invalid, expired or revoked",
    )
    assert "glpat-not-a-real-token" not in line


def test_missing_scope_is_named(project_dir: Path, fake: FakeGitLab, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", fake.add_token("glpat-read-only-000000", ("read_api",)))
    _fails(
        run_cli("-C", project_dir, "gitlab", "bootstrap"),
        "lacks the `api` scope needed to",
        "(403 insufficient_scope)",
    )
    # Reading is allowed with read_api: nothing was written before the refusal.
    assert fake.project(PROJECT).commits == {}


def test_low_role_is_explained(project_dir: Path, fake: FakeGitLab, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", fake.add_token("glpat-developer-00000", role=DEVELOPER))
    _fails(
        run_cli("-C", project_dir, "gitlab", "bootstrap"),
        "(403 Forbidden)",
        "need Maintainer",
    )


def test_wrong_project_path(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    for command in ("bootstrap", "lint"):
        result = run_cli("-C", project_dir, "gitlab", command, "--project", "my-group/typo")
        _fails(result, "GitLab project 'my-group/typo' not found", "(404)")


def test_no_token(project_dir: Path, fake: FakeGitLab, run_cli, monkeypatch) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    _fails(run_cli("-C", project_dir, "gitlab", "bootstrap"), "no GitLab token: set GITLAB_TOKEN")


def test_job_token_where_gitlab_refuses_it(
    project_dir: Path, fake: FakeGitLab, run_cli, monkeypatch
) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", fake.add_token("job-token-0123456789", kind="job"))
    _fails(run_cli("-C", project_dir, "gitlab", "bootstrap"), "CI_JOB_TOKEN is not allowed to")


def test_unreachable_gitlab(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    url = fake.url
    fake.stop()
    _fails(
        run_cli("-C", project_dir, "gitlab", "bootstrap", "--gitlab-url", url),
        f"GitLab unreachable at {url}",
    )


def test_transient_5xx_are_retried(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    fake.fail_next("POST", r"/variables$", 502, 503)
    fake.fail_next("GET", r"/cluster_agents$", 500)
    result = run_cli("-C", project_dir, "gitlab", "bootstrap", "--no-alerts")
    assert result.exit_code == 0, result.stderr
    assert len([v for v in fake.project(PROJECT).variables if v["key"] == "KUBE_CONTEXT"]) == 2


def test_persistent_5xx_stop_after_bounded_attempts(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    fake.fail_next("GET", r"/cluster_agents$", 500, 500, 500, 500)
    _fails(
        run_cli("-C", project_dir, "gitlab", "bootstrap"),
        "failed to list cluster agents: HTTP 500 after 3 attempts",
    )
    # The fourth failure was never asked for: exactly three attempts.
    assert fake.faults and fake.faults[0][2] == [500]


def _client(fake: FakeGitLab) -> GitLabClient:
    return GitLabClient(fake.url, token=TOKEN, backoff_s=0.01)


def test_already_existing_objects_are_adopted(fake: FakeGitLab) -> None:
    client = _client(fake)
    project = client.project(PROJECT)
    first = client.create_agent(project, "prod")
    assert client.create_agent(project, "prod") == first
    assert client.create_project(PROJECT).id == project.id
    var = Variable("KUBE_CONTEXT", "a:b", "prod")
    client.set_variable(project, var, exists=False)
    client.set_variable(project, Variable("KUBE_CONTEXT", "a:c", "prod"), exists=False)
    assert client.variable(project, "KUBE_CONTEXT", "prod") == Variable(
        "KUBE_CONTEXT", "a:c", "prod"
    )
    assert len(fake.project(PROJECT).variables) == 1


def test_lists_follow_pagination(fake: FakeGitLab) -> None:
    client = _client(fake)
    project = client.project(PROJECT)
    # 130 variables stored directly (as if made earlier), then one through the API: it lands
    # on the seventh page of 20, which the lookup must reach.
    fake.project(PROJECT).variables.extend(
        {"key": f"V{index}", "value": "x", "environment_scope": "*", "masked": False,
         "protected": False, "raw": False, "description": None, "variable_type": "env_var"}
        for index in range(130)
    )  # fmt: skip
    client.set_variable(project, Variable("LAST", "found", "prod"), exists=False)
    assert client.variable(project, "LAST", "prod") is not None


def test_graphql_permission_error_is_one_line(fake: FakeGitLab) -> None:
    fake.add_token("glpat-developer-11111", role=DEVELOPER)
    client = GitLabClient(fake.url, token="glpat-developer-11111")
    project = client.project(PROJECT)
    with pytest.raises(ClusterError) as info:
        client.create_alert_integration(project, "x")
    assert "don't have permission" in info.value.message
    assert "\n" not in info.value.message


def test_token_with_a_line_break_is_refused_without_echoing_it(
    project_dir: Path, fake: FakeGitLab, run_cli, monkeypatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-pasted\nwith-a-break")
    line = _fails(
        run_cli("-C", project_dir, "gitlab", "bootstrap"),
        "GITLAB_TOKEN contains whitespace or control characters",
    )
    assert "pasted" not in line
    assert fake.requests == []
    # A trailing newline (echo "$TOKEN" > file; export GITLAB_TOKEN=$(cat file)) is fine.
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN + "\n")
    assert run_cli("-C", project_dir, "gitlab", "bootstrap", "--dry-run").exit_code == 0


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--gitlab-url", "gitlab.example.com", "must be http(s)://host"),
        ("--project", "no-group", "must look like group/name"),
        ("--project", "group/with space", "must look like group/name"),
    ],
)
def test_bad_url_or_project_flag(
    project_dir: Path, fake: FakeGitLab, run_cli, flag: str, value: str, message: str
) -> None:
    _fails(run_cli("-C", project_dir, "gitlab", "bootstrap", flag, value), message)
    assert fake.requests == []
