"""prepare: provider preparation before the first Cilium install, against the API fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kube_builders import daemonset, namespace, node
from kube_fake import KubeFake


def _init(run_cli, tmp_path: Path, provider: str, *extra: str) -> Path:
    result = run_cli(
        "init", tmp_path / provider, "--provider", provider, "--env", "production",
        "--agent-project", "my-group/cluster-management", "--agent", "dev-agent",
        "--gitlab-url", "https://gitlab.com", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return tmp_path / provider


@pytest.fixture
def eks(run_cli, tmp_path: Path) -> Path:
    return _init(run_cli, tmp_path, "eks")


def _aws_node() -> dict:
    return daemonset("kube-system", "aws-node", desired=2, labels={"k8s-app": "aws-node"},
                     node_selector={"kubernetes.io/os": "linux"})  # fmt: skip


def test_eks_dry_run_shows_the_aws_node_change_and_writes_nothing(run_cli, eks, kube_fake):
    kube_fake.add(namespace("kube-system"), _aws_node(), node("node-a"), node("node-b"))
    result = run_cli("-C", eks, "prepare", "--env", "production", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would change: DaemonSet kube-system/aws-node: add nodeSelector " \
           "io.cilium/aws-node-enabled=true" in result.stdout  # fmt: skip
    assert "node.cilium.io/agent-not-ready" in result.stdout
    assert kube_fake.writes() == []


def test_eks_prepare_patches_aws_node_reversibly(run_cli, eks, kube_fake: KubeFake):
    kube_fake.add(namespace("kube-system"), _aws_node(), node("node-a"))
    result = run_cli("-C", eks, "prepare", "--env", "production", "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["provider"] == "eks" and report["changes"][0]["applied"] is True
    [(method, path, patch)] = kube_fake.writes()
    assert (method, path) == ("PATCH", "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node")
    aws_node = kube_fake.get("DaemonSet", "kube-system", "aws-node")
    assert aws_node["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/os": "linux",  # kept: a merge patch adds one key
        "io.cilium/aws-node-enabled": "true",
    }
    assert aws_node["metadata"]["annotations"] == {
        "cluster-mgmt.io/prepared": "io.cilium/aws-node-enabled"
    }
    # Idempotent: a second run changes nothing.
    again = run_cli("-C", eks, "prepare", "--env", "production")
    assert again.exit_code == 0 and "nothing to change" in again.stdout
    assert len(kube_fake.writes()) == 1
    # Reversible.
    undo = run_cli("-C", eks, "prepare", "--env", "production", "--revert")
    assert undo.exit_code == 0, undo.stderr
    aws_node = kube_fake.get("DaemonSet", "kube-system", "aws-node")
    assert aws_node["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert not aws_node["metadata"].get("annotations")


def test_eks_revert_leaves_a_selector_it_did_not_set(run_cli, eks, kube_fake: KubeFake):
    ds = daemonset("kube-system", "aws-node", desired=1,
                   node_selector={"io.cilium/aws-node-enabled": "true"})  # fmt: skip
    kube_fake.add(namespace("kube-system"), ds)
    result = run_cli("-C", eks, "prepare", "--env", "production", "--revert")
    assert result.exit_code == 0 and "not set by cluster-mgmt" in result.stdout
    assert kube_fake.writes() == []


def test_eks_without_aws_node(run_cli, eks, kube_fake: KubeFake):
    kube_fake.add(namespace("kube-system"))
    result = run_cli("-C", eks, "prepare", "--env", "production")
    assert result.exit_code == 0 and "AWS VPC CNI is not installed" in result.stdout


def test_gke_blocks_on_dataplane_v2_and_pod_ranges(run_cli, tmp_path, kube_fake: KubeFake):
    gke = _init(run_cli, tmp_path, "gke", "--native-routing-cidr", "10.8.0.0/14")
    kube_fake.add(
        namespace("kube-system"), daemonset("kube-system", "anetd", desired=2),
        node("gke-a", pod_cidr="10.8.1.0/24"), node("gke-b", pod_cidr="10.20.0.0/24"),
    )  # fmt: skip
    result = run_cli("-C", gke, "prepare", "--env", "production", "-o", "json", "--dry-run")
    assert result.exit_code == 2
    blocks = [f["message"] for f in json.loads(result.stdout)["findings"] if f["level"] == "block"]
    assert any("Dataplane V2 is enabled" in m for m in blocks)
    assert any("gke-b (10.20.0.0/24)" in m for m in blocks)
    assert "not ready for Cilium" in result.stderr
    applied = run_cli("-C", gke, "prepare", "--env", "production")
    assert applied.exit_code == 2 and "--enable-dataplane-v2" in applied.stderr
    assert kube_fake.writes() == []


def test_gke_ready(run_cli, tmp_path, kube_fake: KubeFake):
    gke = _init(run_cli, tmp_path, "gke", "--native-routing-cidr", "10.8.0.0/14")
    kube_fake.add(namespace("kube-system"), node("gke-a", pod_cidr="10.8.1.0/24"))
    result = run_cli("-C", gke, "prepare", "--env", "production", "-o", "json")
    assert result.exit_code == 0, result.stderr
    findings = {f["message"]: f["level"] for f in json.loads(result.stdout)["findings"]}
    assert findings["node pod ranges lie in native_routing_cidr 10.8.0.0/14"] == "ok"
    # GKE restores its CNI on node reboots: without the agent-not-ready taint, a warning.
    assert findings["no node carries the node.cilium.io/agent-not-ready=true:NoExecute taint"] == (
        "warn"
    )
    taint = {"key": "node.cilium.io/agent-not-ready", "value": "true", "effect": "NoExecute"}
    kube_fake.add(node("gke-a", pod_cidr="10.8.1.0/24", taints=[taint]))
    tainted = run_cli("-C", gke, "prepare", "--env", "production")
    assert "1 node(s) carry the node.cilium.io/agent-not-ready taint" in tainted.stdout


def test_kind_with_its_default_cni(run_cli, tmp_path, kube_fake: KubeFake):
    kind = _init(run_cli, tmp_path, "kind")
    kube_fake.add(namespace("kube-system"), daemonset("kube-system", "kindnet", desired=1))
    result = run_cli("-C", kind, "prepare", "--env", "production")
    assert result.exit_code == 2 and "disableDefaultCNI: true" in result.stderr


def test_apply_prepares_only_before_the_first_cilium_install(eks, kube_fake, fake_helm):
    from cluster_mgmt.adapters.helm import HelmReleases
    from cluster_mgmt.adapters.kube import KubeClient
    from cluster_mgmt.ops.prepare import prepare_before_first_install
    from cluster_mgmt.ops.project import load_project

    kube_fake.add(namespace("kube-system"), _aws_node())
    kube = KubeClient.from_kubeconfig(kube_fake.context, str(kube_fake.kubeconfig))
    helm = HelmReleases(binary=str(fake_helm.binary))
    config = load_project(eks).config
    result = prepare_before_first_install(kube, helm, config, "production")
    assert result is not None and len(result.applied) == 1
    assert [m for m, _, _ in kube_fake.writes()] == ["PATCH"]
    fake_helm.set_release("kube-system", "cilium", ("cilium-1.19.6", "deployed", "Install"))
    assert prepare_before_first_install(kube, helm, config, "production") is None
    assert len(kube_fake.writes()) == 1
