"""Live-cluster paths against a fake Kubernetes API on 127.0.0.1 (kmock): matrix and diff."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from policy_builders import BASE, ccnp, cnp, deployment, labels, manifest, netpol
from policy_helpers import FakeCluster, conn_map, tcp

POLICIES = [
    netpol(
        "x",
        "web",
        {
            "podSelector": labels(app="a"),
            "ingress": [{"from": [{"podSelector": labels(app="b")}], "ports": [{"port": 80}]}],
        },
    ),
    cnp(
        "y",
        "db",
        {
            "endpointSelector": labels(app="b"),
            "ingress": [
                {"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "x"}}]}
            ],
        },
    ),
    ccnp(
        "no-world",
        {
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": False},
            "ingressDeny": [{"fromCIDR": ["192.0.2.0/24"]}],
        },
    ),
]
OBJECTS = [*BASE, deployment("y", "api", {"app": "api"}), *POLICIES]


def test_live_matrix_equals_the_manifest_matrix(fake_cluster, run, write):
    fake_cluster.add(*OBJECTS)
    root = write("dir/all.yaml", manifest(*OBJECTS)).parent
    from_dir = run("policy", "matrix", "--dir", root, "-o", "json")
    live = run("policy", "matrix", "--kube-context", fake_cluster.context, "-o", "json")
    assert live.code == 0, live.err
    assert live.json() == from_dir.json()
    assert all(p.startswith(("/api/", "/apis")) for p in fake_cluster.requests)
    m = conn_map(live.json())
    assert m[("x/b", "x/a")] == tcp("80")
    assert ("ip:192.0.2.0-192.0.2.255", "y/api") not in m


def test_kube_context_from_environment_and_dir_wins(fake_cluster, run, write, monkeypatch):
    fake_cluster.add(*OBJECTS)
    monkeypatch.setenv("KUBE_CONTEXT", fake_cluster.context)
    live = run("policy", "matrix", "-o", "json")
    assert live.code == 0 and live.json()
    root = write("d/x.yaml", manifest(*BASE)).parent
    from_dir = run("policy", "matrix", "--dir", root, "-o", "json")  # env context ignored
    assert from_dir.code == 0 and ("y/api" not in from_dir.out)


def test_cluster_without_cilium_crds(tmp_path, run, monkeypatch):
    cluster = FakeCluster(tmp_path, cilium=False)
    try:
        cluster.add(*BASE, POLICIES[0])
        result = run(
            "policy",
            "matrix",
            "--kube-context",
            cluster.context,
            "--kubeconfig",
            cluster.kubeconfig,
            "-o",
            "json",
        )
        assert result.code == 0, result.err
        assert "does not serve cilium.io/v2" in result.err
        assert conn_map(result.json())[("x/b", "x/a")] == tcp("80")
    finally:
        cluster.close()


def test_unreachable_cluster_is_a_user_error(tmp_path, run):
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: dead, context: {cluster: c, user: u}}]\ncurrent-context: dead\n"
    )
    result = run("policy", "matrix", "--kube-context", "dead", "--kubeconfig", kubeconfig)
    assert result.code == 2 and "unreachable" in result.err
    result = run("policy", "matrix", "--kube-context", "nope", "--kubeconfig", kubeconfig)
    assert result.code == 2 and "cannot load kubeconfig" in result.err


def _with_api_defaults(obj):
    live = copy.deepcopy(obj)
    spec = live["spec"]
    spec.setdefault("policyTypes", ["Ingress"])
    for rule in spec.get("ingress", []):
        for port in rule.get("ports", []):
            port.setdefault("protocol", "TCP")
    live["metadata"].update(uid="1234", resourceVersion="99", generation=1)
    return live


def test_diff_repository_against_live(fake_cluster, run, write):
    same, changed, removed = POLICIES
    fake_cluster.add(*BASE, _with_api_defaults(same), changed, removed)
    changed_repo = cnp(
        "y",
        "db",
        {
            "endpointSelector": labels(app="b"),
            "ingress": [
                {"fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "z"}}]}
            ],
        },
    )
    added = netpol("z", "deny", {"podSelector": {}, "policyTypes": ["Egress"]})
    repo = write("repo/policies.yaml", manifest(same, changed_repo, added)).parent
    result = run("policy", "diff", "--policies", repo, "--kube-context", fake_cluster.context)
    assert result.code == 0, result.err
    out = result.out
    assert "added: NetworkPolicy z/deny" in out
    assert "removed: CiliumClusterwideNetworkPolicy no-world" in out
    assert "changed: CiliumNetworkPolicy y/db" in out
    assert "NetworkPolicy x/web" not in out  # same meaning once API defaults are applied
    assert re.search(r'^ +- +"k8s:io.kubernetes.pod.namespace": "x"$', out, re.M)
    assert re.search(r'^ +\+ +"k8s:io.kubernetes.pod.namespace": "z"$', out, re.M)
    assert "- x/a[Pod] -> y/b[Pod]: all" in out
    assert "z/c[Pod] -> y/b" not in out  # db now allows z, but z/deny cuts z's egress
    assert "- z/c[Pod] -> x/b[Pod]: all" in out
    assert "- z/c[Pod] -> 0.0.0.0-255.255.255.255: all" in out
    assert "+ 192.0.2.0-192.0.2.255 -> x/b[Pod]: all" in out  # the removed CCNP denied it
    assert "192.0.2.0-192.0.2.255 -> x/a" not in out  # x/a stays isolated by x/web
    detailed = run(
        "policy",
        "diff",
        "--policies",
        repo,
        "--kube-context",
        fake_cluster.context,
        "--detailed-exitcode",
        "-o",
        "json",
    )
    assert detailed.code == 2
    data = detailed.json()
    assert {(c["change"], c["name"]) for c in data["policies"]} == {
        ("added", "deny"),
        ("removed", "no-world"),
        ("changed", "db"),
    }
    assert {
        "src": {"namespace": "z", "name": "c", "kind": "Pod"},
        "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]},
        "change": "removed",
        "before": "all",
        "after": [],
    } in data["connections"]


def test_diff_without_differences(fake_cluster, run, write):
    fake_cluster.add(*BASE, *POLICIES)
    repo = write("repo/p.yaml", manifest(*POLICIES)).parent
    result = run(
        "policy",
        "diff",
        "--policies",
        repo,
        "--kube-context",
        fake_cluster.context,
        "--detailed-exitcode",
    )
    assert (result.code, result.out.strip()) == (0, "no differences")


def test_diff_defaults_to_the_project_policies_dir(fake_cluster, run, tmp_path):
    fake_cluster.add(*BASE)
    (tmp_path / "proj" / "policies").mkdir(parents=True)
    (tmp_path / "proj" / "policies" / "p.yaml").write_text(manifest(POLICIES[0]))
    result = run("-C", tmp_path / "proj", "policy", "diff", "--kube-context", fake_cluster.context)
    assert "added: NetworkPolicy x/web" in result.out
    missing = run("-C", tmp_path, "policy", "diff", "--kube-context", fake_cluster.context)
    assert missing.code == 2 and "--policies" in missing.err


@pytest.mark.parametrize("fmt", ["table", "csv", "dot"])
def test_other_output_formats(fake_cluster, run, fmt):
    fake_cluster.add(*BASE, POLICIES[0])
    result = run("policy", "matrix", "--kube-context", fake_cluster.context, "-o", fmt)
    assert result.code == 0
    if fmt == "table":
        assert result.out.splitlines()[0].split() == ["SRC", "DST", "CONN"]
        assert any(
            line.split() == ["x/b[Pod]", "x/a[Pod]", "TCP", "80"]
            for line in result.out.splitlines()
        )
    elif fmt == "csv":
        assert result.out.splitlines()[0] == "src,dst,conn"
        assert "x/b[Pod],x/a[Pod],TCP 80" in result.out.splitlines()
    else:
        assert result.out.startswith("digraph connectivity {")
        assert '"x/b[Pod]" -> "x/a[Pod]" [label="TCP 80"];' in result.out


def test_live_listing_follows_continue_tokens(fake_cluster, run):
    from policy_builders import pod

    pods = [pod("bulk", f"p{i}", {"app": f"a{i % 3}"}) for i in range(1100)]
    fake_cluster.add(
        *pods, netpol("bulk", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    )
    result = run(
        "policy",
        "explain",
        "--src",
        "bulk/p1099",
        "--dst",
        "bulk/p0",
        "--kube-context",
        fake_cluster.context,
    )
    assert result.code == 0, result.err
    assert fake_cluster.requests.count("/api/v1/pods") == 3  # 500 + 500 + 100
    assert "verdict: DENIED" in result.out


def test_live_mirror_pods_are_pods(fake_cluster, run):
    listing = Path(__file__).parent / "listings" / "minikube-pods.yaml"
    fake_cluster.add(*yaml.safe_load(listing.read_text())["items"])
    live = run("policy", "matrix", "--kube-context", fake_cluster.context, "-o", "json")
    assert live.code == 0, live.err
    from_dir = run("policy", "matrix", "--dir", listing.parent, "-o", "json")
    assert live.json() == from_dir.json()
    assert {"namespace": "kube-system", "name": "etcd-minikube", "kind": "Pod"} in [
        e["src"] for e in live.json()
    ]
