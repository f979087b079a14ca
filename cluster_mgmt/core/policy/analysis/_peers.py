"""The matrix's vocabulary: peers that are not workloads, and one allowed connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.inventory import WorkloadRef
from cluster_mgmt.core.policy.ipv4 import range_text


@dataclass(frozen=True, slots=True, order=True)
class IpRanges:
    """External addresses: inclusive integer ranges."""

    ranges: tuple[tuple[int, int], ...]

    def __str__(self) -> str:
        return ",".join(range_text(lo, hi) for lo, hi in self.ranges)

    def as_json(self) -> dict[str, list[str]]:
        """``{"ip_ranges": ["a.b.c.d-w.x.y.z", ...]}``."""
        return {"ip_ranges": [range_text(lo, hi) for lo, hi in self.ranges]}


@dataclass(frozen=True, slots=True, order=True)
class EntityRef:
    """A Cilium entity peer (only with ``--extra-peers``)."""

    entity: str

    def __str__(self) -> str:
        return f"entity:{self.entity}"

    def as_json(self) -> dict[str, str]:
        """``{"entity": name}``."""
        return {"entity": self.entity}


@dataclass(frozen=True, slots=True, order=True)
class FqdnRef:
    """A ``toFQDNs`` destination (only with ``--extra-peers``)."""

    fqdn: str

    def __str__(self) -> str:
        return f"fqdn:{self.fqdn}"

    def as_json(self) -> dict[str, str]:
        """``{"fqdn": pattern}``."""
        return {"fqdn": self.fqdn}


PeerRef = WorkloadRef | IpRanges | EntityRef | FqdnRef


def peer_json(peer: PeerRef) -> dict[str, Any]:
    """The documented JSON form of a peer."""
    return peer.as_json()


def peer_sort_key(peer: PeerRef) -> tuple[Any, ...]:
    """Workloads first (namespace, name, kind), then address ranges, entities, FQDNs."""
    if isinstance(peer, WorkloadRef):
        return (0, peer.namespace, peer.name, peer.kind, ())
    if isinstance(peer, IpRanges):
        return (1, "", "", "", peer.ranges)
    if isinstance(peer, EntityRef):
        return (2, peer.entity, "", "", ())
    return (3, peer.fqdn, "", "", ())


@dataclass(frozen=True, slots=True)
class Connection:
    """One line of the matrix."""

    src: PeerRef
    dst: PeerRef
    conn: Conn

    def as_json(self) -> dict[str, Any]:
        """``{"src": PEER, "dst": PEER, "conn": CONN}``."""
        return {
            "src": peer_json(self.src),
            "dst": peer_json(self.dst),
            "conn": C.to_json(self.conn),
        }

    def sort_key(self) -> tuple[Any, ...]:
        """Deterministic output order."""
        return (peer_sort_key(self.src), peer_sort_key(self.dst))
