"""The rules editor: build a policy from short rule strings.

A rule string is a list of tokens separated by commas or spaces:

* ``app=web`` — pod label (several are ANDed); ``ns=shop`` — the peer's namespace
* ``entity:world`` — a Cilium entity; ``cidr:10.0.0.0/8`` — an address block
* ``fqdn:api.example.com`` (or ``fqdn:*.example.com``) — egress by DNS name
* ``80/TCP``, ``53/UDP``, ``8000-8080/TCP``, ``443`` (TCP), ``53/ANY`` — ports
* ``http:GET:/api/.*`` — an HTTP rule (method, optional path regex) on the rule's TCP ports

One string is one rule; give several ``--allow-from``/``--allow-to`` for several rules. A rule
names one kind of peer (labels, entities, CIDRs or FQDNs), as Cilium requires; a rule with
only ports allows them from/to any peer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cluster_mgmt.core.policy.cilium_parse import NAMESPACE_LABEL, parse_cilium_policy
from cluster_mgmt.core.policy.inventory import NAMESPACE_NAME_LABEL
from cluster_mgmt.core.policy.ipv4 import CidrError, parse_cidr
from cluster_mgmt.core.policy.k8s_parse import parse_network_policy
from cluster_mgmt.core.policy.model import KNOWN_ENTITIES, Direction
from cluster_mgmt.core.policy.source import Severity, SourceDoc

_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp|any))?$", re.IGNORECASE)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

DNS_SELECTOR = {f"k8s:{NAMESPACE_LABEL}": "kube-system", "k8s:k8s-app": "kube-dns"}


class EditorError(ValueError):
    """A rule string or option cannot be turned into a valid policy."""


@dataclass(slots=True)
class RuleSpec:
    """One parsed rule string."""

    text: str
    labels: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None
    entities: list[str] = field(default_factory=list)
    cidrs: list[str] = field(default_factory=list)
    fqdns: list[str] = field(default_factory=list)
    ports: list[tuple[int, int | None, str]] = field(default_factory=list)  # port, end, proto
    http: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def peer_kinds(self) -> list[str]:
        """The kinds of peer the rule names (at most one is valid)."""
        kinds = []
        if self.labels or self.namespace:
            kinds.append("labels")
        for name, values in (
            ("entities", self.entities),
            ("cidrs", self.cidrs),
            ("fqdns", self.fqdns),
        ):
            if values:
                kinds.append(name)
        return kinds


def _check_label(key: str, value: str, text: str) -> None:
    prefix, _, name = key.rpartition("/")
    if (prefix and not _NAME.match(prefix)) or not _LABEL_NAME.match(name) or len(name) > 63:
        raise EditorError(f"{text!r}: {key!r} is not a valid label key")
    if value and (not _LABEL_NAME.match(value) or len(value) > 63):
        raise EditorError(f"{text!r}: {value!r} is not a valid label value")


def parse_labels(text: str) -> dict[str, str]:
    """``app=web,tier=api`` -> dict (for ``--select``).

    Raises:
        EditorError: on a malformed label.
    """
    out: dict[str, str] = {}
    for token in re.split(r"[,\s]+", text.strip()):
        if not token:
            continue
        key, eq, value = token.partition("=")
        if not eq:
            raise EditorError(f"{token!r} is not a label (KEY=VALUE)")
        _check_label(key, value, text)
        out[key] = value
    return out


def parse_rule(text: str) -> RuleSpec:
    """Parse one ``--allow-from``/``--allow-to`` string.

    Raises:
        EditorError: on an unknown token or an invalid value.
    """
    spec = RuleSpec(text)
    for token in re.split(r"[,\s]+", text.strip()):
        if not token:
            continue
        lower = token.lower()
        if lower.startswith("entity:"):
            entity = token[7:]
            if entity not in KNOWN_ENTITIES:
                raise EditorError(f"{token!r}: unknown entity (known: {', '.join(KNOWN_ENTITIES)})")
            spec.entities.append(entity)
        elif lower.startswith("cidr:"):
            try:
                block = parse_cidr(token[5:])
            except CidrError as exc:
                raise EditorError(f"{token!r}: {exc}") from exc
            spec.cidrs.append(block.text if "/" in block.text else f"{block.text}/32")
        elif lower.startswith("fqdn:"):
            name = token[5:].rstrip(".").lower()
            if not name or not re.match(r"^[a-z0-9*]([-a-z0-9.*]*[a-z0-9])?$", name):
                raise EditorError(f"{token!r}: not a DNS name or pattern")
            spec.fqdns.append(name)
        elif lower.startswith("http:"):
            method, _, path = token[5:].partition(":")
            if not re.match(r"^[A-Za-z]+$", method):
                raise EditorError(
                    f"{token!r}: write http:METHOD[:PATH-REGEX], e.g. http:GET:/api/.*"
                )
            if path:
                try:
                    re.compile(path)
                except re.error as exc:
                    raise EditorError(f"{token!r}: bad path regex: {exc}") from exc
            spec.http.append((method.upper(), path or None))
        elif match := _PORT.match(token):
            port = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else None
            proto = (match.group(3) or "TCP").upper()
            if not 1 <= port <= 65535 or (end is not None and not port < end <= 65535):
                raise EditorError(f"{token!r}: ports are 1-65535 and a range must go up")
            spec.ports.append((port, end, proto))
        elif "=" in token:
            key, _, value = token.partition("=")
            if key == "ns":
                if not _NS_NAME.match(value) or len(value) > 63:
                    raise EditorError(f"{token!r}: {value!r} is not a namespace name")
                spec.namespace = value
            else:
                _check_label(key, value, text)
                spec.labels[key] = value
        else:
            raise EditorError(
                f"{token!r} is not a rule token (KEY=VALUE, ns=NAME, entity:, cidr:, fqdn:, "
                "PORT/PROTO, http:METHOD:PATH)"
            )
    if len(spec.peer_kinds) > 1:
        raise EditorError(
            f"{text!r} mixes {' and '.join(spec.peer_kinds)} in one rule; Cilium accepts one "
            "kind of peer per rule: give them as separate --allow-from/--allow-to"
        )
    if spec.http and not any(p[2] in ("TCP", "ANY") for p in spec.ports):
        raise EditorError(f"{text!r}: HTTP rules need a TCP port, e.g. 80/TCP")
    if not spec.peer_kinds and not spec.ports:
        raise EditorError(f"{text!r}: a rule needs a peer or a port")
    return spec


def _cilium_ports(spec: RuleSpec) -> list[dict[str, Any]]:
    if not spec.ports:
        return []
    ports = []
    for port, end, proto in spec.ports:
        entry: dict[str, Any] = {"port": str(port), "protocol": proto}
        if end is not None:
            entry["endPort"] = end
        ports.append(entry)
    rule: dict[str, Any] = {"ports": ports}
    if spec.http:
        rule["rules"] = {
            "http": [{"method": m, **({"path": p} if p else {})} for m, p in spec.http]
        }
    return [rule]


def _cilium_rule(spec: RuleSpec, direction: Direction) -> dict[str, Any]:
    pre = "from" if direction is Direction.INGRESS else "to"
    rule: dict[str, Any] = {}
    if spec.labels or spec.namespace:
        labels = dict(spec.labels)
        if spec.namespace:
            labels[f"k8s:{NAMESPACE_LABEL}"] = spec.namespace
        rule[f"{pre}Endpoints"] = [{"matchLabels": labels}]
    if spec.entities:
        rule[f"{pre}Entities"] = list(spec.entities)
    if spec.cidrs:
        rule[f"{pre}CIDR"] = list(spec.cidrs)
    if spec.fqdns:
        if direction is Direction.INGRESS:
            raise EditorError(f"{spec.text!r}: fqdn: peers exist only for --allow-to")
        rule["toFQDNs"] = [
            {"matchPattern": f} if "*" in f else {"matchName": f} for f in spec.fqdns
        ]
    ports = _cilium_ports(spec)
    if ports:
        rule["toPorts"] = ports
    return rule


def _k8s_ports(spec: RuleSpec) -> list[dict[str, Any]]:
    out = []
    for port, end, proto in spec.ports:
        for p in ("TCP", "UDP", "SCTP") if proto == "ANY" else (proto,):
            entry: dict[str, Any] = {"protocol": p, "port": port}
            if end is not None:
                entry["endPort"] = end
            out.append(entry)
    return out


def _k8s_rule(spec: RuleSpec, direction: Direction) -> dict[str, Any]:
    if spec.fqdns or spec.http:
        raise EditorError(
            f"{spec.text!r}: FQDN and HTTP rules need a CiliumNetworkPolicy (drop --kind k8s)"
        )
    peers: list[dict[str, Any]] = []
    if spec.labels or spec.namespace:
        peer: dict[str, Any] = {}
        if spec.namespace:
            peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: spec.namespace}}
        if spec.labels or not spec.namespace:
            peer["podSelector"] = {"matchLabels": dict(spec.labels)}
        peers.append(peer)
    for entity in spec.entities:
        if entity not in ("world", "all"):
            raise EditorError(f"{spec.text!r}: entity {entity!r} has no NetworkPolicy equivalent")
        peers.append({"ipBlock": {"cidr": "0.0.0.0/0"}})
        if entity == "all":
            peers.append({"namespaceSelector": {}})
    peers.extend({"ipBlock": {"cidr": c}} for c in spec.cidrs)
    rule: dict[str, Any] = {}
    if peers:
        rule["from" if direction is Direction.INGRESS else "to"] = peers
    ports = _k8s_ports(spec)
    if ports:
        rule["ports"] = ports
    return rule


def build_policy(
    *,
    name: str,
    namespace: str,
    select: dict[str, str],
    allow_from: list[RuleSpec],
    allow_to: list[RuleSpec],
    kind: str = "cilium",
    dns: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """A CiliumNetworkPolicy (``kind="cilium"``) or NetworkPolicy (``kind="k8s"``) dict.

    With egress rules and ``dns``, an egress rule to kube-dns on port 53 is added first (with
    an L7 ``dns`` rule for Cilium, which ``toFQDNs`` needs), since the policy puts the pods
    in egress default-deny.

    Raises:
        EditorError: on invalid names or rules that the chosen kind cannot express.
    """
    if not _NAME.match(name) or len(name) > 253:
        raise EditorError(f"{name!r} is not a valid policy name (lowercase DNS subdomain)")
    if not _NS_NAME.match(namespace) or len(namespace) > 63:
        raise EditorError(f"{namespace!r} is not a valid namespace name")
    if not allow_from and not allow_to:
        raise EditorError("give at least one --allow-from or --allow-to")
    meta = {"name": name, "namespace": namespace}
    if kind == "k8s":
        spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(select)} if select else {}}
        types = (["Ingress"] if allow_from else []) + (["Egress"] if allow_to else [])
        spec["policyTypes"] = types
        if allow_from:
            spec["ingress"] = [_k8s_rule(r, Direction.INGRESS) for r in allow_from]
        if allow_to:
            egress = [_k8s_rule(r, Direction.EGRESS) for r in allow_to]
            if dns:
                egress.insert(
                    0,
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                )
            spec["egress"] = egress
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta,
            "spec": spec,
        }
    cspec: dict[str, Any] = {}
    if description:
        cspec["description"] = description
    cspec["endpointSelector"] = {"matchLabels": dict(select)} if select else {}
    if allow_from:
        cspec["ingress"] = [_cilium_rule(r, Direction.INGRESS) for r in allow_from]
    if allow_to:
        egress = [_cilium_rule(r, Direction.EGRESS) for r in allow_to]
        if dns:
            egress.insert(
                0,
                {
                    "toEndpoints": [{"matchLabels": dict(DNS_SELECTOR)}],
                    "toPorts": [
                        {
                            "ports": [{"port": "53", "protocol": "ANY"}],
                            "rules": {"dns": [{"matchPattern": "*"}]},
                        }
                    ],
                },
            )
        elif any(r.fqdns for r in allow_to):
            raise EditorError("toFQDNs needs the DNS rule; drop --no-dns")
        cspec["egress"] = egress
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": meta,
        "spec": cspec,
    }


def check_generated(obj: dict[str, Any]) -> None:
    """Parse a generated policy with the analyser's own parser; any finding is a bug here.

    Raises:
        EditorError: the generated object does not parse cleanly.
    """
    doc = SourceDoc("<generated>", obj)
    if obj["kind"] == "NetworkPolicy":
        policy, findings = parse_network_policy(doc)
    else:
        policy, findings = parse_cilium_policy(doc)
    problems = [f for f in findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    if policy is None or problems:
        raise EditorError("generated policy is invalid: " + "; ".join(f.message for f in problems))
