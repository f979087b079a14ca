"""The analysis of one inventory under one policy set, and the matrix it answers with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis._atoms import AtomSpace, atom_space, bit_indices
from cluster_mgmt.core.policy.analysis._classes import PodClasses, pod_classes
from cluster_mgmt.core.policy.analysis._combine import Rect, rectangles
from cluster_mgmt.core.policy.analysis._peers import (
    Connection,
    EntityRef,
    FqdnRef,
    IpRanges,
    PeerRef,
)
from cluster_mgmt.core.policy.analysis._rows import (
    PolicySections,
    Row,
    Rows,
    build_rows,
    policy_sections,
)
from cluster_mgmt.core.policy.analysis._selection import Selection
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.inventory import Inventory, WorkloadRef
from cluster_mgmt.core.policy.model import ENTITY_ATOMS, Direction, Policy


class Analysis:
    """The connectivity of one inventory under one policy set.

    Built in order, each part by its own module: the pod classes, the atom space, the
    selection of every selector and rule, the policy sections of each class, the rows and
    the rectangles. The methods answer per workload and build the matrix.

    Attributes:
        inventory: the workloads and namespaces analysed.
        policies: the policies, in input order.
        classes: workloads and their pod classes.
        atoms: the layout of the peer bitsets.
        selection: selectors and rules evaluated into bitsets (memoized).
        sections: the policy sections of each class.
        rows: the ingress and egress rows of each class.
        rects: ``(conn, source classes, destination classes)`` between pod classes.
    """

    __slots__ = (
        "_vectors",
        "atoms",
        "classes",
        "inventory",
        "policies",
        "rects",
        "rows",
        "sections",
        "selection",
    )

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
        self.classes: PodClasses = pod_classes(inventory)
        self.atoms: AtomSpace = atom_space(
            len(self.classes.shapes),
            self.policies,
            extra_cidrs=extra_cidrs,
            apiserver_ips=apiserver_ips,
        )
        self.selection = Selection(inventory, self.classes, self.atoms, cluster_name)
        self.sections: PolicySections = policy_sections(
            self.policies, self.selection, len(self.classes.shapes)
        )
        self.rows: Rows = build_rows(self.selection, self.sections)
        self.rects: list[Rect] = rectangles(self.rows, self.atoms.pod_bits)
        self._vectors: dict[tuple[Direction, tuple[int, ...]], list[Conn]] = {}

    @property
    def workloads(self) -> tuple[WorkloadRef, ...]:
        """Every workload, sorted (indexes used by :meth:`workload_pairs`)."""
        return self.classes.workloads

    # ---- per workload -------------------------------------------------------------------

    def _classes_of(self, ref: WorkloadRef) -> tuple[int, ...]:
        return self.classes.workload_classes[self.classes.workload_index[ref]]

    def workload_conn(self, src: WorkloadRef, dst: WorkloadRef) -> Conn:
        """Connection between two workloads (union over their pod shapes)."""
        out = C.EMPTY
        for s in self._classes_of(src):
            for d in self._classes_of(dst):
                out = C.union(out, self.rows.class_pair_conn(s, d))
        return out

    def workload_to_atom(self, src: WorkloadRef, atom: int) -> Conn:
        """Connection from a workload to a non-pod atom."""
        return C.union_all(self.rows.egress_conn(s, atom) for s in self._classes_of(src))

    def atom_to_workload(self, atom: int, dst: WorkloadRef) -> Conn:
        """Connection from a non-pod atom to a workload."""
        return C.union_all(self.rows.ingress_conn(d, atom) for d in self._classes_of(dst))

    def ip_atom(self, address: str) -> int:
        """The atom holding one IPv4 address."""
        return self.atoms.ip_atom(address)

    def entity_atom(self, entity: str) -> int:
        """The atom of a Cilium entity."""
        return self.atoms.entity_atom(entity)

    # ---- the matrix ---------------------------------------------------------------------

    def workload_pairs(self) -> dict[tuple[int, int], Conn]:
        """Connections between workloads (indexes into :attr:`workloads`), self excluded."""
        pairs: dict[tuple[int, int], Conn] = {}
        cache: dict[int, list[int]] = {}
        class_workloads = self.classes.class_workloads

        def expand(bits: int) -> list[int]:
            out = cache.get(bits)
            if out is None:
                out = sorted({w for ci in bit_indices(bits) for w in class_workloads[ci]})
                cache[bits] = out
            return out

        multi = any(len(c) > 1 for c in self.classes.workload_classes)
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

    def external_vector(self, wi: int, direction: Direction) -> list[Conn]:
        """Connection per IPv4 atom: from workload ``wi`` (egress) or into it (ingress).

        Workloads whose pod shapes share rows share the (cached, read-only) vector.
        """
        rows = self.rows
        row_of = rows.egress_row_of if direction is Direction.EGRESS else rows.ingress_row_of
        key = (direction, tuple(sorted({row_of[c] for c in self.classes.workload_classes[wi]})))
        vec = self._vectors.get(key)
        if vec is None:
            offset, count = self.atoms.ip_offset, len(self.atoms.partition)
            vec = _atom_vector(rows.rows[key[1][0]], offset, count) if key[1] else []
            for rid in key[1][1:]:
                other = _atom_vector(rows.rows[rid], offset, count)
                vec = [C.union(a, b) for a, b in zip(vec, other, strict=True)]
            self._vectors[key] = vec
        return vec

    def connections(self, *, extra_peers: bool = False) -> list[Connection]:
        """The full matrix, sorted: workload pairs, then external addresses (and extras)."""
        out: list[Connection] = []
        workloads, index = self.classes.workloads, self.classes.workload_index
        hidden = {index[r] for r in self.inventory.virtual if r in index}
        for (ws, wd), conn in self.workload_pairs().items():
            if ws in hidden or wd in hidden:
                continue
            out.append(Connection(workloads[ws], workloads[wd], conn))
        cache: dict[int, list[tuple[Conn, IpRanges]]] = {}
        for wi, ref in enumerate(workloads):
            if wi in hidden or not self.classes.workload_classes[wi]:
                continue
            for direction in (Direction.EGRESS, Direction.INGRESS):
                vec = self.external_vector(wi, direction)
                entries = cache.get(id(vec))
                if entries is None:
                    entries = cache[id(vec)] = self._ip_entries(vec)
                for conn, ranges in entries:
                    if direction is Direction.EGRESS:
                        out.append(Connection(ref, ranges, conn))
                    else:
                        out.append(Connection(ranges, ref, conn))
                if extra_peers:
                    out.extend(self._extra(ref, direction))
        out.sort(key=Connection.sort_key)
        return out

    def _ip_entries(self, vec: list[Conn]) -> list[tuple[Conn, IpRanges]]:
        by_conn: dict[Conn, list[tuple[int, int]]] = {}
        prev: Conn | None = None
        atoms = self.atoms.partition.atoms
        for i, conn in enumerate(vec):
            lo, hi = atoms[i]
            if conn:
                ranges = by_conn.setdefault(conn, [])
                if prev == conn and ranges and ranges[-1][1] == lo - 1:
                    ranges[-1] = (ranges[-1][0], hi)
                else:
                    ranges.append((lo, hi))
            prev = conn
        return [(conn, IpRanges(tuple(r))) for conn, r in by_conn.items()]

    def _extra(self, ref: WorkloadRef, direction: Direction) -> list[Connection]:
        out: list[Connection] = []
        atoms: list[tuple[int, PeerRef]] = [
            (self.atoms.entity_atom(e), EntityRef(e)) for e in ENTITY_ATOMS
        ]
        if direction is Direction.EGRESS:
            atoms += [
                (self.atoms.fqdn_bits[f].bit_length() - 1, FqdnRef(f)) for f in self.atoms.fqdns
            ]
        for atom, peer in atoms:
            if direction is Direction.EGRESS:
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
        workloads = self.classes.workloads
        for (ws, wd), conn in self.workload_pairs().items():
            a, b = workloads[ws], workloads[wd]
            if a not in hidden and b not in hidden:
                out[(a, b)] = conn
        partition = self.atoms.partition
        for wi, ref in enumerate(workloads):
            if ref in hidden or not self.classes.workload_classes[wi]:
                continue
            for i, conn in enumerate(self.external_vector(wi, Direction.EGRESS)):
                if conn:
                    out[(ref, ("ip", partition.atoms[i]))] = conn
            for i, conn in enumerate(self.external_vector(wi, Direction.INGRESS)):
                if conn:
                    out[(("ip", partition.atoms[i]), ref)] = conn
        return out


def _atom_vector(row: Row, offset: int, count: int) -> list[Conn]:
    vec = [C.EMPTY] * count
    mask = ((1 << count) - 1) << offset
    for conn, bits in row.items():
        for i in bit_indices((bits & mask) >> offset):
            vec[i] = conn
    return vec
