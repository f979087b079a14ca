"""adapters.helm.HelmReleases: pyhelm3 driven against the real helm binary (reading the helm
release Secrets of the Kubernetes API fake) and against the recording fake helm (every flag
we pass, failures, timeouts)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fake_helm import FakeHelm
from kube_builders import helm_release_secret, namespace
from kube_fake import KubeFake

from cluster_mgmt.adapters.helm import HelmRelease, HelmReleases
from cluster_mgmt.errors import ClusterError, ToolError


@pytest.fixture
def helm_api(tmp_path: Path):
    # client-go sends no bearer token to a plain-HTTP server, so this fake takes none.
    fake = KubeFake(tmp_path, token=None)
    fake.add(
        namespace("kube-system"),
        namespace("monitoring"),
        helm_release_secret("cilium", "kube-system", 1, chart="cilium", version="1.19.5",
                            status="superseded"),
        helm_release_secret("cilium", "kube-system", 2, chart="cilium", version="1.19.6"),
        helm_release_secret("prometheus", "monitoring", 1, chart="prometheus", version="29.27.0",
                            status="failed"),
    )  # fmt: skip
    yield fake
    fake.close()


def test_real_helm_reads_release_secrets_of_the_fake_api(helm_api: KubeFake, helm_bin: str):
    helm = HelmReleases(binary=helm_bin, kubeconfig=str(helm_api.kubeconfig), timeout_s=60)
    [cilium] = helm.releases("kube-system")
    assert cilium == HelmRelease(
        name="cilium", namespace="kube-system", revision=2, status="deployed", chart="cilium",
        chart_version="1.19.6", app_version="1.19.6", updated=cilium.updated,
    )  # fmt: skip
    # --all: a failed release is listed too.
    assert helm.release("prometheus", "monitoring").status == "failed"  # type: ignore[union-attr]
    assert helm.release("fluentd", "logging") is None
    history = helm.history("cilium", "kube-system")
    assert [(h.revision, h.status, h.chart_version) for h in history] == [
        (1, "superseded", "1.19.5"),
        (2, "deployed", "1.19.6"),
    ]
    assert helm.history("fluentd", "logging") == []
    # helm selected the release records by their labels, as it does on a real cluster.
    assert any("labelSelector=owner%3Dhelm" in path for _, path, _ in helm_api.calls)


def test_real_helm_rolls_back_through_the_fake_api(helm_api: KubeFake, helm_bin: str):
    # helm writes its release records as protobuf Secrets: the fake decodes them.
    helm = HelmReleases(binary=helm_bin, kubeconfig=str(helm_api.kubeconfig), timeout_s=60)
    helm.rollback("cilium", "kube-system", 1)
    history = helm.history("cilium", "kube-system")
    assert [(h.revision, h.status, h.chart_version) for h in history] == [
        (1, "superseded", "1.19.5"),
        (2, "superseded", "1.19.6"),
        (3, "deployed", "1.19.5"),
    ]
    assert history[-1].description == "Rollback to 1"
    created = [body for method, _, body in helm_api.writes("POST")]
    labels = created[0]["metadata"]["labels"]
    assert {k: labels[k] for k in ("name", "owner", "status", "version")} == {
        "name": "cilium", "owner": "helm", "status": "pending-rollback", "version": "3",
    }  # fmt: skip
    assert helm.release("cilium", "kube-system").revision == 3  # type: ignore[union-attr]


def test_every_flag_passed_to_helm(fake_helm: FakeHelm, tmp_path: Path):
    fake_helm.set_release("kube-system", "cilium", ("cilium-1.19.5", "superseded", "Install"),
                          ("cilium-1.19.6", "deployed", "Upgrade complete"))  # fmt: skip
    kubeconfig = tmp_path / "kc"
    helm = HelmReleases(
        binary=str(fake_helm.binary), kube_context="g/p:agent", kubeconfig=str(kubeconfig),
        timeout_s=120,
    )  # fmt: skip
    assert [r.name for r in helm.releases("kube-system")] == ["cilium"]
    assert [h.revision for h in helm.history("cilium", "kube-system")] == [1, 2]
    helm.rollback("cilium", "kube-system", 1)
    helm.rollback("cilium", "kube-system", 2, wait=False)
    context = ["--kubeconfig", str(kubeconfig), "--kube-context", "g/p:agent"]
    assert fake_helm.calls() == [
        ["list", "--max", "256", "--output", "json", "--all", "--deployed",
         "--namespace", "kube-system", *context],
        ["history", "cilium", "--output", "json", "--max", "256", "--namespace", "kube-system",
         *context],
        ["rollback", "cilium", "1", "--history-max", "10", "--timeout", "120s",
         "--cleanup-on-fail", "--namespace", "kube-system", "--wait", "--wait-for-jobs", *context],
        ["rollback", "cilium", "2", "--history-max", "10", "--timeout", "120s",
         "--cleanup-on-fail", "--namespace", "kube-system", *context],
    ]  # fmt: skip
    assert [r["description"] for r in fake_helm.revisions("kube-system", "cilium")][2:] == [
        "Rollback to 1",
        "Rollback to 2",
    ]


def test_helm_failures_are_one_clear_line(fake_helm: FakeHelm, monkeypatch):
    fake_helm.set_release("kube-system", "cilium", ("cilium-1.19.6", "deployed", "Install"))
    fake_helm.fail_on(
        "rollback cilium",
        'Kubernetes cluster unreachable: Get "https://10.0.0.1/version": dial tcp: i/o timeout',
    )
    helm = HelmReleases(binary=str(fake_helm.binary))
    with pytest.raises(ClusterError) as info:
        helm.rollback("cilium", "kube-system", 1)
    assert info.value.message.startswith("helm rollback cilium 1 failed: Kubernetes cluster")
    assert "\n" not in info.value.message
    assert info.value.hint and "kubectl cluster-info" in info.value.hint
    # A secret in helm's output never reaches the message.
    monkeypatch.setenv("GITLAB_AGENT_TOKEN", "glagent-s3cr3t-token")
    fake_helm.fail_on("history cilium", "bad token glagent-s3cr3t-token")
    with pytest.raises(ClusterError) as leaked:
        helm.history("cilium", "kube-system")
    assert "s3cr3t" not in leaked.value.message and "<GITLAB_AGENT_TOKEN>" in leaked.value.message


def test_helm_calls_are_bounded(tmp_path: Path):
    slow = tmp_path / "helm"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    helm = HelmReleases(binary=str(slow), timeout_s=0.5)
    with pytest.raises(ClusterError, match=r"helm list -n kube-system did not finish within 0.5 s"):
        helm.releases("kube-system")


def test_missing_helm_binary(tmp_path: Path):
    with pytest.raises(ToolError, match="not found"):
        HelmReleases(binary=str(tmp_path / "no-helm"))


def test_pyhelm3_mangles_disable_openapi_validation(fake_helm: FakeHelm):
    """Why install/upgrade do not go through pyhelm3: its argv for this flag is broken."""
    from pyhelm3 import Command, errors

    command = Command(executable=str(fake_helm.binary))
    with pytest.raises(errors.Error, match="requires 2 arguments"):
        asyncio.run(command.install_or_upgrade("x", "repo/x", disable_validation=True))
    [argv] = fake_helm.calls()
    assert argv[-3:] == ["i", "o", "n"] and "--disable-openapi-validation" not in argv


def test_real_helm_accepts_every_rollback_flag(helm_api: KubeFake, helm_bin: str):
    # helm parses all flags before it looks for the release: "not found" means all were known.
    helm = HelmReleases(binary=helm_bin, kubeconfig=str(helm_api.kubeconfig), timeout_s=60)
    for wait in (True, False):
        with pytest.raises(ClusterError) as info:
            helm.rollback("absent", "kube-system", 1, wait=wait)
        assert info.value.message == "helm rollback absent 1: release not found"
