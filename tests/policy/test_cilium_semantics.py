"""CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy semantics, case by case.

Reference: the Cilium agent's policy resolution (pkg/policy: default deny per direction from
the rule entries, ``enableDefaultDeny``, deny precedence, L4-only wildcard peers, namespace
scoping of endpoint selectors, entities) and the Cilium documentation's policy examples.
"""

from __future__ import annotations

from policy_builders import BASE, WORLD, ccnp, cnp, labels, manifest, netpol
from policy_helpers import analysis_of, docs_of, tcp

from cluster_mgmt.core.policy.documents import parse_policies

DNS_RULE = {
    "toEndpoints": [
        {
            "matchLabels": {
                "k8s:io.kubernetes.pod.namespace": "kube-system",
                "k8s:k8s-app": "kube-dns",
            }
        }
    ],
    "toPorts": [
        {"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}
    ],
}


def sources(m, dst):
    return {s for s, d in m if d == dst}


def targets(m, src):
    return {d for s, d in m if s == src}


def test_from_endpoints_is_scoped_to_the_policy_namespace(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [{"fromEndpoints": [labels(app="b")]}],
                },
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b"}


def test_from_endpoints_with_namespace_label_reaches_other_namespaces(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [
                        {
                            "fromEndpoints": [
                                {
                                    "matchLabels": {
                                        "k8s:io.kubernetes.pod.namespace": "y",
                                        "app": "b",
                                    }
                                },
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "io.kubernetes.pod.namespace",
                                            "operator": "In",
                                            "values": ["z"],
                                        }
                                    ]
                                },
                            ]
                        }
                    ],
                },
            ),
        )
    )
    assert sources(m, "x/a") == {"y/b", "z/c"}


def test_empty_endpoint_selector_cnp_is_namespace_ccnp_is_cluster(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {"endpointSelector": labels(app="a"), "ingress": [{"fromEndpoints": [{}]}]},
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b"}
    m = matrix(
        manifest(
            *BASE,
            ccnp("p", {"endpointSelector": labels(app="a"), "ingress": [{"fromEndpoints": [{}]}]}),
        )
    )
    assert sources(m, "x/a") == {"x/b", "y/a", "y/b", "z/c"}
    assert sources(m, "y/a") == {"x/a", "x/b", "y/b", "z/c"}  # CCNP subjects: every namespace


def test_cnp_endpoint_selector_never_leaves_its_namespace(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "y"}},
                    "ingress": [{}],
                },
            ),
        )
    )
    assert sources(m, "y/a") == {"x/a", "x/b", "y/b", "z/c", WORLD}  # nothing selected


def test_namespace_labels_and_service_account_labels(matrix):
    def ns_label_peer(team):
        return {"fromEndpoints": [{"matchLabels": {"io.cilium.k8s.namespace.labels.team": team}}]}

    # A selector on namespace labels is not scoped to the CNP's namespace (Cilium's
    # getEndpointSelector in pkg/k8s/apis/cilium.io/utils skips the namespace match then).
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x", "p", {"endpointSelector": labels(app="a"), "ingress": [ns_label_peer("beta")]}
            ),
        )
    )
    assert sources(m, "x/a") == {"y/a", "y/b"}
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x", "p", {"endpointSelector": labels(app="a"), "ingress": [ns_label_peer("alpha")]}
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b"}
    m = matrix(
        manifest(
            *BASE,
            ccnp("p", {"endpointSelector": labels(app="a"), "ingress": [ns_label_peer("beta")]}),
        )
    )
    assert sources(m, "x/a") == {"y/a", "y/b"}
    from policy_builders import pod

    m = matrix(
        manifest(
            pod("x", "leia", {"app": "leia"}, service_account="leia"),
            pod("x", "luke", {"app": "luke"}, service_account="luke"),
            pod("x", "vader", {"app": "vader"}, service_account="vader"),
            cnp(
                "x",
                "sa",
                {
                    "endpointSelector": {
                        "matchLabels": {"io.cilium.k8s.policy.serviceaccount": "leia"}
                    },
                    "ingress": [
                        {
                            "fromEndpoints": [
                                {"matchLabels": {"io.cilium.k8s.policy.serviceaccount": "luke"}}
                            ]
                        }
                    ],
                },
            ),
        )
    )
    assert sources(m, "x/leia") == {"x/luke"}


