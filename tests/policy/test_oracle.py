"""Cross-check the bitset engine against a naive per-pod, per-port evaluator (hypothesis).

The oracle walks every rule for every pod pair and sampled port, straight from the parsed
model: no classes, rows, bitsets or caches. Agreement on random policy sets shows that the
engine's optimizations (shape classes, shared rows, rectangles, IP atoms) change nothing.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given
from policy_builders import BASE
from policy_strategies import SETTINGS, policies

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import Analysis
from cluster_mgmt.core.policy.cilium_parse import (
    CLUSTER_LABEL,
    NAMESPACE_LABEL,
    NAMESPACE_LABELS_PREFIX,
    SERVICE_ACCOUNT_LABEL,
)
from cluster_mgmt.core.policy.documents import split_documents
from cluster_mgmt.core.policy.model import (
    CidrPeer,
    CiliumEndpointPeer,
    EntityPeer,
    K8sPodPeer,
)
from cluster_mgmt.core.policy.source import SourceDoc

PORTS = [
    ("TCP", 53),
    ("UDP", 53),
    ("TCP", 80),
    ("TCP", 81),
    ("UDP", 80),
    ("TCP", 443),
    ("TCP", 8080),
    ("SCTP", 8085),
    ("TCP", 9000),
    ("ICMP", 8),
]
ADDRESSES = ["10.1.2.3", "10.5.0.1", "192.168.1.10", "8.8.8.8"]


class Oracle:
    def __init__(self, inventory, policy_list):
        self.inv = inventory
        self.policies = policy_list
        self.pods = [
            (ref, shape) for ref, shapes in inventory.workloads.items() for shape in shapes
        ]

    def cilium_labels(self, shape):
        labels = dict(shape.labels)
        labels[NAMESPACE_LABEL] = shape.namespace
        for k, v in self.inv.namespaces[shape.namespace].labels:
            labels[NAMESPACE_LABELS_PREFIX + k] = v
        labels[SERVICE_ACCOUNT_LABEL] = shape.service_account
        labels[CLUSTER_LABEL] = "default"
        return labels

    def selects(self, subject, shape):
        if subject.selector is None:
            return False
        if subject.namespace is not None and subject.namespace != shape.namespace:
            return False
        labels = self.cilium_labels(shape) if subject.cilium else dict(shape.labels)
        return subject.selector.matches(labels)

    def peer_matches(self, peer, target):
        """``target`` is a PodShape or an IPv4 address (int)."""
        if isinstance(target, int):
            if isinstance(peer, CidrPeer):
                return peer.low <= target <= peer.high and not any(
                    lo <= target <= hi for lo, hi in peer.excepts
                )
            if isinstance(peer, EntityPeer):
                return peer.entity in ("world", "world-ipv4", "all")
            if isinstance(peer, CiliumEndpointPeer):
                return peer.selector.matches({"reserved:world": "", "reserved:world-ipv4": ""})
            return False
        if isinstance(peer, K8sPodPeer):
            ns_labels = dict(self.inv.namespaces[target.namespace].labels)
            ns_ok = (
                target.namespace == peer.policy_namespace
                if peer.namespace_selector is None
                else peer.namespace_selector.matches(ns_labels)
            )
            pod_ok = peer.pod_selector is None or peer.pod_selector.matches(dict(target.labels))
            return ns_ok and pod_ok
        if isinstance(peer, CiliumEndpointPeer):
            return peer.selector.matches(self.cilium_labels(target))
        if isinstance(peer, EntityPeer):
            return peer.entity in ("cluster", "all")
        return False

    @staticmethod
    def port_matches(rule, proto, port, dst):
        if rule.ports is None:
            return True
        for spec in rule.ports:
            if proto not in spec.protocols:
                continue
            if spec.port is None:
                return True
            if isinstance(spec.port, int):
                if spec.port <= port <= (spec.end_port or spec.port):
                    return True
            elif not isinstance(dst, int):
                if any(
                    p.name == spec.port and p.protocol == proto and p.port == port
                    for p in dst.named_ports
                ):
                    return True
        return False

    def side(self, direction, subject, peer, proto, port):
        dst = peer if direction == "egress" else subject
        isolated = False
        allowed = denied = False
        for policy in self.policies:
            for section in policy.sections:
                if not self.selects(section.subject, subject):
                    continue
                if section.isolates_ingress if direction == "ingress" else section.isolates_egress:
                    isolated = True
                for rule in section.rules:
                    if rule.direction != direction:
                        continue
                    peers_ok = rule.peers is None or any(
                        self.peer_matches(p, peer) for p in rule.peers
                    )
                    if peers_ok and self.port_matches(rule, proto, port, dst):
                        if rule.action == "deny":
                            denied = True
                        else:
                            allowed = True
        return not denied and (allowed or not isolated)


@SETTINGS
@given(existing=policies)
def test_engine_agrees_with_the_naive_oracle(existing):
    inventory, parsed = split_documents([SourceDoc("t.yaml", o) for o in BASE + list(existing)])
    engine = Analysis(inventory, parsed.policies)
    oracle = Oracle(inventory, parsed.policies)
    for src_ref, src in oracle.pods:
        for dst_ref, dst in oracle.pods:
            if src_ref == dst_ref:
                continue
            conn = engine.workload_conn(src_ref, dst_ref)
            for proto, port in PORTS:
                expected = oracle.side("egress", src, dst, proto, port) and oracle.side(
                    "ingress", dst, src, proto, port
                )
                assert C.allows(conn, proto, port) == expected, (src_ref, dst_ref, proto, port)
        for address in ADDRESSES:
            ip = int(ipaddress.IPv4Address(address))
            atom = engine.ip_atom(address)
            out = engine.workload_to_atom(src_ref, atom)
            back = engine.atom_to_workload(atom, src_ref)
            for proto, port in PORTS:
                assert C.allows(out, proto, port) == oracle.side("egress", src, ip, proto, port), (
                    src_ref,
                    address,
                    proto,
                    port,
                )
                assert C.allows(back, proto, port) == oracle.side(
                    "ingress", src, ip, proto, port
                ), (address, src_ref, proto, port)
