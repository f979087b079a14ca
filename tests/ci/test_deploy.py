"""`cluster-mgmt plan` / `apply` against a recording fake helmfile (argv, environment, output)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cluster_mgmt.adapters.helmfile import Helmfile, Target
from cluster_mgmt.core.release_changes import Action, ReleaseChange
from cluster_mgmt.errors import ToolError
from cluster_mgmt.ops import deploy

TOKEN = "glagent-s3cr3t-token-value-0123456789"
# These tests are about helmfile; the cluster steps of apply are tested in tests/ops.
NO_CLUSTER_STEPS = ("--skip-prepare", "--skip-restart")


@pytest.fixture
def project(make_project, monkeypatch) -> Path:
    monkeypatch.setenv("GITLAB_AGENT_TOKEN", TOKEN)
    monkeypatch.delenv("KUBE_CONTEXT", raising=False)
    return make_project("kind")


def _global(argv: list[str]) -> list[str]:
    """argv without the absolute --helm-binary path (it depends on the machine)."""
    out = list(argv)
    i = out.index("--helm-binary")
    del out[i : i + 2]
    return out


def test_plan_runs_helmfile_diff_with_secrets_suppressed(
    project, fake_helmfile, run_cli, monkeypatch
):
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    out = project / "plan.diff"
    result = run_cli("-C", project, "plan", "--env", "dev", "--output-file", out)
    assert result.exit_code == 0, result.stderr  # changes, but no --detailed-exitcode
    [call] = fake_helmfile.calls()
    assert _global(call["argv"]) == [
        "--environment", "dev", "--kube-context", "me/cluster-management:dev",
        "diff", "--suppress-secrets", "--detailed-exitcode", "--concurrency", "1",
        "--context", "3",
    ]  # fmt: skip
    # The token reaches helmfile (requiredEnv) through its environment, never argv.
    assert call["env"]["GITLAB_AGENT_TOKEN"] == TOKEN
    assert call["env"]["HELMFILE_V1MODE"] == "true"
    assert all(TOKEN not in arg for arg in call["argv"])
    assert "cilium" in result.stdout and "gitlab-agent" in result.stdout
    assert "2 release(s) would change" in result.stdout
    # Progress (helmfile's lines) streamed on stderr, redacted.
    assert "kube-system, cilium-config, ConfigMap (v1) has changed:" in result.stderr
    assert "using token <GITLAB_AGENT_TOKEN>" in result.stderr
    diff = out.read_text()
    assert '+   policy-audit-mode: "false"' in diff
    for text in (result.stdout, result.stderr, diff):
        assert TOKEN not in text


@pytest.mark.parametrize(
    ("scenario", "flags", "code"),
    [
        ("none", ["--detailed-exitcode"], 0),
        ("changes", ["--detailed-exitcode"], 2),
        ("changes", [], 0),
        ("error", ["--detailed-exitcode"], 1),
        ("error", [], 1),
    ],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_exit_codes_follow_detailed_exitcode(
    command, scenario, flags, code, project, fake_helmfile, run_cli, monkeypatch
):
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", scenario)
    if command == "apply":
        flags = [*flags, *NO_CLUSTER_STEPS]
    result = run_cli("-C", project, command, "--env", "dev", *flags)
    assert result.exit_code == code, result.stdout + result.stderr
    if scenario == "error":
        assert "Kubernetes cluster unreachable" in result.stderr
        assert TOKEN not in result.stderr
    if scenario == "none":
        assert "nothing to change" in result.stdout or "no changes" in result.stdout


def test_apply_is_diff_based_and_reports_what_changed(project, fake_helmfile, run_cli, monkeypatch):
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    result = run_cli("-C", project, "apply", "--env", "dev", "-l", "name=cilium",
                     "--selector", "namespace=gitlab-agent", *NO_CLUSTER_STEPS)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [call] = fake_helmfile.calls()
    assert _global(call["argv"]) == [
        "--environment", "dev", "--kube-context", "me/cluster-management:dev",
        "--selector", "name=cilium", "--selector", "namespace=gitlab-agent",
        "apply", "--suppress-secrets", "--detailed-exitcode", "--context", "3",
    ]  # fmt: skip
    assert "sync" not in call["argv"], "apply, not sync: unchanged releases are not upgraded"
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["cilium", "kube-system", "upgrade"] in lines
    assert ["gitlab-agent", "gitlab-agent", "install"] in lines


@pytest.mark.parametrize(
    "selector", ["name", "name=cilium;rm -rf /", "name=a b", "=x", "name=cilium,", "--all"]
)
def test_a_bad_selector_is_refused_before_helmfile_runs(
    selector, project, fake_helmfile, run_cli, monkeypatch
):
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "none")
    result = run_cli("-C", project, "plan", "--env", "dev", f"--selector={selector}")
    assert result.exit_code == 1
    assert "invalid selector" in result.stderr
    assert fake_helmfile.calls() == []


def test_kube_context_flag_and_kubeconfig_reach_helmfile(
    project, fake_helmfile, run_cli, monkeypatch
):
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "none")
    result = run_cli("-C", project, "plan", "--env", "dev", "--kube-context", "kind-dev",
                     "--kubeconfig", "/tmp/kc.yaml")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [call] = fake_helmfile.calls()
    argv = call["argv"]
    assert argv[argv.index("--kube-context") + 1] == "kind-dev"
    assert call["env"]["KUBECONFIG"] == "/tmp/kc.yaml"


def test_unknown_environment_and_stale_project_exit_1(project, fake_helmfile, run_cli, monkeypatch):
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "none")
    result = run_cli("-C", project, "apply", "--env", "nope")
    assert result.exit_code == 1 and "no environment 'nope'" in result.stderr
    values = project / "values/dev/cilium.yaml"
    values.write_text(values.read_text() + "extra: 1\n")
    result = run_cli("-C", project, "apply", "--env", "dev", *NO_CLUSTER_STEPS)
    assert result.exit_code == 1
    assert "stale or edited: values/dev/cilium.yaml" in result.stderr
    assert fake_helmfile.calls() == [], "nothing is deployed from a stale project"


def test_output_is_streamed_while_helmfile_runs(project, fake_helmfile, monkeypatch) -> None:
    marker = project / "seen"
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "stream")
    monkeypatch.setenv("FAKE_HELMFILE_MARKER", str(marker))
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line.startswith("Comparing release=cilium"):
            marker.write_text("seen")  # the fake waits for this before it exits

    result = deploy.plan(deploy.DeployRequest(project, env="dev"), on_line=on_line)
    assert result.changes == ()
    assert any(line.startswith("Comparing release=cilium") for line in seen)


def test_apply_steps_run_in_order_around_helmfile(project, fake_helmfile, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    order: list[str] = []

    def before(run: deploy.ApplyRun) -> None:
        order.append(f"before:{len(fake_helmfile.calls())}")

    def after(run: deploy.ApplyRun) -> None:
        assert run.result is not None
        order.append(f"after:{len(fake_helmfile.calls())}:{run.result.changed_release('cilium')}")

    result = deploy.apply(
        deploy.DeployRequest(project, env="dev", prepare=False, restart=False),
        before=(*deploy.BEFORE_HELMFILE, before),
        after=(after,),
    )
    assert order == ["before:0", "after:1:True"]
    assert result.changes == (
        ReleaseChange("cilium", "kube-system", Action.UPGRADE),
        ReleaseChange("gitlab-agent", "gitlab-agent", Action.INSTALL),
    )


def test_several_environments_need_env(make_project, fake_helmfile, run_cli) -> None:
    project = make_project("eks")
    result = run_cli("-C", project, "plan")
    assert result.exit_code == 1
    assert "choose one with --env" in result.stderr


@pytest.mark.integration
def test_real_helmfile_template_renders_the_local_policies_chart(
    make_project, helmfile_bin: str, helm_bin: str
) -> None:
    project = make_project("gke")  # apps.network_policies: true
    target = Target("production", selectors=("name=network-policies",))
    out = Helmfile(helmfile_bin, helm_bin).template(project, target)
    assert "kind: NetworkPolicy" in out
    assert "name: allow-dns-egress" in out
    assert "cilium-config" not in out, "the selector kept the other releases out"


@pytest.mark.integration
def test_real_helmfile_refuses_a_selector_matching_nothing_offline(
    make_project, helmfile_bin: str, helm_bin: str
) -> None:
    project = make_project("kind")
    target = Target("dev", selectors=("name=does-not-exist",))
    with pytest.raises(ToolError, match="no releases found that matches specified selector"):
        Helmfile(helmfile_bin, helm_bin).template(project, target)


def test_plan_without_protected_variables_uses_placeholders_and_says_so(
    project, fake_helmfile, run_cli, monkeypatch
):
    """A merge request's pipeline has no protected variables: plan still runs, apply refuses."""
    monkeypatch.delenv("GITLAB_AGENT_TOKEN")
    monkeypatch.delenv("GITLAB_ALERTS_KEY", raising=False)
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "changes")
    result = run_cli("-C", project, "plan", "--env", "dev", "--detailed-exitcode")
    assert result.exit_code == 2, result.stderr  # the diff, not an error
    [call] = fake_helmfile.calls()
    assert call["env"]["GITLAB_AGENT_TOKEN"] == deploy.PLAN_PLACEHOLDER
    assert "note: GITLAB_AGENT_TOKEN is not set" in result.stderr
    assert "note: GITLAB_ALERTS_KEY is not set" in result.stderr  # kind: prometheus, alerts on
    assert "apply needs the real value" in result.stderr

    applied = run_cli("-C", project, "apply", "--env", "dev", *NO_CLUSTER_STEPS)
    assert applied.exit_code == 1
    assert "required env var `GITLAB_AGENT_TOKEN` is not set" in applied.stderr
    assert fake_helmfile.calls()[-1]["env"]["GITLAB_AGENT_TOKEN"] is None


