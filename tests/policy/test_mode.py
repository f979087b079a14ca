"""``policy mode audit|block``: the safety analysis and the config switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_builders import cnp, deployment, labels, manifest, netpol, pod
from policy_helpers import docs_of

from cluster_mgmt.core.policy.documents import split_documents
from cluster_mgmt.core.policy.safety import block_mode_hazards

DNS_ALLOW = cnp(
    "shop",
    "dns",
    {
        "endpointSelector": {},
        "egress": [
            {
                "toEndpoints": [
                    {
                        "matchLabels": {
                            "k8s:io.kubernetes.pod.namespace": "kube-system",
                            "k8s:k8s-app": "kube-dns",
                        }
                    }
                ],
                "toPorts": [
                    {
                        "ports": [{"port": "53", "protocol": "ANY"}],
                        "rules": {"dns": [{"matchPattern": "*"}]},
                    }
                ],
            }
        ],
    },
)
API_ALLOW = cnp(
    "shop",
    "api",
    {
        "endpointSelector": labels(app="operator"),
        "egress": [
            {
                "toEntities": ["kube-apiserver"],
                "toPorts": [{"ports": [{"port": "6443", "protocol": "TCP"}]}],
            }
        ],
    },
)
EGRESS_LOCK = netpol(
    "shop",
    "lock",
    {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]},
)
WORKLOADS = [
    deployment("shop", "web", {"app": "web"}),
    deployment("shop", "operator", {"app": "operator"}, service_account="operator"),
    deployment("blog", "app", {"app": "blog"}, service_account="blog"),
    pod(
        "kube-system",
        "coredns-1",
        {"k8s-app": "kube-dns"},
        [("dns", 53, "UDP")],
        owner=("ReplicaSet", "coredns-66bff467f8"),
    ),
]


def hazards(*objects):
    inventory, policies = split_documents(docs_of(manifest(*WORKLOADS, *objects)))
    return {(str(h.workload), h.kind) for h in block_mode_hazards(inventory, policies.policies)}


def test_safety_analysis_is_a_pure_function():
    assert hazards() == set()
    assert hazards(EGRESS_LOCK) == {
        ("shop/web[Deployment]", "dns"),
        ("shop/operator[Deployment]", "dns"),
        ("shop/operator[Deployment]", "kube-apiserver"),
    }
    assert hazards(EGRESS_LOCK, DNS_ALLOW) == {("shop/operator[Deployment]", "kube-apiserver")}
    assert hazards(EGRESS_LOCK, DNS_ALLOW, API_ALLOW) == set()


def test_kube_dns_ingress_lock_cuts_everyone():
    lock = netpol("kube-system", "lock", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert hazards(lock) == {
        ("shop/web[Deployment]", "dns"),
        ("shop/operator[Deployment]", "dns"),
        ("blog/app[Deployment]", "dns"),
    }


def test_api_server_reachable_through_its_address_only_when_known():
    by_ip = netpol(
        "shop",
        "api-ip",
        {
            "podSelector": labels(app="operator"),
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}]}],
        },
    )
    inventory, policies = split_documents(
        docs_of(manifest(*WORKLOADS, EGRESS_LOCK, DNS_ALLOW, by_ip))
    )
    unknown = block_mode_hazards(inventory, policies.policies)
    assert [h.kind for h in unknown] == ["kube-apiserver"]
    known = block_mode_hazards(inventory, policies.policies, apiserver_ips=["172.18.0.2"])
    assert known == []


def test_missing_kube_dns_is_assumed_with_its_usual_labels():
    inventory, policies = split_documents(docs_of(manifest(WORKLOADS[0], EGRESS_LOCK, DNS_ALLOW)))
    assert block_mode_hazards(inventory, policies.policies) == []
    inventory, policies = split_documents(docs_of(manifest(WORKLOADS[0], EGRESS_LOCK)))
    (hazard,) = block_mode_hazards(inventory, policies.policies)
    assert "kube-system/coredns[Deployment]" in hazard.message


@pytest.fixture
def project(run, tmp_path) -> Path:
    result = run(
        "init",
        tmp_path / "demo",
        "--provider",
        "kind",
        "--env",
        "dev",
        "--gitlab-url",
        "https://gitlab.com",
        "--agent-project",
        "my-group/cluster-management",
        "--agent",
        "demo-agent",
        "--base-domain",
        "127.0.0.1.nip.io",
    )
    assert result.code == 0, result.err
    return tmp_path / "demo"


def audit_mode(project: Path) -> bool:
    import yaml

    config = yaml.safe_load((project / "cluster-mgmt.yaml").read_text())
    return bool(config["environments"]["dev"]["cilium"]["policy_audit_mode"])


def test_block_refuses_when_dns_would_be_cut_and_names_the_workloads(project, run, write):
    inventory = write("inv/all.yaml", manifest(*WORKLOADS)).parent
    (project / "policies" / "shop-lock.yaml").write_text(manifest(EGRESS_LOCK))
    assert audit_mode(project)
    refused = run("-C", project, "policy", "mode", "block", "--dir", inventory)
    assert refused.code == 2
    assert "refusing to switch to blocking mode" in refused.err
    assert (
        "shop/web[Deployment]: would lose DNS: 53/UDP to kube-system/coredns-66bff467f8[ReplicaSet]"
        in refused.err
    )
    assert (
        "shop/operator[Deployment]: would lose the Kubernetes API (service account 'operator')"
        in refused.err
    )
    assert "blog/app" not in refused.err
    assert audit_mode(project)  # untouched
    forced = run("-C", project, "policy", "mode", "block", "--dir", inventory, "--force")
    assert forced.code == 0 and "forced despite" in forced.err and not audit_mode(project)
    back = run("-C", project, "policy", "mode", "audit")
    assert back.code == 0 and "changed dev" in back.out and audit_mode(project)
    (project / "policies" / "shop-dns.yaml").write_text(manifest(DNS_ALLOW, API_ALLOW))
    ok = run("-C", project, "policy", "mode", "block", "--dir", inventory)
    assert ok.code == 0, ok.err
    assert "policy mode block: changed dev; rendered" in ok.out and not audit_mode(project)
    again = run("-C", project, "policy", "mode", "block", "--dir", inventory)
    assert "already set" in again.out


def test_block_checks_each_environment_cluster(project, run, fake_cluster):
    fake_cluster.add(*WORKLOADS)
    (project / "policies" / "shop-lock.yaml").write_text(manifest(EGRESS_LOCK))
    refused = run("-C", project, "policy", "mode", "block", "--env", "dev")
    assert refused.code == 2, refused.err
    assert "environment dev (context my-group/cluster-management:demo-agent):" in refused.err
    assert "shop/web[Deployment]: would lose DNS" in refused.err
    assert "/api/v1/pods" in fake_cluster.requests
    unknown_env = run("-C", project, "policy", "mode", "block", "--env", "prod")
    assert unknown_env.code == 2 and "no environment 'prod'" in unknown_env.err


def test_block_refuses_invalid_repository_policies(project, run, write):
    inventory = write("inv/all.yaml", manifest(*WORKLOADS)).parent
    (project / "policies" / "broken.yaml").write_text(
        manifest(netpol("shop", "broken", {"podSelector": {}, "ingress": [{"from": [{}]}]}))
    )
    result = run("-C", project, "policy", "mode", "block", "--dir", inventory)
    assert result.code == 2 and "invalid policy" in result.err and "broken.yaml" in result.err


def test_block_honours_kube_context_from_the_environment(project, run, fake_cluster, monkeypatch):
    fake_cluster.add(*WORKLOADS)
    (project / "policies" / "shop-lock.yaml").write_text(manifest(EGRESS_LOCK))
    monkeypatch.setenv("KUBE_CONTEXT", fake_cluster.context)
    refused = run("-C", project, "policy", "mode", "block")
    assert refused.code == 2, refused.err
    assert f"context {fake_cluster.context}:" in refused.err
    assert "environment dev" not in refused.err
    # --env is more explicit than KUBE_CONTEXT: the environment's own context is checked.
    by_env = run("-C", project, "policy", "mode", "block", "--env", "dev")
    assert by_env.code == 2
    assert "environment dev (context my-group/cluster-management:demo-agent):" in by_env.err
