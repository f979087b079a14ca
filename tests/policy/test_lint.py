"""``policy lint``: each check, with file:line, hints and the exit code."""

from __future__ import annotations

from policy_builders import BASE, cnp, labels, manifest, netpol, pod
from policy_helpers import docs_of

from cluster_mgmt.core.policy.documents import parse_policies, split_documents
from cluster_mgmt.core.policy.lint import lint

DNS = {
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


def codes(findings):
    return sorted((f.code, f.subject) for f in findings if f.severity != "info")


def lint_text(text, with_inventory=True):
    docs = docs_of(text, "policies.yaml")
    inventory, policies = split_documents(docs)
    return lint(policies.policies, policies.findings, inventory if with_inventory else None)


def test_selects_nothing_and_peers_that_match_nothing():
    found = lint_text(
        manifest(
            *BASE,
            netpol("x", "typo", {"podSelector": labels(app="aa"), "ingress": [{}]}),
            cnp(
                "x",
                "ghost-peer",
                {
                    "endpointSelector": labels(app="a"),
                    "enableDefaultDeny": {"ingress": False},
                    "ingress": [{"fromEndpoints": [labels(app="nope")]}],
                },
            ),
        )
    )
    assert ("selects-nothing", "NetworkPolicy x/typo") in codes(found)
    (f,) = [f for f in found if f.code == "rule-never-matches"]
    assert f.subject == "CiliumNetworkPolicy x/ghost-peer ingress rule #1"
    assert f.location.file == "policies.yaml" and f.location.line and f.hint


def test_named_port_that_no_selected_pod_defines():
    found = lint_text(
        manifest(
            *BASE,
            netpol(
                "x",
                "p",
                {"podSelector": labels(app="a"), "ingress": [{"ports": [{"port": "grpc"}]}]},
            ),
        )
    )
    (f,) = [f for f in found if f.code == "rule-never-matches"]
    assert "named port 'grpc' is not defined on any selected pod" in f.message


def test_except_covering_the_whole_block():
    found = lint_text(
        manifest(
            netpol(
                "x",
                "p",
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "ipBlock": {
                                        "cidr": "10.0.0.0/16",
                                        "except": ["10.0.0.0/17", "10.0.128.0/17"],
                                    }
                                }
                            ]
                        }
                    ],
                },
            )
        ),
        with_inventory=False,
    )
    assert ("rule-never-matches", "NetworkPolicy x/p egress rule #1") in codes(found)


def test_duplicate_rules_without_inventory():
    rule = {"from": [{"podSelector": labels(app="b")}], "ports": [{"port": 80}]}
    found = lint_text(
        manifest(
            netpol("x", "one", {"podSelector": labels(app="a"), "ingress": [rule]}),
            netpol("x", "two", {"podSelector": labels(app="a"), "ingress": [rule, rule]}),
        ),
        with_inventory=False,
    )
    dups = [f for f in found if f.code == "duplicate-rule"]
    assert [f.subject for f in dups] == [
        "NetworkPolicy x/two ingress rule #1",
        "NetworkPolicy x/two ingress rule #2",
    ]
    assert "duplicates NetworkPolicy x/one ingress rule #1 (policies.yaml:" in dups[0].message


def test_shadowed_rules_structural_and_with_inventory():
    broad = netpol(
        "x", "broad", {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 90}]}]}
    )
    narrow = netpol(
        "x",
        "narrow",
        {
            "podSelector": labels(app="a"),
            "ingress": [{"from": [{"podSelector": labels(app="b")}], "ports": [{"port": 80}]}],
        },
    )
    found = lint_text(manifest(broad, narrow), with_inventory=False)
    (f,) = [f for f in found if f.code == "shadowed-rule"]
    assert f.subject == "NetworkPolicy x/narrow ingress rule #1"
    assert "shadowed by NetworkPolicy x/broad ingress rule #1" in f.message
    # With workloads: a selector that differs in form but selects a subset is caught too.
    other = cnp(
        "x",
        "labels",
        {
            "endpointSelector": {
                "matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]
            },
            "ingress": [
                {
                    "fromEndpoints": [labels(app="b")],
                    "toPorts": [{"ports": [{"port": "85", "protocol": "TCP"}]}],
                }
            ],
        },
    )
    found = lint_text(manifest(*BASE, broad, other))
    assert ("shadowed-rule", "CiliumNetworkPolicy x/labels ingress rule #1") in codes(found)


def test_allow_rule_denied_entirely():
    found = lint_text(
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
                            "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}],
                        }
                    ],
                    "ingressDeny": [{"fromEndpoints": [{}]}],
                },
            ),
        )
    )
    (f,) = [f for f in found if f.code == "shadowed-rule"]
    assert "denied entirely by CiliumNetworkPolicy x/p ingressDeny rule #1" in f.message


