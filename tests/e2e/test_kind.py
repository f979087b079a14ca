"""End to end on a kind cluster: generate a project, deploy it with helmfile, check it live.

Opt-in (`pytest --e2e`): needs Docker, kind (pytest-kind downloads it), kubectl and access
to the chart repositories and container registries. The cluster runs without kind's default
CNI, so Cilium from the generated project is its only network; `verify --probe`, an upgrade
and a rollback run against it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

KIND_CONFIG = """kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
nodes:
  - role: control-plane
  - role: worker
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    if (
        shutil.which("docker") is None
        or subprocess.run(
            ["docker", "info"], capture_output=True, check=False, timeout=30
        ).returncode
        != 0
    ):
        pytest.skip("no Docker engine: kind clusters cannot run here")
    from pytest_kind import KindCluster

    config = tmp_path_factory.mktemp("kind") / "kind.yaml"
    config.write_text(KIND_CONFIG)
    kind = KindCluster("cluster-mgmt-e2e", config=config)
    kind.create()
    yield kind
    kind.delete()


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    result = subprocess.run(
        argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def _kind_project(run_cli, tmp_path: Path) -> Path:
    """A generated kind project for this cluster: no GitLab here, so no agent."""
    project = tmp_path / "project"
    assert run_cli(
        "init", project, "--provider", "kind", "--env", "e2e", "--agent-project", "g/cm",
        "--agent", "e2e",
    ).exit_code == 0  # fmt: skip
    config = project / "cluster-mgmt.yaml"
    text = config.read_text().replace("gitlab_agent: true", "gitlab_agent: false")
    # No GitLab alert integration either.
    text = text.replace("alerts:\n  enabled: true", "alerts:\n  enabled: false")
    text = text.replace(
        "    agent: e2e\n", "    agent: e2e\n    kube_context: kind-cluster-mgmt-e2e\n"
    )
    config.write_text(text)
    assert run_cli("-C", project, "render").exit_code == 0
    return project


def test_stack_deploys_and_cilium_runs_in_audit_mode(cluster, tmp_path: Path, run_cli) -> None:
    project = _kind_project(run_cli, tmp_path)
    env = {"KUBECONFIG": str(cluster.kubeconfig_path), "HELMFILE_V1MODE": "true"}
    _run(["helmfile", "--environment", "e2e", "apply", "--suppress-diff"], project, env)
    _run(
        ["kubectl", "-n", "kube-system", "rollout", "status", "ds/cilium", "--timeout=600s"],
        project, env,
    )  # fmt: skip
    data = json.loads(
        _run(
            ["kubectl", "-n", "kube-system", "get", "cm", "cilium-config", "-o", "json"],
            project,
            env,
        )  # fmt: skip
    )["data"]
    assert data["policy-audit-mode"] == "true"
    assert "flow:sourceContext=namespace" in data["hubble-metrics"]


def _cluster_mgmt(project: Path, env: dict[str, str], *args: str, timeout: float = 900):
    return subprocess.run(
        [sys.executable, "-m", "cluster_mgmt", "-C", str(project), *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _verify_until_ok(project: Path, env: dict[str, str], *args: str) -> dict:
    """verify, again until every check passes (pods settle, Prometheus scrapes), bounded."""
    deadline = time.monotonic() + 900
    while True:
        result = _cluster_mgmt(project, env, "verify", "--env", "e2e", "-o", "json", *args)
        report = json.loads(result.stdout) if result.stdout.strip() else {}
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, (report, result.stderr[-2000:])
            return report
        time.sleep(15)


def test_verify_probe_upgrade_and_rollback(cluster, tmp_path: Path, run_cli) -> None:
    project = _kind_project(run_cli, tmp_path)
    config = project / "cluster-mgmt.yaml"
    env = {"KUBECONFIG": str(cluster.kubeconfig_path), "HELMFILE_V1MODE": "true"}

    # Before the first Cilium install: kind must run without its default CNI.
    prepared = _cluster_mgmt(project, env, "prepare", "--env", "e2e")
    assert prepared.returncode == 0, prepared.stderr
    _run(["helmfile", "--environment", "e2e", "apply", "--suppress-diff"], project, env)
    _run(
        ["kubectl", "-n", "kube-system", "rollout", "status", "ds/cilium", "--timeout=600s"],
        project, env,
    )  # fmt: skip
    restarted = _cluster_mgmt(project, env, "restart-unmanaged-pods", "-o", "json")
    assert restarted.returncode == 0, restarted.stderr

    junit = tmp_path / "verify.xml"
    report = _verify_until_ok(project, env, "--probe", "--junit", str(junit), "--timeout", "10m")
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["cilium-config"]["message"].startswith("policy audit mode: traffic is logged")
    assert checks["probe"]["status"] == "pass"
    assert checks["ingress"]["status"] == "skip"  # kind: node ports, no load balancer
    assert junit.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')

    # Upgrade: one more Hubble metric; the cilium release gets a new revision.
    config.write_text(config.read_text().replace(
        "    agent: e2e\n", "    agent: e2e\n    cilium: {hubble_metrics: [dns]}\n"
    ))  # fmt: skip
    assert run_cli("-C", project, "render").exit_code == 0
    _run(["helmfile", "--environment", "e2e", "apply", "--suppress-diff"], project, env)
    _verify_until_ok(project, env)

    # Rollback: cilium returns to the previous revision, so its config lacks the new metric.
    rolled = _cluster_mgmt(project, env, "rollback", "cilium", "--kube-context",
                           "kind-cluster-mgmt-e2e", "-o", "json")  # fmt: skip
    assert rolled.returncode == 0, rolled.stderr
    [step] = json.loads(rolled.stdout)
    assert step["outcome"] == "rolled-back" and step["to_revision"] == step["from_revision"] - 1
    after = _cluster_mgmt(project, env, "verify", "--env", "e2e", "-o", "json")
    failed = [c for c in json.loads(after.stdout)["checks"] if c["status"] == "fail"]
    assert after.returncode == 1 and [c["name"] for c in failed] == ["cilium-config"]
    assert "Hubble metrics missing: dns" in failed[0]["message"]
