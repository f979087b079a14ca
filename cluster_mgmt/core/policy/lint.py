"""Policy lint: selectors that select nothing, dead or redundant rules, missing DNS.

Checks that need workloads use the inventory when one is given; without one they fall back
to structural comparisons (same namespace, same or empty subject selector).
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis, bit_indices
from cluster_mgmt.core.policy.inventory import Inventory, kube_dns_workloads, with_virtual_kube_dns
from cluster_mgmt.core.policy.model import (
    Action,
    CidrPeer,
    Direction,
    EntityPeer,
    FqdnPeer,
    Policy,
    Rule,
    Section,
)
from cluster_mgmt.core.policy.source import Finding, Severity

DNS_HINT = (
    "allow egress to kube-dns, e.g. toEndpoints k8s:io.kubernetes.pod.namespace=kube-system, "
    "k8s-app=kube-dns on 53/UDP and 53/TCP"
)
FQDN_HINT = (
    "add an egress rule to kube-dns on port 53 with `rules: {dns: [{matchPattern: '*'}]}`; "
    "Cilium learns toFQDNs addresses only from lookups that pass its DNS proxy"
)

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class _Item:
    """A rule with its policy, section and analysis indexes."""

    __slots__ = ("policy", "section", "rule", "section_index")

    def __init__(self, policy: Policy, section: Section, rule: Rule, section_index: int) -> None:
        self.policy = policy
        self.section = section
        self.rule = rule
        self.section_index = section_index

    @property
    def label(self) -> str:
        return f"{self.policy.display} {self.rule.label}"

    @property
    def where(self) -> str:
        return str(self.rule.location) if self.rule.location else self.rule.field


def _finding(item: _Item, severity: Severity, code: str, message: str, hint: str | None) -> Finding:
    return Finding(severity, code, message, item.rule.location, hint, item.label)


def _dns_rule(rule: Rule) -> bool:
    """An egress allow rule that sends port 53 through Cilium's DNS proxy."""
    for spec in rule.ports or ():
        if spec.l7 and any(kind == "dns" for _, kind, _, _ in spec.l7):
            if spec.port in (53, None) or (
                isinstance(spec.port, int) and spec.end_port and spec.port <= 53 <= spec.end_port
            ):
                return True
    return False


def _allows_dns_port(rule: Rule, analysis: Analysis) -> bool:
    """Structurally: the rule allows 53/UDP to peers that could be kube-dns pods."""
    could_be_dns = rule.peers is None or any(
        not isinstance(p, (CidrPeer, FqdnPeer, EntityPeer))
        or (isinstance(p, EntityPeer) and p.entity in ("cluster", "all"))
        for p in rule.peers
    )
    return could_be_dns and C.allows(analysis.selection.static_conn(rule), "UDP", 53)


def lint(
    policies: Sequence[Policy],
    parse_findings: Sequence[Finding] = (),
    inventory: Inventory | None = None,
) -> list[Finding]:
    """All lint findings, sorted by file and line."""
    inv = inventory if inventory is not None else Inventory()
    has_workloads = any(shapes for shapes in inv.workloads.values())
    analysis = Analysis(with_virtual_kube_dns(inv), policies)
    findings = list(parse_findings)
    items: list[_Item] = []
    for si, (policy, section) in enumerate(analysis.sections.entries):
        items.extend(_Item(policy, section, rule, si) for rule in section.rules)
    real = analysis.atoms.pod_bits
    for ref in inv.virtual | analysis.inventory.virtual:
        for ci in analysis.classes.workload_classes[analysis.classes.workload_index[ref]]:
            real &= ~(1 << ci)
    findings += _selects_nothing(analysis, real, has_workloads)
    findings += _never_matches(analysis, items, real, has_workloads)
    findings += _redundant(analysis, items, real, has_workloads)
    findings += _dns_checks(analysis, items, real, has_workloads)
    findings.sort(
        key=lambda f: (
            f.location.file if f.location else "",
            (f.location.line or 0) if f.location else 0,
            _SEVERITY_ORDER.get(f.severity, 3),
            f.code,
        )
    )
    return findings


