"""Who can reach whom: the connectivity engine behind ``matrix``, ``explain`` and ``lint``.

The cost grows with the number of distinct pod shapes ("classes"), not with pods:

1. Peers are *atoms*: one per pod class, one per piece of the IPv4 space (cut at every CIDR
   boundary the policies mention), one per Cilium entity (host, kube-apiserver...), one per
   ``toFQDNs`` selector. A set of peers is a Python ``int`` bitset over the atoms.
2. Every selector and rule is evaluated once into a bitset (label index lookups, no loops
   over pods).
3. Per class and direction, the applicable rules fold into a *row*: ``{conn: peer bitset}``
   (which peers get which ports). Classes selected by the same sections share a row.
4. A pod-to-pod connection is the egress row of the source intersected with the ingress row
   of the destination; rows are combined group by group, giving rectangles
   ``(conn, source classes, destination classes)``. Traffic to or from atoms that are not pods
   needs only the pod's side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.cilium_parse import (
    CLUSTER_LABEL,
    NAMESPACE_LABEL,
    NAMESPACE_LABELS_PREFIX,
    SERVICE_ACCOUNT_LABEL,
)
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.inventory import Inventory, PodShape, WorkloadRef
from cluster_mgmt.core.policy.ipv4 import Partition, ip_to_int, range_text
from cluster_mgmt.core.policy.model import (
    CLUSTER_ENTITIES,
    ENTITY_ATOMS,
    CidrPeer,
    CiliumEndpointPeer,
    EntityPeer,
    FqdnPeer,
    K8sPodPeer,
    Peer,
    Policy,
    PortSpec,
    Rule,
    Section,
    Subject,
)
from cluster_mgmt.core.policy.selectors import LabelIndex

Row = dict[Conn, int]


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


def bit_indices(bits: int) -> list[int]:
    """Positions of the set bits, lowest first."""
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def _apply(row: Row, bits: int, fn: Any, arg: Conn) -> Row:
    """Replace ``conn`` by ``fn(conn, arg)`` for the peers in ``bits``."""
    if not bits:
        return row
    new: Row = {}
    for conn, members in row.items():
        inside = members & bits
        if inside:
            changed = fn(conn, arg)
            new[changed] = new.get(changed, 0) | inside
            rest = members ^ inside
            if rest:
                new[conn] = new.get(conn, 0) | rest
        else:
            new[conn] = new.get(conn, 0) | members
    return new


def _spec_conn(spec: PortSpec) -> Conn:
    out = C.EMPTY
    for proto in spec.protocols:
        if spec.port is None:
            out = C.union(out, C.span(proto, l7=spec.l7))
        elif isinstance(spec.port, int):
            out = C.union(out, C.span(proto, spec.port, spec.end_port or spec.port, spec.l7))
    return out


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule with the policy and section it belongs to."""

    policy: Policy
    section: Section
    rule: Rule

    @property
    def label(self) -> str:
        """``CiliumNetworkPolicy app/web ingress rule #1``."""
        return f"{self.policy.display} {self.rule.label}"