def test_empty_rule_is_default_deny_allowing_nothing(matrix):
    m = matrix(
        manifest(*BASE, cnp("x", "p", {"endpointSelector": labels(app="a"), "ingress": [{}]}))
    )
    assert sources(m, "x/a") == set()
    assert targets(m, "x/a") >= {"x/b", WORLD}


def test_empty_section_list_does_not_isolate(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [],
                    "egress": [{"toEndpoints": [labels(app="b")]}],
                },
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b", "y/a", "y/b", "z/c", WORLD}
    assert targets(m, "x/a") == {"x/b"}


def test_l4_only_rule_applies_to_every_peer_including_world(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [{"toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}],
                },
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b", "y/a", "y/b", "z/c", WORLD}
    assert m[(WORLD, "x/a")] == tcp("80")


def test_any_protocol_means_tcp_udp_sctp(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [
                        {
                            "fromEndpoints": [labels(app="b")],
                            "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}]}],
                        }
                    ],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == [
        {"protocol": p, "ports": ["53"], "l7": None} for p in ("TCP", "UDP", "SCTP")
    ]


def test_port_ranges_and_named_ports(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": {},
                    "ingress": [
                        {
                            "fromEndpoints": [{}],
                            "toPorts": [
                                {
                                    "ports": [
                                        {"port": "8000", "endPort": 8100, "protocol": "TCP"},
                                        {"port": "http", "protocol": "TCP"},
                                    ]
                                }
                            ],
                        }
                    ],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == tcp("80", "8000-8100")
    assert m[("x/a", "x/b")] == tcp("8000-8100")  # x/b's http is 8080, inside the range


def test_entities_world_cluster_all(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "world",
                {"endpointSelector": labels(app="a"), "ingress": [{"fromEntities": ["world"]}]},
            ),
        )
    )
    assert sources(m, "x/a") == {WORLD}
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "cluster",
                {"endpointSelector": labels(app="a"), "ingress": [{"fromEntities": ["cluster"]}]},
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b", "y/a", "y/b", "z/c"}
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "all",
                {"endpointSelector": labels(app="a"), "egress": [{"toEntities": ["all"]}]},
            ),
        )
    )
    assert targets(m, "x/a") == {"x/b", "y/a", "y/b", "z/c", WORLD}


def test_cidr_and_cidr_set_with_except(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "egress": [
                        {"toCIDR": ["192.0.2.1/32", "198.51.100.7"]},
                        {
                            "toCIDRSet": [{"cidr": "10.0.0.0/8", "except": ["10.96.0.0/12"]}],
                            "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
                        },
                    ],
                },
            ),
        )
    )
    out = {d: v for (s, d), v in m.items() if s == "x/a" and d.startswith("ip:")}
    assert out == {
        "ip:192.0.2.1-192.0.2.1,198.51.100.7-198.51.100.7": "all",
        "ip:10.0.0.0-10.95.255.255,10.112.0.0-10.255.255.255": tcp("443"),
    }


def test_cidr_rules_do_not_select_pods(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {"endpointSelector": labels(app="a"), "egress": [{"toCIDR": ["0.0.0.0/0"]}]},
            ),
        )
    )
    assert targets(m, "x/a") == {WORLD}


def test_ingress_deny_wins_over_any_allow_including_kubernetes_policies(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol("x", "allow-all", {"podSelector": {}, "ingress": [{}]}),
            cnp(
                "x",
                "deny",
                {
                    "endpointSelector": labels(app="a"),
                    "ingressDeny": [{"fromEndpoints": [labels(app="b")]}],
                },
            ),
        )
    )
    assert ("x/b", "x/a") not in m
    assert m[("y/a", "x/a")] == "all"


