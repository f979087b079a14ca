"""Every Cilium example policy (../shared/upstream) parses, or is reported with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_builders import manifest, pod
from policy_helpers import docs_of, upstream

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis
from cluster_mgmt.core.policy.documents import parse_policies, split_documents
from cluster_mgmt.core.policy.inventory import WorkloadRef
from cluster_mgmt.core.policy.source import SourceDoc
from cluster_mgmt.ops.policy_manifests import load_manifests

VERSIONS = ["v1.19", "v1.20.0-dev"]
# Documented in SOURCES.md: these two do not validate against their own CRD schema.
KNOWN_UNSUPPORTED = {
    "examples/policies/auth/auth.yaml": "spec.egress[0].auth",
    "examples/policies/l3/requires/requires.yaml": "specs[0].ingress[0].fromRequires",
}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_example_parses_or_names_the_unsupported_field(version: str) -> None:
    root = upstream("cilium-example-policies", version)
    files = sorted(root.rglob("*.yaml"))
    assert len(files) >= 70
    total = 0
    for path in files:
        docs = load_manifests([path])
        policies = parse_policies(docs)
        kinds = [d.obj.get("kind") for d in docs]
        n_policies = sum(
            k in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy") for k in kinds
        )
        total += n_policies
        errors = [f for f in policies.findings if f.severity == "error"]
        assert not errors, [f.render() for f in errors]
        assert len(policies.policies) == n_policies, path
        for finding in policies.findings:
            assert finding.location is not None and finding.location.line, finding.render()
            if finding.severity == "warning":
                assert finding.location.field, finding.render()
        rel = str(path.relative_to(root))
        if rel in KNOWN_UNSUPPORTED:
            fields = {f.location.field for f in policies.findings if f.location}
            assert KNOWN_UNSUPPORTED[rel] in fields, (rel, fields)
    assert total >= 75


@pytest.mark.parametrize("version", VERSIONS)
def test_examples_analyse_over_matching_workloads(version: str) -> None:
    root = upstream("cilium-example-policies", version)
    docs = load_manifests([root]) + star_wars_pods()
    docs += docs_of(
        manifest(
            pod("default", "frontend", {"app": "frontend", "role": "frontend"}),
            pod("default", "backend", {"app": "backend", "role": "backend", "id": "app1"}),
            pod("kube-system", "coredns", {"k8s-app": "kube-dns"}),
        ),
        "extra.yaml",
    )
    inventory, policies = split_documents(docs)
    analysis = Analysis(inventory, policies.policies)
    connections = analysis.connections(extra_peers=True)
    # Every workload, whatever the examples select, has its place in the matrix.
    named = {str(p) for c in connections for p in (c.src, c.dst) if isinstance(p, WorkloadRef)}
    assert named == {str(r) for r in inventory.workloads}
    assert len(named) == 6


def star_wars_pods() -> list[SourceDoc]:
    """The pods of Cilium's star wars demo, as its policies select them."""
    return docs_of(
        manifest(
            pod("default", "tiefighter", {"org": "empire", "class": "tiefighter"}),
            pod("default", "xwing", {"org": "alliance", "class": "xwing"}),
            pod("default", "deathstar", {"org": "empire", "class": "deathstar"}),
        ),
        "star-wars.yaml",
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_star_wars_l7_policy_allows_only_its_http_call(version: str) -> None:
    path = upstream(
        "cilium-example-policies", version, "examples", "minikube", "sw_l3_l4_l7_policy.yaml"
    )
    inventory, policies = split_documents(load_manifests([path]) + star_wars_pods())
    analysis = Analysis(inventory, policies.policies)
    deathstar = WorkloadRef("default", "deathstar", "Pod")
    tiefighter = WorkloadRef("default", "tiefighter", "Pod")
    # The empire's ships reach the deathstar on 80/TCP, for POST /v1/request-landing only.
    assert C.to_json(analysis.workload_conn(tiefighter, deathstar)) == [
        {
            "protocol": "TCP",
            "ports": ["80"],
            "l7": {"http": [{"method": "POST", "path": "/v1/request-landing"}]},
        }
    ]
    assert analysis.workload_conn(WorkloadRef("default", "xwing", "Pod"), deathstar) == C.EMPTY
    # The policy restricts the deathstar's ingress only: its egress is untouched.
    assert analysis.workload_conn(deathstar, tiefighter) == C.ALL


def test_loader_keeps_positions_for_policies_in_lists(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: cilium.io/v2\n  kind: CiliumNetworkPolicy\n  metadata: {name: p}\n"
        "  spec:\n    endpointSelector: {}\n    ingress:\n    - fromNodes: [{}]\n"
    )
    (tmp_path / "l.yaml").write_text(text)
    policies = parse_policies(load_manifests([tmp_path / "l.yaml"]))
    (finding,) = [f for f in policies.findings if f.severity == "warning"]
    assert (finding.location.line, finding.location.field) == (10, "spec.ingress[0].fromNodes")
    assert isinstance(policies.docs[0], SourceDoc)
