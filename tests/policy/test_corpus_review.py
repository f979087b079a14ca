"""Review cases: one manifest directory each and the exact JSON `policy matrix` must print.

Written from the issue, docs/policy.md, the Kubernetes NetworkPolicy documentation and API
reference (with the upstream e2e network-policy scenarios as a checklist) and the Cilium
documentation and source, before reading the implementation; each docstring names what the
expectation rests on. The comparison keeps JSON key order and list order (the documented
sort), so the output must match the literal exactly, not just as a set.
"""

# ruff: noqa: E501  (expected JSON is kept one entry per line, exactly as the CLI prints it)

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _ordered(text: str) -> Any:
    """JSON with objects as lists of pairs, so that key order is compared too."""
    return json.loads(text, object_pairs_hook=list)


@pytest.fixture
def check(tmp_path: Path, run: Callable[..., Any]) -> Callable[[str | dict[str, str], str], None]:
    """Write the manifests (one file or several), run the CLI, compare with the literal."""

    def _check(manifests: str | dict[str, str], expected: str) -> None:
        files = {"all.yaml": manifests} if isinstance(manifests, str) else manifests
        root = tmp_path / "case"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        result = run("policy", "matrix", "--dir", root, "-o", "json")
        assert result.code == 0, result.err
        assert _ordered(result.out) == _ordered(expected)

    return _check