def _selects_nothing(analysis: Analysis, real: int, has_workloads: bool) -> list[Finding]:
    out: list[Finding] = []
    if not has_workloads:
        return out
    for si, (policy, section) in enumerate(analysis.sections.entries):
        if section.subject.selector is None:
            continue
        if not analysis.sections.bits[si] & real:
            out.append(
                Finding(
                    Severity.WARNING,
                    "selects-nothing",
                    f"{section.subject.describe()} matches no workload in the inventory",
                    section.location,
                    "compare the selector with the pod labels "
                    "(kubectl get pods -n NAMESPACE --show-labels)",
                    policy.display,
                )
            )
    return out


def _pod_only(rule: Rule) -> bool:
    return bool(rule.peers) and not any(
        isinstance(p, (CidrPeer, EntityPeer, FqdnPeer)) for p in rule.peers or ()
    )


def _never_matches(
    analysis: Analysis, items: list[_Item], real: int, has_workloads: bool
) -> list[Finding]:
    out: list[Finding] = []
    for item in items:
        rule = item.rule
        for peer in rule.peers or ():
            if isinstance(peer, CidrPeer):
                whole = peer.high - peer.low + 1
                holes = sum(hi - lo + 1 for lo, hi in _merge(peer.excepts))
                if holes >= whole:
                    out.append(
                        _finding(
                            item,
                            Severity.WARNING,
                            "rule-never-matches",
                            f"{peer.describe()}: the exceptions cover the whole block",
                            "remove the except entries or the block",
                        )
                    )
        if rule.ports is not None and not any(s.protocols for s in rule.ports):
            out.append(
                _finding(
                    item,
                    Severity.WARNING,
                    "rule-never-matches",
                    "none of the rule's protocols is analysed, so it matches nothing",
                    "use TCP, UDP, SCTP or ANY",
                )
            )
        if not has_workloads:
            continue
        subjects = analysis.sections.bits[item.section_index] & real
        if not subjects:
            continue  # reported as selects-nothing
        if _pod_only(rule) and not analysis.selection.rule_bits(rule) & real:
            out.append(
                _finding(
                    item,
                    Severity.WARNING,
                    "rule-never-matches",
                    "its peers match no workload in the inventory",
                    "check the peer selectors' labels and namespaces",
                )
            )
            continue
        named = [s for s in rule.ports or () if s.named]
        if not named:
            continue
        shapes = (
            [analysis.classes.shapes[ci] for ci in bit_indices(subjects)]
            if rule.direction is Direction.INGRESS
            else [
                analysis.classes.shapes[ci]
                for ci in bit_indices(analysis.selection.rule_bits(rule) & real)
            ]
        )
        for spec in named:
            if not any(
                p.name == spec.port and p.protocol in spec.protocols
                for shape in shapes
                for p in shape.named_ports
            ):
                whose = "selected pod" if rule.direction is Direction.INGRESS else "destination pod"
                out.append(
                    _finding(
                        item,
                        Severity.WARNING,
                        "rule-never-matches",
                        f"named port {spec.port!r} is not defined on any {whose}",
                        "name the container port in the pod template or use the port number",
                    )
                )
    return out


def _merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _rule_key(rule: Rule) -> tuple[object, ...]:
    return (rule.direction, rule.action, rule.peers, rule.ports)


def _subject_key(section: Section) -> tuple[object, ...]:
    s = section.subject
    return (s.namespace, s.selector, s.cilium)


