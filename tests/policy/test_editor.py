"""``policy new``: rule strings, generated policies valid against the upstream CRD schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from policy_builders import BASE, manifest, pod
from policy_helpers import upstream

from cluster_mgmt.core.policy.editor import EditorError, build_policy, parse_labels, parse_rule

SCHEMA_VERSIONS = ["cilium-v1.19", "cilium-v1.20.0-dev"]

CASES = {
    "labels-ports-http": dict(
        select={"app": "notes"},
        allow_from=["app=frontend 8080/TCP http:GET:/api/.*", "ns=monitoring app=prometheus 9090"],
        allow_to=[],
    ),
    "entities-cidr-fqdn": dict(
        select={"app": "notes"},
        allow_from=["entity:world 443/TCP"],
        allow_to=[
            "fqdn:api.example.com 443/TCP",
            "fqdn:*.s3.amazonaws.com",
            "cidr:10.0.0.0/8",
            "entity:kube-apiserver 6443/TCP",
            "ns=db",
            "53/UDP,8000-8100/TCP",
        ],
    ),
    "all-pods-icmp-less": dict(select={}, allow_from=["ns=ingress"], allow_to=["entity:cluster"]),
}


def _policy(case: str, kind: str = "cilium") -> dict:
    spec = CASES[case]
    return build_policy(
        name="p",
        namespace="notes",
        select=spec["select"],
        allow_from=[parse_rule(t) for t in spec["allow_from"]],
        allow_to=[parse_rule(t) for t in spec["allow_to"]],
        kind=kind,
    )


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_policies_validate_against_the_crd_schema(version: str, case: str) -> None:
    schema = json.loads(
        upstream("crds", "derived-jsonschema", version, "ciliumnetworkpolicy_v2.json").read_text()
    )
    obj = _policy(case)
    jsonschema.Draft7Validator(schema).validate(obj)
    # and through a YAML round trip, as written to disk
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(yaml.safe_dump(obj)))


def test_rule_tokens() -> None:
    rule = parse_rule("app=web, tier=api ns=shop 80/TCP 53/udp 8000-8080 http:GET:/a/b:c")
    assert rule.labels == {"app": "web", "tier": "api"} and rule.namespace == "shop"
    assert rule.ports == [(80, None, "TCP"), (53, None, "UDP"), (8000, 8080, "TCP")]
    assert rule.http == [("GET", "/a/b:c")]
    assert parse_labels("app=notes,tier=web") == {"app": "notes", "tier": "web"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app=web entity:world", "mixes labels and entities"),
        ("cidr:10.0.0.0/33", "not a valid CIDR"),
        ("entity:moon", "unknown entity"),
        ("http:GET:/x", "need a TCP port"),
        ("80/ICMP", "not a rule token"),
        ("70000/TCP", "ports are 1-65535"),
        ("app=we b!", "not a rule token"),
        ("", "needs a peer or a port"),
    ],
)
def test_bad_rules_are_explained(text: str, message: str) -> None:
    with pytest.raises(EditorError, match=message):
        parse_rule(text)


def test_cilium_policy_shape_with_dns_rule() -> None:
    obj = _policy("entities-cidr-fqdn")
    egress = obj["spec"]["egress"]
    assert egress[0]["toPorts"][0]["rules"] == {"dns": [{"matchPattern": "*"}]}
    assert {
        "toFQDNs": [{"matchName": "api.example.com"}],
        "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
    } in egress
    assert {"toFQDNs": [{"matchPattern": "*.s3.amazonaws.com"}]} in egress
    assert {
        "toPorts": [
            {
                "ports": [
                    {"port": "53", "protocol": "UDP"},
                    {"port": "8000", "protocol": "TCP", "endPort": 8100},
                ]
            }
        ]
    } in egress


def test_kubernetes_policy_shape() -> None:
    obj = build_policy(
        name="p",
        namespace="notes",
        select={"app": "notes"},
        allow_from=[parse_rule("ns=ingress app=nginx 80/TCP")],
        allow_to=[parse_rule("cidr:10.0.0.0/8 443"), parse_rule("53/ANY")],
        kind="k8s",
    )
    spec = obj["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress"}
                    },
                    "podSelector": {"matchLabels": {"app": "nginx"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 80}],
        }
    ]
    assert spec["egress"][0]["ports"] == [
        {"protocol": "UDP", "port": 53},
        {"protocol": "TCP", "port": 53},
    ]
    assert spec["egress"][2]["ports"] == [
        {"protocol": p, "port": 53} for p in ("TCP", "UDP", "SCTP")
    ]
    with pytest.raises(EditorError, match="CiliumNetworkPolicy"):
        build_policy(
            name="p",
            namespace="n",
            select={},
            allow_from=[],
            allow_to=[parse_rule("fqdn:x.example.com")],
            kind="k8s",
        )


def test_policy_new_writes_validated_file_and_prints_the_delta(run, write, tmp_path) -> None:
    project = tmp_path / "project"
    (project / "policies").mkdir(parents=True)
    inventory = write(
        "inv/all.yaml",
        manifest(*BASE, pod("x", "notes", {"app": "notes"}, [("http", 8080, "TCP")])),
    ).parent
    result = run(
        "-C",
        project,
        "policy",
        "new",
        "--name",
        "notes",
        "--namespace",
        "x",
        "--select",
        "app=notes",
        "--allow-from",
        "app=a 8080/TCP",
        "--dir",
        inventory,
    )
    assert result.code == 0, result.err
    path = project / "policies" / "x-notes.yaml"
    written = yaml.safe_load(path.read_text())
    assert written["kind"] == "CiliumNetworkPolicy"
    assert result.out == path.read_text()
    # The delta: only x/a keeps reaching x/notes, on 8080.
    assert "- x/b[Pod] -> x/notes[Pod]: all" in result.err
    assert "~ x/a[Pod] -> x/notes[Pod]: all => TCP 8080" in result.err
    assert "- 0.0.0.0-255.255.255.255 -> x/notes[Pod]: all" in result.err
    # Again: the file exists with the same content (fine); different content needs --force.
    again = run(
        "-C",
        project,
        "policy",
        "new",
        "--name",
        "notes",
        "--namespace",
        "x",
        "--select",
        "app=notes",
        "--allow-from",
        "app=b",
    )
    assert again.code == 2 and "exists" in again.err
    dry = run(
        "-C",
        project,
        "policy",
        "new",
        "--name",
        "notes",
        "--namespace",
        "x",
        "--select",
        "app=notes",
        "--allow-from",
        "app=b",
        "--dry-run",
        "--kind",
        "k8s",
    )
    assert dry.code == 0 and yaml.safe_load(dry.out)["kind"] == "NetworkPolicy"
    assert "not computed" in dry.err
    # With the new policy in policies/, a second one's delta builds on it.
    second = run(
        "-C",
        project,
        "policy",
        "new",
        "--name",
        "notes2",
        "--namespace",
        "x",
        "--select",
        "app=notes",
        "--allow-from",
        "app=b 8080/TCP",
        "--dir",
        inventory,
    )
    assert second.code == 0
    assert "+ x/b[Pod] -> x/notes[Pod]: TCP 8080" in second.err
    assert "x/a[Pod] -> x/notes" not in second.err


def test_policy_new_rejects_bad_input_with_exit_2(run, tmp_path) -> None:
    result = run(
        "-C",
        tmp_path,
        "policy",
        "new",
        "--name",
        "Bad_Name",
        "--namespace",
        "x",
        "--allow-from",
        "app=a",
    )
    assert result.code == 2 and "not a valid policy name" in result.err
    result = run("-C", tmp_path, "policy", "new", "--name", "ok", "--namespace", "x")
    assert result.code == 2 and "--allow-from" in result.err
