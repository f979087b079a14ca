"""Selectors, peers and rules evaluated once into atom bitsets (label index lookups)."""

from __future__ import annotations

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis._atoms import AtomSpace, bit_indices
from cluster_mgmt.core.policy.analysis._classes import PodClasses
from cluster_mgmt.core.policy.cilium_parse import (
    CLUSTER_LABEL,
    NAMESPACE_LABEL,
    NAMESPACE_LABELS_PREFIX,
    SERVICE_ACCOUNT_LABEL,
)
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.inventory import Inventory, PodShape
from cluster_mgmt.core.policy.model import (
    ENTITY_ATOMS,
    CidrPeer,
    CiliumEndpointPeer,
    EntityPeer,
    FqdnPeer,
    K8sPodPeer,
    Peer,
    PortSpec,
    Rule,
    Subject,
)
from cluster_mgmt.core.policy.selectors import LabelIndex


def _spec_conn(spec: PortSpec) -> Conn:
    out = C.EMPTY
    for proto in spec.protocols:
        if spec.port is None:
            out = C.union(out, C.span(proto, l7=spec.l7))
        elif isinstance(spec.port, int):
            out = C.union(out, C.span(proto, spec.port, spec.end_port or spec.port, spec.l7))
    return out


class Selection:
    """Which atoms each subject, peer and rule selects, and which ports a rule opens.

    Kubernetes selectors match pod labels; Cilium selectors match endpoint labels (pod
    labels plus namespace, namespace labels, service account and cluster). Results are
    memoized per peer and per rule: the same rule is asked about many times.
    """

    __slots__ = (
        "_groups",
        "_peers",
        "_rules",
        "_static",
        "atoms",
        "cilium_index",
        "k8s_index",
        "ns_class_bits",
        "ns_index",
        "ns_names",
        "shapes",
    )

    def __init__(
        self, inventory: Inventory, classes: PodClasses, atoms: AtomSpace, cluster_name: str
    ) -> None:
        self.atoms = atoms
        self.shapes = classes.shapes
        self.k8s_index = LabelIndex([dict(s.labels) for s in classes.shapes])
        self.ns_names = sorted(inventory.namespaces)
        self.ns_index = LabelIndex([dict(inventory.namespaces[n].labels) for n in self.ns_names])
        ns_class_bits: dict[str, int] = {}
        for ci, shape in enumerate(classes.shapes):
            ns_class_bits[shape.namespace] = ns_class_bits.get(shape.namespace, 0) | (1 << ci)
        self.ns_class_bits = ns_class_bits
        self.cilium_index = LabelIndex(_cilium_labels(inventory, classes, atoms, cluster_name))
        self._peers: dict[Peer, int] = {}
        self._rules: dict[Rule, int] = {}
        self._static: dict[Rule, Conn] = {}
        self._groups: dict[Rule, list[tuple[int, Conn]]] = {}

    def subject_bits(self, subject: Subject) -> int:
        """Pod classes a section applies to."""
        if subject.selector is None:
            return 0
        if subject.cilium:
            bits = self.cilium_index.select(subject.selector) & self.atoms.pod_bits
        else:
            bits = self.k8s_index.select(subject.selector)
        if subject.namespace is not None:
            bits &= self.ns_class_bits.get(subject.namespace, 0)
        return bits

    def peer_bits(self, peer: Peer) -> int:
        """Atoms a single peer selects."""
        cached = self._peers.get(peer)
        if cached is not None:
            return cached
        atoms = self.atoms
        bits = 0
        if isinstance(peer, K8sPodPeer):
            if peer.namespace_selector is None:
                ns_bits = self.ns_class_bits.get(peer.policy_namespace, 0)
            else:
                ns_bits = 0
                for i in bit_indices(self.ns_index.select(peer.namespace_selector)):
                    ns_bits |= self.ns_class_bits.get(self.ns_names[i], 0)
            pod = atoms.pod_bits
            if peer.pod_selector is not None:
                pod = self.k8s_index.select(peer.pod_selector)
            bits = ns_bits & pod
        elif isinstance(peer, CiliumEndpointPeer):
            bits = self.cilium_index.select(peer.selector)
        elif isinstance(peer, CidrPeer):
            bits = atoms.range_bits(peer.low, peer.high)
            for lo, hi in peer.excepts:
                bits &= ~atoms.range_bits(lo, hi)
            for addr in atoms.apiserver_addrs:
                inside = peer.low <= addr <= peer.high
                if inside and not any(lo <= addr <= hi for lo, hi in peer.excepts):
                    bits |= atoms.entity_bits["kube-apiserver"]
        elif isinstance(peer, EntityPeer):
            bits = atoms.entity(peer.entity)
        elif isinstance(peer, FqdnPeer):
            bits = atoms.fqdn_bits.get(peer.pattern, 0)
        self._peers[peer] = bits
        return bits

    def rule_bits(self, rule: Rule) -> int:
        """Atoms a rule's peers select (all atoms when the rule names none)."""
        cached = self._rules.get(rule)
        if cached is None:
            if rule.peers is None:
                cached = self.atoms.all_bits
            else:
                cached = 0
                for peer in rule.peers:
                    cached |= self.peer_bits(peer)
            self._rules[rule] = cached
        return cached

    def static_conn(self, rule: Rule) -> Conn:
        """The rule's ports that do not depend on the destination (all but named ports)."""
        cached = self._static.get(rule)
        if cached is None:
            if rule.ports is None:
                cached = C.ALL
            else:
                cached = C.union_all(_spec_conn(s) for s in rule.ports if not s.named)
            self._static[rule] = cached
        return cached

    @staticmethod
    def named_conn(rule: Rule, shape: PodShape) -> Conn:
        """The rule's named ports as the destination pod shape defines them."""
        out = C.EMPTY
        for spec in rule.ports or ():
            if not spec.named:
                continue
            for proto in spec.protocols:
                for named in shape.named_ports:
                    if named.name == spec.port and named.protocol == proto:
                        out = C.union(out, C.span(proto, named.port, named.port, spec.l7))
        return out

    @staticmethod
    def has_named(rule: Rule) -> bool:
        """Whether the rule uses container port names."""
        return any(s.named for s in rule.ports or ())

    def conn_to(self, rule: Rule, dst_atom: int) -> Conn:
        """Ports the rule covers towards one destination atom."""
        base = self.static_conn(rule)
        if dst_atom < self.atoms.ip_offset and self.has_named(rule):
            return C.union(base, self.named_conn(rule, self.shapes[dst_atom]))
        return base

    def egress_groups(self, rule: Rule) -> list[tuple[int, Conn]]:
        """``(destination atoms, ports)`` pairs of an egress rule, named ports resolved."""
        cached = self._groups.get(rule)
        if cached is not None:
            return cached
        bits = self.rule_bits(rule)
        static = self.static_conn(rule)
        if not self.has_named(rule):
            groups = [(bits, static)]
        else:
            pod_bits = self.atoms.pod_bits
            by_conn: dict[Conn, int] = {static: bits & ~pod_bits}
            for ci in bit_indices(bits & pod_bits):
                conn = C.union(static, self.named_conn(rule, self.shapes[ci]))
                by_conn[conn] = by_conn.get(conn, 0) | (1 << ci)
            groups = [(b, c) for c, b in by_conn.items() if b]
        self._groups[rule] = groups
        return groups


def _cilium_labels(
    inventory: Inventory, classes: PodClasses, atoms: AtomSpace, cluster_name: str
) -> list[dict[str, str]]:
    """The endpoint labels Cilium selectors see, one label set per atom."""
    cilium: list[dict[str, str]] = []
    for shape in classes.shapes:
        labels = dict(shape.labels)
        labels[NAMESPACE_LABEL] = shape.namespace
        ns = inventory.namespaces.get(shape.namespace)
        for key, value in ns.labels if ns else ():
            labels[NAMESPACE_LABELS_PREFIX + key] = value
        labels[SERVICE_ACCOUNT_LABEL] = shape.service_account
        labels[CLUSTER_LABEL] = cluster_name
        cilium.append(labels)
    world = {"reserved:world": "", "reserved:world-ipv4": ""}
    cilium.extend(dict(world) for _ in range(len(atoms.partition)))
    cilium.extend({f"reserved:{e}": ""} for e in ENTITY_ATOMS)
    cilium.extend(dict(world) for _ in atoms.fqdns)
    return cilium
