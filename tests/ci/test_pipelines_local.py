"""Generated pipelines under gitlab-ci-local, a real local runner of GitLab CI.

Job lists (``--list-csv`` evaluates rules) for a merge request, a default-branch push, a
feature-branch push and schedules, with one and two environments; jobs run for real in its
shell executor (``--shell-executor-no-image``; only the job's ``image:`` is dropped, by a
test file that includes the project's own ``.gitlab-ci.yml``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_helpers import REPO, git_commit
from fake_helm import FakeHelm
from kube_builders import namespace, pod
from kube_fake import KubeFake

pytestmark = pytest.mark.integration

TOKEN = "glagent-local-runner-secret-9f8e7d6c5b4a"
TIMEOUT_S = 180
MR = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}
PUSH = {"CI_PIPELINE_SOURCE": "push"}
SCHEDULE = {"CI_PIPELINE_SOURCE": "schedule"}
GOLDEN_KIND_HEAD = """\
version: 1
gitlab:
  project: me/cluster-management
environments:
  dev:
    provider: kind
    agent: dev
"""


def _glci(
    tool: str, project: Path, *args: str, variables: dict[str, str], unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    argv = [tool, "--no-color", "--variable", "CI_DEFAULT_BRANCH=main", *args]
    for key, value in variables.items():
        argv += ["--variable", f"{key}={value}"]
    for key in unset:
        argv += ["--unset-variable", key]
    # cluster-mgmt must be on the job's PATH (the image has it); a fake helmfile stays first.
    env = {**os.environ, "PATH": f"{os.environ['PATH']}{os.pathsep}{REPO / '.venv' / 'bin'}"}
    return subprocess.run(
        argv, cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def _jobs(tool: str, project: Path, variables: dict[str, str], **kw) -> list[str]:
    result = _glci(tool, project, "--list-csv", variables=variables, **kw)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = lines.index("name;description;stage;when;allowFailure;needs")
    return sorted(line.split(";")[0] for line in lines[header + 1 :] if line.strip())


def _expected(envs: list[str], *jobs: str) -> list[str]:
    return sorted(f"{job}:{env}" for env in envs for job in jobs)


@pytest.mark.parametrize(
    ("case", "envs", "deploy_jobs"),
    [
        ("kind", ["dev"], ["apply", "verify"]),
        ("eks", ["staging", "production"], ["apply", "verify"]),
        # ci.rollback_on_failure: apply verifies itself, there is no verify job.
        ("gke", ["production"], ["apply"]),
    ],
)
def test_job_lists_per_pipeline_type(case, envs, deploy_jobs, make_project, gitlab_ci_local):
    project = make_project(case)
    run = gitlab_ci_local
    mr = _jobs(run, project, {**MR, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature"},
               unset=("CI_COMMIT_BRANCH",))  # fmt: skip
    assert mr == _expected(envs, "validate", "plan")
    assert _jobs(run, project, PUSH) == _expected(envs, "validate", "plan", *deploy_jobs)
    assert _jobs(run, project, {**PUSH, "CI_COMMIT_BRANCH": "feature"}) == _expected(
        envs, "validate"
    )
    first = envs[0]  # upgrade is project-wide: one job, from the first environment's include
    assert _jobs(run, project, SCHEDULE) == sorted([*_expected(envs, "drift"), f"upgrade:{first}"])
    # A mistyped schedule variable runs the read-only job only.
    assert _jobs(run, project, {**SCHEDULE, "CLUSTER_MGMT_SCHEDULE": "upgrdae"}) == _expected(
        envs, "drift"
    )
    if len(envs) > 1:
        drift_only = _jobs(run, project, {**SCHEDULE, "CLUSTER_MGMT_SCHEDULE": "drift"})
        assert drift_only == _expected(envs, "drift")
        upgrade_only = _jobs(run, project, {**SCHEDULE, "CLUSTER_MGMT_SCHEDULE": "upgrade"})
        assert upgrade_only == [f"upgrade:{first}"]


def test_config_sets_each_environments_jobs(make_project, gitlab_ci_local) -> None:
    """Per-environment job settings come from cluster-mgmt.yaml, not from edited includes."""
    config = (GOLDEN_KIND_HEAD + "  production:\n    provider: kind\n    agent: prod\n"
              "    ci:\n      apply_when: manual\n")  # fmt: skip
    project = make_project(config=config)
    result = _glci(gitlab_ci_local, project, "--list-csv", variables=PUSH)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split(";") for line in result.stdout.splitlines() if line.startswith("apply:")]
    assert {row[0]: row[3] for row in rows} == {"apply:dev": "on_success",
                                                "apply:production": "manual"}  # fmt: skip


def _shell_file(project: Path, jobs: list[str], body: str = "") -> str:
    """A pipeline file for the shell executor: the project's pipeline minus job images."""
    overrides = "".join(f'"{job}":\n  image: null\n' for job in jobs)
    name = ".gitlab-ci-shell.yml"
    (project / name).write_text(f"include:\n  - local: .gitlab-ci.yml\n{body}{overrides}")
    git_commit(project)
    return name


def _shell(tool: str, project: Path, file: str, jobs: list[str], variables: dict[str, str]):
    # The schema wants image to be a string; the image-less jobs are only for this runner.
    return _glci(
        tool, project, "--file", file, "--shell-executor-no-image",
        "--json-schema-validation=false", "--timestamps=false", *jobs, variables=variables,
    )  # fmt: skip