def test_plan_passes_set_variables_through_untouched(project, fake_helmfile, run_cli, monkeypatch):
    monkeypatch.setenv("GITLAB_ALERTS_KEY", "alerts-key-0123456789abcdef")
    result = run_cli("-C", project, "plan", "--env", "dev")
    assert result.exit_code == 0, result.stderr
    [call] = fake_helmfile.calls()
    assert call["env"]["GITLAB_AGENT_TOKEN"] == TOKEN
    assert "is not set" not in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("case", ["kind", "eks", "gke"])
def test_real_helmfile_renders_every_release_with_plan_placeholders_only(
    case, make_project, helmfile_bin: str, helm_bin: str, monkeypatch, tmp_path
) -> None:
    """Every requiredEnv of the generated states is covered by plan's placeholders."""
    import subprocess

    from cluster_mgmt.ops.project import load_project

    for name in ("GITLAB_AGENT_TOKEN", "GITLAB_ALERTS_KEY"):
        monkeypatch.delenv(name, raising=False)
    project_dir = make_project(case)
    project = load_project(project_dir)
    for env_name in project.config.environments:
        placeholders, notes = deploy.plan_placeholders(project, Target(env_name), environ={})
        out = f"{tmp_path}/{env_name}/{{{{ .Release.Name }}}}.yaml"
        argv = [helmfile_bin, "--helm-binary", helm_bin, "--environment", env_name,
                "write-values", "--skip-deps", "--output-file-template", out]  # fmt: skip
        bare = subprocess.run(argv, cwd=project_dir, capture_output=True, text=True, timeout=120)
        assert bare.returncode != 0 and "error calling requiredEnv" in bare.stderr
        filled = subprocess.run(
            argv, cwd=project_dir, capture_output=True, text=True, timeout=120,
            env={**os.environ, "HELMFILE_V1MODE": "true", **placeholders},
        )  # fmt: skip
        assert filled.returncode == 0, filled.stderr
        agent = (tmp_path / env_name / "gitlab-agent.yaml").read_text()
        assert f"token: {deploy.PLAN_PLACEHOLDER}" in agent
        assert len(notes) == len(placeholders)


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--detailed-exitcode", "--bogus"],
        ["plan", "--detailed-exitcode", "--output-file"],
        ["apply", "--detailed-exitcode", "--verify-timeout", "soon"],
        ["apply", "--detailed-exitcode", "--junit", "v.xml"],  # needs --rollback-on-failure
    ],
)
def test_usage_errors_exit_1_because_2_means_changes(args, project, fake_helmfile, run_cli):
    result = run_cli("-C", project, *args)
    assert result.exit_code == 1, result.stderr
    assert "Error:" in result.stderr
    assert fake_helmfile.calls() == []
