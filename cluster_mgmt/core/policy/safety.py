"""Is it safe to switch Cilium from audit to blocking mode with these policies?

In audit mode every flow passes; in blocking mode policies drop what they do not allow. The
two losses that break a cluster quietly are DNS (every pod resolves names through kube-dns)
and the Kubernetes API (operators, controllers and anything with its own service account).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis
from cluster_mgmt.core.policy.inventory import (
    Inventory,
    PodShape,
    WorkloadRef,
    kube_dns_workloads,
    with_virtual_kube_dns,
)
from cluster_mgmt.core.policy.model import Direction, Policy


@dataclass(frozen=True, slots=True)
class Hazard:
    """A workload that blocking mode would cut off from DNS or the API server."""

    workload: WorkloadRef
    kind: str  # "dns" | "kube-apiserver"
    message: str

    def render(self) -> str:
        """One line for humans."""
        return f"{self.workload}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        """Plain dict for ``-o json``."""
        return {"workload": self.workload.as_json(), "kind": self.kind, "message": self.message}


def needs_api_server(shapes: Sequence[PodShape]) -> bool:
    """Heuristic: pods with their own service account and a mounted token talk to the API."""
    return any(s.service_account != "default" and s.automount_token for s in shapes)


def block_mode_hazards(
    inventory: Inventory,
    policies: Sequence[Policy],
    *,
    apiserver_ips: Iterable[str] = (),
) -> list[Hazard]:
    """Workloads that would lose DNS (53/UDP to kube-dns) or any TCP access to the API server.

    A workload loses DNS if the full path is not allowed (its egress and kube-dns' ingress).
    Only workloads in egress default-deny can lose the API server (it has no ingress policy).
    When the inventory has no kube-dns pods, a stand-in ``kube-system/coredns`` with the usual
    ``k8s-app=kube-dns`` label is assumed.
    """
    inv = with_virtual_kube_dns(inventory)
    analysis = Analysis(inv, policies, apiserver_ips=apiserver_ips)
    dns = kube_dns_workloads(inv)
    api_atom = analysis.entity_atom("kube-apiserver")
    out: list[Hazard] = []
    for wi, ref in enumerate(analysis.workloads):
        classes = analysis.classes.workload_classes[wi]
        if ref in inv.virtual or not classes or ref in dns:
            continue
        if not any(C.allows(analysis.workload_conn(ref, d), "UDP", 53) for d in dns):
            why = (
                "egress"
                if any(analysis.sections.isolated(ci, Direction.EGRESS) for ci in classes)
                else "ingress at kube-dns"
            )
            out.append(
                Hazard(
                    ref,
                    "dns",
                    f"would lose DNS: 53/UDP to {', '.join(map(str, dns))} "
                    f"is not allowed ({why} policy)",
                )
            )
        egress_isolated = any(analysis.sections.isolated(ci, Direction.EGRESS) for ci in classes)
        if egress_isolated and needs_api_server(inv.workloads[ref]):
            conn = analysis.workload_to_atom(ref, api_atom)
            if not any(proto == "TCP" for proto, _ in conn):
                account = next(
                    s.service_account for s in inv.workloads[ref] if s.service_account != "default"
                )
                out.append(
                    Hazard(
                        ref,
                        "kube-apiserver",
                        f"would lose the Kubernetes API (service account {account!r}): no "
                        "egress to the kube-apiserver entity (or its address)",
                    )
                )
    return out