def test_deny_with_ports_removes_only_those_ports(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "egressDeny": [
                        {
                            "toEntities": ["world"],
                            "toPorts": [{"ports": [{"port": "25", "protocol": "TCP"}]}],
                        }
                    ],
                },
            ),
        )
    )
    # deny-only policy: egress default deny too, so only... nothing else is allowed
    assert targets(m, "x/a") == set()
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "enableDefaultDeny": {"egress": False},
                    "egressDeny": [
                        {
                            "toEntities": ["world"],
                            "toPorts": [{"ports": [{"port": "25", "protocol": "TCP"}]}],
                        }
                    ],
                },
            ),
        )
    )
    assert m[("x/a", WORLD)] == [
        {"protocol": "TCP", "ports": ["1-24", "26-65535"], "l7": None},
        {"protocol": "UDP", "ports": ["1-65535"], "l7": None},
        {"protocol": "SCTP", "ports": ["1-65535"], "l7": None},
        {"protocol": "ICMP", "ports": ["0-255"], "l7": None},
    ]
    assert m[("x/a", "x/b")] == "all"


def test_deny_only_policy_puts_the_endpoint_in_default_deny(matrix):
    # The upstream "external-lockdown" shape without its allow-all companion.
    m = matrix(
        manifest(
            *BASE,
            ccnp(
                "lockdown", {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]}
            ),
        )
    )
    assert sources(m, "x/a") == set()
    # ...and with it, everything but the world comes in.
    m = matrix(
        manifest(
            *BASE,
            ccnp(
                "lockdown",
                {
                    "endpointSelector": {},
                    "ingressDeny": [{"fromEntities": ["world"]}],
                    "ingress": [{"fromEntities": ["all"]}],
                },
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b", "y/a", "y/b", "z/c"}


def test_enable_default_deny_false_makes_allows_additive(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "enableDefaultDeny": {"ingress": False},
                    "ingress": [
                        {
                            "fromEndpoints": [labels(app="b")],
                            "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}],
                        }
                    ],
                },
            ),
        )
    )
    assert m[("y/b", "x/a")] == "all"
    assert m[("x/b", "x/a")] == "all"
    # with another policy isolating the pod, the non-default-deny allow counts
    m = matrix(
        manifest(
            *BASE,
            netpol("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]}),
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "enableDefaultDeny": {"ingress": False},
                    "ingress": [
                        {
                            "fromEndpoints": [labels(app="b")],
                            "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}],
                        }
                    ],
                },
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b"} and m[("x/b", "x/a")] == tcp("80")


def test_l7_http_rules_are_reported_on_the_port(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [
                        {
                            "fromEndpoints": [labels(app="b")],
                            "toPorts": [
                                {
                                    "ports": [{"port": "80", "protocol": "TCP"}],
                                    "rules": {
                                        "http": [
                                            {"method": "GET", "path": "/api/.*"},
                                            {"method": "POST", "path": "/submit"},
                                        ]
                                    },
                                }
                            ],
                        }
                    ],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == tcp(
        "80",
        l7={"http": [{"method": "GET", "path": "/api/.*"}, {"method": "POST", "path": "/submit"}]},
    )


def test_rule_without_l7_on_the_same_port_lifts_the_restriction(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "ingress": [
                        {
                            "fromEndpoints": [labels(app="b")],
                            "toPorts": [
                                {
                                    "ports": [{"port": "80", "protocol": "TCP"}],
                                    "rules": {"http": [{"method": "GET"}]},
                                }
                            ],
                        },
                        {
                            "fromEndpoints": [{}],
                            "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}],
                        },
                    ],
                },
            ),
        )
    )
    assert m[("x/b", "x/a")] == tcp("80")


def test_fqdn_dns_rule_l7_and_fqdn_peer(run, write):
    root = write(
        "fqdn/all.yaml",
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "egress": [
                        DNS_RULE,
                        {
                            "toFQDNs": [{"matchName": "api.example.com"}],
                            "toPorts": [{"ports": [{"port": "443"}]}],
                        },
                    ],
                },
            ),
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "coredns-1",
                    "namespace": "kube-system",
                    "labels": {"k8s-app": "kube-dns"},
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": "coredns-5d78c9869d", "controller": True}
                    ],
                },
                "spec": {"containers": [{"name": "c"}]},
            },
        ),
    ).parent
    plain = run("policy", "matrix", "--dir", root, "-o", "json").json()
    from policy_helpers import conn_map

    m = conn_map(plain)
    assert targets(m, "x/a") == {"kube-system/coredns-5d78c9869d"}
    assert m[("x/a", "kube-system/coredns-5d78c9869d")] == [
        {"protocol": p, "ports": ["53"], "l7": {"dns": [{"matchPattern": "*"}]}}
        for p in ("TCP", "UDP", "SCTP")
    ]
    extra = conn_map(run("policy", "matrix", "--dir", root, "-o", "json", "--extra-peers").json())
    assert extra[("x/a", "fqdn=api.example.com")] == [
        {"protocol": p, "ports": ["443"], "l7": None} for p in ("TCP", "UDP", "SCTP")
    ]


