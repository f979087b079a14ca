"""Provider preparation before the first Cilium install (``prepare``; ``apply`` runs it).

Reads the kube-system DaemonSets and the nodes, plans with ``core.prepare``, and applies the
changes as JSON merge patches unless it is a dry run. ``apply`` calls
:func:`prepare_provider` before installing the cilium release for the first time.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster_mgmt.adapters.helm import HelmReleases
from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.core.config import ProjectConfig, Provider
from cluster_mgmt.core.prepare import (
    Change,
    ClusterFacts,
    PreparationPlan,
    plan_eks,
    plan_gke,
    plan_kind,
)
from cluster_mgmt.core.stack import RELEASES
from cluster_mgmt.errors import ClusterError

WATCHED_DAEMONSETS = ("aws-node", "anetd", "calico-node", "kindnet")


@dataclass(frozen=True, slots=True)
class PreparationResult:
    """The plan and the changes actually made (none in a dry run)."""

    plan: PreparationPlan
    applied: tuple[Change, ...]


def read_facts(kube: KubeClient) -> ClusterFacts:
    """The DaemonSets preparation cares about, and the nodes."""
    daemonsets = {}
    for name in WATCHED_DAEMONSETS:
        obj = kube.get_optional(f"/apis/apps/v1/namespaces/kube-system/daemonsets/{name}")
        if obj is not None:
            daemonsets[name] = obj
    return ClusterFacts(daemonsets=daemonsets, nodes=kube.nodes())


def plan_preparation(
    kube: KubeClient, config: ProjectConfig, env_name: str, *, revert: bool = False
) -> PreparationPlan:
    """What the environment's provider needs, read from the cluster."""
    env = config.environments[env_name]
    facts = read_facts(kube)
    provider = Provider(env.provider)
    if provider == Provider.EKS:
        return plan_eks(facts, revert=revert)
    if provider == Provider.GKE:
        return plan_gke(facts, env.cilium.native_routing_cidr)
    return plan_kind(facts)


def prepare_provider(
    kube: KubeClient,
    config: ProjectConfig,
    env_name: str,
    *,
    dry_run: bool = False,
    revert: bool = False,
) -> PreparationResult:
    """Plan and (unless ``dry_run``) apply the preparation of one environment.

    Raises:
        ClusterError: a blocking finding (Cilium must not be installed yet), when applying.
    """
    plan = plan_preparation(kube, config, env_name, revert=revert)
    if dry_run:
        return PreparationResult(plan, ())
    if plan.blocked and not revert:
        first = plan.blocked[0]
        raise ClusterError(
            f"{env_name}: not ready for Cilium: {first.message}"
            + (f" (and {len(plan.blocked) - 1} more)" if len(plan.blocked) > 1 else ""),
            hint=first.hint,
        )
    for change in plan.changes:
        kube.merge_patch(change.path, change.patch)
    return PreparationResult(plan, plan.changes)


def prepare_before_first_install(
    kube: KubeClient, helm: HelmReleases, config: ProjectConfig, env_name: str
) -> PreparationResult | None:
    """The step ``apply`` runs before the first Cilium install: None once Cilium is installed.

    Raises:
        ClusterError: a blocking finding; Cilium must not be installed yet.
    """
    if helm.release("cilium", RELEASES["cilium"].namespace) is not None:
        return None
    return prepare_provider(kube, config, env_name)
