"""Kubernetes NetworkPolicy semantics, case by case, through ``policy matrix -o json``.

The cases follow the Kubernetes documentation's examples and the upstream e2e "network
policy" scenarios (test/e2e/network/netpol): default deny, pod/namespace selectors and their
AND/OR forms, matchExpressions, ports/endPort/protocols, named ports, ipBlock with except,
stacked policies and the policyTypes defaults.
"""

from __future__ import annotations

import itertools

from policy_builders import BASE, PODS, WORLD, labels, manifest, netpol, pod
from policy_helpers import tcp

ALL_PAIRS = {(s, d) for s, d in itertools.permutations(PODS, 2)}


def pairs(m: dict[tuple[str, str], object]) -> set[tuple[str, str]]:
    """Workload-to-workload keys only."""
    return {k for k in m if not k[0].startswith("ip:") and not k[1].startswith("ip:")}


def test_no_policy_everything_is_allowed(matrix):
    m = matrix(manifest(*BASE))
    assert pairs(m) == ALL_PAIRS
    assert all(v == "all" for v in m.values())
    for p in PODS:
        assert m[(p, WORLD)] == "all"
        assert m[(WORLD, p)] == "all"


def test_default_deny_ingress_isolates_only_its_namespace(matrix):
    m = matrix(
        manifest(*BASE, netpol("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]}))
    )
    assert not any(d in ("x/a", "x/b") for _, d in m)
    assert pairs(m) == {(s, d) for s, d in ALL_PAIRS if not d.startswith("x/")}
    assert m[("x/a", WORLD)] == "all"  # egress untouched


def test_policy_types_default_ingress_only_and_egress_when_egress_rules(matrix):
    # No policyTypes and no egress rules: Ingress only.
    m = matrix(manifest(*BASE, netpol("x", "p", {"podSelector": labels(app="a")})))
    assert ("x/b", "x/a") not in m and ("x/a", "x/b") in m
    # An `egress: []` does not make it an egress policy (API server defaulting needs rules).
    m = matrix(manifest(*BASE, netpol("x", "p", {"podSelector": labels(app="a"), "egress": []})))
    assert ("x/a", "x/b") in m and m[("x/a", WORLD)] == "all"
    # Egress rules present: Ingress and Egress.
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "egress": [{"to": [{"podSelector": labels(app="b")}]}],
                },
            ),
        )
    )
    assert ("y/a", "x/a") not in m  # ingress isolated too
    assert m[("x/a", "x/b")] == "all" and ("x/a", "y/b") not in m and ("x/a", WORLD) not in m


def test_default_deny_all(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        )
    )
    assert not any("x/" in s or "x/" in d for s, d in m)


def test_allow_all_ingress_rule(matrix):
    m = matrix(manifest(*BASE, netpol("x", "all", {"podSelector": {}, "ingress": [{}]})))
    assert pairs(m) == ALL_PAIRS and all(v == "all" for v in m.values())


def test_pod_selector_peer_is_same_namespace(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [{"from": [{"podSelector": labels(app="b")}]}],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == "all"
    assert ("y/b", "x/a") not in m  # same labels, other namespace
    assert (WORLD, "x/a") not in m


def test_namespace_selector_peer_selects_all_pods_of_matching_namespaces(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [{"from": [{"namespaceSelector": labels(team="beta")}]}],
                },
            ),
        )
    )
    assert {s for s, d in m if d == "x/a"} == {"y/a", "y/b"}


def test_empty_namespace_selector_selects_pods_of_all_namespaces_not_addresses(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [{"from": [{"namespaceSelector": {}}]}],
                },
            ),
        )
    )
    assert {s for s, d in m if d == "x/a"} == {"x/b", "y/a", "y/b", "z/c"}


def test_namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_is_or(matrix):
    both = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": labels(team="beta"),
                                    "podSelector": labels(app="b"),
                                }
                            ]
                        }
                    ],
                },
            ),
        )
    )
    assert {s for s, d in both if d == "x/a"} == {"y/b"}
    either = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [
                        {
                            "from": [
                                {"namespaceSelector": labels(team="beta")},
                                {"podSelector": labels(app="b")},
                            ]
                        }
                    ],
                },
            ),
        )
    )
    assert {s for s, d in either if d == "x/a"} == {"y/a", "y/b", "x/b"}


def test_metadata_name_label_of_undeclared_namespace(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": labels(
                                        **{"kubernetes.io/metadata.name": "z"}
                                    )
                                }
                            ]
                        }
                    ],
                },
            ),
        )
    )
    assert {s for s, d in m if d == "x/a"} == {"z/c"}


