"""Parse ``cilium.io/v2`` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy objects.

Semantics follow the Cilium agent (``pkg/policy``): a section isolates a direction when it
has rules (allow or deny) for it and ``enableDefaultDeny`` does not turn that off; an empty
rule ``{}`` allows nothing; a rule with ports but no L3 selector applies to every peer;
endpoint selectors without a namespace label are scoped to the policy's namespace (all
namespaces' pods for a clusterwide policy); an explicitly empty selector list selects nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cluster_mgmt.core.policy.conn import L7
from cluster_mgmt.core.policy.ipv4 import CidrError, parse_cidr
from cluster_mgmt.core.policy.model import (
    KIND_CCNP,
    KIND_CNP,
    KNOWN_ENTITIES,
    Action,
    CidrPeer,
    CiliumEndpointPeer,
    Direction,
    EntityPeer,
    FqdnPeer,
    Peer,
    Policy,
    PortSpec,
    Rule,
    Section,
    Subject,
)
from cluster_mgmt.core.policy.selectors import (
    LabelSelector,
    Requirement,
    SelectorError,
    parse_selector,
)
from cluster_mgmt.core.policy.source import (
    Finding,
    Severity,
    SourceDoc,
    field_path,
    unknown_field_findings,
)

Path = tuple[str | int, ...]

NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"

_TOP_FIELDS = {"apiVersion", "kind", "metadata", "spec", "specs", "status"}
_RULE_FIELDS = {
    "endpointSelector",
    "nodeSelector",
    "ingress",
    "ingressDeny",
    "egress",
    "egressDeny",
    "labels",
    "description",
    "enableDefaultDeny",
    "log",
}
_COMMON_IN = {
    "fromEndpoints",
    "fromRequires",
    "toPorts",
    "fromCIDR",
    "fromCIDRSet",
    "fromEntities",
    "fromGroups",
    "fromNodes",
    "icmps",
}
_COMMON_OUT = {
    "toEndpoints",
    "toRequires",
    "toPorts",
    "toCIDR",
    "toCIDRSet",
    "toEntities",
    "toServices",
    "toGroups",
    "toNodes",
    "icmps",
}
_SECTION_FIELDS = {
    "ingress": _COMMON_IN | {"authentication"},
    "ingressDeny": _COMMON_IN,
    "egress": _COMMON_OUT | {"toFQDNs", "authentication"},
    "egressDeny": _COMMON_OUT,
}
_PORT_RULE_FIELDS = {
    "ports",
    "rules",
    "serverNames",
    "terminatingTLS",
    "originatingTLS",
    "listener",
}
_L4_PROTOCOLS = {"TCP": ("TCP",), "UDP": ("UDP",), "SCTP": ("SCTP",), "ANY": ("TCP", "UDP", "SCTP")}
# IPv4 ICMP type names Cilium accepts (pkg/policy/api/icmp.go).
ICMP_TYPES = {
    "EchoReply": 0,
    "DestinationUnreachable": 3,
    "Redirect": 5,
    "Echo": 8,
    "EchoRequest": 8,
    "RouterAdvertisement": 9,
    "RouterSelection": 10,
    "TimeExceeded": 11,
    "ParameterProblem": 12,
    "Timestamp": 13,
    "TimestampReply": 14,
    "Photuris": 40,
    "ExtendedEchoRequest": 42,
    "ExtendedEchoReply": 43,
}


def cilium_label_key(key: str) -> str:
    """Drop the ``k8s:``/``any:`` source prefix; pods carry Kubernetes labels under both."""
    for prefix in ("k8s:", "any:"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def scope_endpoint_selector(selector: LabelSelector, namespace: str | None) -> LabelSelector:
    """Apply Cilium's namespace defaulting to a ``from/toEndpoints`` selector."""
    if any(req.key.startswith("reserved:") for req in selector.requirements):
        return selector
    if selector.has_key(NAMESPACE_LABEL):
        return selector
    if namespace is None:
        return selector.with_requirement(Requirement(NAMESPACE_LABEL, "Exists"))
    # Cilium (getEndpointSelector) leaves a selector on namespace labels unscoped: it picks
    # pods of every namespace with those labels, not only the policy's own.
    if any(req.key.startswith(NAMESPACE_LABELS_PREFIX) for req in selector.requirements):
        return selector
    return selector.with_requirement(Requirement(NAMESPACE_LABEL, "In", frozenset({namespace})))