def test_k8s_default_deny_ingress(check):
    """Kubernetes docs, 'Default deny all ingress traffic': every pod of the namespace is
    isolated for ingress with nothing allowed; egress and other namespaces untouched
    (upstream e2e 'should support a default-deny-ingress policy')."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny, namespace: x}
        spec:
          podSelector: {}
          policyTypes: [Ingress]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_default_deny_all(check):
    """Kubernetes docs, 'Default deny all ingress and all egress traffic'."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny, namespace: x}
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]
        """,
        """
        [
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_allow_from_same_namespace(check):
    """Upstream e2e 'should enforce policy to allow traffic only from pods in the same
    namespace': a podSelector peer without namespaceSelector means the policy's namespace."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {}
          ingress:
          - from:
            - podSelector: {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_namespace_and_pod_selector_in_one_peer(check):
    """Kubernetes docs, 'Behavior of to and from selectors': namespaceSelector and
    podSelector in one element select pods with that label in those namespaces (AND)."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x, labels: {team: a}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: y, labels: {team: b}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: db, namespace: x, labels: {app: db}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: x, labels: {app: web}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: y, labels: {app: web}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: other, namespace: y, labels: {app: other}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from:
            - namespaceSelector: {matchLabels: {team: b}}
              podSelector: {matchLabels: {app: web}}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"namespace": "x", "name": "db", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_namespace_or_pod_selector_in_two_peers(check):
    """Kubernetes docs, 'Behavior of to and from selectors': two elements are OR'ed:
    all pods of team=b namespaces, or app=web pods of the policy's namespace."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x, labels: {team: a}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: y, labels: {team: b}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: db, namespace: x, labels: {app: db}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: x, labels: {app: web}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: y, labels: {app: web}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: other, namespace: y, labels: {app: other}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from:
            - namespaceSelector: {matchLabels: {team: b}}
            - podSelector: {matchLabels: {app: web}}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "db", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"namespace": "x", "name": "db", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"namespace": "x", "name": "db", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "other", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"namespace": "x", "name": "db", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "web", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "web", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "other", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "web", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_match_expressions_not_in(check):
    """Label selector API: NotIn also matches objects without the key (upstream e2e
    'should enforce policy based on PodSelector or NamespaceSelector with MatchExpressions')."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: t, namespace: x, labels: {app: t}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s1, namespace: x, labels: {tier: fe}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s2, namespace: x, labels: {tier: be}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s3, namespace: x, labels: {role: r}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: t}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - podSelector:
                matchExpressions: [{key: tier, operator: NotIn, values: [fe]}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_match_expressions_in(check):
    """Label selector API: In matches any listed value."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: t, namespace: x, labels: {app: t}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s1, namespace: x, labels: {tier: fe}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s2, namespace: x, labels: {tier: be}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s3, namespace: x, labels: {role: r}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: t}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - podSelector:
                matchExpressions: [{key: tier, operator: In, values: [fe, zz]}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_match_expressions_exists(check):
    """Label selector API: Exists matches any value of the key."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: t, namespace: x, labels: {app: t}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s1, namespace: x, labels: {tier: fe}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s2, namespace: x, labels: {tier: be}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s3, namespace: x, labels: {role: r}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: t}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - podSelector:
                matchExpressions: [{key: tier, operator: Exists}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_match_expressions_does_not_exist(check):
    """Label selector API: DoesNotExist matches objects without the key."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: t, namespace: x, labels: {app: t}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s1, namespace: x, labels: {tier: fe}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s2, namespace: x, labels: {tier: be}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s3, namespace: x, labels: {role: r}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: t}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - podSelector:
                matchExpressions: [{key: tier, operator: DoesNotExist}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_match_expressions_are_anded(check):
    """Label selector API: all requirements of one selector must hold."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: t, namespace: x, labels: {app: t}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s1, namespace: x, labels: {tier: fe}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s2, namespace: x, labels: {tier: be}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: s3, namespace: x, labels: {role: r}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: t}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - podSelector:
                matchExpressions: [{key: tier, operator: Exists}, {key: tier, operator: NotIn, values: [fe]}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s1", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"namespace": "x", "name": "t", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s2", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "s3", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s1", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s2", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "s3", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_namespace_name_label_of_declared_and_undeclared_namespaces(check):
    """Kubernetes sets kubernetes.io/metadata.name on every namespace (declared ones without
    it in the manifest too); the issue: namespaces referenced but not declared exist with
    only that label."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: y, labels: {team: b}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: d, namespace: z, labels: {app: d}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from:
            - namespaceSelector:
                matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [y, z]}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "z", "name": "d", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "z", "name": "d", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "z", "name": "d", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "z", "name": "d", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "z", "name": "d", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "z", "name": "d", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_empty_namespace_selector_is_all_pods_not_addresses(check):
    """API reference (NetworkPolicyPeer): an empty namespaceSelector selects all namespaces;
    it selects pods, so external addresses stay denied."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from:
            - namespaceSelector: {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_egress_only_policy(check):
    """policyTypes [Egress]: the pod is isolated for egress only; ingress stays open
    (Kubernetes docs, 'Default deny all egress traffic' and 'Isolated and Non-isolated Pods')."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Egress]
          egress:
          - to:
            - podSelector: {matchLabels: {app: b}}
            ports:
            - {protocol: UDP, port: 53}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "UDP", "ports": ["53"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_policy_types_default_with_egress_rules(check):
    """API reference (NetworkPolicySpec.policyTypes): when unset, Ingress is always set and
    Egress too when the policy has egress rules, so the pod is isolated both ways."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          egress:
          - to:
            - podSelector: {matchLabels: {app: b}}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_explicit_ingress_type_ignores_egress_rules(check):
    """API reference: policyTypes lists the directions the policy applies to; egress rules
    of a policy with policyTypes [Ingress] have no effect."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Ingress]
          ingress:
          - from:
            - podSelector: {matchLabels: {app: b}}
          egress:
          - to:
            - podSelector: {matchLabels: {app: nothing}}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_ip_block_with_except_both_directions(check):
    """API reference (IPBlock): cidr minus except; the issue: ranges cut at every CIDR
    boundary, adjacent equal ranges merged, always first-last."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Ingress, Egress]
          ingress:
          - from:
            - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.3.0/24]}
            ports:
            - port: 443
          egress:
          - to:
            - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["10.0.0.0-10.0.255.255", "10.2.0.0-10.2.2.255", "10.2.4.0-10.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["443"], "l7": null}]}
        ]
        """,
    )


def test_k8s_address_entries_grouped_by_connection_in_numeric_order(check):
    """The issue: for each workload the addresses with the same connection form one entry;
    docs/policy.md: sorted by source then destination, address ranges in address order
    (9.x before 10.x before 100.x, not string order)."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from:
            - ipBlock: {cidr: 9.0.0.0/8}
            - ipBlock: {cidr: 100.0.0.0/8}
            ports:
            - port: 80
          - from:
            - ipBlock: {cidr: 10.0.0.0/8}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["9.0.0.0-9.255.255.255", "100.0.0.0-100.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80"], "l7": null}]},
        {"src": {"ip_ranges": ["10.0.0.0-10.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_ports_end_port_protocols_merged(check):
    """API reference (NetworkPolicyPort): protocol defaults to TCP, endPort makes a range,
    SCTP/UDP allowed; the issue's port strings ('80', '8000-8080'), adjacent ports merged."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - ports:
            - {protocol: TCP, port: 8000, endPort: 8080}
            - {protocol: SCTP, port: 9999}
            - {protocol: UDP, port: 53}
            - {port: 80}
            - {port: 81}
            - {port: 82}
            - {protocol: TCP, port: 8081}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80-82", "8000-8081"], "l7": null}, {"protocol": "UDP", "ports": ["53"], "l7": null}, {"protocol": "SCTP", "ports": ["9999"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80-82", "8000-8081"], "l7": null}, {"protocol": "UDP", "ports": ["53"], "l7": null}, {"protocol": "SCTP", "ports": ["9999"], "l7": null}]},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_protocol_without_port_is_every_port_of_it(check):
    """API reference (NetworkPolicyPort.port): if not provided, this matches all port
    names and numbers (of that protocol only)."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - ports:
            - {protocol: UDP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "UDP", "ports": ["1-65535"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "UDP", "ports": ["1-65535"], "l7": null}]},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_named_port_resolved_per_destination_pod(check):
    """API reference (NetworkPolicyPort.port): 'a numerical or named port on a pod' on the
    given protocol: resolved on each pod of the workload (different numbers, missing on
    one pod, UDP port of that name does not match the TCP default); the union over the
    pods is the workload's connection; the ReplicaSet is named as its ownerReference says."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: x, labels: {app: client}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1-a
          namespace: x
          labels: {app: web}
          ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, controller: true, uid: u-web-1}]
        spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1-b
          namespace: x
          labels: {app: web}
          ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, controller: true, uid: u-web-1}]
        spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 9090, protocol: TCP}, {name: metrics, containerPort: 9100}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1-c
          namespace: x
          labels: {app: web}
          ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, controller: true, uid: u-web-1}]
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: udpweb, namespace: x, labels: {app: udpweb}}
        spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 5000, protocol: UDP}]}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector:
            matchExpressions: [{key: app, operator: In, values: [web, udpweb]}]
          ingress:
          - from:
            - podSelector: {matchLabels: {app: client}}
            ports:
            - port: http
        """,
        """
        [
        {"src": {"namespace": "x", "name": "client", "kind": "Pod"}, "dst": {"namespace": "x", "name": "web-1", "kind": "ReplicaSet"}, "conn": [{"protocol": "TCP", "ports": ["8080", "9090"], "l7": null}]},
        {"src": {"namespace": "x", "name": "client", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "udpweb", "kind": "Pod"}, "dst": {"namespace": "x", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "udpweb", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web-1", "kind": "ReplicaSet"}, "dst": {"namespace": "x", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "web-1", "kind": "ReplicaSet"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "client", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_egress_named_port_resolved_on_destination(check):
    """A named port in an egress rule names a port of the destination pod; addresses have
    no named ports, so nothing is allowed to them."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 80}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: x, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: d, namespace: x, labels: {app: d}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Egress]
          egress:
          - ports:
            - port: http
            - {port: dns, protocol: UDP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80"], "l7": null}]},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "c", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}, {"protocol": "UDP", "ports": ["53"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "d", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "d", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "d", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "d", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "d", "kind": "Pod"}, "dst": {"namespace": "x", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "d", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "d", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_policies_are_unioned(check):
    """Kubernetes docs: policies do not conflict, they are additive (upstream e2e 'should
    allow ingress access from updated pod' / stacked policies)."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: x, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p1, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from: [{podSelector: {matchLabels: {app: b}}}]
            ports: [{port: 80}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p2, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from: [{podSelector: {matchLabels: {app: c}}}]
            ports: [{port: 53, protocol: UDP}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p3, namespace: x}
        spec:
          podSelector: {}
          ingress:
          - from: [{podSelector: {matchLabels: {app: b}}}]
            ports: [{port: 81}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80-81"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "c", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["81"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "UDP", "ports": ["53"], "l7": null}]},
        {"src": {"namespace": "x", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"}
        ]
        """,
    )


def test_k8s_both_sides_must_allow(check):
    """A connection needs the source's egress and the destination's ingress: the ports are
    the intersection (Kubernetes docs, 'Isolated and Non-isolated Pods')."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: out, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Egress]
          egress:
          - ports: [{port: 80}, {port: 443}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: in, namespace: x}
        spec:
          podSelector: {matchLabels: {app: b}}
          ingress:
          - ports: [{port: 443}, {port: 8080}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["443"], "l7": null}]},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": [{"protocol": "TCP", "ports": ["80", "443"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["443", "8080"], "l7": null}]}
        ]
        """,
    )


def test_k8s_egress_default_deny_with_dns(check):
    """The usual egress lock-down with DNS to kube-dns (namespaceSelector AND podSelector)."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {}
          policyTypes: [Egress]
          egress:
          - to:
            - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
              podSelector: {matchLabels: {k8s-app: kube-dns}}
            ports:
            - {port: 53, protocol: UDP}
            - {port: 53, protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["53"], "l7": null}, {"protocol": "UDP", "ports": ["53"], "l7": null}]},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_overlapping_cidr_and_except_of_another_peer(check):
    """Upstream e2e 'should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is
    allowed': an address excepted from one peer but inside another peer's block is allowed."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Egress]
          egress:
          - to:
            - ipBlock: {cidr: 10.0.0.0/24, except: [10.0.0.5/32]}
            - ipBlock: {cidr: 10.0.0.5/32}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["10.0.0.0-10.0.0.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_client_egress_deny_wins_over_server_allow(check):
    """Upstream e2e 'should support denying of egress traffic on the client side (even if
    the server explicitly allows this traffic)'."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: client, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          policyTypes: [Egress]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: server, namespace: x}
        spec:
          podSelector: {matchLabels: {app: b}}
          ingress:
          - from:
            - podSelector: {matchLabels: {app: a}}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_allow_all_ingress_takes_precedence(check):
    """Upstream e2e 'should enforce multiple ingress policies with ingress allow-all policy
    taking precedence': an `ingress: [{}]` policy allows everything whatever the others say."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: narrow, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - ports: [{port: 80}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: all, namespace: x}
        spec:
          podSelector: {}
          ingress:
          - {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_k8s_extensions_v1beta1_network_policy_is_the_same_policy(check):
    """NetworkPolicy of extensions/v1beta1 (served until Kubernetes 1.16) has the v1 spec;
    old manifests still use it."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: extensions/v1beta1
        kind: NetworkPolicy
        metadata: {name: deny, namespace: x}
        spec:
          podSelector: {}
          policyTypes: [Ingress]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"}
        ]
        """,
    )


def test_cilium_from_endpoints_empty_is_policy_namespace(check):
    """Cilium docs (policy language, 'Ingress Allow All' / PR #14580): an empty endpoint
    selector in a CiliumNetworkPolicy selects all endpoints of the policy's namespace."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {}
          ingress:
          - fromEndpoints:
            - {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_clusterwide_from_endpoints_empty_is_every_pod(check):
    """Cilium getEndpointSelector: a clusterwide policy's selector without a namespace label
    requires only that some namespace label exists: every pod, no external address."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata: {name: p}
        spec:
          endpointSelector: {}
          ingress:
          - fromEndpoints:
            - {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"}
        ]
        """,
    )


def test_cilium_namespace_label_with_k8s_prefix(check):
    """Cilium docs (Kubernetes constructs, namespaces): k8s:io.kubernetes.pod.namespace in
    fromEndpoints reaches another namespace; k8s: prefixes match pod labels."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {'k8s:app': a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {'k8s:io.kubernetes.pod.namespace': y, app: c}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_namespace_label_in_match_expressions(check):
    """Cilium getEndpointSelector: a namespace key in matchExpressions also lifts the scoping."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchExpressions: [{key: io.kubernetes.pod.namespace, operator: In, values: [y]}]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_namespace_labels_selector_is_not_scoped(check):
    """Cilium getEndpointSelector (pkg/k8s/apis/cilium.io/utils): a selector on namespace
    labels (io.cilium.k8s.namespace.labels.*) gets no namespace match added, so it selects
    pods in every namespace with those labels."""
    check(
        """
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: x, labels: {team: a}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: y, labels: {team: b}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {'k8s:io.cilium.k8s.namespace.labels.team': b}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_cnp_endpoint_selector_namespace_is_overridden(check):
    """Cilium ParseToCiliumRule: a CiliumNetworkPolicy always applies in its own namespace;
    a k8s:io.kubernetes.pod.namespace match in endpointSelector is replaced ('removing
    illegal namespace match')."""
    check(
        """
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: x, labels: {team: a}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: y, labels: {team: b}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {'k8s:io.kubernetes.pod.namespace': y}}
          ingress:
          - {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_entity_world(check):
    """Cilium docs (Entities based): world is everything outside the cluster."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEntities: [world]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_entity_cluster(check):
    """Cilium docs (Entities based): cluster is every endpoint of the cluster (all namespaces)."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEntities: [cluster]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_entity_all(check):
    """Cilium docs (Entities based): all is cluster plus world."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEntities: [all]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_entities_host_and_apiserver_are_not_workloads_or_addresses(check):
    """host and kube-apiserver are entities, not pods or world addresses: the egress section
    isolates the pod and the matrix (without --extra-peers) shows nothing it allows."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          egress:
          - toEntities: [host, kube-apiserver]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_to_cidr_and_cidr_set_with_except(check):
    """Cilium docs (IP/CIDR based): toCIDR and toCIDRSet with except; a toPorts on the same
    rule restricts only that rule."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          egress:
          - toCIDR: [1.1.1.1/32]
          - toCIDRSet:
            - {cidr: 10.0.0.0/8, except: [10.96.0.0/12]}
            toPorts:
            - ports:
              - {port: '443', protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["1.1.1.1-1.1.1.1"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["10.0.0.0-10.95.255.255", "10.112.0.0-10.255.255.255"]}, "conn": [{"protocol": "TCP", "ports": ["443"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_to_fqdns_with_dns_rule(check):
    """Cilium docs (DNS based): toFQDNs needs the DNS proxy rule to kube-dns; FQDN targets
    are not address ranges (only --extra-peers lists them); ANY is TCP, UDP and SCTP."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          egress:
          - toEndpoints:
            - matchLabels: {'k8s:io.kubernetes.pod.namespace': kube-system, 'k8s:k8s-app': kube-dns}
            toPorts:
            - ports:
              - {port: '53', protocol: ANY}
              rules:
                dns:
                - matchPattern: '*'
          - toFQDNs:
            - matchName: api.example.com
            toPorts:
            - ports:
              - {port: '443', protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["53"], "l7": {"dns": [{"matchPattern": "*"}]}}, {"protocol": "UDP", "ports": ["53"], "l7": {"dns": [{"matchPattern": "*"}]}}, {"protocol": "SCTP", "ports": ["53"], "l7": {"dns": [{"matchPattern": "*"}]}}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "kube-system", "name": "coredns", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_ingress_deny_wins(check):
    """Cilium docs (Deny policies): deny takes precedence over allow, whatever the allow."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEntities: [all]
          ingressDeny:
          - fromEndpoints:
            - matchLabels: {app: b}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_ingress_deny_on_one_port(check):
    """Cilium docs (Deny policies table): a deny on 80/TCP leaves an allow on 81/TCP."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
              - {port: '81', protocol: TCP}
          ingressDeny:
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["81"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_deny_only_policy_isolates(check):
    """Cilium API (enableDefaultDeny): the default is true for each direction that has
    rules, ingressDeny included (TestSanitizeDefaultDeny)."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingressDeny:
          - fromEndpoints:
            - matchLabels: {app: b}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_egress_deny_cidr(check):
    """Cilium docs (Deny policies): egressDeny toCIDR removes those addresses from an
    allow-all egress."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          egress:
          - toEntities: [all]
          egressDeny:
          - toCIDR: [10.0.0.0/8]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-9.255.255.255", "11.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_enable_default_deny_false(check):
    """Cilium API (enableDefaultDeny): with false the policy's allows add nothing to an
    unisolated pod, but its deny rules still apply."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          enableDefaultDeny: {ingress: false}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
          ingressDeny:
          - fromEntities: [world]
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_enable_default_deny_false_with_kubernetes_policy(check):
    """A NetworkPolicy selecting the same pod isolates it; the CNP's allows (which do not
    isolate) still add up with it."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          enableDefaultDeny: {ingress: false, egress: false}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: k, namespace: x}
        spec:
          podSelector: {matchLabels: {app: a}}
          ingress:
          - from:
            - ipBlock: {cidr: 8.8.8.8/32}
            ports:
            - {port: 53, protocol: UDP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["8.8.8.8-8.8.8.8"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "UDP", "ports": ["53"], "l7": null}]}
        ]
        """,
    )


def test_cilium_clusterwide_policy_selects_across_namespaces(check):
    """CiliumClusterwideNetworkPolicy: endpointSelector and fromEndpoints are not scoped to a
    namespace."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: y, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: y, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata: {name: p}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_clusterwide_namespace_in_selectors(check):
    """CiliumClusterwideNetworkPolicy with the namespace label in both selectors (with and
    without the k8s: prefix)."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: y, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: y, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata: {name: p}
        spec:
          endpointSelector: {matchLabels: {app: a, 'k8s:io.kubernetes.pod.namespace': y}}
          ingress:
          - fromEndpoints:
            - matchLabels: {io.kubernetes.pod.namespace: x}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_l7_http_rules_in_written_order(check):
    """Cilium docs (Layer 7, HTTP): the rules restrict the port; the issue: reported as a
    restriction on the allowed port, the rules as the policy lists them."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
              rules:
                http:
                - method: GET
                  path: /path1$
                - method: PUT
                  path: /path2$
                  headers: ['X-My-Header: true']
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80"], "l7": {"http": [{"method": "GET", "path": "/path1$"}, {"method": "PUT", "path": "/path2$", "headers": ["X-My-Header: true"]}]}}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_l7_on_both_sides(check):
    """docs/policy.md: when both the egress and the ingress side restrict a port, l7 is
    {'egress': ..., 'ingress': ...}."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
              rules:
                http:
                - method: GET
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: q, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: b}}
          egress:
          - toEndpoints:
            - matchLabels: {app: a}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
              rules:
                http:
                - path: /p
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80"], "l7": {"egress": {"http": [{"path": "/p"}]}, "ingress": {"http": [{"method": "GET"}]}}}]},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_l4_rule_without_peer(check):
    """Cilium docs (Layer 4, 'Limit ingress/egress ports'): a rule with toPorts only applies
    to every peer, external addresses included; endPort makes a range."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - toPorts:
            - ports:
              - {port: '8080', protocol: TCP}
          egress:
          - toPorts:
            - ports:
              - {port: '443', endPort: 445, protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["443-445"], "l7": null}]},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["443-445"], "l7": null}]},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": [{"protocol": "TCP", "ports": ["443-445"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_empty_rule_denies_all(check):
    """Cilium docs (Ingress/Egress default deny): `ingress: [{}]` puts the endpoint in
    default deny and allows nothing."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - {}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_l4_rule_lifts_l7_on_the_same_port(check):
    """Cilium docs (Layer 7): if a layer 4 rule and a similar layer 4 rule with layer 7
    rules are both specified, the layer 7 portions have no effect."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
              rules:
                http:
                - method: GET
          - fromEntities: [cluster]
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80"], "l7": null}]},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_icmp_types(check):
    """Cilium docs (ICMP/ICMPv6): icmps fields by number or name; ICMP 'ports' are types."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
            icmps:
            - fields:
              - {type: 8, family: IPv4}
              - {type: EchoReply}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "ICMP", "ports": ["0", "8"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_named_port(check):
    """Cilium toPorts with a named port: resolved on each destination pod; pods without
    that port name get nothing."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox, ports: [{name: web, containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {}
          ingress:
          - toPorts:
            - ports:
              - {port: web, protocol: TCP}
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_cilium_l7_and_plain_ports_in_port_order(check):
    """docs/policy.md: a protocol appears once per distinct l7, its entries in the order of
    their first port (80 and 8080 with HTTP rules before 443 without)."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: a}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: x, labels: {app: b}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: y, labels: {app: c}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: p, namespace: x}
        spec:
          endpointSelector: {matchLabels: {app: a}}
          ingress:
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '443', protocol: TCP}
          - fromEndpoints:
            - matchLabels: {app: b}
            toPorts:
            - ports:
              - {port: '80', protocol: TCP}
              - {port: '8080', protocol: TCP}
              rules:
                http:
                - method: GET
        """,
        """
        [
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": [{"protocol": "TCP", "ports": ["80", "8080"], "l7": {"http": [{"method": "GET"}]}}, {"protocol": "TCP", "ports": ["443"], "l7": null}]},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "y", "name": "c", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "y", "name": "c", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_deployment_without_pods_gets_its_template(check):
    """The issue: a workload is a controller object from the input. A Deployment whose Pods
    are not in the input still has pods: one made from its template (named ports too)."""
    check(
        """
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: c
                image: nginx
                ports: [{name: http, containerPort: 8080}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: shop, labels: {app: client}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from:
            - podSelector: {matchLabels: {app: client}}
            ports:
            - port: http
        """,
        """
        [
        {"src": {"namespace": "shop", "name": "client", "kind": "Pod"}, "dst": {"namespace": "shop", "name": "web", "kind": "Deployment"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"namespace": "shop", "name": "client", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "shop", "name": "web", "kind": "Deployment"}, "dst": {"namespace": "shop", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "shop", "name": "web", "kind": "Deployment"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "shop", "name": "client", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_deployment_replicaset_and_pods(check):
    """The issue: a Pod belongs to the workload its controller ownerReference names, kind and
    name as written (the ReplicaSet). The Deployment's pods are its ReplicaSet's (that
    ReplicaSet names it as controller), so it has no pods of its own and no connection; an
    old ReplicaSet scaled to zero has no pods either (as `kubectl get all -o yaml` lists
    them). Decision documented in docs/policy.md (Workloads)."""
    check(
        """
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: c
                image: nginx
                ports: [{name: http, containerPort: 8080}]
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: web-5d4f
          namespace: shop
          ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, controller: true, uid: d1}]
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web, pod-template-hash: 5d4f}}
            spec:
              containers:
              - name: c
                image: nginx
                ports: [{name: http, containerPort: 8080}]
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: web-0ld
          namespace: shop
          ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, controller: true, uid: d1}]
        spec:
          replicas: 0
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web-old, pod-template-hash: 0ld}}
            spec: {containers: [{name: c, image: nginx}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-5d4f-aaaaa
          namespace: shop
          labels: {app: web, pod-template-hash: 5d4f}
          ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4f, controller: true, uid: u-web-5d4f}]
        spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: shop, labels: {app: client}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from:
            - podSelector: {matchLabels: {app: client}}
            ports:
            - port: http
        """,
        """
        [
        {"src": {"namespace": "shop", "name": "client", "kind": "Pod"}, "dst": {"namespace": "shop", "name": "web-5d4f", "kind": "ReplicaSet"}, "conn": [{"protocol": "TCP", "ports": ["8080"], "l7": null}]},
        {"src": {"namespace": "shop", "name": "client", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "shop", "name": "web-5d4f", "kind": "ReplicaSet"}, "dst": {"namespace": "shop", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "shop", "name": "web-5d4f", "kind": "ReplicaSet"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "shop", "name": "client", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_listed_pods_replace_the_template(check):
    """Decision (docs/policy.md, Workloads): a workload's Pods in the input are what runs, so
    its template does not add a pod of its own. Here the only StatefulSet pod is selected
    by its per-pod label and isolated; the template pod (without that label) would not be."""
    check(
        """
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db, namespace: data}
        spec:
          serviceName: db
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec:
              containers:
              - name: c
                image: postgres
                ports: [{name: pg, containerPort: 80}]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: db-0
          namespace: data
          labels: {app: db, statefulset.kubernetes.io/pod-name: db-0}
          ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true, uid: u-db}]
        spec: {containers: [{name: c, image: busybox, ports: [{name: pg, containerPort: 5432}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: data, labels: {app: client}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db-0, namespace: data}
        spec:
          podSelector: {matchLabels: {statefulset.kubernetes.io/pod-name: db-0}}
          ingress:
          - from:
            - podSelector: {matchLabels: {app: client}}
            ports:
            - port: pg
        """,
        """
        [
        {"src": {"namespace": "data", "name": "client", "kind": "Pod"}, "dst": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "conn": [{"protocol": "TCP", "ports": ["5432"], "l7": null}]},
        {"src": {"namespace": "data", "name": "client", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "dst": {"namespace": "data", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "data", "name": "client", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_named_port_on_some_pods_with_different_numbers(check):
    """Named ports on the workload's Pods: one pod 8080, one 9090, one without the name; the
    template's number (80) is not a running pod's and does not count."""
    check(
        """
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db, namespace: data}
        spec:
          serviceName: db
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec:
              containers:
              - name: c
                image: postgres
                ports: [{name: pg, containerPort: 80}]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: db-0
          namespace: data
          labels: {app: db}
          ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true, uid: u-db}]
        spec: {containers: [{name: c, image: busybox, ports: [{name: pg, containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: db-1
          namespace: data
          labels: {app: db}
          ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true, uid: u-db}]
        spec: {containers: [{name: c, image: busybox, ports: [{name: pg, containerPort: 9090}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: db-2
          namespace: data
          labels: {app: db}
          ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, controller: true, uid: u-db}]
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: data, labels: {app: client}}
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db, namespace: data}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress:
          - ports:
            - port: pg
        """,
        """
        [
        {"src": {"namespace": "data", "name": "client", "kind": "Pod"}, "dst": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "conn": [{"protocol": "TCP", "ports": ["8080", "9090"], "l7": null}]},
        {"src": {"namespace": "data", "name": "client", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "dst": {"namespace": "data", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "data", "name": "client", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "data", "name": "db", "kind": "StatefulSet"}, "conn": [{"protocol": "TCP", "ports": ["8080", "9090"], "l7": null}]}
        ]
        """,
    )


def test_inventory_owner_kinds_as_written_and_standalone_pods(check):
    """The issue: kind and name as written in the controller ownerReference (any kind, e.g.
    an Argo Rollout); a Pod whose only owner is not its controller stands alone as kind
    Pod; finished (Succeeded) Pods are not running and are left out."""
    check(
        """
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: r-1
          namespace: ns
          labels: {app: r}
          ownerReferences: [{apiVersion: apps/v1, kind: Rollout, name: r, controller: true, uid: u-r}]
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: lonely
          namespace: ns
          labels: {app: l}
          ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: other, controller: false, uid: u-other}]
        spec: {containers: [{name: c, image: busybox}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: done, namespace: ns, labels: {app: d}}
        spec: {containers: [{name: c, image: i}]}
        status: {phase: Succeeded}
        """,
        """
        [
        {"src": {"namespace": "ns", "name": "lonely", "kind": "Pod"}, "dst": {"namespace": "ns", "name": "r", "kind": "Rollout"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "lonely", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "r", "kind": "Rollout"}, "dst": {"namespace": "ns", "name": "lonely", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "r", "kind": "Rollout"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "lonely", "kind": "Pod"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "r", "kind": "Rollout"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_finished_job_and_its_cronjob(check):
    """A Job whose only Pod has Succeeded runs nothing (no template pod stands in for it),
    and the CronJob that owns the Job has its pods in the input through it."""
    check(
        """
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly, namespace: ns}
        spec:
          schedule: '0 0 * * *'
          jobTemplate:
            spec:
              template:
                metadata: {labels: {app: nightly}}
                spec: {containers: [{name: c, image: i}]}
        ---
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: nightly-1
          namespace: ns
          ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: nightly, controller: true, uid: c1}]
        spec:
          template:
            metadata: {labels: {app: nightly}}
            spec: {containers: [{name: c, image: i}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: nightly-1-x
          namespace: ns
          labels: {app: nightly}
          ownerReferences: [{apiVersion: batch/v1, kind: Job, name: nightly-1, controller: true, uid: j1}]
        spec: {containers: [{name: c, image: i}]}
        status: {phase: Succeeded}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: ns, labels: {app: web}}
        spec: {containers: [{name: c, image: busybox}]}
        """,
        """
        [
        {"src": {"namespace": "ns", "name": "web", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "web", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_every_workload_kind(check):
    """The issue's inventory kinds, each from its template (CronJob: jobTemplate); workloads
    with the same namespace and name sort by kind; no self-connections."""
    check(
        """
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: same, namespace: ns}
        spec: {template: {metadata: {labels: {app: same}}, spec: {containers: [{name: c, image: i}]}}}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: same, namespace: ns}
        spec: {template: {metadata: {labels: {app: same}}, spec: {containers: [{name: c, image: i}]}}}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: ds, namespace: ns}
        spec: {template: {metadata: {labels: {app: ds}}, spec: {containers: [{name: c, image: i}]}}}
        ---
        apiVersion: v1
        kind: ReplicationController
        metadata: {name: rc, namespace: ns}
        spec: {template: {metadata: {labels: {app: rc}}, spec: {containers: [{name: c, image: i}]}}}
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: job, namespace: ns}
        spec: {template: {metadata: {labels: {app: job}}, spec: {containers: [{name: c, image: i}]}}}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: cron, namespace: ns}
        spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {metadata: {labels: {app: cron}}, spec: {containers: [{name: c, image: i}]}}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: out, namespace: ns}
        spec:
          podSelector: {}
          policyTypes: [Egress]
          egress:
          - to:
            - podSelector: {matchLabels: {app: same}}
        """,
        """
        [
        {"src": {"namespace": "ns", "name": "cron", "kind": "CronJob"}, "dst": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "cron", "kind": "CronJob"}, "dst": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "ds", "kind": "DaemonSet"}, "dst": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "ds", "kind": "DaemonSet"}, "dst": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "job", "kind": "Job"}, "dst": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "job", "kind": "Job"}, "dst": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "rc", "kind": "ReplicationController"}, "dst": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "rc", "kind": "ReplicationController"}, "dst": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "dst": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "conn": "all"},
        {"src": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "dst": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "cron", "kind": "CronJob"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "ds", "kind": "DaemonSet"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "job", "kind": "Job"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "rc", "kind": "ReplicationController"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "same", "kind": "Deployment"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "ns", "name": "same", "kind": "StatefulSet"}, "conn": "all"}
        ]
        """,
    )


def test_inventory_files_lists_and_formats(check):
    """The issue: .yaml, .yml and .json files, recursively, with kind: List and *List
    wrappers (a typed list from the API leaves out each item's kind); a JSON array of
    objects counts too; objects without a namespace are in 'default'; other kinds and
    documents without a kind (here an expected-output file) are ignored."""
    check(
        {
            "more/array.json": """
            [{"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "b", "namespace": "x", "labels": {"app": "b"}},
              "spec": {"containers": [{"name": "c", "image": "i"}]}}]
            """,
            "expected.json": """
            [{"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"}]
            """,
            "pods.json": """
            {"apiVersion": "v1", "kind": "PodList", "items": [
              {"metadata": {"name": "a", "namespace": "x", "labels": {"app": "a"}},
               "spec": {"containers": [{"name": "c", "image": "i"}]}}]}
            """,
            "nested/deep/list.yml": """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: apps/v1
              kind: Deployment
              metadata: {name: web}
              spec:
                template:
                  metadata: {labels: {app: web}}
                  spec: {containers: [{name: c, image: i}]}
            - apiVersion: v1
              kind: Service
              metadata: {name: web}
              spec: {selector: {app: web}, ports: [{port: 80}]}
            """,
            "policies/np.yaml": """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicyList
            items:
            - metadata: {name: p, namespace: x}
              spec:
                podSelector: {matchLabels: {app: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}
            """,
        },
        """
        [
        {"src": {"namespace": "default", "name": "web", "kind": "Deployment"}, "dst": {"namespace": "x", "name": "a", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "default", "name": "web", "kind": "Deployment"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "default", "name": "web", "kind": "Deployment"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "default", "name": "web", "kind": "Deployment"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "a", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"namespace": "default", "name": "web", "kind": "Deployment"}, "conn": "all"},
        {"src": {"namespace": "x", "name": "b", "kind": "Pod"}, "dst": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "default", "name": "web", "kind": "Deployment"}, "conn": "all"},
        {"src": {"ip_ranges": ["0.0.0.0-255.255.255.255"]}, "dst": {"namespace": "x", "name": "b", "kind": "Pod"}, "conn": "all"}
        ]
        """,
    )


def test_output_empty_input(check):
    """No workloads: an empty list."""
    check(
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: x}
        """,
        """
        []
        """,
    )
