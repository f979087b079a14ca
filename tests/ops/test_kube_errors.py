"""Bad kubeconfig, unknown context, unreachable API: one clear line, exit 2, no traceback,
for every live command of this area."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
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


def _kubeconfig(path: Path, server: str, user: str = "{token: t}") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        f"users: [{{name: u, user: {user}}}]\n"
        "contexts: [{name: here, context: {cluster: c, user: u}}]\ncurrent-context: here\n"
    )
    return path


@pytest.fixture
def silent_api() -> Iterator[tuple[str, list[socket.socket]]]:
    """An "API server" that accepts every TCP connection and never writes a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def _cli(*args: str | os.PathLike[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process: what a user sees on stderr, nothing hidden."""
    return subprocess.run(
        [sys.executable, "-m", "cluster_mgmt", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_hung_api_server_is_one_line_within_the_timeout(
    project, tmp_path, command, silent_api, monkeypatch
):
    server, accepted = silent_api
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path / "kubeconfig", server)))
    monkeypatch.delenv("KUBE_CONTEXT", raising=False)
    started = time.monotonic()
    result = _cli("-C", project, *command, "--kube-context", "here", "--timeout", "2s",
                  timeout=30)  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert f"Kubernetes API server {server} did not answer within 2 s" in line, line
    assert "raise --timeout" in result.stderr
    # One request, sent once: urllib3 did not retry the read timeout.
    assert len(accepted) == 1
    assert 2 <= elapsed < 8, elapsed


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_missing_credential_plugin_is_one_line(run_cli, project, tmp_path, command, monkeypatch):
    plugin = "gke-gcloud-auth-plugin-not-installed"
    user = f"{{exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: {plugin}}}}}"
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9", user)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    result = run_cli("-C", project, *command, "--kube-context", "here")
    line = _one_error_line(result)
    assert f"the credential plugin '{plugin}' of context 'here' in {kubeconfig}" in line
    assert "is not installed (not found on PATH)" in line
    assert f"hint: install {plugin}" in result.stderr and "PATH" in result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_failing_credential_plugin_is_one_line(run_cli, project, tmp_path, command, monkeypatch):
    plugin = tmp_path / "aws"
    plugin.write_text("#!/bin/sh\necho 'Unable to locate credentials' >&2\nexit 1\n")
    plugin.chmod(0o755)
    user = f"{{exec: {{apiVersion: client.authentication.k8s.io/v1beta1, command: '{plugin}'}}}}"
    monkeypatch.setenv(
        "KUBECONFIG", str(_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9", user))
    )
    result = run_cli("-C", project, *command, "--kube-context", "here")
    line = _one_error_line(result)
    assert f"the credential plugin '{plugin}' of context 'here'" in line
    assert "failed: exec: process returned 1. Unable to locate credentials" in line
    assert f"hint: run {plugin} by hand" in result.stderr


def test_credential_plugin_errors_print_nothing_else(project, tmp_path, monkeypatch):
    """The kubernetes loader logs the failure on the root logger; the user sees one error."""
    user = "{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws-not-here}}"
    monkeypatch.setenv(
        "KUBECONFIG", str(_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9", user))
    )
    result = _cli("-C", project, "verify", "--kube-context", "here", timeout=60)
    assert result.returncode == 2
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["error", "hint"], (
        result.stderr
    )