def test_fqdn_without_dns_rule():
    fqdn = {"toFQDNs": [{"matchName": "api.example.com"}]}
    found = lint_text(
        manifest(cnp("x", "p", {"endpointSelector": labels(app="a"), "egress": [fqdn]})),
        with_inventory=False,
    )
    (f,) = [f for f in found if f.code == "fqdn-without-dns"]
    assert "api.example.com" in f.message and "rules: {dns:" in f.hint
    assert f.location.line == 11
    ok = lint_text(
        manifest(cnp("x", "p", {"endpointSelector": labels(app="a"), "egress": [DNS, fqdn]})),
        with_inventory=False,
    )
    assert "fqdn-without-dns" not in {f.code for f in ok}
    # A DNS rule without L7 `dns` does not feed the DNS proxy.
    plain_dns = {**DNS, "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}]}]}
    found = lint_text(
        manifest(
            *BASE, cnp("x", "p", {"endpointSelector": labels(app="a"), "egress": [plain_dns, fqdn]})
        )
    )
    assert "fqdn-without-dns" in {f.code for f in found}
    # The DNS rule may live in another policy selecting the same pods.
    ok = lint_text(
        manifest(
            *BASE,
            cnp("x", "p", {"endpointSelector": labels(app="a"), "egress": [fqdn]}),
            cnp("x", "dns", {"endpointSelector": {}, "egress": [DNS]}),
        )
    )
    assert "fqdn-without-dns" not in {f.code for f in ok}


def test_egress_default_deny_without_dns():
    deny = netpol("x", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    found = lint_text(manifest(*BASE, deny))
    (f,) = [f for f in found if f.code == "egress-deny-without-dns"]
    assert "x/a[Pod], x/b[Pod]" in f.message and f.location.line
    found = lint_text(manifest(deny), with_inventory=False)
    assert "egress-deny-without-dns" in {f.code for f in found}
    allow_dns = netpol(
        "x",
        "dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": labels(
                                **{"kubernetes.io/metadata.name": "kube-system"}
                            ),
                            "podSelector": labels(**{"k8s-app": "kube-dns"}),
                        }
                    ],
                    "ports": [{"port": 53, "protocol": "UDP"}],
                }
            ],
        },
    )
    assert "egress-deny-without-dns" not in {
        f.code for f in lint_text(manifest(*BASE, deny, allow_dns))
    }
    # with a real kube-dns in the inventory, DNS to it must be allowed
    coredns = pod("kube-system", "coredns", {"k8s-app": "kube-dns"})
    assert "egress-deny-without-dns" not in {
        f.code for f in lint_text(manifest(*BASE, coredns, deny, allow_dns))
    }


def test_cli_exit_codes_json_and_project_default(run, write, tmp_path):
    project = tmp_path / "proj"
    clean = {"podSelector": {}, "policyTypes": ["Ingress"]}
    write("proj/policies/ok.yaml", manifest(netpol("x", "ok", clean)))
    ok = run("-C", project, "policy", "lint")
    assert ok.code == 0 and "1 policy checked, 0 problem(s)" in ok.err
    write(
        "proj/policies/bad.yaml",
        manifest(
            cnp(
                "x",
                "bad",
                {
                    "endpointSelector": {},
                    "egress": [{"toFQDNs": [{"matchName": "a.b"}]}],
                    "ingress": [{"fromNodes": [{}]}],
                },
            )
        ),
    )
    bad = run("-C", project, "policy", "lint")
    assert bad.code == 1
    assert f"{project}/policies/bad.yaml:" in bad.out and "fqdn-without-dns" in bad.out
    assert "spec.ingress[0].fromNodes: warning [unsupported-field]" in bad.out
    as_json = run("-C", project, "policy", "lint", "-o", "json")
    codes_ = {f["code"] for f in as_json.json()}
    assert {"fqdn-without-dns", "egress-deny-without-dns", "unsupported-field"} <= codes_
    invalid = write(
        "inv/p.yaml",
        manifest(netpol("x", "broken", {"podSelector": {}, "ingress": [{"from": [{}]}]})),
    )
    result = run("policy", "lint", "--policies", invalid)
    assert result.code == 1 and "error [invalid-policy]" in result.out
    assert "a peer needs podSelector, namespaceSelector or ipBlock" in result.out
    nothing = run("-C", tmp_path / "empty", "policy", "lint")
    assert nothing.code == 2


def test_lint_is_fast_and_finds_nothing_on_the_project_examples(run, tmp_path):
    # The example policies `init` seeds are clean.
    from cluster_mgmt.core.render import _example_policies

    root = tmp_path / "p"
    for rel, text in _example_policies().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    result = run("-C", root, "policy", "lint")
    assert result.code == 0, result.out
    policies = parse_policies(docs_of((root / "policies" / "allow-dns-egress.yaml").read_text()))
    assert len(policies.policies) == 1
