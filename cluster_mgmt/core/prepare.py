"""What a cluster needs before Cilium's first install, per provider, as Cilium's guides say.

Pure: given the objects read from the cluster, the changes to make (JSON merge patches) and
the findings to report. ``ops.prepare`` reads and writes.

- EKS (ENI mode): Cilium allocates pod IPs from ENIs itself, so the AWS VPC CNI
  (``aws-node`` DaemonSet) must not manage the same nodes. As Cilium's EKS guide does,
  ``aws-node`` gets a nodeSelector ``io.cilium/aws-node-enabled=true``: it keeps running
  only on nodes carrying that label, none by default. Reversible: ``--revert`` removes the
  selector (and only the one this tool added).
- GKE: Cilium runs beside GKE's own networking; Dataplane V2 (``anetd``, GKE's build of
  Cilium) and Calico network policy enforcement (``calico-node``) must be off, and the
  nodes' pod ranges must lie in ``cilium.native_routing_cidr``. Nothing is patched.
- kind: the cluster must be created without its default CNI (``kindnet``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cluster_mgmt.core.config import Provider
from cluster_mgmt.core.kube_objects import Node

AWS_NODE_SELECTOR = "io.cilium/aws-node-enabled"
PREPARED_ANNOTATION = "cluster-mgmt.io/prepared"
AGENT_NOT_READY_TAINT = "node.cilium.io/agent-not-ready"
AWS_NODE_PATH = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"


class Level(StrEnum):
    """How much a finding matters."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    BLOCK = "block"  # Cilium must not be installed until this is fixed