def _redundant(
    analysis: Analysis, items: list[_Item], real: int, has_workloads: bool
) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[tuple[object, ...], _Item] = {}
    duplicates: set[int] = set()
    for i, item in enumerate(items):
        if item.rule.peers == () and item.rule.ports is None:
            continue  # `{}`: the default-deny idiom, not a rule to compare
        key = (_subject_key(item.section), *_rule_key(item.rule))
        first = seen.get(key)
        if first is None:
            seen[key] = item
            continue
        duplicates.add(i)
        out.append(
            _finding(
                item,
                Severity.WARNING,
                "duplicate-rule",
                f"duplicates {first.label} ({first.where})",
                "delete one of the two rules",
            )
        )
    lookup = _Index(items)
    for i, item in enumerate(items):
        if i in duplicates or item.rule.action is not Action.ALLOW or item.rule.peers == ():
            continue
        shadow = _find_shadow(analysis, items, i, real, has_workloads, lookup)
        if shadow is not None:
            other = items[shadow]
            verb = "denied entirely by" if other.rule.action is Action.DENY else "shadowed by"
            out.append(
                _finding(
                    item,
                    Severity.WARNING,
                    "shadowed-rule",
                    f"{verb} {other.label} ({other.where}): it never changes the result",
                    "remove it, or narrow the broader rule"
                    if other.rule.action is Action.ALLOW
                    else "remove it, or narrow the deny rule",
                )
            )
    return out


def _structurally_covers(outer: _Item, inner: _Item) -> bool:
    a, b = inner.section.subject, outer.section.subject
    if a.cilium != b.cilium or (b.namespace is not None and a.namespace != b.namespace):
        return False
    if b.selector is None or not (b.selector.is_empty or b.selector == a.selector):
        return False
    if outer.rule.peers is None:
        return True
    return inner.rule.peers is not None and set(inner.rule.peers) <= set(outer.rule.peers)


class _Index:
    """Items by section and by namespace, to find comparison candidates quickly."""

    def __init__(self, items: list[_Item]) -> None:
        self.by_section: dict[int, list[int]] = {}
        self.by_ns: dict[str | None, list[int]] = {}
        for j, item in enumerate(items):
            self.by_section.setdefault(item.section_index, []).append(j)
            self.by_ns.setdefault(item.section.subject.namespace, []).append(j)

    def candidates(
        self, analysis: Analysis, item: _Item, real: int, has_workloads: bool
    ) -> list[int]:
        """Items whose section could cover the subjects of ``item``."""
        subjects = analysis.sections.bits[item.section_index] & real
        if has_workloads and subjects:
            first = (subjects & -subjects).bit_length() - 1
            out: list[int] = []
            for si in analysis.sections.of_class[first]:
                out.extend(self.by_section.get(si, ()))
            return sorted(out)
        ns = item.section.subject.namespace
        return sorted(self.by_ns.get(ns, []) + (self.by_ns.get(None, []) if ns else []))


def _find_shadow(
    analysis: Analysis,
    items: list[_Item],
    index: int,
    real: int,
    has_workloads: bool,
    lookup: _Index,
) -> int | None:
    item = items[index]
    rule = item.rule
    subjects = analysis.sections.bits[item.section_index] & real
    named = analysis.selection.has_named(rule)
    for j in lookup.candidates(analysis, item, real, has_workloads):
        other = items[j]
        if j == index or other.rule.direction != rule.direction or other.rule.peers == ():
            continue
        if (
            other.rule.action is Action.ALLOW
            and _rule_key(other.rule) == _rule_key(rule)
            and j > index
        ):
            continue  # equal rules under different subjects: report the later one only
        if named or analysis.selection.has_named(other.rule):
            if rule.ports != other.rule.ports:
                continue
        elif not C.is_subset(
            analysis.selection.static_conn(rule), analysis.selection.static_conn(other.rule)
        ):
            continue
        if has_workloads and subjects:
            if subjects & ~analysis.sections.bits[other.section_index]:
                continue
            if analysis.selection.rule_bits(rule) & ~analysis.selection.rule_bits(other.rule):
                continue
            if (
                other.rule.action is Action.ALLOW
                and _mutual(analysis, item, other, real)
                and j > index
            ):
                continue
        elif not _structurally_covers(other, item):
            continue
        return j
    return None


def _mutual(analysis: Analysis, a: _Item, b: _Item, real: int) -> bool:
    """Whether ``a`` also covers ``b`` (then only the later of the two is reported)."""
    sa = analysis.sections.bits[a.section_index] & real
    sb = analysis.sections.bits[b.section_index] & real
    return (
        not sb & ~sa
        and not analysis.selection.rule_bits(b.rule) & ~analysis.selection.rule_bits(a.rule)
        and C.is_subset(
            analysis.selection.static_conn(b.rule), analysis.selection.static_conn(a.rule)
        )
    )


