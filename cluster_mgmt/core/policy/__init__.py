"""Network-policy model and analysis (pure: no I/O).

Parse Kubernetes NetworkPolicy and Cilium(Clusterwide)NetworkPolicy objects into one model,
build an inventory of workloads, compute who can reach whom, explain verdicts, lint, build
policies from rule strings, compare policy sets and check that blocking mode is safe.
"""

from cluster_mgmt.core.policy.analysis import Analysis, Connection, IpRanges
from cluster_mgmt.core.policy.documents import PolicySet, parse_policies, split_documents
from cluster_mgmt.core.policy.inventory import Inventory, WorkloadRef, build_inventory
from cluster_mgmt.core.policy.model import Action, Direction, Policy
from cluster_mgmt.core.policy.source import Finding, Severity, SourceDoc

__all__ = [
    "Action",
    "Analysis",
    "Connection",
    "Direction",
    "Finding",
    "Inventory",
    "IpRanges",
    "Policy",
    "PolicySet",
    "Severity",
    "SourceDoc",
    "WorkloadRef",
    "build_inventory",
    "parse_policies",
    "split_documents",
]
