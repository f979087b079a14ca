"""End to end on a kind cluster: generate a project, deploy it with helmfile, check it live.

Opt-in (`pytest --e2e`): needs Docker, kind (pytest-kind downloads it) and access to the
chart repositories and container registries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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


def test_stack_deploys_and_cilium_runs_in_audit_mode(cluster, tmp_path: Path, run_cli) -> None:
    project = tmp_path / "project"
    assert run_cli(
        "init", project, "--provider", "kind", "--env", "e2e", "--agent-project", "g/cm",
        "--agent", "e2e",
    ).exit_code == 0  # fmt: skip
    config = project / "cluster-mgmt.yaml"
    # No GitLab here: no agent; the kube context is kind's own.
    text = config.read_text().replace("gitlab_agent: true", "gitlab_agent: false")
    # No GitLab alert integration either.
    text = text.replace("alerts:\n  enabled: true", "alerts:\n  enabled: false")
    text = text.replace(
        "    agent: e2e\n", "    agent: e2e\n    kube_context: kind-cluster-mgmt-e2e\n"
    )
    config.write_text(text)
    assert run_cli("-C", project, "render").exit_code == 0
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
