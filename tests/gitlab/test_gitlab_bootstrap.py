"""`cluster-mgmt gitlab bootstrap` against the stateful fake GitLab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bootstrap_checks import bootstrap as _bootstrap
from bootstrap_checks import has_row as _row
from bootstrap_checks import local_files as _local_files
from gitlab_fake import PROJECT, TOKEN, FakeGitLab

from cluster_mgmt.adapters.project_files import read_project_files


def _active_tokens(fake: FakeGitLab, agent: str) -> list[dict]:
    project = fake.project(PROJECT)
    [agent_id] = [i for i, a in project.agents.items() if a["name"] == agent]
    return [t for t in project.agent_tokens[agent_id] if t["status"] == "active"]


def _alerts_url(project_dir: Path, env: str = "dev") -> str:
    from cluster_mgmt.ops.project import load_project

    return load_project(project_dir).config.alerts_url(env)


def _variable(fake: FakeGitLab, key: str, scope: str) -> dict:
    [var] = [
        v
        for v in fake.project(PROJECT).variables
        if v["key"] == key and v["environment_scope"] == scope
    ]
    return var


def test_bootstrap_sets_up_everything_and_twice_equals_once(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    first = _bootstrap(run_cli, project_dir)
    assert "done: 15 changes" in first.stdout
    once = fake.snapshot()
    local_once = _local_files(project_dir)
    project = fake.project(PROJECT)

    # Files: one commit on main holding exactly the project's files.
    assert project.default_branch == "main"
    assert len(project.commits) == 1
    local = {str(p): c for p, c in read_project_files(project_dir).items()}
    assert project.files("main") == local
    assert ".gitlab/agents/dev-agent/config.yaml" in local
    assert "cluster-mgmt.yaml" in local and ".gitlab-ci.yml" in local

    # Agents, each with one active token held in its environment's masked, protected variable.
    assert sorted(a["name"] for a in project.agents.values()) == ["dev-agent", "staging-agent"]
    for env, agent in (("dev", "dev-agent"), ("staging", "staging-agent")):
        [token] = _active_tokens(fake, agent)
        var = _variable(fake, "GITLAB_AGENT_TOKEN", env)
        assert var["value"] == token["token"]
        assert var["masked"] and var["protected"]
        context = _variable(fake, "KUBE_CONTEXT", env)
        assert context["value"] == f"{PROJECT}:{agent}"
        assert not context["masked"]

    # Schedules carry CLUSTER_MGMT_SCHEDULE.
    schedules = {s["description"]: s for s in project.schedules.values()}
    assert schedules["cluster-mgmt upgrade"]["cron"] == "0 6 * * 1"
    assert schedules["cluster-mgmt upgrade"]["variables"] == [
        {"key": "CLUSTER_MGMT_SCHEDULE", "value": "upgrade", "variable_type": "env_var"}
    ]
    assert schedules["cluster-mgmt drift"]["variables"][0]["value"] == "drift"
    assert all(s["ref"] == "main" and s["active"] for s in schedules.values())

    # The Prometheus alert integration, its key in each environment's scope.
    [integration] = project.integrations
    assert integration["type"] == "PROMETHEUS" and integration["active"]
    for env in ("dev", "staging"):
        key = _variable(fake, "GITLAB_ALERTS_KEY", env)
        assert key["value"] == integration["token"]
        assert key["masked"] and key["protected"]
    assert integration["url"] in first.stdout
    assert _alerts_url(project_dir) == integration["url"]  # written into the config

    second = _bootstrap(run_cli, project_dir)
    assert "nothing to change: GitLab already matches the project" in second.stdout
    assert "create" not in second.stdout and "update" not in second.stdout
    assert "cluster-mgmt.yaml updated" not in second.stdout
    assert fake.snapshot() == once
    assert _local_files(project_dir) == local_once


def test_dry_run_prints_the_plan_and_changes_nothing(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    before = fake.snapshot()
    result = _bootstrap(run_cli, project_dir, "--dry-run")
    assert fake.snapshot() == before
    assert "dry run: nothing was changed" in result.stdout
    assert _row(result.stdout, "create", "agent dev-agent")
    assert _row(result.stdout, "create", "variable GITLAB_AGENT_TOKEN (staging)")
    assert not [r for r in fake.requests if r[0] != "GET" and r[1] != "/api/graphql"]


def test_only_changed_files_are_pushed(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    _bootstrap(run_cli, project_dir)
    override = project_dir / "values/dev/cilium.override.yaml"
    override.write_text("hubble:\n  relay:\n    enabled: true\n")
    result = _bootstrap(run_cli, project_dir, "--env", "dev")
    assert "0 new, 1 changed: values/dev/cilium.override.yaml" in result.stdout
    project = fake.project(PROJECT)
    assert len(project.commits) == 2
    head = project.commits[project.branches["main"]]
    parent = project.commits[head["parent"]]
    changed = {p for p in head["files"] if head["files"][p] != parent["files"].get(p)}
    assert changed == {"values/dev/cilium.override.yaml"}


def test_stale_generated_files_are_refused_before_any_write(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    config = project_dir / "cluster-mgmt.yaml"
    config.write_text(config.read_text().replace("agent: staging-agent", "agent: staging-two"))
    result = run_cli("-C", project_dir, "gitlab", "bootstrap")
    assert result.exit_code == 2
    assert "generated files are not current" in result.stderr
    assert "cluster-mgmt render" in result.stderr
    assert fake.requests == []


def test_rotation_creates_stores_then_revokes(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    _bootstrap(run_cli, project_dir)
    [old] = _active_tokens(fake, "dev-agent")
    [staging_before] = _active_tokens(fake, "staging-agent")
    result = _bootstrap(run_cli, project_dir, "--rotate-token", "--env", "dev", "--no-alerts")
    assert _row(result.stdout, "rotate", "variable GITLAB_AGENT_TOKEN (dev)")
    assert _row(result.stdout, "revoke", f"agent dev-agent token {old['id']}")
    [new] = _active_tokens(fake, "dev-agent")
    assert new["id"] != old["id"]
    assert _variable(fake, "GITLAB_AGENT_TOKEN", "dev")["value"] == new["token"]
    assert _active_tokens(fake, "staging-agent") == [staging_before]
    # The new token is current: the next run leaves it alone.
    assert "nothing to change" in _bootstrap(run_cli, project_dir).stdout


def test_rotation_at_the_two_token_limit(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    _bootstrap(run_cli, project_dir, "--env", "dev", "--no-alerts")
    project = fake.project(PROJECT)
    [agent_id] = [i for i, a in project.agents.items() if a["name"] == "dev-agent"]
    tokens = project.agent_tokens[agent_id]
    # A spare token made by an earlier cluster-mgmt run is revoked first to make room.
    tokens.append(
        {
            "id": 900,
            "name": "cluster-mgmt-dev",
            "description": "",
            "agent_id": agent_id,
            "status": "active",
            "token": "glagent-spare-0000000000",
        }
    )
    result = _bootstrap(run_cli, project_dir, "--env", "dev", "--rotate-token", "--no-alerts")
    assert _row(result.stdout, "revoke", "agent dev-agent token 900")
    active = _active_tokens(fake, "dev-agent")
    assert len(active) == 1
    assert _variable(fake, "GITLAB_AGENT_TOKEN", "dev")["value"] == active[0]["token"]

    # A token someone else made is never revoked: bootstrap stops and says what to do.
    tokens.append(
        {
            "id": 901,
            "name": "laptop",
            "description": "",
            "agent_id": agent_id,
            "status": "active",
            "token": "glagent-laptop-000000000",
        }
    )
    before = fake.snapshot()
    refused = run_cli(
        "-C", project_dir, "gitlab", "bootstrap", "--env", "dev", "--rotate-token", "--no-alerts"
    )
    assert refused.exit_code == 2
    assert "already has 2 active tokens (GitLab allows 2)" in refused.stderr
    assert fake.snapshot() == before


def test_a_revoked_token_in_the_variable_is_replaced(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    _bootstrap(run_cli, project_dir, "--no-alerts")
    [token] = _active_tokens(fake, "staging-agent")
    token["status"] = "revoked"  # revoked in the GitLab UI
    result = _bootstrap(run_cli, project_dir, "--no-alerts")
    assert _row(result.stdout, "rotate", "variable GITLAB_AGENT_TOKEN (staging)")
    [new] = _active_tokens(fake, "staging-agent")
    assert _variable(fake, "GITLAB_AGENT_TOKEN", "staging")["value"] == new["token"]


def test_create_project_on_request_only(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    missing = run_cli("-C", project_dir, "gitlab", "bootstrap", "--project", "my-group/new-one")
    assert missing.exit_code == 2
    assert "GitLab project 'my-group/new-one' not found" in missing.stderr
    _bootstrap(
        run_cli, project_dir, "--project", "my-group/new-one", "--create-project", "--no-alerts"
    )
    created = fake.project("my-group/new-one")
    assert created.default_branch == "main" and len(created.agents) == 2


def test_existing_alert_integration_is_reused_and_its_key_can_be_rotated(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    project = fake.project(PROJECT)
    project.integrations.append(
        {
            "id": "gid://gitlab/AlertManagement::HttpIntegration/77",
            "name": "ops",
            "type": "PROMETHEUS",
            "active": True,
            "url": f"{fake.url}/{PROJECT}/prometheus/alerts/notify.json",
            "token": "0123456789abcdef0123456789abcdef",
        }
    )
    config_before = (project_dir / "cluster-mgmt.yaml").read_bytes()
    first = _bootstrap(run_cli, project_dir)
    assert len(project.integrations) == 1
    # The legacy endpoint is what the config resolves by default: cluster-mgmt.yaml stays.
    assert (project_dir / "cluster-mgmt.yaml").read_bytes() == config_before
    assert "cluster-mgmt.yaml updated" not in first.stdout
    assert (
        _variable(fake, "GITLAB_ALERTS_KEY", "dev")["value"] == "0123456789abcdef0123456789abcdef"
    )
    rotated = _bootstrap(run_cli, project_dir, "--rotate-alerts-key")
    assert _row(rotated.stdout, "rotate", "alert integration 'ops'")
    new_key = project.integrations[0]["token"]
    assert new_key != "0123456789abcdef0123456789abcdef"
    for env in ("dev", "staging"):
        assert _variable(fake, "GITLAB_ALERTS_KEY", env)["value"] == new_key


def test_no_alerts_leaves_alerting_alone(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    _bootstrap(run_cli, project_dir, "--no-alerts")
    project = fake.project(PROJECT)
    assert project.integrations == []
    assert not [v for v in project.variables if v["key"] == "GITLAB_ALERTS_KEY"]


_RUNNER = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    events = []
    def hook(event, args):
        if event.split(".")[0] in ("subprocess", "os") and event.split(".")[1] in (
            "Popen", "exec", "posix_spawn", "spawn", "system"):
            events.append(repr(args))
    sys.addaudithook(hook)
    from cluster_mgmt.cli import main
    try:
        main(sys.argv[2:])
    finally:
        with open(sys.argv[1], "w") as handle:
            json.dump(events, handle)
    """
)