def _dns_checks(
    analysis: Analysis, items: list[_Item], real: int, has_workloads: bool
) -> list[Finding]:
    out: list[Finding] = []
    dns_atoms = [
        ci
        for ref in kube_dns_workloads(analysis.inventory)
        for ci in analysis.classes.workload_classes[analysis.classes.workload_index[ref]]
    ]
    reported: set[int] = set()
    for si, (policy, section) in enumerate(analysis.sections.entries):
        subjects = analysis.sections.bits[si] & real
        fqdn_rules = [
            r
            for r in section.rules
            if r.action is Action.ALLOW and any(isinstance(p, FqdnPeer) for p in r.peers or ())
        ]
        if fqdn_rules:
            missing = _fqdn_without_dns(analysis, items, si, subjects, has_workloads)
            names = ", ".join(
                p.describe() for r in fqdn_rules for p in r.peers or () if isinstance(p, FqdnPeer)
            )
            if missing:
                out.append(
                    Finding(
                        Severity.WARNING,
                        "fqdn-without-dns",
                        f"toFQDNs ({names}) without an egress DNS rule with L7 `dns` for {missing}",
                        fqdn_rules[0].location,
                        FQDN_HINT,
                        policy.display,
                    )
                )
        if not section.isolates_egress or si in reported:
            continue
        lost = _lost_dns(analysis, items, si, subjects, dns_atoms, has_workloads)
        if lost:
            reported.add(si)
            out.append(
                Finding(
                    Severity.WARNING,
                    "egress-deny-without-dns",
                    f"puts {lost} in egress default-deny without allowing DNS (53/UDP to kube-dns)",
                    section.location,
                    DNS_HINT,
                    policy.display,
                )
            )
    return out


def _fqdn_without_dns(
    analysis: Analysis, items: list[_Item], si: int, subjects: int, has_workloads: bool
) -> str | None:
    if has_workloads and subjects:
        bad = [
            ci
            for ci in bit_indices(subjects)
            if not any(
                _dns_rule(ref.rule)
                for ref in analysis.sections.rules_for(ci, Direction.EGRESS, Action.ALLOW)
            )
        ]
        return _workload_list(analysis, bad) if bad else None
    section = analysis.sections.entries[si][1]
    for item in items:
        if (
            item.rule.direction is Direction.EGRESS
            and item.rule.action is Action.ALLOW
            and _dns_rule(item.rule)
        ):
            probe = _Item(item.policy, section, item.rule, si)
            if item.section is section or _structurally_covers(item, probe):
                return None
    return "the pods it selects"


def _lost_dns(
    analysis: Analysis,
    items: list[_Item],
    si: int,
    subjects: int,
    dns_atoms: list[int],
    has_workloads: bool,
) -> str | None:
    if has_workloads and subjects:
        bad = [
            ci
            for ci in bit_indices(subjects)
            if not any(C.allows(analysis.rows.egress_conn(ci, d), "UDP", 53) for d in dns_atoms)
        ]
        return _workload_list(analysis, bad) if bad else None
    if has_workloads:
        return None
    section = analysis.sections.entries[si][1]
    for item in items:
        if (
            item.rule.direction is Direction.EGRESS
            and item.rule.action is Action.ALLOW
            and _allows_dns_port(item.rule, analysis)
        ):
            probe = _Item(item.policy, section, item.rule, si)
            if item.section is section or _structurally_covers(item, probe):
                return None
    return "the pods it selects"


def _workload_list(analysis: Analysis, classes: list[int]) -> str:
    names = sorted(
        {str(analysis.workloads[w]) for ci in classes for w in analysis.classes.class_workloads[ci]}
    )
    shown = ", ".join(names[:5])
    if len(names) > 5:
        shown += f" and {len(names) - 5} more"
    return shown