@dataclass(frozen=True, slots=True)
class Finding:
    """Something found about the cluster, with what to do."""

    level: Level
    message: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One write: a JSON merge patch to an API object."""

    description: str
    path: str
    patch: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """What preparation looks at.

    Attributes:
        daemonsets: raw DaemonSet objects of kube-system by name.
        nodes: every node.
    """

    daemonsets: Mapping[str, Mapping[str, Any]]
    nodes: Sequence[Node]


@dataclass(frozen=True, slots=True)
class PreparationPlan:
    """The changes and findings for one environment."""

    provider: Provider
    changes: tuple[Change, ...]
    findings: tuple[Finding, ...]

    @property
    def blocked(self) -> list[Finding]:
        """Findings that forbid installing Cilium now."""
        return [f for f in self.findings if f.level == Level.BLOCK]


def _taint_finding(nodes: Sequence[Node], provider: Provider) -> Finding:
    # Cilium's guides create node pools with this taint so that no pod starts before the
    # agent (the agent removes it): pods started earlier get the old network.
    tainted = [n for n in nodes if AGENT_NOT_READY_TAINT in n.taints]
    if tainted:
        return Finding(Level.OK, f"{len(tainted)} node(s) carry the {AGENT_NOT_READY_TAINT} taint")
    # GKE (without Dataplane V2) restores its own CNI configuration when a node reboots or is
    # upgraded: without the taint, pods started then escape Cilium.
    level = Level.WARN if provider == Provider.GKE else Level.INFO
    return Finding(
        level,
        f"no node carries the {AGENT_NOT_READY_TAINT}=true:NoExecute taint",
        f"create {provider.value.upper()} node pools with it, so pods wait for Cilium; pods "
        "started before Cilium are restarted by `cluster-mgmt restart-unmanaged-pods`",
    )


def plan_eks(facts: ClusterFacts, *, revert: bool = False) -> PreparationPlan:
    """EKS in ENI mode: keep aws-node off the nodes Cilium manages (or undo that)."""
    findings: list[Finding] = []
    changes: list[Change] = []
    aws_node = facts.daemonsets.get("aws-node")
    if aws_node is None:
        findings.append(
            Finding(Level.OK, "no aws-node DaemonSet: the AWS VPC CNI is not installed")
        )
        return PreparationPlan(Provider.EKS, (), tuple(findings))
    template = ((aws_node.get("spec") or {}).get("template") or {}).get("spec") or {}
    selector = template.get("nodeSelector") or {}
    annotations = (aws_node.get("metadata") or {}).get("annotations") or {}
    ours = annotations.get(PREPARED_ANNOTATION) == AWS_NODE_SELECTOR
    if revert:
        if AWS_NODE_SELECTOR in selector and ours:
            changes.append(
                Change(
                    f"DaemonSet kube-system/aws-node: remove nodeSelector {AWS_NODE_SELECTOR} "
                    "(aws-node runs on every node again)",
                    AWS_NODE_PATH,
                    {
                        "metadata": {"annotations": {PREPARED_ANNOTATION: None}},
                        "spec": {"template": {"spec": {"nodeSelector": {AWS_NODE_SELECTOR: None}}}},
                    },
                )
            )
        elif AWS_NODE_SELECTOR in selector:
            findings.append(
                Finding(
                    Level.WARN,
                    f"aws-node has nodeSelector {AWS_NODE_SELECTOR}, but not set by cluster-mgmt",
                    "left as is; remove it with kubectl if you mean to",
                )
            )
        else:
            findings.append(
                Finding(Level.OK, "aws-node has no Cilium nodeSelector: nothing to undo")
            )
        return PreparationPlan(Provider.EKS, tuple(changes), tuple(findings))
    if selector.get(AWS_NODE_SELECTOR) == "true":
        findings.append(
            Finding(Level.OK, f"aws-node already restricted by nodeSelector {AWS_NODE_SELECTOR}")
        )
    else:
        changes.append(
            Change(
                f"DaemonSet kube-system/aws-node: add nodeSelector {AWS_NODE_SELECTOR}=true, so "
                "the AWS VPC CNI runs only on nodes with that label (none by default) and "
                "Cilium manages ENIs on the others",
                AWS_NODE_PATH,
                {
                    "metadata": {"annotations": {PREPARED_ANNOTATION: AWS_NODE_SELECTOR}},
                    "spec": {"template": {"spec": {"nodeSelector": {AWS_NODE_SELECTOR: "true"}}}},
                },
            )
        )
    labelled = [n.name for n in facts.nodes if n.labels.get(AWS_NODE_SELECTOR) == "true"]
    if labelled:
        findings.append(
            Finding(
                Level.WARN,
                f"aws-node keeps running on {len(labelled)} labelled node(s): "
                + ", ".join(labelled[:5]),
                f"remove the {AWS_NODE_SELECTOR} label from nodes Cilium should manage",
            )
        )
    findings.append(_taint_finding(facts.nodes, Provider.EKS))
    return PreparationPlan(Provider.EKS, tuple(changes), tuple(findings))


def plan_gke(facts: ClusterFacts, native_routing_cidr: str | None) -> PreparationPlan:
    """GKE: checks only (Dataplane V2, Calico, pod ranges, taints)."""
    findings: list[Finding] = []
    if "anetd" in facts.daemonsets:
        findings.append(
            Finding(
                Level.BLOCK,
                "GKE Dataplane V2 is enabled (DaemonSet kube-system/anetd): it is GKE's own "
                "Cilium and cannot run beside this one",
                "create the cluster without --enable-dataplane-v2",
            )
        )
    if "calico-node" in facts.daemonsets:
        findings.append(
            Finding(
                Level.BLOCK,
                "GKE network policy enforcement (Calico, DaemonSet kube-system/calico-node) is on",
                "gcloud container clusters update CLUSTER --no-enable-network-policy "
                "(after disabling the addon)",
            )
        )
    if native_routing_cidr:
        network = ipaddress.ip_network(native_routing_cidr)
        outside = [
            f"{n.name} ({cidr})"
            for n in facts.nodes
            for cidr in n.pod_cidrs
            if ":" not in cidr and not ipaddress.ip_network(cidr, strict=False).subnet_of(network)  # type: ignore[arg-type]
        ]
        if outside:
            findings.append(
                Finding(
                    Level.BLOCK,
                    f"pod ranges outside cilium.native_routing_cidr {native_routing_cidr}: "
                    + ", ".join(outside[:5]),
                    "set native_routing_cidr to the cluster's pod range (gcloud container "
                    "clusters describe CLUSTER --format 'value(clusterIpv4Cidr)')",
                )
            )
        else:
            findings.append(
                Finding(
                    Level.OK, f"node pod ranges lie in native_routing_cidr {native_routing_cidr}"
                )
            )
    if not any(f.level == Level.BLOCK for f in findings) and "anetd" not in facts.daemonsets:
        findings.append(Finding(Level.OK, "no conflicting dataplane (Dataplane V2, Calico)"))
    findings.append(_taint_finding(facts.nodes, Provider.GKE))
    return PreparationPlan(Provider.GKE, (), tuple(findings))


def plan_kind(facts: ClusterFacts) -> PreparationPlan:
    """kind: the default CNI must be off."""
    if "kindnet" in facts.daemonsets:
        finding = Finding(
            Level.BLOCK,
            "kind runs its default CNI (DaemonSet kube-system/kindnet)",
            "create the cluster with networking.disableDefaultCNI: true",
        )
    else:
        finding = Finding(Level.OK, "no default CNI (kindnet): ready for Cilium")
    return PreparationPlan(Provider.KIND, (), (finding,))
