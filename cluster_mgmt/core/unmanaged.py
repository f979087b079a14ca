"""Which pods Cilium does not manage yet, and in which order to restart them. Pure.

A pod started before Cilium got its network from the previous CNI: Cilium has no endpoint
(CiliumEndpoint) for it, so no network policy applies to it until it is recreated. Pods on
the host network never get an endpoint and need no restart.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from cluster_mgmt.core.kube_objects import OwnerRef, Pod

# Static (mirror) pods belong to a node: the kubelet restarts them from a file, not eviction.
STATIC_OWNER_KIND = "Node"


@dataclass(frozen=True, slots=True)
class Selection:
    """Unmanaged pods to restart, and the ones left alone with the reason.

    Attributes:
        targets: pods to evict, sorted by namespace and name.
        skipped: ``(pod, reason)`` for unmanaged pods that are not restarted.
    """

    targets: tuple[Pod, ...]
    skipped: tuple[tuple[Pod, str], ...]


def is_unmanaged(pod: Pod, endpoints: Collection[tuple[str, str]]) -> bool:
    """A running pod, not on the host network, not being deleted, without a CiliumEndpoint."""
    return (
        pod.phase == "Running"
        and not pod.host_network
        and not pod.deleting
        and pod.key not in endpoints
    )


def select_unmanaged(
    pods: Iterable[Pod], endpoints: Collection[tuple[str, str]], *, include_bare: bool
) -> Selection:
    """The unmanaged pods to restart: bare pods only with ``include_bare`` (none recreates them)."""
    targets: list[Pod] = []
    skipped: list[tuple[Pod, str]] = []
    for pod in sorted(pods, key=lambda p: p.key):
        if not is_unmanaged(pod, endpoints):
            continue
        if pod.owner is not None and pod.owner.kind == STATIC_OWNER_KIND:
            skipped.append((pod, "static pod: restart it on its node"))
        elif pod.owner is None and not include_bare:
            skipped.append((pod, "bare pod (no controller would recreate it): --include-bare-pods"))
        else:
            targets.append(pod)
    return Selection(tuple(targets), tuple(skipped))


def batches(pods: Iterable[Pod], max_unavailable: int) -> list[tuple[OwnerRef | None, list[Pod]]]:
    """Pods grouped by owner (bare pods each alone), at most ``max_unavailable`` per batch.

    Owners come in namespace/name order of their first pod, so a run is predictable.
    """
    if max_unavailable < 1:
        raise ValueError("max_unavailable must be at least 1")
    groups: dict[tuple[str, str, str], list[Pod]] = {}
    for pod in sorted(pods, key=lambda p: p.key):
        key = (pod.namespace, str(pod.owner) if pod.owner else "", "" if pod.owner else pod.name)
        groups.setdefault(key, []).append(pod)
    return [
        (members[0].owner, members[start : start + max_unavailable])
        for members in groups.values()
        for start in range(0, len(members), max_unavailable)
    ]


def pod_entry(pod: Pod) -> dict[str, str | None]:
    """``{"namespace", "name", "owner"}`` with owner ``"Kind/name"`` or None (the JSON form)."""
    return {
        "namespace": pod.namespace,
        "name": pod.name,
        "owner": str(pod.owner) if pod.owner else None,
    }