class _Invalid(Exception):
    def __init__(self, message: str, path: Path, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.hint = hint


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


class _Parser:
    def __init__(self, doc: SourceDoc, kind: str, namespace: str | None) -> None:
        self.doc = doc
        self.kind = kind
        self.namespace = namespace
        self.findings: list[Finding] = []
        meta = doc.obj.get("metadata") or {}
        name = meta.get("name", "?")
        self.subject = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"

    def note(
        self, severity: Severity, code: str, message: str, path: Path, hint: str | None = None
    ) -> None:
        self.findings.append(
            Finding(severity, code, message, self.doc.locate(path), hint, self.subject)
        )

    def unknown_fields(
        self, raw: Mapping[str, Any], known: set[str], path: Path, what: str
    ) -> None:
        self.findings += unknown_field_findings(
            self.doc, self.subject, raw, known, path, f"a known {what} field"
        )

    def parse(self) -> Policy:
        obj = self.doc.obj
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise _Invalid("metadata.name is required", ("metadata",))
        self.unknown_fields(obj, _TOP_FIELDS, (), self.kind)
        specs: list[tuple[Path, Any]] = []
        if obj.get("spec") is not None:
            specs.append((("spec",), obj["spec"]))
        if obj.get("specs") is not None:
            if not _is_list(obj["specs"]):
                raise _Invalid("specs must be a list", ("specs",))
            specs.extend((("specs", i), s) for i, s in enumerate(obj["specs"]))
        if not specs:
            raise _Invalid("a Cilium policy needs spec or specs", ())
        sections = tuple(self.section(path, raw) for path, raw in specs)
        return Policy(self.kind, self.namespace, name, sections, self.doc.locate(()), raw=obj)

    def selector(self, raw: Any, path: Path) -> LabelSelector:
        try:
            return parse_selector(raw, key_transform=cilium_label_key)
        except SelectorError as exc:
            raise _Invalid(str(exc), (*path, *exc.path)) from exc

    def drop_subject_namespace(self, raw: Any, path: Path) -> Any:
        """A CNP's endpointSelector without its ``k8s:`` namespace match.

        Cilium (ParseToCiliumRule) overwrites that match with the policy's namespace: the
        subjects are always in the policy's namespace, whatever namespace is written.
        """
        labels = raw.get("matchLabels") if isinstance(raw, Mapping) else None
        key = "k8s:" + NAMESPACE_LABEL
        if not isinstance(labels, Mapping) or key not in labels:
            return raw
        if str(labels[key]) != self.namespace:
            self.note(
                Severity.WARNING,
                "namespace-overridden",
                f"endpointSelector names namespace {labels[key]!r}, but a "
                f"CiliumNetworkPolicy only selects pods of its own namespace {self.namespace!r}",
                (*path, "matchLabels", key),
                hint="use a CiliumClusterwideNetworkPolicy or move the policy",
            )
        out = dict(raw)
        out["matchLabels"] = {k: v for k, v in labels.items() if k != key}
        return out

    def section(self, path: Path, raw: Any) -> Section:
        if not isinstance(raw, Mapping):
            raise _Invalid("a policy rule must be a mapping", path)
        self.unknown_fields(raw, _RULE_FIELDS, path, "policy rule")
        has_ep = raw.get("endpointSelector") is not None
        has_node = raw.get("nodeSelector") is not None
        if has_ep == has_node:
            raise _Invalid(
                "a rule needs exactly one of endpointSelector and nodeSelector",
                path,
                hint="use `endpointSelector: {}` to select every pod of the namespace",
            )
        selector: LabelSelector | None
        if has_node:
            self.note(
                Severity.WARNING,
                "host-policy",
                "nodeSelector (host policy) selects nodes, not pods; this rule is not analysed",
                (*path, "nodeSelector"),
            )
            selector = None
        else:
            subject_raw = raw["endpointSelector"]
            if self.namespace is not None:
                subject_raw = self.drop_subject_namespace(subject_raw, (*path, "endpointSelector"))
            selector = self.selector(subject_raw, (*path, "endpointSelector"))
        default_deny = raw.get("enableDefaultDeny") or {}
        if not isinstance(default_deny, Mapping):
            raise _Invalid("enableDefaultDeny must be a mapping", (*path, "enableDefaultDeny"))
        self.unknown_fields(
            default_deny, {"ingress", "egress"}, (*path, "enableDefaultDeny"), "enableDefaultDeny"
        )
        rules: list[Rule] = []
        counts: dict[str, int] = {}
        for key in ("ingress", "ingressDeny", "egress", "egressDeny"):
            items = raw.get(key)
            if items is None:
                counts[key] = 0
                continue
            if not _is_list(items):
                raise _Invalid(f"{key} must be a list", (*path, key))
            counts[key] = len(items)
            if selector is None:
                continue
            for i, item in enumerate(items):
                rules.append(self.rule(key, i, item, (*path, key, i)))
        iso = {}
        for direction in ("ingress", "egress"):
            flag = default_deny.get(direction)
            if flag is not None and not isinstance(flag, bool):
                raise _Invalid(
                    f"enableDefaultDeny.{direction} must be true or false",
                    (*path, "enableDefaultDeny", direction),
                )
            has_rules = counts[direction] + counts[f"{direction}Deny"] > 0
            # Cilium: default deny comes from the rule entries, so the flag alone does nothing.
            iso[direction] = has_rules and flag is not False
            if flag is True and not has_rules:
                self.note(
                    Severity.WARNING,
                    "default-deny-without-rules",
                    f"enableDefaultDeny.{direction} has no effect without {direction} rules",
                    (*path, "enableDefaultDeny", direction),
                    hint=f"add `{direction}: [{{}}]` to deny all {direction} traffic",
                )
        return Section(
            subject=Subject(self.namespace, selector, cilium=True),
            isolates_ingress=iso["ingress"] and selector is not None,
            isolates_egress=iso["egress"] and selector is not None,
            rules=tuple(rules),
            field=field_path(path),
            location=self.doc.locate(path),
        )

    def rule(self, key: str, index: int, raw: Any, path: Path) -> Rule:
        direction = Direction.INGRESS if key.startswith("ingress") else Direction.EGRESS
        deny = key.endswith("Deny")
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise _Invalid("a rule must be a mapping", path)
        self.unknown_fields(raw, _SECTION_FIELDS[key], path, f"{key} rule")
        pre = "from" if direction is Direction.INGRESS else "to"
        peers: list[Peer] = []
        l3_given = False
        for field in (
            "Endpoints",
            "CIDR",
            "CIDRSet",
            "Entities",
            "FQDNs",
            "Services",
            "Groups",
            "Nodes",
            "Requires",
        ):
            name = pre + field
            if name not in raw or raw[name] is None:
                continue
            value = raw[name]
            fpath = (*path, name)
            if not _is_list(value):
                raise _Invalid(f"{name} must be a list", fpath)
            if field != "Requires":
                l3_given = True
            if not value and field != "Requires":
                self.note(
                    Severity.WARNING,
                    "empty-selector-list",
                    f"{name} is an empty list, which selects nothing",
                    fpath,
                    hint=f"remove {name} or list at least one peer",
                )
            peers.extend(self.peers(field, value, fpath))
        if "authentication" in raw and raw["authentication"] is not None:
            self.note(
                Severity.INFO,
                "authentication-not-modelled",
                "mutual authentication is required on top of this rule; "
                "the matrix assumes it succeeds",
                (*path, "authentication"),
            )
        ports: list[PortSpec] = []
        has_l4 = False
        for i, pr in enumerate(raw.get("toPorts") or []):
            has_l4 = True
            ports.extend(self.port_rule(pr, (*path, "toPorts", i), direction, deny))
        for i, icmp in enumerate(raw.get("icmps") or []):
            has_l4 = True
            ports.extend(self.icmp_rule(icmp, (*path, "icmps", i)))
        peer_tuple: tuple[Peer, ...] | None
        if l3_given:
            peer_tuple = tuple(peers)
        elif has_l4:
            peer_tuple = None  # L4-only rule: every peer
        else:
            peer_tuple = ()  # `{}`: allows (or denies) nothing, but still isolates
        return Rule(
            direction,
            Action.DENY if deny else Action.ALLOW,
            peer_tuple,
            tuple(ports) if has_l4 else None,
            index + 1,
            field_path(path),
            self.doc.locate(path),
        )

    def peers(self, field: str, items: Sequence[Any], path: Path) -> list[Peer]:
        out: list[Peer] = []
        if field == "Endpoints":
            for i, item in enumerate(items):
                sel = self.selector(item, (*path, i))
                out.append(CiliumEndpointPeer(scope_endpoint_selector(sel, self.namespace)))
        elif field == "Entities":
            for i, item in enumerate(items):
                if item not in KNOWN_ENTITIES:
                    raise _Invalid(
                        f"unknown entity {item!r}",
                        (*path, i),
                        hint="entities: " + ", ".join(KNOWN_ENTITIES),
                    )
                if item == "world-ipv6":
                    self.note(
                        Severity.INFO,
                        "ipv6-not-analysed",
                        "world-ipv6 is not part of the IPv4 analysis",
                        (*path, i),
                    )
                out.append(EntityPeer(str(item)))
        elif field == "CIDR":
            for i, item in enumerate(items):
                out.extend(self.cidr(item, (), (*path, i)))
        elif field == "CIDRSet":
            for i, item in enumerate(items):
                ipath = (*path, i)
                if not isinstance(item, Mapping):
                    raise _Invalid("a CIDR set entry must be a mapping", ipath)
                self.unknown_fields(
                    item,
                    {"cidr", "except", "cidrGroupRef", "cidrGroupSelector"},
                    ipath,
                    "CIDR rule",
                )
                if item.get("cidr") is None:
                    self.note(
                        Severity.WARNING,
                        "unsupported-field",
                        "CIDR groups (cidrGroupRef/cidrGroupSelector) are not resolved; "
                        "this peer is not analysed",
                        ipath,
                    )
                    continue
                out.extend(self.cidr(item["cidr"], item.get("except") or [], ipath))
        elif field == "FQDNs":
            for i, item in enumerate(items):
                ipath = (*path, i)
                if not isinstance(item, Mapping):
                    raise _Invalid("a toFQDNs entry must be a mapping", ipath)
                self.unknown_fields(item, {"matchName", "matchPattern"}, ipath, "FQDN selector")
                pattern = item.get("matchName") or item.get("matchPattern")
                if not isinstance(pattern, str) or not pattern:
                    raise _Invalid("toFQDNs entries need matchName or matchPattern", ipath)
                out.append(FqdnPeer(pattern.lower().rstrip(".")))
        else:
            what = {
                "Services": "toServices (Kubernetes service backends)",
                "Groups": f"{path[-1]} (cloud provider groups)",
                "Nodes": f"{path[-1]} (node selectors)",
                "Requires": f"{path[-1]} (deprecated requirements)",
            }[field]
            self.note(
                Severity.WARNING,
                "unsupported-field",
                f"{what} is not analysed; connections it allows are missing from the matrix",
                path,
            )
        return out

    def cidr(self, text: Any, excepts: Any, path: Path) -> list[Peer]:
        try:
            block = parse_cidr(str(text))
        except CidrError as exc:
            raise _Invalid(str(exc), path) from exc
        if block.ipv6:
            self.note(
                Severity.INFO,
                "ipv6-not-analysed",
                f"IPv6 block {block.text} is not part of the IPv4 analysis",
                path,
            )
            return []
        holes = []
        for j, ex in enumerate(excepts):
            try:
                hole = parse_cidr(str(ex))
            except CidrError as exc:
                raise _Invalid(str(exc), (*path, "except", j)) from exc
            if not hole.ipv6:
                holes.append((hole.low, hole.high))
        return [CidrPeer(block.text, block.low, block.high, tuple(holes))]

    def port_rule(self, raw: Any, path: Path, direction: str, deny: bool) -> list[PortSpec]:
        if not isinstance(raw, Mapping):
            raise _Invalid("a toPorts entry must be a mapping", path)
        known = {"ports"} if deny else _PORT_RULE_FIELDS
        self.unknown_fields(raw, known, path, "port rule")
        l7 = None if deny else self.l7(raw, path, direction)
        for key in ("terminatingTLS", "originatingTLS", "listener"):
            if not deny and raw.get(key) is not None:
                self.note(
                    Severity.INFO,
                    "not-modelled",
                    f"{key} does not change which ports are allowed and is not modelled",
                    (*path, key),
                )
        ports = raw.get("ports")
        if not ports:
            return [PortSpec(_L4_PROTOCOLS["ANY"], None, None, l7)]
        if not _is_list(ports):
            raise _Invalid("ports must be a list", (*path, "ports"))
        return [self.port(p, (*path, "ports", i), l7) for i, p in enumerate(ports)]

    def port(self, raw: Any, path: Path, l7: L7) -> PortSpec:
        if not isinstance(raw, Mapping):
            raise _Invalid("a port entry must be a mapping", path)
        self.unknown_fields(raw, {"port", "endPort", "protocol"}, path, "port")
        proto = str(raw.get("protocol") or "ANY").upper()
        if proto not in _L4_PROTOCOLS:
            self.note(
                Severity.WARNING,
                "unsupported-protocol",
                f"protocol {proto} is not analysed (TCP, UDP, SCTP and ANY are)",
                (*path, "protocol"),
            )
            return PortSpec((), None, None, l7)
        port = raw.get("port")
        number: int | str | None
        if port is None or str(port) in ("", "0"):
            number = None
        elif isinstance(port, int) and not isinstance(port, bool):
            number = port
        elif isinstance(port, str) and port.isdigit():
            number = int(port)
        elif isinstance(port, str):
            number = port.lower()
        else:
            raise _Invalid("port must be a number or a name", (*path, "port"))
        if isinstance(number, int) and not 1 <= number <= 65535:
            raise _Invalid(f"port {number} is out of range 1-65535", (*path, "port"))
        end = raw.get("endPort")
        if end is not None and end != 0:
            if not isinstance(number, int) or not isinstance(end, int) or end < number:
                raise _Invalid("endPort needs a numeric port not above it", (*path, "endPort"))
        else:
            end = None
        return PortSpec(_L4_PROTOCOLS[proto], number, end, l7)

    def icmp_rule(self, raw: Any, path: Path) -> list[PortSpec]:
        if not isinstance(raw, Mapping):
            raise _Invalid("an icmps entry must be a mapping", path)
        self.unknown_fields(raw, {"fields"}, path, "ICMP rule")
        out = []
        for i, item in enumerate(raw.get("fields") or []):
            ipath = (*path, "fields", i)
            if not isinstance(item, Mapping):
                raise _Invalid("an ICMP field must be a mapping", ipath)
            family = str(item.get("family") or "IPv4")
            value = item.get("type")
            if family != "IPv4":
                self.note(
                    Severity.INFO,
                    "ipv6-not-analysed",
                    "ICMPv6 is not part of the IPv4 analysis",
                    ipath,
                )
                continue
            if isinstance(value, str) and not value.isdigit():
                if value not in ICMP_TYPES:
                    raise _Invalid(f"unknown ICMP type {value!r}", (*ipath, "type"))
                number = ICMP_TYPES[value]
            elif value is None:
                raise _Invalid("an ICMP field needs a type", ipath)
            else:
                number = int(value)
            out.append(PortSpec(("ICMP",), number, None, None))
        return out

    def l7(self, raw: Mapping[str, Any], path: Path, direction: str) -> L7:
        items: set[tuple[str, str, int, str]] = set()
        rules = raw.get("rules")
        if rules:
            if not isinstance(rules, Mapping):
                raise _Invalid("rules must be a mapping", (*path, "rules"))
            for kind, value in rules.items():
                if kind == "l7proto":
                    items.add((direction, "l7proto", 0, json.dumps(value)))
                    continue
                entries = value if _is_list(value) else [value]
                if kind not in ("http", "dns", "kafka", "l7"):
                    self.note(
                        Severity.WARNING,
                        "unsupported-field",
                        f"L7 rule kind {kind!r} is unknown",
                        (*path, "rules", str(kind)),
                    )
                for position, entry in enumerate(entries):
                    items.add((direction, str(kind), position, json.dumps(entry)))
        for position, name in enumerate(raw.get("serverNames") or []):
            items.add((direction, "serverNames", position, json.dumps(str(name))))
        return frozenset(items) if items else None


def parse_cilium_policy(
    doc: SourceDoc, default_namespace: str = "default"
) -> tuple[Policy | None, list[Finding]]:
    """Parse one CNP/CCNP; an invalid one is ``None`` with an ``error`` finding."""
    kind = str(doc.obj.get("kind"))
    meta = doc.obj.get("metadata") or {}
    namespace: str | None = None
    if kind == KIND_CNP:
        namespace = str(meta.get("namespace") or default_namespace)
    parser = _Parser(doc, kind, namespace)
    if kind == KIND_CCNP and meta.get("namespace"):
        parser.note(
            Severity.INFO,
            "namespace-ignored",
            "a clusterwide policy has no namespace; metadata.namespace is ignored",
            ("metadata", "namespace"),
        )
    try:
        return parser.parse(), parser.findings
    except _Invalid as exc:
        parser.findings.append(
            Finding(
                Severity.ERROR,
                "invalid-policy",
                f"{exc.message}; the policy is left out of the analysis",
                doc.locate(exc.path),
                exc.hint,
                parser.subject,
            )
        )
        return None, parser.findings
