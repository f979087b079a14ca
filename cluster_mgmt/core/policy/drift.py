"""Repository policies versus live ones: object changes and the connectivity they cause."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.core.policy import conn as C
from cluster_mgmt.core.policy.analysis import (
    Analysis,
    IpRanges,
    PeerRef,
    peer_json,
    peer_sort_key,
    policy_cidrs,
)
from cluster_mgmt.core.policy.conn import Conn
from cluster_mgmt.core.policy.inventory import Inventory
from cluster_mgmt.core.policy.model import Direction, Policy
from cluster_mgmt.core.policy.source import SourceDoc

PolicyKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """A policy added (only in the repository), removed (only live) or changed."""

    change: str
    key: PolicyKey
    diff: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """``CiliumNetworkPolicy app/web``."""
        kind, ns, name = self.key
        return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"

    def as_json(self) -> dict[str, Any]:
        """Plain dict for ``-o json``."""
        kind, ns, name = self.key
        return {
            "change": self.change,
            "kind": kind,
            "namespace": ns or None,
            "name": name,
            "diff": list(self.diff),
        }


@dataclass(frozen=True, slots=True)
class ConnChange:
    """A connection whose allowed set differs between two policy sets."""

    src: PeerRef
    dst: PeerRef
    before: Conn
    after: Conn

    @property
    def change(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if not self.before:
            return "added"
        if not self.after:
            return "removed"
        return "changed"

    def as_json(self) -> dict[str, Any]:
        """``{"src", "dst", "change", "before", "after"}`` with CONN values (``[]``: none)."""
        return {
            "src": peer_json(self.src),
            "dst": peer_json(self.dst),
            "change": self.change,
            "before": C.to_json(self.before) if self.before else [],
            "after": C.to_json(self.after) if self.after else [],
        }

    def render(self) -> str:
        """One line for humans."""
        mark = {"added": "+", "removed": "-", "changed": "~"}[self.change]
        text = f"{mark} {self.src} -> {self.dst}: "
        if self.change == "changed":
            return text + f"{C.describe(self.before)} => {C.describe(self.after)}"
        return text + C.describe(self.after or self.before)


def _canonical(doc: SourceDoc) -> str:
    obj = doc.obj
    body = {k: obj[k] for k in ("spec", "specs") if obj.get(k) is not None}
    return json.dumps(_plain(body), indent=2, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _doc_key(doc: SourceDoc, default_namespace: str) -> PolicyKey:
    obj = doc.obj
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind"))
    ns = (
        ""
        if kind == "CiliumClusterwideNetworkPolicy"
        else str(meta.get("namespace") or default_namespace)
    )
    return (kind, ns, str(meta.get("name")))


def policy_changes(
    repo: Sequence[SourceDoc],
    live: Sequence[SourceDoc],
    repo_policies: Sequence[Policy],
    live_policies: Sequence[Policy],
    default_namespace: str = "default",
) -> list[PolicyChange]:
    """Added/removed/changed policies; equal meaning (after defaults) is not a change."""
    repo_docs = {_doc_key(d, default_namespace): d for d in repo}
    live_docs = {_doc_key(d, default_namespace): d for d in live}
    repo_model = {p.key: p for p in repo_policies}
    live_model = {p.key: p for p in live_policies}
    out: list[PolicyChange] = []
    for key in sorted(set(repo_docs) | set(live_docs)):
        if key not in live_docs:
            out.append(PolicyChange("added", key))
        elif key not in repo_docs:
            out.append(PolicyChange("removed", key))
        else:
            a, b = live_model.get(key), repo_model.get(key)
            if a is not None and b is not None and a.sections == b.sections:
                continue
            old, new = _canonical(live_docs[key]), _canonical(repo_docs[key])
            if old == new and (a is None) == (b is None):
                continue
            diff = difflib.unified_diff(
                old.splitlines(), new.splitlines(), "live", "repository", lineterm="", n=2
            )
            out.append(PolicyChange("changed", key, tuple(diff)))
    return out


def connectivity_delta(
    inventory: Inventory,
    before: Sequence[Policy],
    after: Sequence[Policy],
    *,
    apiserver_ips: Iterable[str] = (),
) -> list[ConnChange]:
    """Connections that differ between two policy sets over one inventory."""
    cidrs = policy_cidrs(before) + policy_cidrs(after)
    ips = list(apiserver_ips)
    old = Analysis(inventory, before, extra_cidrs=cidrs, apiserver_ips=ips)
    new = Analysis(inventory, after, extra_cidrs=cidrs, apiserver_ips=ips)
    hidden = {
        old.classes.workload_index[r] for r in inventory.virtual if r in old.classes.workload_index
    }
    out: list[ConnChange] = []
    old_pairs, new_pairs = old.workload_pairs(), new.workload_pairs()
    for key in old_pairs.keys() | new_pairs.keys():
        a, b = old_pairs.get(key, C.EMPTY), new_pairs.get(key, C.EMPTY)
        if a != b and key[0] not in hidden and key[1] not in hidden:
            out.append(ConnChange(old.workloads[key[0]], old.workloads[key[1]], a, b))
    # Same inventory and partition: compare the per-address vectors, atom by atom.
    grouped: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for wi, ref in enumerate(old.workloads):
        if wi in hidden or not old.classes.workload_classes[wi]:
            continue
        for direction in (Direction.EGRESS, Direction.INGRESS):
            va, vb = old.external_vector(wi, direction), new.external_vector(wi, direction)
            if va == vb:
                continue
            for i, (a, b) in enumerate(zip(va, vb, strict=True)):
                if a != b:
                    grouped.setdefault((direction, ref, a, b), []).append(
                        old.atoms.partition.atoms[i]
                    )
    for (direction, ref, a, b), ranges in grouped.items():
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(ranges):
            if merged and merged[-1][1] == lo - 1:
                merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        peer = IpRanges(tuple(merged))
        if direction is Direction.EGRESS:
            out.append(ConnChange(ref, peer, a, b))
        else:
            out.append(ConnChange(peer, ref, a, b))
    out.sort(key=lambda c: (peer_sort_key(c.src), peer_sort_key(c.dst)))
    return out
