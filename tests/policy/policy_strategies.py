"""Hypothesis strategies for random policy sets over the BASE inventory."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from policy_builders import ccnp, cnp, netpol

NAMESPACES = ["x", "y", "z"]
APPS = ["a", "b", "c"]
CIDRS = ["10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "192.168.1.0/24"]
EXCEPTS = {"10.0.0.0/8": ["10.1.0.0/16"], "0.0.0.0/0": ["10.0.0.0/8"]}

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

app_labels = st.sampled_from([{}, {"app": "a"}, {"app": "b"}, {"app": "c"}])
match_expr = st.sampled_from(
    [
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]},
        {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]},
        {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
    ]
)
selector = st.one_of(app_labels.map(lambda m: {"matchLabels": m} if m else {}), match_expr)
ns_selector = st.sampled_from(
    [
        {},
        {"matchLabels": {"team": "alpha"}},
        {"matchLabels": {"kubernetes.io/metadata.name": "z"}},
    ]
)


@st.composite
def k8s_port(draw: Any) -> dict[str, Any]:
    proto = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
    port = draw(st.sampled_from([None, 53, 80, 81, 8080, "http", "dns"]))
    out: dict[str, Any] = {"protocol": proto}
    if port is not None:
        out["port"] = port
        if isinstance(port, int) and draw(st.booleans()):
            out["endPort"] = port + draw(st.integers(0, 100))
    return out


@st.composite
def k8s_peer(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip"]))
    if kind == "ip":
        cidr = draw(st.sampled_from(CIDRS))
        block: dict[str, Any] = {"cidr": cidr}
        if cidr in EXCEPTS and draw(st.booleans()):
            block["except"] = EXCEPTS[cidr]
        return {"ipBlock": block}
    peer: dict[str, Any] = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selector)
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = draw(ns_selector)
    return peer


@st.composite
def k8s_rule(draw: Any, direction: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule["from" if direction == "ingress" else "to"] = draw(
            st.lists(k8s_peer(), min_size=1, max_size=2)
        )
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(k8s_port(), min_size=1, max_size=2))
    return rule


@st.composite
def cilium_ports(draw: Any) -> list[dict[str, Any]]:
    ports = []
    for _ in range(draw(st.integers(1, 2))):
        port = draw(st.sampled_from(["0", "53", "80", "8080", "http"]))
        entry: dict[str, Any] = {
            "port": port,
            "protocol": draw(st.sampled_from(["TCP", "UDP", "ANY"])),
        }
        if port.isdigit() and port != "0" and draw(st.booleans()):
            entry["endPort"] = int(port) + 10
        ports.append(entry)
    return ports


@st.composite
def cilium_rule(draw: Any, direction: str, deny: bool = False) -> dict[str, Any]:
    pre = "from" if direction == "ingress" else "to"
    rule: dict[str, Any] = {}
    kind = draw(st.sampled_from(["endpoints", "entities", "cidr", "none"]))
    if kind == "endpoints":
        sel = draw(selector)
        if draw(st.booleans()):
            sel = {
                **sel,
                "matchLabels": {
                    **sel.get("matchLabels", {}),
                    "k8s:io.kubernetes.pod.namespace": draw(st.sampled_from(NAMESPACES)),
                },
            }
        rule[f"{pre}Endpoints"] = [sel]
    elif kind == "entities":
        rule[f"{pre}Entities"] = draw(
            st.lists(
                st.sampled_from(["world", "cluster", "all", "host"]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
    elif kind == "cidr":
        cidr = draw(st.sampled_from(CIDRS))
        rule[f"{pre}CIDRSet"] = [
            {"cidr": cidr, **({"except": EXCEPTS[cidr]} if cidr in EXCEPTS else {})}
        ]
    if kind == "none" or draw(st.booleans()):
        port_rule: dict[str, Any] = {"ports": draw(cilium_ports())}
        if not deny and direction == "ingress" and draw(st.booleans()):
            port_rule["rules"] = {"http": [{"method": draw(st.sampled_from(["GET", "POST"]))}]}
        rule["toPorts"] = [port_rule]
    return rule


@st.composite
def policy(draw: Any, index: int) -> dict[str, Any]:
    ns = draw(st.sampled_from(NAMESPACES))
    name = f"p{index}"
    if draw(st.booleans()):
        spec: dict[str, Any] = {"podSelector": draw(selector)}
        types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
        if types is not None:
            spec["policyTypes"] = types
        for direction in ("ingress", "egress"):
            if draw(st.booleans()):
                spec[direction] = draw(st.lists(k8s_rule(direction), max_size=2))
        return netpol(ns, name, spec)
    cspec: dict[str, Any] = {"endpointSelector": draw(selector)}
    for direction in ("ingress", "egress"):
        if draw(st.booleans()):
            cspec[direction] = draw(st.lists(cilium_rule(direction), min_size=1, max_size=2))
        if draw(st.integers(0, 3)) == 0:
            cspec[f"{direction}Deny"] = [draw(cilium_rule(direction, deny=True))]
    if not any(k in cspec for k in ("ingress", "egress", "ingressDeny", "egressDeny")):
        cspec["ingress"] = [{}]
    if draw(st.integers(0, 3)) == 0:
        cspec["enableDefaultDeny"] = {"ingress": draw(st.booleans()), "egress": draw(st.booleans())}
    if draw(st.integers(0, 4)) == 0:
        return ccnp(name, cspec)
    return cnp(ns, name, cspec)


policies = st.integers(0, 4).flatmap(lambda n: st.tuples(*[policy(i) for i in range(n)]))
