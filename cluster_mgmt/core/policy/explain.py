"""Why a flow is allowed or dropped: per direction, which policy and rule decided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis, RuleRef
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.inventory import WorkloadRef
from cluster_mgmt.core.policy.model import Action, Direction

Port = tuple[str, int]  # ("TCP", 80)


class ExplainError(ValueError):
    """The endpoints or port given cannot be explained (unknown workload, bad port)."""


def parse_port(text: str) -> Port:
    """``80/TCP``, ``53/udp`` or ``80`` (TCP).

    Raises:
        ExplainError: when the text is not a port.
    """
    number, _, proto = text.partition("/")
    proto = (proto or "TCP").upper()
    if proto not in C.BOUNDS or not number.isdigit():
        raise ExplainError(f"{text!r} is not a port like 80/TCP")
    lo, hi = C.BOUNDS[proto]
    if not lo <= int(number) <= hi:
        raise ExplainError(f"port {number} is out of range for {proto}")
    return proto, int(number)


@dataclass(frozen=True, slots=True)
class RuleNote:
    """What one rule did for this flow."""

    rule: str  # "NetworkPolicy app/web ingress rule #1"
    field: str
    location: str | None
    effect: str  # "allows", "denies", "no match"
    why: str


@dataclass(frozen=True, slots=True)
class DirectionVerdict:
    """The decision of one side (egress at the source, ingress at the destination)."""

    direction: Direction
    allowed: bool
    conn: Conn
    reason: str
    notes: tuple[RuleNote, ...]

    def as_json(self) -> dict[str, Any]:
        """Plain dict for ``-o json``."""
        return {
            "direction": self.direction,
            "allowed": self.allowed,
            "conn": C.to_json(self.conn) if self.conn else [],
            "reason": self.reason,
            "rules": [
                {
                    "rule": n.rule,
                    "field": n.field,
                    "location": n.location,
                    "effect": n.effect,
                    "why": n.why,
                }
                for n in self.notes
            ],
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The full answer for one source/destination (and optional port)."""

    src: str
    dst: str
    port: str | None
    egress: DirectionVerdict | None
    ingress: DirectionVerdict | None
    conn: Conn

    @property
    def allowed(self) -> bool:
        """Whether anything (or the given port) gets through."""
        return bool(self.conn)

    def as_json(self) -> dict[str, Any]:
        """Plain dict for ``-o json``."""
        return {
            "src": self.src,
            "dst": self.dst,
            "port": self.port,
            "allowed": self.allowed,
            "conn": C.to_json(self.conn) if self.conn else [],
            "egress": self.egress.as_json() if self.egress else None,
            "ingress": self.ingress.as_json() if self.ingress else None,
        }

    def render(self) -> str:
        """Text for humans."""
        flow = f"{self.src} -> {self.dst}" + (f" on {self.port}" if self.port else "")
        lines = [flow]
        for verdict, side in ((self.egress, "egress "), (self.ingress, "ingress")):
            if verdict is None:
                where = "source" if side.startswith("egress") else "destination"
                lines.append(f"  {side}: n/a ({where} is outside the cluster; no policy applies)")
                continue
            word = "ALLOWED" if verdict.allowed else "DENIED"
            lines.append(f"  {side}: {word}: {verdict.reason}")
            for note in verdict.notes:
                at = f" ({note.location})" if note.location else ""
                lines.append(f"      {note.rule} [{note.field}]{at}: {note.effect}: {note.why}")
        verdict_text = "ALLOWED" if self.allowed else "DENIED"
        if self.allowed and self.port is None:
            verdict_text += f" ({C.describe(self.conn)})"
        lines.append(f"  verdict: {verdict_text}")
        return "\n".join(lines)


