"""Bad kubeconfig, unknown context, unreachable API: one clear line, exit 2, no traceback,
for every live command of this area."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from promserver import free_port

COMMANDS = [
    ("verify", "--env", "production"),
    ("restart-unmanaged-pods", "--dry-run"),
    ("prepare", "--env", "production", "--dry-run"),
]


@pytest.fixture
def project(run_cli, tmp_path: Path) -> Path:
    result = run_cli(
        "init", tmp_path / "p", "--provider", "kind", "--env", "production",
        "--agent-project", "my-group/cluster-management", "--agent", "dev-agent",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return tmp_path / "p"


def _one_error_line(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_bad_kubeconfig(run_cli, project, tmp_path, command, monkeypatch):
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nclusters: [\n  - {name: x\n")
    monkeypatch.setenv("KUBECONFIG", str(bad))
    line = _one_error_line(run_cli("-C", project, *command))
    assert f"cannot load kubeconfig in {bad}" in line


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_unknown_context(run_cli, project, kube_fake, command):
    line = _one_error_line(run_cli("-C", project, *command, "--kube-context", "nope"))
    assert "cannot load kubeconfig" in line and "context 'nope'" in line


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_unreachable_api(run_cli, project, tmp_path, command, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{free_port()}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: c, user: u}}]\ncurrent-context: gone\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    result = run_cli("-C", project, *command, "--kube-context", "gone")
    line = _one_error_line(result)
    assert "Kubernetes API unreachable" in line
    assert "hint: is the cluster up and the kube context right?" in result.stderr


def test_rollback_with_an_unknown_context_is_one_line(run_cli, kube_fake, helm_bin, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(helm_bin).parent}{os.pathsep}{os.environ['PATH']}")
    line = _one_error_line(run_cli("rollback", "cilium", "--kube-context", "nope"))
    assert line.startswith("error: helm history cilium failed:") and "nope" in line


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_resolves_the_context_the_same_way(
    run_cli, project, tmp_path, command, monkeypatch
):
    """Without --env, KUBE_CONTEXT wins over the project's only environment, for every live
    command alike; without either, that environment's context is used (never the kubeconfig's
    current one, which may be another cluster)."""
    bare = tuple(a for a in command if a not in ("--env", "production"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: other, context: {cluster: c, user: u}}]\ncurrent-context: other\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("KUBE_CONTEXT", "from-ci-scope")
    line = _one_error_line(run_cli("-C", project, *bare))
    assert "context 'from-ci-scope'" in line
    monkeypatch.delenv("KUBE_CONTEXT")
    line = _one_error_line(run_cli("-C", project, *bare))
    assert "context 'my-group/cluster-management:dev-agent'" in line
