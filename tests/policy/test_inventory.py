"""Inventory from manifest directories: file types, List wrappers, owners, namespaces."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from policy_builders import deployment, manifest, namespace, netpol, pod
from policy_helpers import conn_map, docs_of, peer_text

from cluster_mgmt.core.policy.documents import split_documents
from cluster_mgmt.core.policy.inventory import WorkloadRef
from cluster_mgmt.ops.policy_manifests import load_manifests


def refs(inventory):
    return {(r.namespace, r.name, r.kind) for r in inventory.workloads}


def test_recursive_yaml_yml_json_and_list_wrappers(write, tmp_path):
    write("a/deploy.yaml", manifest(deployment("shop", "web")))
    write("a/b/sts.yml", manifest(deployment("shop", "db", kind="StatefulSet")))
    write(
        "c/list.yaml",
        manifest(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    deployment("shop", "agent", kind="DaemonSet"),
                    {
                        "apiVersion": "v1",
                        "kind": "PodList",
                        "items": [pod("shop", "debug", {"app": "debug"})],
                    },
                ],
            }
        ),
    )
    # kubectl get -o json output, indented with tabs (not YAML): read as JSON.
    (tmp_path / "c" / "jobs.json").write_text(
        json.dumps(
            {
                "apiVersion": "batch/v1",
                "kind": "JobList",
                "items": [
                    deployment("ops", "backup", kind="CronJob"),
                    deployment("ops", "migrate", kind="Job"),
                ],
            },
            indent="\t",
        )
    )
    write("c/rs.json", json.dumps(deployment("shop", "web-5d9", kind="ReplicaSet")))
    write("c/rc.yaml", manifest(deployment("legacy", "old", kind="ReplicationController")))
    write("c/notes.txt", "kind: Deployment\n")  # not a manifest suffix
    write(".hidden/x.yaml", manifest(deployment("shop", "hidden")))
    write(
        "c/service.yaml",
        manifest(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop"},
            }
        ),
    )
    inventory, _ = split_documents(load_manifests([tmp_path]))
    assert refs(inventory) == {
        ("shop", "web", "Deployment"),
        ("shop", "db", "StatefulSet"),
        ("shop", "agent", "DaemonSet"),
        ("shop", "debug", "Pod"),
        ("ops", "backup", "CronJob"),
        ("ops", "migrate", "Job"),
        ("shop", "web-5d9", "ReplicaSet"),
        ("legacy", "old", "ReplicationController"),
    }


def test_pods_belong_to_their_controller_as_written():
    text = manifest(
        deployment("shop", "web", {"app": "web"}),
        pod("shop", "web-5d9-abc", {"app": "web"}, owner=("ReplicaSet", "web-5d9")),
        pod("shop", "web-extra", {"app": "web", "canary": "yes"}, owner=("Deployment", "web")),
        pod("shop", "lonely", {"app": "lonely"}),
        {**pod("shop", "done", {"app": "x"}), "status": {"phase": "Succeeded"}},
    )
    inventory, _ = split_documents(docs_of(text))
    assert refs(inventory) == {
        ("shop", "web", "Deployment"),
        ("shop", "web-5d9", "ReplicaSet"),
        ("shop", "lonely", "Pod"),
    }
    # The Deployment's listed Pod is what runs; its template only stands in for missing Pods.
    shapes = inventory.workloads[WorkloadRef("shop", "web", "Deployment")]
    assert {dict(s.labels).get("canary") for s in shapes} == {"yes"}
    template_only = split_documents(docs_of(manifest(deployment("shop", "web", {"app": "web"}))))
    shapes = template_only[0].workloads[WorkloadRef("shop", "web", "Deployment")]
    assert [dict(s.labels) for s in shapes] == [{"app": "web"}]


def test_owner_reference_without_controller_flag_is_accepted():
    obj = pod("shop", "web-1", {"app": "web"})
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1a2b"}
    ]
    inventory, _ = split_documents(docs_of(manifest(obj)))
    assert refs(inventory) == {("shop", "web-1a2b", "ReplicaSet")}


def test_namespaces_declared_and_referenced():
    text = manifest(
        namespace("shop", team="red"),
        pod("other", "p", {"app": "p"}),
        netpol("policy-only", "deny", {"podSelector": {}}),
    )
    inventory, _ = split_documents(docs_of(text))
    labels = {n: dict(ns.labels) for n, ns in inventory.namespaces.items()}
    assert labels == {
        "shop": {"team": "red", "kubernetes.io/metadata.name": "shop"},
        "other": {"kubernetes.io/metadata.name": "other"},
        "policy-only": {"kubernetes.io/metadata.name": "policy-only"},
    }


def test_objects_without_namespace_use_the_default_namespace(write, run):
    root = write(
        "m/all.yaml",
        manifest(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "a", "labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c"}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "b", "labels": {"app": "b"}},
                "spec": {"containers": [{"name": "c"}]},
            },
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "deny"},
                "spec": {"podSelector": {"matchLabels": {"app": "a"}}},
            },
        ),
    ).parent
    m = conn_map(run("policy", "matrix", "--dir", root, "-o", "json").json())
    assert ("default/a", "default/b") in m and ("default/b", "default/a") not in m
    m = conn_map(run("policy", "matrix", "--dir", root, "-n", "team", "-o", "json").json())
    assert ("team/a", "team/b") in m and ("team/b", "team/a") not in m


def test_invalid_yaml_is_a_user_error_with_location(write, run):
    root = write("bad/x.yaml", "kind: Pod\nmetadata: {name: [unclosed\n").parent
    result = run("policy", "matrix", "--dir", root)
    assert result.code == 2
    assert f"{root}/x.yaml:3:1" in result.err or f"{root}/x.yaml:2:" in result.err
    assert "invalid YAML" in result.err


def test_missing_source_is_a_user_error(run, monkeypatch):
    monkeypatch.delenv("KUBE_CONTEXT", raising=False)
    result = run("policy", "matrix")
    assert result.code == 2 and "--dir" in result.err and "--kube-context" in result.err


# `kubectl get pods -A -o yaml` of a one-node minikube cluster with the ingress addon.
MINIKUBE_PODS = Path(__file__).parent / "listings" / "minikube-pods.yaml"
CONTROL_PLANE = {
    "etcd-minikube": "etcd",
    "kube-apiserver-minikube": "kube-apiserver",
    "kube-controller-manager-minikube": "kube-controller-manager",
    "kube-scheduler-minikube": "kube-scheduler",
}


def workload_texts(matrix_json):
    return {
        f"{peer_text(e[side])}[{e[side]['kind']}]"
        for e in matrix_json
        for side in ("src", "dst")
        if "kind" in e[side]
    }


def test_mirror_pods_of_the_control_plane_are_pods(run):
    """Static pods name their Node as controller; each is its own ``Pod`` workload, and the
    finished admission Job pod stays out."""
    listing = yaml.safe_load(MINIKUBE_PODS.read_text())
    owners = {
        item["metadata"]["name"]: item["metadata"]["ownerReferences"][0]["kind"]
        for item in listing["items"]
        if item["metadata"].get("ownerReferences")
    }
    assert {name: owners[name] for name in CONTROL_PLANE} == dict.fromkeys(CONTROL_PLANE, "Node")

    result = run("policy", "matrix", "--dir", MINIKUBE_PODS.parent, "-o", "json")
    assert result.code == 0, result.err
    assert workload_texts(result.json()) == {
        "kube-system/etcd-minikube[Pod]",
        "kube-system/kube-apiserver-minikube[Pod]",
        "kube-system/kube-controller-manager-minikube[Pod]",
        "kube-system/kube-scheduler-minikube[Pod]",
        "kube-system/storage-provisioner[Pod]",
        "kube-system/coredns-668d6bf9bc[ReplicaSet]",
        "kube-system/kube-proxy[DaemonSet]",
    }
    table = run("policy", "matrix", "--dir", MINIKUBE_PODS.parent)
    assert "kube-system/etcd-minikube[Pod]" in table.out
    assert "[Node]" not in table.out


def test_each_mirror_pod_keeps_its_own_labels():
    inventory, _ = split_documents(docs_of(MINIKUBE_PODS.read_text(), str(MINIKUBE_PODS)))
    for name, component in CONTROL_PLANE.items():
        shapes = inventory.workloads[WorkloadRef("kube-system", name, "Pod")]
        assert [dict(s.labels) for s in shapes] == [
            {"component": component, "tier": "control-plane"}
        ]
    assert not [r for r in inventory.workloads if r.kind == "Node"]
    assert "ingress-nginx" not in {r.namespace for r in inventory.workloads}