def test_match_expressions(matrix):
    def sources(
        expr: list[dict[str, object]], ns_expr: list[dict[str, object]] | None = None
    ) -> set[str]:
        peer: dict[str, object] = {"podSelector": {"matchExpressions": expr}}
        if ns_expr is not None:
            peer["namespaceSelector"] = {"matchExpressions": ns_expr}
        m = matrix(
            manifest(
                *BASE,
                netpol("x", "p", {"podSelector": labels(app="a"), "ingress": [{"from": [peer]}]}),
            )
        )
        return {s for s, d in m if d == "x/a"}

    assert sources([{"key": "app", "operator": "In", "values": ["b", "c"]}]) == {"x/b"}
    assert sources([{"key": "app", "operator": "NotIn", "values": ["b"]}]) == set()  # only x/a left
    assert sources([{"key": "app", "operator": "Exists"}]) == {"x/b"}
    assert sources([{"key": "app", "operator": "DoesNotExist"}]) == set()
    assert sources(
        [{"key": "app", "operator": "Exists"}],
        [{"key": "team", "operator": "NotIn", "values": ["alpha"]}],
    ) == {"y/a", "y/b", "z/c"}  # z has no team label: NotIn matches
    assert (
        sources(
            [{"key": "app", "operator": "In", "values": ["b"]}],
            [{"key": "team", "operator": "DoesNotExist"}],
        )
        == set()
    )
    assert sources(
        [{"key": "app", "operator": "In", "values": ["c"]}],
        [{"key": "team", "operator": "DoesNotExist"}],
    ) == {"z/c"}


def test_ports_protocols_and_end_port(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [
                        {
                            "ports": [
                                {"port": 80},
                                {"protocol": "UDP", "port": 53},
                                {"protocol": "SCTP", "port": 9000, "endPort": 9010},
                                {"protocol": "TCP", "port": 8000, "endPort": 8080},
                            ]
                        }
                    ],
                },
            ),
        )
    )
    expected = [
        {"protocol": "TCP", "ports": ["80", "8000-8080"], "l7": None},
        {"protocol": "UDP", "ports": ["53"], "l7": None},
        {"protocol": "SCTP", "ports": ["9000-9010"], "l7": None},
    ]
    assert m[("x/b", "x/a")] == expected
    assert m[(WORLD, "x/a")] == expected  # no `from`: every source, addresses included


def test_port_without_number_means_all_ports_of_that_protocol(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {"podSelector": labels(app="a"), "ingress": [{"ports": [{"protocol": "UDP"}]}]},
            ),
        )
    )
    assert m[("x/b", "x/a")] == [{"protocol": "UDP", "ports": ["1-65535"], "l7": None}]


def test_tcp_only_policy_does_not_allow_udp_and_udp_only_does_not_allow_tcp(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [{"ports": [{"protocol": "UDP", "port": 80}]}],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == [{"protocol": "UDP", "ports": ["80"], "l7": None}]


def test_named_port_is_resolved_on_each_destination_pod(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x", "all-http", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}
            ),
        )
    )
    assert m[("y/b", "x/a")] == tcp("80")
    assert m[("y/b", "x/b")] == tcp("8080")
    # Protocol must match: `dns` is UDP on x/b, so a TCP `dns` port matches nothing.
    m = matrix(
        manifest(
            *BASE,
            netpol("x", "dns", {"podSelector": {}, "ingress": [{"ports": [{"port": "dns"}]}]}),
        )
    )
    assert ("y/b", "x/b") not in m and ("y/b", "x/a") not in m
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "dns",
                {"podSelector": {}, "ingress": [{"ports": [{"port": "dns", "protocol": "UDP"}]}]},
            ),
        )
    )
    assert m[("y/b", "x/b")] == [{"protocol": "UDP", "ports": ["53"], "l7": None}]


def test_egress_named_port_resolves_on_destination(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "egress",
                {
                    "podSelector": labels(app="b"),
                    "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"port": "http"}]}],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == tcp("80")
    assert m[("x/b", "y/a")] == tcp("81")
    assert ("x/b", "y/b") not in m  # y/b has no port named http
    assert ("x/b", WORLD) not in m  # a name cannot be resolved on an address


def test_ip_block_with_except_and_merged_ranges(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "ipBlock": {
                                        "cidr": "10.0.0.0/8",
                                        "except": ["10.1.0.0/16", "10.2.0.0/16"],
                                    }
                                }
                            ]
                        }
                    ],
                },
            ),
        )
    )
    out = {d: v for (s, d), v in m.items() if s == "x/a" and d.startswith("ip:")}
    assert out == {"ip:10.0.0.0-10.0.255.255,10.3.0.0-10.255.255.255": "all"}
    # Other workloads are not selected: the whole space, merged back into one range.
    assert m[("x/b", WORLD)] == "all"


def test_ip_overlapping_cidr_and_except_of_another_peer_is_allowed(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                                {"ipBlock": {"cidr": "10.1.2.0/24"}},
                            ]
                        }
                    ],
                },
            ),
        )
    )
    out = {d for (s, d) in m if s == "x/a" and d.startswith("ip:")}
    assert out == {"ip:10.0.0.0-10.0.255.255,10.1.2.0-10.1.2.255,10.2.0.0-10.255.255.255"}


def test_external_ranges_grouped_by_connection(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 443}]},
                        {"to": [{"ipBlock": {"cidr": "192.168.0.0/16"}}], "ports": [{"port": 443}]},
                        {"to": [{"ipBlock": {"cidr": "172.16.0.0/12"}}]},
                    ],
                },
            ),
        )
    )
    out = {d: v for (s, d), v in m.items() if s == "x/a" and d.startswith("ip:")}
    assert out == {
        "ip:10.0.0.0-10.255.255.255,192.168.0.0-192.168.255.255": tcp("443"),
        "ip:172.16.0.0-172.31.255.255": "all",
    }


