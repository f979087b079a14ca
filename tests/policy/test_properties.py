"""Property tests: allows only add connections; denies and default-deny only remove them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from policy_builders import BASE, ccnp, cnp, netpol
from policy_strategies import (
    NAMESPACES,
    SETTINGS,
    cilium_rule,
    k8s_rule,
    policies,
    selector,
)

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis, policy_cidrs
from cluster_mgmt.core.policy.documents import split_documents
from cluster_mgmt.core.policy.source import SourceDoc


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
            st.sampled_from([None, frozenset({("i", "http", 0, "2")})]),
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
