"""Sort parsed objects into policies and inventory, and parse the policies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cluster_mgmt.core.policy.cilium_parse import parse_cilium_policy
from cluster_mgmt.core.policy.inventory import INVENTORY_KINDS, Inventory, build_inventory
from cluster_mgmt.core.policy.k8s_parse import parse_network_policy
from cluster_mgmt.core.policy.model import KIND_CCNP, KIND_CNP, KIND_K8S, POLICY_KINDS, Policy
from cluster_mgmt.core.policy.source import Finding, Severity, SourceDoc


@dataclass(slots=True)
class PolicySet:
    """Parsed policies with the findings their parsing produced."""

    policies: list[Policy] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    docs: list[SourceDoc] = field(default_factory=list)


def is_policy(doc: SourceDoc) -> bool:
    """Whether the object is a NetworkPolicy, CNP or CCNP."""
    return doc.obj.get("kind") in POLICY_KINDS


def is_inventory(doc: SourceDoc) -> bool:
    """Whether the object is a namespace, pod or workload."""
    return doc.obj.get("kind") in INVENTORY_KINDS


def parse_policies(docs: Iterable[SourceDoc], default_namespace: str = "default") -> PolicySet:
    """Parse every policy object among ``docs`` (other kinds are skipped)."""
    out = PolicySet()
    for doc in docs:
        kind = doc.obj.get("kind")
        api = str(doc.obj.get("apiVersion") or "")
        if kind == KIND_K8S:
            # extensions/v1beta1 (before Kubernetes 1.16) has the same spec as v1.
            if api and not api.startswith(("networking.k8s.io/", "extensions/")):
                out.findings.append(_other_api(doc, api))
                continue
            policy, findings = parse_network_policy(doc, default_namespace)
        elif kind in (KIND_CNP, KIND_CCNP):
            if api and not api.startswith("cilium.io/"):
                out.findings.append(_other_api(doc, api))
                continue
            policy, findings = parse_cilium_policy(doc, default_namespace)
        else:
            continue
        out.docs.append(doc)
        out.findings.extend(findings)
        if policy is not None:
            out.policies.append(policy)
    return out


def _other_api(doc: SourceDoc, api: str) -> Finding:
    return Finding(
        Severity.WARNING,
        "unsupported-api",
        f"{doc.obj.get('kind')} of apiVersion {api} (e.g. Calico's) is not analysed",
        doc.locate(("apiVersion",)),
    )


def split_documents(
    docs: Iterable[SourceDoc], default_namespace: str = "default"
) -> tuple[Inventory, PolicySet]:
    """Inventory and policies from one stream of objects."""
    items = list(docs)
    policies = parse_policies((d for d in items if is_policy(d)), default_namespace)
    inventory = build_inventory((d for d in items if is_inventory(d)), default_namespace)
    for policy in policies.policies:
        if policy.namespace:
            inventory.ensure_namespace(policy.namespace)
    return inventory, policies
