"""Who can reach whom: the connectivity engine behind ``matrix``, ``explain`` and ``lint``.

The cost grows with the number of distinct pod shapes ("classes"), not with pods. One
module per step:

1. ``_classes``: pods are reduced to classes (distinct shapes) per workload.
2. ``_atoms``: peers are *atoms*: one per pod class, one per piece of the IPv4 space (cut at
   every CIDR boundary the policies mention), one per Cilium entity (host,
   kube-apiserver...), one per ``toFQDNs`` selector. A set of peers is a Python ``int``
   bitset over the atoms.
3. ``_selection``: every selector and rule is evaluated once into a bitset (label index
   lookups, no loops over pods).
4. ``_rows``: per class and direction, the applicable rules fold into a *row*:
   ``{conn: peer bitset}`` (which peers get which ports). Classes selected by the same
   sections share a row.
5. ``_combine``: a pod-to-pod connection is the egress row of the source intersected with
   the ingress row of the destination; rows are combined group by group, giving rectangles
   ``(conn, source classes, destination classes)``. Traffic to or from atoms that are not
   pods needs only the pod's side.
6. ``_engine``: :class:`Analysis` builds those in order and answers per workload; it
   assembles the matrix of ``_peers.Connection`` lines.
"""

from cluster_mgmt.core.policy.analysis._atoms import bit_indices, policy_cidrs
from cluster_mgmt.core.policy.analysis._engine import Analysis
from cluster_mgmt.core.policy.analysis._peers import (
    Connection,
    EntityRef,
    FqdnRef,
    IpRanges,
    PeerRef,
    peer_json,
    peer_sort_key,
)
from cluster_mgmt.core.policy.analysis._rows import RuleRef

__all__ = [
    "Analysis",
    "Connection",
    "EntityRef",
    "FqdnRef",
    "IpRanges",
    "PeerRef",
    "RuleRef",
    "bit_indices",
    "peer_json",
    "peer_sort_key",
    "policy_cidrs",
]
