"""``policy explain``: per-direction verdicts with the policy and rule that decided."""

from __future__ import annotations

import pytest
from policy_builders import BASE, cnp, deployment, labels, manifest, netpol, pod

POLICIES = [
    netpol(
        "x",
        "web",
        {
            "podSelector": labels(app="a"),
            "ingress": [
                {"from": [{"podSelector": labels(app="b")}], "ports": [{"port": "http"}]},
                {
                    "from": [{"namespaceSelector": labels(team="beta")}],
                    "ports": [{"port": "metrics"}],
                },
            ],
        },
    ),
    cnp(
        "x",
        "no-y-b",
        {
            "endpointSelector": labels(app="a"),
            "enableDefaultDeny": {"ingress": False},
            "ingressDeny": [
                {
                    "fromEndpoints": [
                        {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "y", "app": "b"}}
                    ]
                }
            ],
        },
    ),
    netpol("y", "lockdown", {"podSelector": labels(app="a"), "policyTypes": ["Ingress"]}),
]


@pytest.fixture
def inventory(write):
    return write("inv/all.yaml", manifest(*BASE, *POLICIES)).parent


def test_allowed_by_a_rule_and_default_allow(run, inventory):
    result = run("policy", "explain", "--src", "x/b", "--dst", "x/a", "--dir", inventory)
    assert result.code == 0, result.err
    out = result.out
    assert "egress : ALLOWED: no policy selects x/b[Pod] for egress (default allow)" in out
    assert "ingress: ALLOWED: allowed by NetworkPolicy x/web ingress rule #1" in out
    assert f"NetworkPolicy x/web ingress rule #1 [spec.ingress[0]] ({inventory}/all.yaml:" in out
    assert "verdict: ALLOWED (TCP 80)" in out


def test_port_outside_the_rule_and_named_port_missing(run, inventory):
    result = run(
        "policy", "explain", "--src", "x/b", "--dst", "x/a", "--port", "443/TCP", "--dir", inventory
    )
    out = result.out
    assert "ingress: DENIED: selected by NetworkPolicy x/web but no rule matches" in out
    assert "ingress rule #1 [spec.ingress[0]]" in out
    assert "the requested traffic is not in the rule's ports (http/TCP)" in out
    result = run("policy", "explain", "--src", "y/a", "--dst", "x/a", "--dir", inventory)
    assert "named port 'metrics' not found on x/a[Pod]" in result.out
    assert "ingress rule #1" in result.out and "source y/a[Pod] is not selected" in result.out
    assert "verdict: DENIED" in result.out


def test_deny_wins(run, inventory):
    result = run("policy", "explain", "--src", "y/b", "--dst", "x/a", "--dir", inventory)
    assert (
        "denied by CiliumNetworkPolicy x/no-y-b ingressDeny rule #1 (deny wins over any allow)"
    ) in result.out


def test_default_deny_without_rules(run, inventory):
    result = run(
        "policy", "explain", "--src", "x/a", "--dst", "y/a", "--port", "81/TCP", "--dir", inventory
    )
    assert (
        "ingress: DENIED: selected by NetworkPolicy y/lockdown (default deny) and no "
        "ingress rule applies"
    ) in result.out


def test_external_source_and_json(run, inventory):
    result = run(
        "policy",
        "explain",
        "--src",
        "203.0.113.9",
        "--dst",
        "y/b",
        "--dir",
        inventory,
        "-o",
        "json",
    )
    (data,) = result.json()
    assert data["egress"] is None and data["allowed"] is True and data["conn"] == "all"
    assert data["ingress"]["reason"] == "no policy selects y/b[Pod] for ingress (default allow)"
    text = run("policy", "explain", "--src", "203.0.113.9", "--dst", "y/b", "--dir", inventory)
    assert "egress : n/a (source is outside the cluster" in text.out


def test_unknown_and_ambiguous_workloads(run, write):
    root = write(
        "amb/all.yaml",
        manifest(deployment("x", "web"), pod("x", "web", {"app": "w"}), pod("x", "c")),
    ).parent
    result = run("policy", "explain", "--src", "x/web", "--dst", "x/c", "--dir", root)
    assert result.code == 2 and "ambiguous" in result.err and "x/Deployment/web" in result.err
    ok = run("policy", "explain", "--src", "x/deployment/web", "--dst", "x/c", "--dir", root)
    assert ok.code == 0 and "x/web[Deployment] -> x/c[Pod]" in ok.out
    missing = run("policy", "explain", "--src", "x/nope", "--dst", "x/c", "--dir", root)
    assert missing.code == 2 and "no workload 'x/nope'" in missing.err
    bad_port = run(
        "policy",
        "explain",
        "--src",
        "x/c",
        "--dst",
        "x/deployment/web",
        "--port",
        "http",
        "--dir",
        root,
    )
    assert bad_port.code == 2 and "not a port" in bad_port.err


def test_selected_without_default_deny(run, write):
    root = write(
        "ndd/all.yaml",
        manifest(
            *BASE,
            cnp(
                "x",
                "extra",
                {
                    "endpointSelector": labels(app="b"),
                    "enableDefaultDeny": {"ingress": False},
                    "ingress": [{"fromEndpoints": [labels(app="a")]}],
                },
            ),
        ),
    ).parent
    result = run("policy", "explain", "--src", "y/a", "--dst", "x/b", "--dir", root)
    assert (
        "ingress: ALLOWED: selected by CiliumNetworkPolicy x/extra without default deny "
        "(enableDefaultDeny: false), so ingress stays open (default allow)"
    ) in result.out