def test_icmp_rules(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "egress": [
                        {
                            "icmps": [
                                {"fields": [{"type": 8, "family": "IPv4"}, {"type": "EchoReply"}]}
                            ]
                        }
                    ],
                },
            ),
        )
    )
    assert m[("x/a", WORLD)] == [{"protocol": "ICMP", "ports": ["0", "8"], "l7": None}]


def test_specs_list_sections_are_independent(matrix):
    m = matrix(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                specs=[
                    {
                        "endpointSelector": labels(app="a"),
                        "ingress": [{"fromEndpoints": [labels(app="b")]}],
                    },
                    {
                        "endpointSelector": labels(app="b"),
                        "egress": [{"toEndpoints": [labels(app="a")]}],
                    },
                ],
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b"}
    assert targets(m, "x/b") == {"x/a"}
    assert sources(m, "x/b") >= {"x/a", "y/a", WORLD}


def test_kubernetes_and_cilium_policies_union(matrix):
    m = matrix(
        manifest(
            *BASE,
            netpol(
                "x",
                "k8s",
                {
                    "podSelector": labels(app="a"),
                    "ingress": [{"from": [{"podSelector": labels(app="b")}]}],
                },
            ),
            cnp(
                "x",
                "cilium",
                {"endpointSelector": labels(app="a"), "ingress": [{"fromEntities": ["world"]}]},
            ),
        )
    )
    assert sources(m, "x/a") == {"x/b", WORLD}


def test_host_policies_and_unsupported_peers_are_reported_not_ignored():
    text = manifest(
        ccnp("host", {"nodeSelector": {}, "ingress": [{"fromEntities": ["cluster"]}]}),
        cnp(
            "x",
            "svc",
            {
                "endpointSelector": {},
                "egress": [
                    {"toServices": [{"k8sService": {"serviceName": "s", "namespace": "x"}}]},
                    {"toNodes": [{}]},
                    {"toGroups": [{"aws": {"securityGroupsIds": ["sg-1"]}}]},
                ],
                "bogusField": 1,
            },
        ),
    )
    found = parse_policies(docs_of(text)).findings
    messages = [f"{f.location.field}: {f.message}" for f in found if f.severity == "warning"]
    assert any("nodeSelector" in m for m in messages)
    assert any("egress[0].toServices" in m for m in messages)
    assert any("egress[1].toNodes" in m for m in messages)
    assert any("egress[2].toGroups" in m for m in messages)
    assert any("bogusField" in m for m in messages)
    # The toServices rule allows nothing in the analysis (reported, not guessed).
    analysis = analysis_of(
        manifest(
            *BASE,
            cnp(
                "x",
                "svc",
                {
                    "endpointSelector": {},
                    "egress": [
                        {"toServices": [{"k8sService": {"serviceName": "s", "namespace": "x"}}]}
                    ],
                },
            ),
        )
    )
    assert not any(
        c.src.namespace == "x" for c in analysis.connections() if hasattr(c.src, "namespace")
    )


def test_reserved_label_selectors_select_entities_not_pods():
    analysis = analysis_of(
        manifest(
            *BASE,
            cnp(
                "x",
                "p",
                {
                    "endpointSelector": labels(app="a"),
                    "egress": [{"toEndpoints": [{"matchLabels": {"reserved:host": ""}}]}],
                },
            ),
        )
    )
    host = analysis.entity_atom("host")
    assert analysis.workload_to_atom(analysis.workloads[0], host) == (
        ("TCP", ((1, 65535, None),)),
        ("UDP", ((1, 65535, None),)),
        ("SCTP", ((1, 65535, None),)),
        ("ICMP", ((0, 255, None),)),
    )
    assert not [c for c in analysis.connections() if str(c.src) == "x/a[Pod]"]
