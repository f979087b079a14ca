"""Rows: per pod class and direction, the applicable rules folded into ``{conn: peer bits}``.

Classes selected by the same policy sections (and, for named ports, with the same named
ports) share a row; distinct rows are stored once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis._atoms import bit_indices
from cluster_mgmt.core.policy.analysis._selection import Selection
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.model import Action, Direction, Policy, Rule, Section

Row = dict[Conn, int]


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


@dataclass(frozen=True, slots=True)
class PolicySections:
    """Every policy section, the pod classes it selects, and the sections of each class.

    Attributes:
        entries: ``(policy, section)`` in policy order; a section's index is its place here.
        bits: the pod classes each section selects.
        of_class: the sections selecting each class, in policy order.
    """

    entries: tuple[tuple[Policy, Section], ...]
    bits: tuple[int, ...]
    of_class: tuple[tuple[int, ...], ...]

    def relevant(self, ci: int, direction: Direction) -> tuple[int, ...]:
        """Sections that isolate class ``ci`` in ``direction`` or have rules for it."""
        out = []
        for si in self.of_class[ci]:
            section = self.entries[si][1]
            iso = (
                section.isolates_ingress
                if direction is Direction.INGRESS
                else section.isolates_egress
            )
            if iso or any(r.direction is direction for r in section.rules):
                out.append(si)
        return tuple(out)

    def isolated(self, ci: int, direction: Direction) -> bool:
        """Whether a class is isolated (default deny) in a direction."""
        for si in self.of_class[ci]:
            section = self.entries[si][1]
            if (
                section.isolates_ingress
                if direction is Direction.INGRESS
                else section.isolates_egress
            ):
                return True
        return False

    def rules_for(self, ci: int, direction: Direction, action: Action) -> list[RuleRef]:
        """Rules of one direction and action that apply to a class, in policy order."""
        out: list[RuleRef] = []
        for si in self.of_class[ci]:
            policy, section = self.entries[si]
            out.extend(
                RuleRef(policy, section, rule)
                for rule in section.rules
                if rule.direction is direction and rule.action is action
            )
        return out


def policy_sections(
    policies: Sequence[Policy], selection: Selection, n_classes: int
) -> PolicySections:
    """Number the sections of ``policies`` and find the classes each one selects."""
    entries: list[tuple[Policy, Section]] = []
    bits: list[int] = []
    of_class: list[list[int]] = [[] for _ in range(n_classes)]
    for policy in policies:
        for section in policy.sections:
            si = len(entries)
            entries.append((policy, section))
            selected = selection.subject_bits(section.subject)
            bits.append(selected)
            for ci in bit_indices(selected):
                of_class[ci].append(si)
    return PolicySections(tuple(entries), tuple(bits), tuple(tuple(s) for s in of_class))


@dataclass(frozen=True, slots=True)
class Rows:
    """The distinct rows and, per class, the index of its ingress and its egress row."""

    rows: tuple[Row, ...]
    ingress_row_of: tuple[int, ...]
    egress_row_of: tuple[int, ...]

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


def build_rows(selection: Selection, sections: PolicySections) -> Rows:
    """Fold the rules of each class into its ingress and egress rows."""
    n = len(selection.shapes)
    rows: list[Row] = []
    row_ids: dict[frozenset[tuple[Conn, int]], int] = {}
    ingress_row_of = [0] * n
    egress_row_of = [0] * n
    in_cache: dict[Any, int] = {}
    out_cache: dict[Any, int] = {}

    def intern(row: Row) -> int:
        key = frozenset(row.items())
        rid = row_ids.get(key)
        if rid is None:
            rid = row_ids[key] = len(rows)
            rows.append(row)
        return rid

    for ci in range(n):
        secs = sections.relevant(ci, Direction.INGRESS)
        named = any(
            selection.has_named(r)
            for si in secs
            for r in sections.entries[si][1].rules
            if r.direction is Direction.INGRESS
        )
        key = (secs, selection.shapes[ci].named_ports if named else None)
        rid = in_cache.get(key)
        if rid is None:
            rid = in_cache[key] = intern(_ingress_row(selection, sections, ci, secs))
        ingress_row_of[ci] = rid
        secs = sections.relevant(ci, Direction.EGRESS)
        rid = out_cache.get(secs)
        if rid is None:
            rid = out_cache[secs] = intern(_egress_row(selection, sections, secs))
        egress_row_of[ci] = rid
    return Rows(tuple(rows), tuple(ingress_row_of), tuple(egress_row_of))


def _ingress_row(
    selection: Selection, sections: PolicySections, ci: int, secs: tuple[int, ...]
) -> Row:
    isolated = any(sections.entries[si][1].isolates_ingress for si in secs)
    row: Row = {C.EMPTY if isolated else C.ALL: selection.atoms.all_bits}
    shape = selection.shapes[ci]
    for action in (Action.ALLOW, Action.DENY):
        if action is Action.ALLOW and not isolated:
            continue  # allows add nothing to a non-isolated pod
        for si in secs:
            for rule in sections.entries[si][1].rules:
                if rule.direction is not Direction.INGRESS or rule.action is not action:
                    continue
                conn = selection.static_conn(rule)
                if selection.has_named(rule):
                    conn = C.union(conn, selection.named_conn(rule, shape))
                fn = C.union if action is Action.ALLOW else C.subtract
                row = _apply(row, selection.rule_bits(rule), fn, conn)
    row.pop(C.EMPTY, None)
    return row


def _egress_row(selection: Selection, sections: PolicySections, secs: tuple[int, ...]) -> Row:
    isolated = any(sections.entries[si][1].isolates_egress for si in secs)
    row: Row = {C.EMPTY if isolated else C.ALL: selection.atoms.all_bits}
    for action in (Action.ALLOW, Action.DENY):
        if action is Action.ALLOW and not isolated:
            continue
        for si in secs:
            for rule in sections.entries[si][1].rules:
                if rule.direction is not Direction.EGRESS or rule.action is not action:
                    continue
                fn = C.union if action is Action.ALLOW else C.subtract
                for bits, conn in selection.egress_groups(rule):
                    row = _apply(row, bits, fn, conn)
    row.pop(C.EMPTY, None)
    return row


def _apply(row: Row, bits: int, fn: Callable[[Conn, Conn], Conn], arg: Conn) -> Row:
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
