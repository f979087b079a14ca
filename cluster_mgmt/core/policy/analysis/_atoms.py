"""The atom space: every peer a policy can tell apart, as one bit of a Python ``int``.

Bits ``0 .. len(shapes) - 1`` are the pod classes; then one bit per piece of the IPv4 space
(cut at every CIDR boundary the policies mention), one per Cilium entity (host,
kube-apiserver...), and one per ``toFQDNs`` selector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cluster_mgmt.core.policy.ipv4 import Partition, ip_to_int
from cluster_mgmt.core.policy.model import (
    CLUSTER_ENTITIES,
    ENTITY_ATOMS,
    CidrPeer,
    FqdnPeer,
    Policy,
)


def bit_indices(bits: int) -> list[int]:
    """Positions of the set bits, lowest first."""
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


@dataclass(frozen=True, slots=True)
class AtomSpace:
    """Where each kind of peer sits in the bitset, and the masks of the named peer groups.

    Attributes:
        partition: the IPv4 pieces (atom ``ip_offset + i`` is ``partition.atoms[i]``).
        fqdns: the ``toFQDNs`` selectors, sorted.
        apiserver_addrs: the API server's addresses (CIDR rules covering them reach the
            ``kube-apiserver`` entity too).
        ip_offset: the first IPv4 atom; everything below is a pod class.
        entity_offset: the first entity atom.
        fqdn_offset: the first FQDN atom.
        all_bits: every atom.
        pod_bits: every pod class.
        ip_bits: every IPv4 atom.
        entity_bits: the atom of each entity.
        fqdn_bits: the atom of each FQDN selector.
        world_bits: what Cilium calls ``world``: addresses and FQDN destinations.
        cluster_bits: what Cilium calls ``cluster``: pods and the cluster entities.
    """

    partition: Partition
    fqdns: tuple[str, ...]
    apiserver_addrs: tuple[int, ...]
    ip_offset: int
    entity_offset: int
    fqdn_offset: int
    all_bits: int
    pod_bits: int
    ip_bits: int
    entity_bits: Mapping[str, int]
    fqdn_bits: Mapping[str, int]
    world_bits: int
    cluster_bits: int

    def range_bits(self, low: int, high: int) -> int:
        """The IPv4 atoms inside ``low..high``."""
        idx = self.partition.covering(low, high)
        if not idx:
            return 0
        return ((1 << len(idx)) - 1) << (self.ip_offset + idx.start)

    def entity(self, entity: str) -> int:
        """The atoms a Cilium entity stands for (``all``, ``world``, ``cluster`` or one)."""
        if entity == "all":
            return self.all_bits
        if entity in ("world", "world-ipv4"):
            return self.world_bits
        if entity == "cluster":
            return self.cluster_bits
        return self.entity_bits.get(entity, 0)

    def ip_atom(self, address: str) -> int:
        """The atom holding one IPv4 address."""
        return self.ip_offset + self.partition.atom_of(ip_to_int(address))

    def entity_atom(self, entity: str) -> int:
        """The atom of a Cilium entity."""
        return self.entity_bits[entity].bit_length() - 1


def atom_space(
    n_classes: int,
    policies: Sequence[Policy],
    *,
    extra_cidrs: Iterable[tuple[int, int]] = (),
    apiserver_ips: Iterable[str] = (),
) -> AtomSpace:
    """Lay out the atoms for ``n_classes`` pod classes and what ``policies`` mention."""
    apiserver_addrs = tuple(ip_to_int(ip) for ip in apiserver_ips)
    partition = Partition(
        [*extra_cidrs, *policy_cidrs(policies), *((a, a) for a in apiserver_addrs)]
    )
    names = tuple(
        sorted(
            {
                peer.pattern
                for policy in policies
                for section in policy.sections
                for rule in section.rules
                for peer in rule.peers or ()
                if isinstance(peer, FqdnPeer)
            }
        )
    )
    n_ip = len(partition)
    ip_offset = n_classes
    entity_offset = n_classes + n_ip
    fqdn_offset = entity_offset + len(ENTITY_ATOMS)
    size = fqdn_offset + len(names)
    pod_bits = (1 << n_classes) - 1
    ip_bits = ((1 << n_ip) - 1) << ip_offset
    entity_bits = {e: 1 << (entity_offset + i) for i, e in enumerate(ENTITY_ATOMS)}
    fqdn_bits = {f: 1 << (fqdn_offset + i) for i, f in enumerate(names)}
    cluster = pod_bits
    for entity in CLUSTER_ENTITIES:
        cluster |= entity_bits[entity]
    return AtomSpace(
        partition=partition,
        fqdns=names,
        apiserver_addrs=apiserver_addrs,
        ip_offset=ip_offset,
        entity_offset=entity_offset,
        fqdn_offset=fqdn_offset,
        all_bits=(1 << size) - 1,
        pod_bits=pod_bits,
        ip_bits=ip_bits,
        entity_bits=entity_bits,
        fqdn_bits=fqdn_bits,
        world_bits=ip_bits | sum(fqdn_bits.values()),
        cluster_bits=cluster,
    )


def policy_cidrs(policies: Iterable[Policy]) -> list[tuple[int, int]]:
    """Every IPv4 range the policies mention (to share one partition between analyses)."""
    out: list[tuple[int, int]] = []
    for policy in policies:
        for section in policy.sections:
            for rule in section.rules:
                for peer in rule.peers or ():
                    if isinstance(peer, CidrPeer):
                        out.append((peer.low, peer.high))
                        out.extend(peer.excepts)
    return out
