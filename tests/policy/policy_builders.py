"""Small builders for test manifests (dicts dumped as YAML)."""

from __future__ import annotations

from typing import Any

import yaml


def manifest(*objects: dict[str, Any]) -> str:
    """A multi-document YAML text."""
    return yaml.safe_dump_all(list(objects), sort_keys=False)


def namespace(name: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def pod(
    ns: str,
    name: str,
    labels: dict[str, str] | None = None,
    ports: list[tuple[str, int, str]] | None = None,
    owner: tuple[str, str] | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {"app": name}}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner[0],
                "name": owner[1],
                "controller": True,
                "uid": "1",
            }
        ]
    container: dict[str, Any] = {"name": "main", "image": "busybox"}
    if ports:
        container["ports"] = [
            {"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports
        ]
    spec: dict[str, Any] = {"containers": [container]}
    if service_account:
        spec["serviceAccountName"] = service_account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deployment(
    ns: str,
    name: str,
    labels: dict[str, str] | None = None,
    kind: str = "Deployment",
    ports: list[tuple[str, int, str]] | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    template = pod(ns, name, labels, ports, service_account=service_account)
    del template["metadata"]["name"], template["metadata"]["namespace"]
    spec: dict[str, Any] = {
        "template": {"metadata": template["metadata"], "spec": template["spec"]}
    }
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    if kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": spec}}
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def netpol(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def cnp(
    ns: str,
    name: str,
    spec: dict[str, Any] | None = None,
    specs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
    }
    if spec is not None:
        obj["spec"] = spec
    if specs is not None:
        obj["specs"] = specs
    return obj


def ccnp(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def labels(**kv: str) -> dict[str, Any]:
    return {"matchLabels": kv}


WORLD = "ip:0.0.0.0-255.255.255.255"

# Two declared namespaces and one only referenced (by its pod).
BASE = [
    namespace("x", team="alpha", env="prod"),
    namespace("y", team="beta", env="prod"),
    pod("x", "a", {"app": "a"}, [("http", 80, "TCP")]),
    pod("x", "b", {"app": "b"}, [("http", 8080, "TCP"), ("dns", 53, "UDP")]),
    pod("y", "a", {"app": "a"}, [("http", 81, "TCP")]),
    pod("y", "b", {"app": "b"}),
    pod("z", "c", {"app": "c"}),
]
PODS = ["x/a", "x/b", "y/a", "y/b", "z/c"]
