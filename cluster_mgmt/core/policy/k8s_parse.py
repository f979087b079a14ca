"""Parse ``networking.k8s.io/v1`` NetworkPolicy objects into the normalized model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cluster_mgmt.core.policy.conn import BOUNDS
from cluster_mgmt.core.policy.ipv4 import CidrError, parse_cidr
from cluster_mgmt.core.policy.model import (
    KIND_K8S,
    Action,
    CidrPeer,
    Direction,
    K8sPodPeer,
    Peer,
    Policy,
    PortSpec,
    Rule,
    Section,
    Subject,
)
from cluster_mgmt.core.policy.selectors import SelectorError, parse_selector
from cluster_mgmt.core.policy.source import (
    Finding,
    Severity,
    SourceDoc,
    field_path,
    unknown_field_findings,
)

Path = tuple[str | int, ...]

_SPEC_FIELDS = {"podSelector", "policyTypes", "ingress", "egress"}
_PROTOCOLS = {"TCP", "UDP", "SCTP"}


class _Invalid(Exception):
    def __init__(self, message: str, path: Path, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.hint = hint


class _Parser:
    def __init__(self, doc: SourceDoc, namespace: str, findings: list[Finding]) -> None:
        self.doc = doc
        self.namespace = namespace
        self.findings = findings
        meta = doc.obj.get("metadata") or {}
        self.subject = f"{KIND_K8S} {namespace}/{meta.get('name', '?')}"

    def warn(self, code: str, message: str, path: Path, hint: str | None = None) -> None:
        self.findings.append(
            Finding(Severity.WARNING, code, message, self.doc.locate(path), hint, self.subject)
        )

    def unknown_fields(self, raw: Mapping[str, Any], known: set[str], path: Path) -> None:
        self.findings += unknown_field_findings(
            self.doc, self.subject, raw, known, path, "part of NetworkPolicy v1"
        )

    def parse(self) -> Policy:
        obj = self.doc.obj
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise _Invalid("metadata.name is required", ("metadata",))
        spec = obj.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise _Invalid("spec must be a mapping", ("spec",))
        self.unknown_fields(spec, _SPEC_FIELDS, ("spec",))
        selector = self.selector(spec.get("podSelector"), ("spec", "podSelector"))
        ingress = self.rule_list(spec, "ingress")
        egress = self.rule_list(spec, "egress")
        types = spec.get("policyTypes")
        if types is None or (isinstance(types, Sequence) and len(types) == 0):
            # API server defaulting: Ingress always, Egress when egress rules are present.
            types = ["Ingress"] + (["Egress"] if egress else [])
        if not isinstance(types, Sequence) or isinstance(types, str):
            raise _Invalid("policyTypes must be a list", ("spec", "policyTypes"))
        for i, t in enumerate(types):
            if t not in ("Ingress", "Egress"):
                raise _Invalid(
                    f"policyTypes entries must be Ingress or Egress, not {t!r}",
                    ("spec", "policyTypes", i),
                )
        rules: list[Rule] = []
        for direction, items in ((Direction.INGRESS, ingress), (Direction.EGRESS, egress)):
            for i, item in enumerate(items):
                rules.append(self.rule(direction, i, item))
        if "Egress" not in types and egress:
            self.warn(
                "ignored-rules",
                "egress rules are ignored because policyTypes does not include Egress",
                ("spec", "egress"),
                hint="add Egress to spec.policyTypes or remove spec.egress",
            )
        if "Ingress" not in types and ingress:
            self.warn(
                "ignored-rules",
                "ingress rules are ignored because policyTypes does not include Ingress",
                ("spec", "ingress"),
                hint="add Ingress to spec.policyTypes or remove spec.ingress",
            )
        in_effect = tuple(
            r
            for r in rules
            if (r.direction is Direction.INGRESS and "Ingress" in types)
            or (r.direction is Direction.EGRESS and "Egress" in types)
        )
        section = Section(
            subject=Subject(self.namespace, selector, cilium=False),
            isolates_ingress="Ingress" in types,
            isolates_egress="Egress" in types,
            rules=in_effect,
            field="spec",
            location=self.doc.locate(("spec",)),
        )
        return Policy(
            KIND_K8S, self.namespace, name, (section,), self.doc.locate(()), raw=self.doc.obj
        )

    def selector(self, raw: Any, path: Path) -> Any:
        try:
            return parse_selector(raw)
        except SelectorError as exc:
            raise _Invalid(str(exc), (*path, *exc.path)) from exc

    def rule_list(self, spec: Mapping[str, Any], key: str) -> Sequence[Any]:
        items = spec.get(key)
        if items is None:
            return []
        if not isinstance(items, Sequence) or isinstance(items, str):
            raise _Invalid(f"{key} must be a list", ("spec", key))
        return items

    def rule(self, direction: Direction, index: int, raw: Any) -> Rule:
        path: Path = ("spec", direction, index)
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise _Invalid("a rule must be a mapping", path)
        peer_key = "from" if direction is Direction.INGRESS else "to"
        self.unknown_fields(raw, {peer_key, "ports"}, path)
        peers_raw = raw.get(peer_key)
        peers: tuple[Peer, ...] | None = None  # absent or empty: all peers
        if peers_raw:
            if not isinstance(peers_raw, Sequence) or isinstance(peers_raw, str):
                raise _Invalid(f"{peer_key} must be a list", (*path, peer_key))
            peers = tuple(self.peer(p, (*path, peer_key, j)) for j, p in enumerate(peers_raw))
        ports_raw = raw.get("ports")
        ports: tuple[PortSpec, ...] | None = None  # absent or empty: all ports
        if ports_raw:
            if not isinstance(ports_raw, Sequence) or isinstance(ports_raw, str):
                raise _Invalid("ports must be a list", (*path, "ports"))
            ports = tuple(self.port(p, (*path, "ports", j)) for j, p in enumerate(ports_raw))
        return Rule(
            direction,
            Action.ALLOW,
            peers,
            ports,
            index + 1,
            field_path(path),
            self.doc.locate(path),
        )

    def peer(self, raw: Any, path: Path) -> Peer:
        if not isinstance(raw, Mapping):
            raise _Invalid("a peer must be a mapping", path)
        self.unknown_fields(raw, {"podSelector", "namespaceSelector", "ipBlock"}, path)
        if "ipBlock" in raw and raw["ipBlock"] is not None:
            if raw.get("podSelector") is not None or raw.get("namespaceSelector") is not None:
                raise _Invalid(
                    "ipBlock cannot be combined with podSelector or namespaceSelector", path
                )
            return self.ip_block(raw["ipBlock"], (*path, "ipBlock"))
        pod = raw.get("podSelector")
        ns = raw.get("namespaceSelector")
        if pod is None and ns is None:
            raise _Invalid(
                "a peer needs podSelector, namespaceSelector or ipBlock",
                path,
                hint="write `podSelector: {}` for all pods of the namespace",
            )
        return K8sPodPeer(
            namespace_selector=None
            if ns is None
            else self.selector(ns, (*path, "namespaceSelector")),
            pod_selector=None if pod is None else self.selector(pod, (*path, "podSelector")),
            policy_namespace=self.namespace,
        )

    def ip_block(self, raw: Any, path: Path) -> CidrPeer:
        if not isinstance(raw, Mapping) or "cidr" not in raw:
            raise _Invalid("ipBlock needs a cidr", path)
        self.unknown_fields(raw, {"cidr", "except"}, path)
        try:
            block = parse_cidr(raw["cidr"])
        except CidrError as exc:
            raise _Invalid(str(exc), (*path, "cidr")) from exc
        excepts = []
        for j, text in enumerate(raw.get("except") or []):
            try:
                ex = parse_cidr(text)
            except CidrError as exc:
                raise _Invalid(str(exc), (*path, "except", j)) from exc
            if ex.ipv6 != block.ipv6 or (
                not ex.ipv6 and not (block.low <= ex.low and ex.high <= block.high)
            ):
                raise _Invalid(
                    f"except {ex.text} is not inside cidr {block.text}", (*path, "except", j)
                )
            if not ex.ipv6:
                excepts.append((ex.low, ex.high))
        if block.ipv6:
            self.findings.append(
                Finding(
                    Severity.INFO,
                    "ipv6-not-analysed",
                    f"IPv6 block {block.text} is not part of the IPv4 analysis",
                    self.doc.locate((*path, "cidr")),
                    subject=self.subject,
                )
            )
        return CidrPeer(block.text, block.low, block.high, tuple(excepts))

    def port(self, raw: Any, path: Path) -> PortSpec:
        if not isinstance(raw, Mapping):
            raise _Invalid("a port entry must be a mapping", path)
        self.unknown_fields(raw, {"protocol", "port", "endPort"}, path)
        proto = raw.get("protocol") or "TCP"
        if proto not in _PROTOCOLS:
            raise _Invalid(f"protocol must be TCP, UDP or SCTP, not {proto!r}", (*path, "protocol"))
        port = raw.get("port")
        end = raw.get("endPort")
        number: int | str | None
        if port is None:
            number = None
        elif isinstance(port, bool):
            raise _Invalid("port must be a number or a name", (*path, "port"))
        elif isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            number = int(port)
            lo, hi = BOUNDS[proto]
            if not lo <= number <= hi:
                raise _Invalid(f"port {number} is out of range 1-65535", (*path, "port"))
        elif isinstance(port, str) and port:
            number = port.lower()
        else:
            raise _Invalid("port must be a number or a name", (*path, "port"))
        if end is not None:
            if not isinstance(number, int):
                raise _Invalid("endPort needs a numeric port", (*path, "endPort"))
            if isinstance(end, bool) or not isinstance(end, int) or not number <= end <= 65535:
                raise _Invalid(
                    f"endPort must be a number between port ({number}) and 65535",
                    (*path, "endPort"),
                )
        return PortSpec((proto,), number, end, None)


def parse_network_policy(
    doc: SourceDoc, default_namespace: str = "default"
) -> tuple[Policy | None, list[Finding]]:
    """Parse one NetworkPolicy; an invalid one is ``None`` with an ``error`` finding."""
    findings: list[Finding] = []
    meta = doc.obj.get("metadata") or {}
    namespace = meta.get("namespace") or default_namespace
    parser = _Parser(doc, str(namespace), findings)
    try:
        return parser.parse(), findings
    except _Invalid as exc:
        findings.append(
            Finding(
                Severity.ERROR,
                "invalid-policy",
                f"{exc.message}; the policy is left out of the analysis",
                doc.locate(exc.path),
                exc.hint,
                parser.subject,
            )
        )
        return None, findings