def test_agent_token_is_in_no_file_log_line_or_command_line(
    project_dir: Path, fake: FakeGitLab, tmp_path: Path
) -> None:
    events_file = tmp_path / "exec-events.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_")}
    env["GITLAB_TOKEN"] = TOKEN
    outputs = []
    for global_args, flags in (
        ([], []),
        ([], ["--rotate-token"]),
        (["--debug"], ["--rotate-token"]),
    ):
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                _RUNNER,
                str(events_file),
                *global_args,
                "-C",
                str(project_dir),
                "gitlab",
                "bootstrap",
                *flags,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert "DEBUG" in run.stderr  # logging really was on
        outputs += [run.stdout, run.stderr, events_file.read_text()]
    project = fake.project(PROJECT)
    secrets = [t["token"] for tokens in project.agent_tokens.values() for t in tokens]
    secrets += [i["token"] for i in project.integrations]
    assert len(secrets) == 2 * 3 + 1  # three tokens per agent (two rotations), one alert key
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 40
    for secret in secrets:
        for text in outputs:
            assert secret not in text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
    assert json.loads(events_file.read_text()) == []  # no subprocess at all


def test_show_token_needs_a_terminal(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    result = run_cli("-C", project_dir, "gitlab", "bootstrap", "--show-token")
    assert result.exit_code == 2
    assert "--show-token prints only to a terminal" in result.stderr
    assert fake.requests == []


@pytest.mark.parametrize("cron", ["every monday", "0 6 * *", "0 6 * * 1 2"])
def test_bad_cron_is_refused(project_dir: Path, fake: FakeGitLab, run_cli, cron: str) -> None:
    result = run_cli("-C", project_dir, "gitlab", "bootstrap", "--schedule-drift", cron)
    assert result.exit_code == 2
    assert "must have 5 fields" in result.stderr
    assert fake.requests == []


def test_alert_step_on_its_own(project_dir: Path, fake: FakeGitLab) -> None:
    from cluster_mgmt.ops.gitlab import setup_alert_integration

    planned, plan = setup_alert_integration(project_dir, env="dev", dry_run=True)
    assert planned is None and [c.action for c in plan] == ["create", "create"]
    assert fake.project(PROJECT).integrations == []
    integration, changes = setup_alert_integration(project_dir, env="dev")
    assert integration is not None
    assert integration.url.startswith(f"{fake.url}/{PROJECT}/alerts/notify/cluster-mgmt/")
    assert [c.action for c in changes] == ["create", "create"]
    assert _variable(fake, "GITLAB_ALERTS_KEY", "dev")["value"] == integration.token
    _, again = setup_alert_integration(project_dir)
    assert [c.action for c in again] == ["unchanged", "unchanged", "create"]  # staging is new


def test_dry_run_of_a_project_to_create(project_dir: Path, fake: FakeGitLab, run_cli) -> None:
    result = _bootstrap(
        run_cli, project_dir, "--project", "my-group/later", "--create-project", "--dry-run"
    )
    assert _row(result.stdout, "create", "project my-group/later")
    assert _row(result.stdout, "create", "files on main (one commit)")
    assert _row(result.stdout, "create", "alert integration")
    assert not any(p.path == "my-group/later" for p in fake.projects.values())


def test_show_token_prints_new_tokens_to_a_terminal(project_dir: Path, fake: FakeGitLab) -> None:
    import pty
    import select
    import time

    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_")}
    env["GITLAB_TOKEN"] = TOKEN
    argv = [sys.executable, "-m", "cluster_mgmt", "-C", str(project_dir), "gitlab", "bootstrap"]
    argv += ["--env", "dev", "--no-alerts", "--show-token"]
    process = subprocess.Popen(argv, stdout=secondary, stderr=subprocess.PIPE, env=env)
    os.close(secondary)
    chunks = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        process.stderr.close()
    assert returncode == 0, stderr
    [token] = _active_tokens(fake, "dev-agent")
    assert f"agent token of dev: {token['token']}" in b"".join(chunks).decode()


def test_a_token_left_by_an_interrupted_run_is_cleaned_up(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    # The variable could not be stored last time: the token made then is held by nothing.
    fake.fail_next("POST", r"/variables$", 400)
    failed = run_cli("-C", project_dir, "gitlab", "bootstrap", "--env", "dev", "--no-alerts")
    assert failed.exit_code == 2
    [orphan] = _active_tokens(fake, "dev-agent")
    result = _bootstrap(run_cli, project_dir, "--env", "dev", "--no-alerts")
    assert _row(result.stdout, "revoke", f"agent dev-agent token {orphan['id']}")
    [token] = _active_tokens(fake, "dev-agent")
    assert token["id"] != orphan["id"]
    assert _variable(fake, "GITLAB_AGENT_TOKEN", "dev")["value"] == token["token"]
