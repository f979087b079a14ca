"""Builders of Kubernetes objects as the API server returns them, for the API fake."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def owner(kind: str, name: str) -> list[dict[str, Any]]:
    """``ownerReferences`` with one controlling owner."""
    api = "v1" if kind in ("ReplicationController", "Node") else "apps/v1"
    if kind == "Job":
        api = "batch/v1"
    return [
        {"apiVersion": api, "kind": kind, "name": name, "uid": f"uid-{name}", "controller": True}
    ]


def pod(
    namespace: str,
    name: str,
    *,
    owner_ref: tuple[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    phase: str = "Running",
    ready: bool = True,
    host_network: bool = False,
    node: str = "node-a",
) -> dict[str, Any]:
    """A pod with status, optionally owned by a controller ``(kind, name)``."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if owner_ref:
        meta["ownerReferences"] = owner(*owner_ref)
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "nodeName": node,
            "hostNetwork": host_network,
            "containers": [{"name": "main", "image": "registry.example/app:1"}],
        },
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def cilium_endpoint(namespace: str, name: str, *, enforcing: bool = False) -> dict[str, Any]:
    """The CiliumEndpoint Cilium's agent creates for a pod it manages."""
    return {
        "kind": "CiliumEndpoint",
        "metadata": {"name": name, "namespace": namespace},
        "status": {
            "id": 1001,
            "state": "ready",
            "policy": {
                "ingress": {"enforcing": enforcing, "state": "<status disabled>"},
                "egress": {"enforcing": False, "state": "<status disabled>"},
            },
        },
    }


def daemonset(
    namespace: str,
    name: str,
    *,
    desired: int,
    ready: int | None = None,
    updated: int | None = None,
    labels: Mapping[str, str] | None = None,
    generation: int = 1,
    observed: int | None = None,
    node_selector: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A DaemonSet with a rollout status (defaults: fully rolled out)."""
    ready = desired if ready is None else ready
    spec_template: dict[str, Any] = {"spec": {"containers": [{"name": name, "image": f"{name}:1"}]}}
    if node_selector:
        spec_template["spec"]["nodeSelector"] = dict(node_selector)
    return {
        "kind": "DaemonSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels or {}),
            "generation": generation,
        },
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": spec_template},
        "status": {
            "observedGeneration": generation if observed is None else observed,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "updatedNumberScheduled": desired if updated is None else updated,
            "numberReady": ready,
            "numberAvailable": ready,
        },
    }


def deployment(
    namespace: str,
    name: str,
    *,
    replicas: int = 1,
    ready: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment with a rollout status (default: fully rolled out)."""
    ready = replicas if ready is None else ready
    return {
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels or {}),
            "generation": 1,
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        },
    }


def service(
    namespace: str,
    name: str,
    *,
    type_: str = "ClusterIP",
    lb: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Service; ``lb`` addresses (IPs or host names) go into its load-balancer status."""
    ingress = [{"hostname": a} if any(c.isalpha() for c in a) else {"ip": a} for a in lb]
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"type": type_, "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": ingress} if ingress else {}},
    }


def namespace(name: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}}


def node(
    name: str,
    *,
    ready: bool = True,
    taints: Iterable[Mapping[str, str]] = (),
    pod_cidr: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"taints": [dict(t) for t in taints]}
    if pod_cidr:
        spec["podCIDR"] = pod_cidr
        spec["podCIDRs"] = [pod_cidr]
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def config_map(namespace: str, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def pdb(
    namespace: str, name: str, match_labels: Mapping[str, str], *, allowed: int
) -> dict[str, Any]:
    return {
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(match_labels)}},
        "status": {"disruptionsAllowed": allowed, "currentHealthy": 1, "desiredHealthy": 1},
    }


def helm_release_secret(
    name: str,
    namespace: str,
    revision: int,
    *,
    chart: str,
    version: str,
    status: str = "deployed",
    app_version: str | None = None,
) -> dict[str, Any]:
    """A release revision stored as helm's Secrets driver stores it.

    ``data.release`` is base64 (Secret data) of base64(gzip(JSON release)); labels
    ``owner=helm, name, status, version`` are what ``helm list``/``history`` select on.
    """
    from cluster_mgmt.core.kube_objects import encode_helm_release

    updated = f"2026-01-0{min(revision, 9)}T10:00:00.000000000Z"
    release = {
        "name": name,
        "namespace": namespace,
        "version": revision,
        "info": {
            "first_deployed": "2026-01-01T10:00:00.000000000Z",
            "last_deployed": updated,
            "deleted": "",
            "description": "Install complete" if revision == 1 else "Upgrade complete",
            "status": status,
        },
        "chart": {
            "metadata": {
                "name": chart,
                "version": version,
                "appVersion": app_version or version,
                "apiVersion": "v2",
            },
            "lock": None,
            "templates": [],
            "values": {},
            "schema": None,
            "files": [],
        },
        "config": {},
        "manifest": "",
    }
    return {
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{revision}",
            "namespace": namespace,
            "labels": {
                "owner": "helm",
                "name": name,
                "status": status,
                "version": str(revision),
                "modifiedAt": "1767261600",
            },
        },
        "data": {"release": encode_helm_release(release)},
    }