def _all_output(project: Path, result: subprocess.CompletedProcess[str]) -> str:
    logs = sorted((project / ".gitlab-ci-local").rglob("*.log"))
    texts = [result.stdout, result.stderr, *(p.read_text(errors="replace") for p in logs)]
    texts += [p.read_text() for p in project.glob("*.diff")]
    return "\n".join(texts)


def test_validate_job_runs_for_real_in_shell_mode(make_project, gitlab_ci_local) -> None:
    project = make_project("kind")
    file = _shell_file(project, ["validate:dev"])
    result = _shell(gitlab_ci_local, project, file, ["validate:dev"], PUSH)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "cluster-mgmt render --check" in out
    assert "generated files are up to date" in out
    assert "helmfile build: dev" in out
    assert "PASS" in out and "validate:dev" in out


@pytest.fixture
def job_cluster(tmp_path: Path, fake_helm: FakeHelm, monkeypatch) -> Iterator[KubeFake]:
    """The cluster apply's steps talk to from a job: the API fake under the kind project's
    kube context, and the fake helm first on PATH (helmfile's --helm-binary and pyhelm3)."""
    real_helm = shutil.which("helm") or str(REPO / ".venv" / "bin" / "helm")
    monkeypatch.setenv("REAL_HELM", str(Path(real_helm).resolve()))
    fake = KubeFake(tmp_path, context="me/cluster-management:dev")
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig))
    monkeypatch.setenv("PATH", f"{fake_helm.binary.parent}{os.pathsep}{os.environ['PATH']}")
    try:
        yield fake
    finally:
        fake.close()


def test_agent_token_never_appears_in_any_job_output(
    make_project, gitlab_ci_local, fake_helmfile, job_cluster, monkeypatch
) -> None:
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    # Pods started before Cilium: the apply job restarts them after cilium changed.
    job_cluster.add(namespace("shop"), pod("shop", "web-1", owner_ref=("ReplicaSet", "web-6f7")))
    project = make_project("kind")
    push_jobs = ["validate:dev", "plan:dev", "apply:dev"]
    file = _shell_file(project, [*push_jobs, "drift:dev"])
    secret = {"GITLAB_AGENT_TOKEN": TOKEN}
    pushed = _shell(gitlab_ci_local, project, file, push_jobs, {**PUSH, **secret})
    out = _all_output(project, pushed)
    assert pushed.returncode == 0, out
    for job in push_jobs:
        assert f"PASS  {job}" in out, job
    assert "2 release(s) changed" in out  # apply's report
    assert "cluster-mgmt: restart: [1/1] shop/web-1 (ReplicaSet/web-6f7): evicted" in out
    assert [path for _, path, _ in job_cluster.writes()] == [
        "/api/v1/namespaces/shop/pods/web-1/eviction"
    ]
    scheduled = _shell(gitlab_ci_local, project, file, ["drift:dev"], {**SCHEDULE, **secret})
    drift_out = _all_output(project, scheduled)
    # drift: fail (the default) turns helmfile's "changes" (2) into a failed job.
    assert re.search(r"drift:dev finished in .* FAIL 1", drift_out), drift_out
    calls = fake_helmfile.calls()
    commands = [next(a for a in c["argv"] if a in ("build", "diff", "apply")) for c in calls]
    assert sorted(commands) == ["apply", "build", "diff", "diff"]  # validate, plan run together
    # The token was there (helmfile got it, and printed it) but never reached any output.
    assert all(c["env"]["GITLAB_AGENT_TOKEN"] == TOKEN for c in calls if "build" not in c["argv"])
    assert "<GITLAB_AGENT_TOKEN>" in out + drift_out
    assert TOKEN not in out + drift_out
    assert (project / "plan.diff").is_file() and TOKEN not in (project / "plan.diff").read_text()


def test_merge_request_plan_passes_without_protected_variables(
    make_project, gitlab_ci_local, fake_helmfile, monkeypatch
) -> None:
    """GitLab gives protected variables (the agent token, the alerts key) only to protected
    branches: a merge request's plan job must work without them."""
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    for name in ("GITLAB_AGENT_TOKEN", "GITLAB_ALERTS_KEY"):
        monkeypatch.delenv(name, raising=False)
    project = make_project("kind")
    file = _shell_file(project, ["plan:dev"])
    mr = {**MR, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature"}
    result = _shell(gitlab_ci_local, project, file, ["plan:dev"], mr)
    out = _all_output(project, result)
    assert result.returncode == 0, out
    assert "PASS  plan:dev" in out
    assert "GITLAB_AGENT_TOKEN is not set" in out and "plan used a placeholder" in out
    assert "2 release(s) would change" in out
    [call] = fake_helmfile.calls()
    assert call["env"]["GITLAB_AGENT_TOKEN"] == "cluster-mgmt-plan-placeholder"


def test_drift_warn_is_an_allowed_failure(
    make_project, gitlab_ci_local, fake_helmfile, monkeypatch
) -> None:
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    project = make_project(config=GOLDEN_KIND_HEAD + "ci:\n  drift: warn\n")
    file = _shell_file(project, ["drift:dev"])
    mistyped = {**SCHEDULE, "CLUSTER_MGMT_SCHEDULE": "drfit"}
    result = _shell(gitlab_ci_local, project, file, ["drift:dev"], mistyped)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert re.search(r"drift:dev finished in .* WARN 2", out), out
    assert "CLUSTER_MGMT_SCHEDULE is neither drift nor upgrade" in out