class _Endpoint:
    def __init__(self, analysis: Analysis, text: str) -> None:
        self.text = text
        self.workload: WorkloadRef | None = None
        self.atom: int | None = None
        if _looks_like_ip(text):
            self.atom = analysis.ip_atom(text)
            return
        refs = analysis.inventory.find(text)
        if not refs:
            raise ExplainError(f"no workload {text!r} (use NAMESPACE/NAME or NAMESPACE/KIND/NAME)")
        if len(refs) > 1:
            kinds = ", ".join(f"{r.namespace}/{r.kind}/{r.name}" for r in refs)
            raise ExplainError(f"{text!r} is ambiguous: {kinds}")
        self.workload = refs[0]
        if not analysis.classes.workload_classes[analysis.classes.workload_index[self.workload]]:
            raise ExplainError(
                f"{self.workload} has no pods to explain: none of its own in the input (they "
                "belong to the controller they name, e.g. a ReplicaSet), none running, or "
                "replicas: 0"
            )

    def label(self) -> str:
        return str(self.workload) if self.workload else self.text


def _looks_like_ip(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _rule_conn(
    analysis: Analysis, ref: RuleRef, subject: int, peer: int, direction: Direction
) -> Conn:
    if direction is Direction.INGRESS:
        conn = analysis.selection.static_conn(ref.rule)
        if analysis.selection.has_named(ref.rule):
            conn = C.union(
                conn, analysis.selection.named_conn(ref.rule, analysis.classes.shapes[subject])
            )
        return conn
    return analysis.selection.conn_to(ref.rule, peer)


def _why_not(
    analysis: Analysis,
    ref: RuleRef,
    subject: int,
    peer: int,
    direction: Direction,
    want: Conn,
    peer_label: str,
    dst_label: str,
) -> str:
    rule = ref.rule
    if not analysis.selection.rule_bits(rule) >> peer & 1:
        if rule.peers == ():
            return "the rule names no peer, so it matches nothing"
        what = "; ".join(p.describe() for p in rule.peers or ())
        role = "source" if direction is Direction.INGRESS else "destination"
        return f"{role} {peer_label} is not selected (rule peers: {what})"
    conn = _rule_conn(analysis, ref, subject, peer, direction)
    named = [s for s in rule.ports or () if s.named]
    missing = []
    dst_shape_atom = subject if direction is Direction.INGRESS else peer
    for spec in named:
        if dst_shape_atom >= analysis.atoms.ip_offset:
            missing.append(f"named port {spec.port!r} cannot be resolved on {dst_label}")
            continue
        shape = analysis.classes.shapes[dst_shape_atom]
        if not any(p.name == spec.port and p.protocol in spec.protocols for p in shape.named_ports):
            missing.append(f"named port {spec.port!r} not found on {dst_label}")
    ports = ", ".join(s.describe() for s in rule.ports or ()) or "none"
    if not conn:
        return "; ".join(missing) or f"the rule allows no port ({ports})"
    text = f"the requested traffic is not in the rule's ports ({ports})"
    if missing:
        text += "; " + "; ".join(missing)
    return text


def _direction(
    analysis: Analysis,
    direction: Direction,
    subject: int,
    peer: int,
    want: Conn,
    subject_label: str,
    peer_label: str,
    dst_label: str,
) -> DirectionVerdict:
    side = C.intersect(
        analysis.rows.ingress_conn(subject, peer)
        if direction is Direction.INGRESS
        else analysis.rows.egress_conn(subject, peer),
        want,
    )
    isolated = analysis.sections.isolated(subject, direction)
    notes: list[RuleNote] = []
    denied_by = []
    for ref in analysis.sections.rules_for(subject, direction, Action.DENY):
        hit = analysis.selection.rule_bits(ref.rule) >> peer & 1 and C.intersect(
            _rule_conn(analysis, ref, subject, peer, direction), want
        )
        if hit:
            denied_by.append(ref.label)
            denied = C.intersect(_rule_conn(analysis, ref, subject, peer, direction), want)
            notes.append(_note(ref, "denies", C.describe(denied)))
    allowed_by = []
    for ref in analysis.sections.rules_for(subject, direction, Action.ALLOW):
        rc = C.intersect(_rule_conn(analysis, ref, subject, peer, direction), want)
        if analysis.selection.rule_bits(ref.rule) >> peer & 1 and rc:
            allowed_by.append(ref.label)
            notes.append(_note(ref, "allows", C.describe(rc)))
        elif isolated:
            why = _why_not(analysis, ref, subject, peer, direction, want, peer_label, dst_label)
            notes.append(_note(ref, "no match", why))
    selectors = sorted(
        {
            analysis.sections.entries[si][0].display
            for si in analysis.sections.of_class[subject]
            if (
                analysis.sections.entries[si][1].isolates_ingress
                if direction is Direction.INGRESS
                else analysis.sections.entries[si][1].isolates_egress
            )
        }
    )
    if side:
        if not isolated:
            touching = sorted(
                {
                    analysis.sections.entries[si][0].display
                    for si in analysis.sections.of_class[subject]
                    if any(r.direction == direction for r in analysis.sections.entries[si][1].rules)
                }
            )
            if touching:
                reason = (
                    f"selected by {', '.join(touching)} without default deny "
                    f"(enableDefaultDeny: false), so {direction} stays open (default allow)"
                )
            else:
                reason = f"no policy selects {subject_label} for {direction} (default allow)"
        else:
            reason = "allowed by " + ", ".join(allowed_by)
        if denied_by:
            reason += "; some ports are denied by " + ", ".join(denied_by)
    elif denied_by:
        reason = "denied by " + ", ".join(denied_by) + " (deny wins over any allow)"
    elif not allowed_by and not any(n.effect == "no match" for n in notes):
        reason = (
            f"selected by {', '.join(selectors)} (default deny) and no {direction} rule applies"
        )
    else:
        reason = f"selected by {', '.join(selectors)} but no rule matches"
    return DirectionVerdict(direction, bool(side), side, reason, tuple(notes))


def _note(ref: RuleRef, effect: str, why: str) -> RuleNote:
    loc = ref.rule.location
    return RuleNote(ref.label, ref.rule.field, str(loc) if loc else None, effect, why)


def explain(analysis: Analysis, src: str, dst: str, port: str | None = None) -> list[Explanation]:
    """Explain the flow from ``src`` to ``dst`` (``NS/NAME``, ``NS/KIND/NAME`` or an IPv4).

    One explanation per pair of pod shapes (usually one).

    Raises:
        ExplainError: unknown or ambiguous endpoints, both external, or a bad port.
    """
    s, d = _Endpoint(analysis, src), _Endpoint(analysis, dst)
    if s.workload is None and d.workload is None:
        raise ExplainError("at least one side must be a workload")
    want = C.ALL
    if port is not None:
        proto, number = parse_port(port)
        want = C.span(proto, number, number)
    src_classes = (
        analysis.classes.workload_classes[analysis.classes.workload_index[s.workload]]
        if s.workload
        else [None]
    )
    dst_classes = (
        analysis.classes.workload_classes[analysis.classes.workload_index[d.workload]]
        if d.workload
        else [None]
    )
    out = []
    for sc in src_classes:
        for dc in dst_classes:
            src_atom = sc if sc is not None else s.atom
            dst_atom = dc if dc is not None else d.atom
            assert src_atom is not None and dst_atom is not None
            egress = ingress = None
            total = want
            if sc is not None:
                egress = _direction(
                    analysis, Direction.EGRESS, sc, dst_atom, want, s.label(), d.label(), d.label()
                )
                total = C.intersect(total, egress.conn)
            if dc is not None:
                ingress = _direction(
                    analysis, Direction.INGRESS, dc, src_atom, want, d.label(), s.label(), d.label()
                )
                total = C.intersect(total, ingress.conn)
            out.append(Explanation(s.label(), d.label(), port, egress, ingress, total))
    return out
