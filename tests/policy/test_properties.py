"""Property tests: allows only add connections; denies and default-deny only remove them."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_builders import BASE, ccnp, cnp, netpol

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis, policy_cidrs
from cluster_mgmt.core.policy.documents import split_documents
from cluster_mgmt.core.policy.source import SourceDoc

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


def _compare(
    before_objs: list[dict[str, Any]], after_objs: list[dict[str, Any]]
) -> tuple[dict, dict]:
    """Atomic connections before and after, on one shared address partition."""
    inventory, before = split_documents([SourceDoc("t.yaml", o) for o in BASE + before_objs])
    _, after = split_documents([SourceDoc("t.yaml", o) for o in BASE + after_objs])
    assert not [f for f in before.findings + after.findings if f.severity == "error"]
    cidrs = policy_cidrs(before.policies) + policy_cidrs(after.policies)
    return (
        Analysis(inventory, before.policies, extra_cidrs=cidrs).atomic(),
        Analysis(inventory, after.policies, extra_cidrs=cidrs).atomic(),
    )


def _atomic(objects: list[dict[str, Any]], extra: list[dict[str, Any]]) -> tuple[dict, dict]:
    return _compare(objects, objects + extra)


def _assert_grows(before: dict, after: dict) -> None:
    for key, conn in before.items():
        assert C.is_subset(conn, after.get(key, C.EMPTY)), (key, conn, after.get(key))


@SETTINGS
@given(existing=policies, direction=st.sampled_from(["ingress", "egress"]), data=st.data())
def test_adding_an_allow_rule_to_an_isolating_section_never_removes_a_connection(
    existing, direction, data
):
    # A Cilium section that already isolates `direction` gets one more allow rule.
    base_rules = data.draw(st.lists(cilium_rule(direction), min_size=1, max_size=2))
    sel = data.draw(selector)
    ns = data.draw(st.sampled_from(NAMESPACES))
    extra_rule = data.draw(cilium_rule(direction))
    with_base = [*existing, cnp(ns, "target", {"endpointSelector": sel, direction: base_rules})]
    grown = [
        *existing,
        cnp(ns, "target", {"endpointSelector": sel, direction: [*base_rules, extra_rule]}),
    ]
    before, after = _compare(with_base, grown)
    _assert_grows(before, after)


@SETTINGS
@given(existing=policies, direction=st.sampled_from(["ingress", "egress"]), data=st.data())
def test_adding_a_kubernetes_allow_rule_never_removes_a_connection(existing, direction, data):
    sel = data.draw(selector)
    ns = data.draw(st.sampled_from(NAMESPACES))
    types = ["Ingress", "Egress"]
    rules = data.draw(st.lists(k8s_rule(direction), max_size=2))
    extra = data.draw(k8s_rule(direction))
    before, after = _compare(
        [*existing, netpol(ns, "t", {"podSelector": sel, "policyTypes": types, direction: rules})],
        [
            *existing,
            netpol(ns, "t", {"podSelector": sel, "policyTypes": types, direction: [*rules, extra]}),
        ],
    )
    _assert_grows(before, after)


@SETTINGS
@given(existing=policies, data=st.data())
def test_adding_a_non_isolating_allow_policy_never_removes_a_connection(existing, data):
    spec = {
        "endpointSelector": data.draw(selector),
        "enableDefaultDeny": {"ingress": False, "egress": False},
        "ingress": data.draw(st.lists(cilium_rule("ingress"), min_size=1, max_size=2)),
        "egress": data.draw(st.lists(cilium_rule("egress"), min_size=1, max_size=2)),
    }
    before, after = _atomic(
        list(existing), [cnp(data.draw(st.sampled_from(NAMESPACES)), "extra", spec)]
    )
    _assert_grows(before, after)


@SETTINGS
@given(existing=policies, data=st.data())
def test_adding_a_deny_never_adds_a_connection(existing, data):
    spec: dict[str, Any] = {"endpointSelector": data.draw(selector)}
    direction = data.draw(st.sampled_from(["ingress", "egress"]))
    spec[f"{direction}Deny"] = data.draw(
        st.lists(cilium_rule(direction, deny=True), min_size=1, max_size=2)
    )
    if data.draw(st.booleans()):
        spec["enableDefaultDeny"] = {direction: data.draw(st.booleans())}
    make = ccnp if data.draw(st.booleans()) else (lambda n, s: cnp("x", n, s))
    before, after = _atomic(list(existing), [make("deny", spec)])
    _assert_grows(after, before)


@SETTINGS
@given(existing=policies, data=st.data())
def test_adding_a_default_deny_never_adds_a_connection(existing, data):
    ns = data.draw(st.sampled_from(NAMESPACES))
    sel = data.draw(selector)
    if data.draw(st.booleans()):
        types = data.draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
        extra = netpol(ns, "default-deny", {"podSelector": sel, "policyTypes": types})
    else:
        direction = data.draw(st.sampled_from(["ingress", "egress"]))
        extra = cnp(ns, "default-deny", {"endpointSelector": sel, direction: [{}]})
    before, after = _atomic(list(existing), [extra])
    _assert_grows(after, before)


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(
        st.tuples(
            st.sampled_from(C.PROTOCOLS),
            st.integers(1, 300),
            st.integers(0, 50),
            st.sampled_from([None, frozenset({("e", "http", "1")})]),
        ),
        max_size=4,
    ),
    b=st.lists(
        st.tuples(
            st.sampled_from(C.PROTOCOLS),
            st.integers(1, 300),
            st.integers(0, 50),
            st.sampled_from([None, frozenset({("i", "http", "2")})]),
        ),
        max_size=4,
    ),
)
def test_connection_algebra_laws(a, b):
    def build(items):
        out = C.EMPTY
        for proto, lo, width, l7 in items:
            hi = min(lo + width, C.BOUNDS[proto][1])
            out = C.union(out, C.span(proto, max(lo, C.BOUNDS[proto][0]), hi, l7))
        return out

    x, y = build(a), build(b)
    u = C.union(x, y)
    assert C.union(y, x) == u
    assert C.is_subset(x, u) and C.is_subset(y, u)
    assert C.is_subset(C.intersect(C.strip_l7(x), C.strip_l7(y)), C.strip_l7(x))
    assert C.intersect(C.subtract(x, y), y) == C.EMPTY
    assert C.strip_l7(C.union(C.subtract(x, y), C.intersect(x, C.strip_l7(y)))) == C.strip_l7(x)
    assert C.from_json(C.to_json(C.strip_l7(u))) == C.strip_l7(u)