def test_stacked_policies_are_additive(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p1",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [
                        {"from": [{"podSelector": labels(app="b")}], "ports": [{"port": 80}]}
                    ],
                },
            ),
            netpol(
                "x",
                "p2",
                {
                    "podSelector": {},
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": labels(team="beta")}],
                            "ports": [{"port": 81}],
                        }
                    ],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == tcp("80")
    assert m[("y/a", "x/a")] == tcp("81")
    assert m[("y/a", "x/b")] == tcp("81")
    assert ("x/a", "x/b") not in m


def test_allow_all_policy_takes_precedence_over_narrower_ones(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol("x", "narrow", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
            netpol("x", "all", {"podSelector": {}, "ingress": [{}]}),
        )
    )
    assert m[("y/a", "x/a")] == "all"


def test_egress_deny_on_client_wins_over_server_allow(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol("y", "client-deny", {"podSelector": labels(app="b"), "policyTypes": ["Egress"]}),
            netpol("x", "server-allow", {"podSelector": labels(app="a"), "ingress": [{}]}),
        )
    )
    assert ("y/b", "x/a") not in m
    assert m[("y/a", "x/a")] == "all"


def test_both_sides_must_allow_and_ports_intersect(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "client",
                {
                    "podSelector": labels(app="b"),
                    "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"port": 80}, {"port": 443}]}],
                },
            ),
            netpol(
                "x",
                "server",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [{"ports": [{"port": 80, "endPort": 90}]}],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == tcp("80")


def test_policy_types_egress_only_ignores_ingress_rules(matrix, run, tmp_path):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {
                    "podSelector": labels(app="a"),
                    "policyTypes": ["Egress"],
                    "ingress": [{"from": [{"podSelector": labels(app="b")}]}],
                    "egress": [{}],
                },
            ),
        )
    )
    assert m[("y/b", "x/a")] == "all"  # not ingress-isolated


def test_self_connections_are_omitted_but_replicas_of_other_workloads_count(matrix):
    m = matrix(
        manifest(
            pod("x", "web-1", {"app": "web"}, owner=("ReplicaSet", "web-abc")),
            pod("x", "web-2", {"app": "web"}, owner=("ReplicaSet", "web-abc")),
            pod("x", "db", {"app": "db"}),
        )
    )
    assert pairs(m) == {("x/web-abc", "x/db"), ("x/db", "x/web-abc")}


def test_policy_in_namespace_without_pods_selects_nothing(matrix):
    m = matrix(manifest(*BASE, netpol("empty", "deny", {"podSelector": {}})))
    assert pairs(m) == ALL_PAIRS


def test_kubernetes_documentation_example_exact_json(run, write):
    # The NetworkPolicy of kubernetes.io/docs/concepts/services-networking/network-policies/
    example = netpol(
        "default",
        "test-network-policy",
        {
            "podSelector": {"matchLabels": {"role": "db"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                        {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                        {"podSelector": {"matchLabels": {"role": "frontend"}}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 6379}],
                }
            ],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                    "ports": [{"protocol": "TCP", "port": 5978}],
                }
            ],
        },
    )
    from policy_builders import namespace

    root = write(
        "doc/all.yaml",
        manifest(
            namespace("myproject", project="myproject"),
            pod("default", "db", {"role": "db"}),
            pod("default", "frontend", {"role": "frontend"}),
            pod("myproject", "client", {"role": "client"}),
            example,
        ),
    ).parent
    result = run("policy", "matrix", "--dir", root, "-o", "json")
    db = {"namespace": "default", "name": "db", "kind": "Pod"}
    fe = {"namespace": "default", "name": "frontend", "kind": "Pod"}
    cl = {"namespace": "myproject", "name": "client", "kind": "Pod"}
    world = {"ip_ranges": ["0.0.0.0-255.255.255.255"]}
    redis = [{"protocol": "TCP", "ports": ["6379"], "l7": None}]
    assert result.json() == [
        {
            "src": db,
            "dst": {"ip_ranges": ["10.0.0.0-10.0.0.255"]},
            "conn": [{"protocol": "TCP", "ports": ["5978"], "l7": None}],
        },
        {"src": fe, "dst": db, "conn": redis},
        {"src": fe, "dst": cl, "conn": "all"},
        {"src": fe, "dst": world, "conn": "all"},
        {"src": cl, "dst": db, "conn": redis},
        {"src": cl, "dst": fe, "conn": "all"},
        {"src": cl, "dst": world, "conn": "all"},
        {"src": world, "dst": fe, "conn": "all"},
        {"src": world, "dst": cl, "conn": "all"},
        {
            "src": {"ip_ranges": ["172.17.0.0-172.17.0.255", "172.17.2.0-172.17.255.255"]},
            "dst": db,
            "conn": redis,
        },
    ]
    assert result.out.startswith("[\n{") and result.out.endswith("}\n]\n")