class Analysis:
    """The connectivity of one inventory under one policy set."""

    def __init__(
        self,
        inventory: Inventory,
        policies: Sequence[Policy],
        *,
        extra_cidrs: Iterable[tuple[int, int]] = (),
        apiserver_ips: Iterable[str] = (),
        cluster_name: str = "default",
    ) -> None:
        self.inventory = inventory
        self.policies = list(policies)
        self._build_classes()
        self.apiserver_addrs = [ip_to_int(ip) for ip in apiserver_ips]
        ranges = list(extra_cidrs)
        fqdns: set[str] = set()
        for _, _, rule in self._all_rules():
            for peer in rule.peers or ():
                if isinstance(peer, CidrPeer):
                    ranges.append((peer.low, peer.high))
                    ranges.extend(peer.excepts)
                elif isinstance(peer, FqdnPeer):
                    fqdns.add(peer.pattern)
        ranges.extend((a, a) for a in self.apiserver_addrs)
        self.partition = Partition(ranges)
        self.fqdns = sorted(fqdns)
        self._build_atoms(cluster_name)
        self._peer_cache: dict[Peer, int] = {}
        self._rule_bits: dict[Rule, int] = {}
        self._static: dict[Rule, Conn] = {}
        self._groups: dict[Rule, list[tuple[int, Conn]]] = {}
        self._vector_cache: dict[tuple[str, tuple[int, ...]], list[Conn]] = {}
        self._assign_sections()
        self._build_rows()
        self._combine()

    # ---- setup -------------------------------------------------------------------------

    def _all_rules(self) -> Iterable[tuple[Policy, Section, Rule]]:
        for policy in self.policies:
            for section in policy.sections:
                for rule in section.rules:
                    yield policy, section, rule

    def _build_classes(self) -> None:
        self.workloads: list[WorkloadRef] = sorted(self.inventory.workloads)
        self.shapes: list[PodShape] = []
        index: dict[PodShape, int] = {}
        self.workload_classes: list[list[int]] = []
        self.class_workloads: list[list[int]] = []
        for wi, ref in enumerate(self.workloads):
            classes = []
            for shape in self.inventory.workloads[ref]:
                ci = index.get(shape)
                if ci is None:
                    ci = index[shape] = len(self.shapes)
                    self.shapes.append(shape)
                    self.class_workloads.append([])
                self.class_workloads[ci].append(wi)
                classes.append(ci)
            self.workload_classes.append(classes)
        self.workload_index = {ref: i for i, ref in enumerate(self.workloads)}

    def _build_atoms(self, cluster_name: str) -> None:
        n_pods = len(self.shapes)
        n_ip = len(self.partition)
        self.ip_offset = n_pods
        self.entity_offset = n_pods + n_ip
        self.fqdn_offset = self.entity_offset + len(ENTITY_ATOMS)
        self.size = self.fqdn_offset + len(self.fqdns)
        self.all_bits = (1 << self.size) - 1
        self.pod_bits = (1 << n_pods) - 1
        self.ip_bits = ((1 << n_ip) - 1) << self.ip_offset
        self.entity_bits = {e: 1 << (self.entity_offset + i) for i, e in enumerate(ENTITY_ATOMS)}
        self.fqdn_bits = {f: 1 << (self.fqdn_offset + i) for i, f in enumerate(self.fqdns)}
        self.world_bits = self.ip_bits | sum(self.fqdn_bits.values())
        cluster = self.pod_bits
        for entity in CLUSTER_ENTITIES:
            cluster |= self.entity_bits[entity]
        self.cluster_bits = cluster

        k8s_labels = [dict(s.labels) for s in self.shapes]
        self.k8s_index = LabelIndex(k8s_labels)
        self.ns_names = sorted(self.inventory.namespaces)
        self.ns_index = LabelIndex(
            [dict(self.inventory.namespaces[n].labels) for n in self.ns_names]
        )
        self.ns_class_bits: dict[str, int] = {}
        for ci, shape in enumerate(self.shapes):
            self.ns_class_bits[shape.namespace] = self.ns_class_bits.get(shape.namespace, 0) | (
                1 << ci
            )

        cilium: list[dict[str, str]] = []
        for shape in self.shapes:
            labels = dict(shape.labels)
            labels[NAMESPACE_LABEL] = shape.namespace
            ns = self.inventory.namespaces.get(shape.namespace)
            for key, value in ns.labels if ns else ():
                labels[NAMESPACE_LABELS_PREFIX + key] = value
            labels[SERVICE_ACCOUNT_LABEL] = shape.service_account
            labels[CLUSTER_LABEL] = cluster_name
            cilium.append(labels)
        world = {"reserved:world": "", "reserved:world-ipv4": ""}
        cilium.extend(dict(world) for _ in range(n_ip))
        cilium.extend({f"reserved:{e}": ""} for e in ENTITY_ATOMS)
        cilium.extend(dict(world) for _ in self.fqdns)
        self.cilium_index = LabelIndex(cilium)

    # ---- evaluation of selectors and rules ---------------------------------------------

    def subject_bits(self, subject: Subject) -> int:
        """Pod classes a section applies to."""
        if subject.selector is None:
            return 0
        if subject.cilium:
            bits = self.cilium_index.select(subject.selector) & self.pod_bits
        else:
            bits = self.k8s_index.select(subject.selector)
        if subject.namespace is not None:
            bits &= self.ns_class_bits.get(subject.namespace, 0)
        return bits

    def peer_bits(self, peer: Peer) -> int:
        """Atoms a single peer selects."""
        cached = self._peer_cache.get(peer)
        if cached is not None:
            return cached
        bits = 0
        if isinstance(peer, K8sPodPeer):
            if peer.namespace_selector is None:
                ns_bits = self.ns_class_bits.get(peer.policy_namespace, 0)
            else:
                ns_bits = 0
                for i in bit_indices(self.ns_index.select(peer.namespace_selector)):
                    ns_bits |= self.ns_class_bits.get(self.ns_names[i], 0)
            pod = self.pod_bits
            if peer.pod_selector is not None:
                pod = self.k8s_index.select(peer.pod_selector)
            bits = ns_bits & pod
        elif isinstance(peer, CiliumEndpointPeer):
            bits = self.cilium_index.select(peer.selector)
        elif isinstance(peer, CidrPeer):
            bits = self._range_bits(peer.low, peer.high)
            for lo, hi in peer.excepts:
                bits &= ~self._range_bits(lo, hi)
            for addr in self.apiserver_addrs:
                inside = peer.low <= addr <= peer.high
                if inside and not any(lo <= addr <= hi for lo, hi in peer.excepts):
                    bits |= self.entity_bits["kube-apiserver"]
        elif isinstance(peer, EntityPeer):
            bits = self._entity(peer.entity)
        elif isinstance(peer, FqdnPeer):
            bits = self.fqdn_bits.get(peer.pattern, 0)
        self._peer_cache[peer] = bits
        return bits

    def _range_bits(self, low: int, high: int) -> int:
        idx = self.partition.covering(low, high)
        if not idx:
            return 0
        return ((1 << len(idx)) - 1) << (self.ip_offset + idx.start)

    def _entity(self, entity: str) -> int:
        if entity == "all":
            return self.all_bits
        if entity in ("world", "world-ipv4"):
            return self.world_bits
        if entity == "cluster":
            return self.cluster_bits
        return self.entity_bits.get(entity, 0)

    def rule_bits(self, rule: Rule) -> int:
        """Atoms a rule's peers select (all atoms when the rule names none)."""
        cached = self._rule_bits.get(rule)
        if cached is None:
            if rule.peers is None:
                cached = self.all_bits
            else:
                cached = 0
                for peer in rule.peers:
                    cached |= self.peer_bits(peer)
            self._rule_bits[rule] = cached
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
        if dst_atom < self.ip_offset and self.has_named(rule):
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
            by_conn: dict[Conn, int] = {static: bits & ~self.pod_bits}
            for ci in bit_indices(bits & self.pod_bits):
                conn = C.union(static, self.named_conn(rule, self.shapes[ci]))
                by_conn[conn] = by_conn.get(conn, 0) | (1 << ci)
            groups = [(b, c) for c, b in by_conn.items() if b]
        self._groups[rule] = groups
        return groups

    # ---- rows --------------------------------------------------------------------------

    def _assign_sections(self) -> None:
        self.sections: list[tuple[Policy, Section]] = []
        self.section_bits: list[int] = []
        n = len(self.shapes)
        self.class_sections: list[list[int]] = [[] for _ in range(n)]
        for policy in self.policies:
            for section in policy.sections:
                si = len(self.sections)
                self.sections.append((policy, section))
                bits = self.subject_bits(section.subject)
                self.section_bits.append(bits)
                for ci in bit_indices(bits):
                    self.class_sections[ci].append(si)

    def _relevant(self, ci: int, direction: str) -> tuple[int, ...]:
        out = []
        for si in self.class_sections[ci]:
            section = self.sections[si][1]
            iso = section.isolates_ingress if direction == "ingress" else section.isolates_egress
            if iso or any(r.direction == direction for r in section.rules):
                out.append(si)
        return tuple(out)

    def isolated(self, ci: int, direction: str) -> bool:
        """Whether a class is isolated (default deny) in a direction."""
        for si in self.class_sections[ci]:
            section = self.sections[si][1]
            if section.isolates_ingress if direction == "ingress" else section.isolates_egress:
                return True
        return False

    def rules_for(self, ci: int, direction: str, action: str) -> list[RuleRef]:
        """Rules of one direction and action that apply to a class, in policy order."""
        out: list[RuleRef] = []
        for si in self.class_sections[ci]:
            policy, section = self.sections[si]
            out.extend(
                RuleRef(policy, section, rule)
                for rule in section.rules
                if rule.direction == direction and rule.action == action
            )
        return out

    def _ingress_row(self, ci: int, secs: tuple[int, ...]) -> Row:
        isolated = any(self.sections[si][1].isolates_ingress for si in secs)
        row: Row = {C.EMPTY if isolated else C.ALL: self.all_bits}
        shape = self.shapes[ci]
        for action in ("allow", "deny"):
            if action == "allow" and not isolated:
                continue  # allows add nothing to a non-isolated pod
            for si in secs:
                for rule in self.sections[si][1].rules:
                    if rule.direction != "ingress" or rule.action != action:
                        continue
                    conn = self.static_conn(rule)
                    if self.has_named(rule):
                        conn = C.union(conn, self.named_conn(rule, shape))
                    fn = C.union if action == "allow" else C.subtract
                    row = _apply(row, self.rule_bits(rule), fn, conn)
        row.pop(C.EMPTY, None)
        return row

    def _egress_row(self, secs: tuple[int, ...]) -> Row:
        isolated = any(self.sections[si][1].isolates_egress for si in secs)
        row: Row = {C.EMPTY if isolated else C.ALL: self.all_bits}
        for action in ("allow", "deny"):
            if action == "allow" and not isolated:
                continue
            for si in secs:
                for rule in self.sections[si][1].rules:
                    if rule.direction != "egress" or rule.action != action:
                        continue
                    fn = C.union if action == "allow" else C.subtract
                    for bits, conn in self.egress_groups(rule):
                        row = _apply(row, bits, fn, conn)
        row.pop(C.EMPTY, None)
        return row

    def _build_rows(self) -> None:
        n = len(self.shapes)
        self.rows: list[Row] = []  # distinct rows
        row_ids: dict[frozenset[tuple[Conn, int]], int] = {}
        self.ingress_row_of: list[int] = [0] * n
        self.egress_row_of: list[int] = [0] * n
        in_cache: dict[Any, int] = {}
        out_cache: dict[Any, int] = {}

        def intern(row: Row) -> int:
            key = frozenset(row.items())
            rid = row_ids.get(key)
            if rid is None:
                rid = row_ids[key] = len(self.rows)
                self.rows.append(row)
            return rid

        for ci in range(n):
            secs = self._relevant(ci, "ingress")
            named = any(
                self.has_named(r)
                for si in secs
                for r in self.sections[si][1].rules
                if r.direction == "ingress"
            )
            key = (secs, self.shapes[ci].named_ports if named else None)
            rid = in_cache.get(key)
            if rid is None:
                rid = in_cache[key] = intern(self._ingress_row(ci, secs))
            self.ingress_row_of[ci] = rid
            secs = self._relevant(ci, "egress")
            rid = out_cache.get(secs)
            if rid is None:
                rid = out_cache[secs] = intern(self._egress_row(secs))
            self.egress_row_of[ci] = rid

    # ---- combination -------------------------------------------------------------------

    def _combine(self) -> None:
        ingress_groups: dict[int, int] = {}
        egress_groups: dict[int, int] = {}
        for ci in range(len(self.shapes)):
            rid = self.ingress_row_of[ci]
            ingress_groups[rid] = ingress_groups.get(rid, 0) | (1 << ci)
            rid = self.egress_row_of[ci]
            egress_groups[rid] = egress_groups.get(rid, 0) | (1 << ci)
        self.ingress_groups = ingress_groups
        self.egress_groups_by_row = egress_groups
        in_list = list(ingress_groups.items())
        self.rects: list[tuple[Conn, int, int]] = []
        for erid, sources in egress_groups.items():
            for econn, dbits in self.rows[erid].items():
                dpods = dbits & self.pod_bits
                if not dpods:
                    continue
                if dpods.bit_count() < len(in_list):
                    hit: dict[int, int] = {}
                    for ci in bit_indices(dpods):
                        rid = self.ingress_row_of[ci]
                        hit[rid] = hit.get(rid, 0) | (1 << ci)
                    targets = list(hit.items())
                else:
                    targets = [(rid, members & dpods) for rid, members in in_list]
                for irid, dests in targets:
                    if not dests:
                        continue
                    for iconn, sbits in self.rows[irid].items():
                        srcs = sbits & sources
                        if srcs:
                            both = C.intersect(econn, iconn)
                            if both:
                                self.rects.append((both, srcs, dests))

    # ---- queries -----------------------------------------------------------------------

    @staticmethod
    def lookup(row: Row, atom: int) -> Conn:
        """The connection a row gives one atom."""
        bit = 1 << atom
        for conn, bits in row.items():
            if bits & bit:
                return conn
        return C.EMPTY

    def class_pair_conn(self, src: int, dst: int) -> Conn:
        """Connection from one pod class to another."""
        out = self.lookup(self.rows[self.egress_row_of[src]], dst)
        if not out:
            return out
        return C.intersect(out, self.lookup(self.rows[self.ingress_row_of[dst]], src))

    def egress_conn(self, src: int, atom: int) -> Conn:
        """Egress-side connection from a class to any atom (pods: egress side only)."""
        return self.lookup(self.rows[self.egress_row_of[src]], atom)

    def ingress_conn(self, dst: int, atom: int) -> Conn:
        """Ingress-side connection into a class from any atom."""
        return self.lookup(self.rows[self.ingress_row_of[dst]], atom)

    def workload_conn(self, src: WorkloadRef, dst: WorkloadRef) -> Conn:
        """Connection between two workloads (union over their pod shapes)."""
        out = C.EMPTY
        for s in self.workload_classes[self.workload_index[src]]:
            for d in self.workload_classes[self.workload_index[dst]]:
                out = C.union(out, self.class_pair_conn(s, d))
        return out

    def workload_to_atom(self, src: WorkloadRef, atom: int) -> Conn:
        """Connection from a workload to a non-pod atom."""
        return C.union_all(
            self.egress_conn(s, atom) for s in self.workload_classes[self.workload_index[src]]
        )

    def atom_to_workload(self, atom: int, dst: WorkloadRef) -> Conn:
        """Connection from a non-pod atom to a workload."""
        return C.union_all(
            self.ingress_conn(d, atom) for d in self.workload_classes[self.workload_index[dst]]
        )

    def ip_atom(self, address: str) -> int:
        """The atom holding one IPv4 address."""
        return self.ip_offset + self.partition.atom_of(ip_to_int(address))

    def entity_atom(self, entity: str) -> int:
        """The atom of a Cilium entity."""
        return self.entity_bits[entity].bit_length() - 1

    # ---- the matrix --------------------------------------------------------------------

    def workload_pairs(self) -> dict[tuple[int, int], Conn]:
        """Connections between workloads (indexes into :attr:`workloads`), self excluded."""
        pairs: dict[tuple[int, int], Conn] = {}
        cache: dict[int, list[int]] = {}

        def expand(bits: int) -> list[int]:
            out = cache.get(bits)
            if out is None:
                out = sorted({w for ci in bit_indices(bits) for w in self.class_workloads[ci]})
                cache[bits] = out
            return out

        multi = any(len(c) > 1 for c in self.workload_classes)
        for conn, srcs, dsts in self.rects:
            dlist = expand(dsts)
            for ws in expand(srcs):
                for wd in dlist:
                    if ws == wd:
                        continue
                    key = (ws, wd)
                    if multi and key in pairs:
                        pairs[key] = C.union(pairs[key], conn)
                    else:
                        pairs[key] = conn
        return pairs

    def _atom_vector(self, row: Row, offset: int, count: int) -> list[Conn]:
        vec = [C.EMPTY] * count
        mask = ((1 << count) - 1) << offset
        for conn, bits in row.items():
            for i in bit_indices((bits & mask) >> offset):
                vec[i] = conn
        return vec

    def _ip_entries(self, vec: list[Conn]) -> list[tuple[Conn, IpRanges]]:
        by_conn: dict[Conn, list[tuple[int, int]]] = {}
        prev: Conn | None = None
        for i, conn in enumerate(vec):
            lo, hi = self.partition.atoms[i]
            if conn:
                ranges = by_conn.setdefault(conn, [])
                if prev == conn and ranges and ranges[-1][1] == lo - 1:
                    ranges[-1] = (ranges[-1][0], hi)
                else:
                    ranges.append((lo, hi))
            prev = conn
        return [(conn, IpRanges(tuple(r))) for conn, r in by_conn.items()]

    def external_vector(self, wi: int, direction: str) -> list[Conn]:
        """Connection per IPv4 atom: from workload ``wi`` (egress) or into it (ingress).

        Workloads whose pod shapes share rows share the (cached, read-only) vector.
        """
        row_of = self.egress_row_of if direction == "egress" else self.ingress_row_of
        key = (direction, tuple(sorted({row_of[c] for c in self.workload_classes[wi]})))
        vec = self._vector_cache.get(key)
        if vec is None:
            offset, count = self.ip_offset, len(self.partition)
            vec = self._atom_vector(self.rows[key[1][0]], offset, count) if key[1] else []
            for rid in key[1][1:]:
                other = self._atom_vector(self.rows[rid], offset, count)
                vec = [C.union(a, b) for a, b in zip(vec, other, strict=True)]
            self._vector_cache[key] = vec
        return vec

    def connections(self, *, extra_peers: bool = False) -> list[Connection]:
        """The full matrix, sorted: workload pairs, then external addresses (and extras)."""
        out: list[Connection] = []
        hidden = {
            self.workload_index[r] for r in self.inventory.virtual if r in self.workload_index
        }
        for (ws, wd), conn in self.workload_pairs().items():
            if ws in hidden or wd in hidden:
                continue
            out.append(Connection(self.workloads[ws], self.workloads[wd], conn))
        cache: dict[int, list[tuple[Conn, IpRanges]]] = {}
        for wi, ref in enumerate(self.workloads):
            if wi in hidden or not self.workload_classes[wi]:
                continue
            for direction in ("egress", "ingress"):
                vec = self.external_vector(wi, direction)
                entries = cache.get(id(vec))
                if entries is None:
                    entries = cache[id(vec)] = self._ip_entries(vec)
                for conn, ranges in entries:
                    if direction == "egress":
                        out.append(Connection(ref, ranges, conn))
                    else:
                        out.append(Connection(ranges, ref, conn))
                if extra_peers:
                    out.extend(self._extra(wi, ref, direction))
        out.sort(key=Connection.sort_key)
        return out

    def _extra(self, wi: int, ref: WorkloadRef, direction: str) -> list[Connection]:
        out: list[Connection] = []
        atoms: list[tuple[int, PeerRef]] = [
            (self.entity_atom(e), EntityRef(e)) for e in ENTITY_ATOMS
        ]
        if direction == "egress":
            atoms += [(self.fqdn_bits[f].bit_length() - 1, FqdnRef(f)) for f in self.fqdns]
        for atom, peer in atoms:
            if direction == "egress":
                conn = self.workload_to_atom(ref, atom)
                if conn:
                    out.append(Connection(ref, peer, conn))
            else:
                conn = self.atom_to_workload(atom, ref)
                if conn:
                    out.append(Connection(peer, ref, conn))
        return out

    def atomic(self) -> dict[tuple[Any, Any], Conn]:
        """Every connection keyed by atoms, to compare two analyses on the same partition.

        Keys are ``(workload, workload)``, ``(workload, ("ip", range))`` and
        ``(("ip", range), workload)``.
        """
        out: dict[tuple[Any, Any], Conn] = {}
        hidden = set(self.inventory.virtual)
        for (ws, wd), conn in self.workload_pairs().items():
            a, b = self.workloads[ws], self.workloads[wd]
            if a not in hidden and b not in hidden:
                out[(a, b)] = conn
        for wi, ref in enumerate(self.workloads):
            if ref in hidden or not self.workload_classes[wi]:
                continue
            for i, conn in enumerate(self.external_vector(wi, "egress")):
                if conn:
                    out[(ref, ("ip", self.partition.atoms[i]))] = conn
            for i, conn in enumerate(self.external_vector(wi, "ingress")):
                if conn:
                    out[(("ip", self.partition.atoms[i]), ref)] = conn
        return out


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
