"""Read namespaces, workloads and policies from a live cluster through the Kubernetes adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.core.policy.source import SourceDoc

# (collection path, kind) — list responses omit each item's kind, so it is filled in.
INVENTORY_COLLECTIONS = (
    ("/api/v1/namespaces", "Namespace"),
    ("/api/v1/pods", "Pod"),
    ("/api/v1/replicationcontrollers", "ReplicationController"),
    ("/apis/apps/v1/deployments", "Deployment"),
    ("/apis/apps/v1/statefulsets", "StatefulSet"),
    ("/apis/apps/v1/daemonsets", "DaemonSet"),
    ("/apis/apps/v1/replicasets", "ReplicaSet"),
    ("/apis/batch/v1/jobs", "Job"),
    ("/apis/batch/v1/cronjobs", "CronJob"),
)
K8S_POLICIES = (
    "/apis/networking.k8s.io/v1/networkpolicies",
    "NetworkPolicy",
    "networking.k8s.io/v1",
)
CILIUM_POLICIES = (
    ("/apis/cilium.io/v2/ciliumnetworkpolicies", "CiliumNetworkPolicy", "cilium.io/v2"),
    (
        "/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies",
        "CiliumClusterwideNetworkPolicy",
        "cilium.io/v2",
    ),
)


@dataclass(slots=True)
class LiveObjects:
    """What was read from the cluster."""

    inventory: list[SourceDoc] = field(default_factory=list)
    policies: list[SourceDoc] = field(default_factory=list)
    apiserver_ips: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _docs(
    client: KubeClient, path: str, kind: str, api: str | None, origin: str
) -> list[SourceDoc]:
    out = []
    for item in client.list_items(path):
        item = dict(item)
        item.setdefault("kind", kind)
        if api:
            item.setdefault("apiVersion", api)
        out.append(SourceDoc(origin, item))
    return out


def serves_cilium(client: KubeClient) -> bool:
    """Whether the API server serves ``cilium.io/v2`` (the CRDs are installed)."""
    groups = client.get_json("/apis").get("groups") or []
    for group in groups:
        if group.get("name") == "cilium.io":
            return any(v.get("version") == "v2" for v in group.get("versions") or [])
    return False


def apiserver_ips(client: KubeClient) -> list[str]:
    """Addresses behind the ``default/kubernetes`` service (empty when not readable)."""
    from cluster_mgmt.errors import ClusterError

    try:
        endpoints: Any = client.get_json("/api/v1/namespaces/default/endpoints/kubernetes")
    except ClusterError:
        return []
    ips = {
        str(address["ip"])
        for subset in endpoints.get("subsets") or []
        for address in subset.get("addresses") or []
        if address.get("ip") and ":" not in address["ip"]
    }
    return sorted(ips)


def read_cluster(
    client: KubeClient, *, inventory: bool = True, policies: bool = True
) -> LiveObjects:
    """List inventory and/or policy objects from the cluster.

    Raises:
        ClusterError: the API server is unreachable or refuses a listing.
    """
    origin = f"cluster:{client.context or 'current-context'}"
    out = LiveObjects()
    if inventory:
        for path, kind in INVENTORY_COLLECTIONS:
            out.inventory.extend(_docs(client, path, kind, None, origin))
        out.apiserver_ips = apiserver_ips(client)
    if policies:
        out.policies.extend(_docs(client, *K8S_POLICIES, origin))
        if serves_cilium(client):
            for path, kind, api in CILIUM_POLICIES:
                out.policies.extend(_docs(client, path, kind, api, origin))
        else:
            out.notes.append("the cluster does not serve cilium.io/v2; no Cilium policies read")
    return out
