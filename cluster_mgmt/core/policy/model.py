"""The normalized policy model shared by Kubernetes and Cilium policies.

A :class:`Policy` has one or more :class:`Section` (a CiliumNetworkPolicy ``specs`` list has
several), each selecting subjects and carrying ordered :class:`Rule` objects. A rule is an
allow or a deny in one direction, with peers (``None``: any peer) and ports (``None``: any
protocol and port).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import StrEnum
from typing import Any

from cluster_mgmt.core.policy.conn import L7
from cluster_mgmt.core.policy.selectors import LabelSelector
from cluster_mgmt.errors import Location

KIND_K8S = "NetworkPolicy"
KIND_CNP = "CiliumNetworkPolicy"
KIND_CCNP = "CiliumClusterwideNetworkPolicy"
POLICY_KINDS = (KIND_K8S, KIND_CNP, KIND_CCNP)

# Cilium entities that are not pods or world addresses; they are peers of their own.
ENTITY_ATOMS = ("host", "remote-node", "kube-apiserver", "health", "init", "ingress", "unmanaged")
CLUSTER_ENTITIES = ENTITY_ATOMS  # `cluster` = all pods + these (Cilium's InitEntities)
KNOWN_ENTITIES = (*ENTITY_ATOMS, "all", "world", "world-ipv4", "world-ipv6", "cluster", "none")


class Direction(StrEnum):
    """The side of a pod a rule governs: traffic into it or out of it."""

    INGRESS = "ingress"
    EGRESS = "egress"


class Action(StrEnum):
    """What a rule does with the traffic it matches."""

    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class K8sPodPeer:
    """``podSelector``/``namespaceSelector`` peer of a NetworkPolicy (``None``: not given)."""

    namespace_selector: LabelSelector | None
    pod_selector: LabelSelector | None
    policy_namespace: str

    def describe(self) -> str:
        """Human form."""
        parts = []
        if self.namespace_selector is not None:
            parts.append(f"namespaces {self.namespace_selector.describe()}")
        else:
            parts.append(f"namespace {self.policy_namespace}")
        if self.pod_selector is not None:
            parts.append(f"pods {self.pod_selector.describe()}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class CiliumEndpointPeer:
    """``from/toEndpoints`` selector, already scoped to the policy namespace where Cilium does."""

    selector: LabelSelector

    def describe(self) -> str:
        """Human form."""
        return f"endpoints {self.selector.describe()}"


@dataclass(frozen=True, slots=True)
class CidrPeer:
    """An IPv4 block minus exceptions (``ipBlock``, ``toCIDR``, ``toCIDRSet``)."""

    cidr: str
    low: int
    high: int
    excepts: tuple[tuple[int, int], ...] = ()

    def describe(self) -> str:
        """Human form."""
        text = f"cidr {self.cidr}"
        if self.excepts:
            text += f" (except {len(self.excepts)} block{'s' if len(self.excepts) > 1 else ''})"
        return text


@dataclass(frozen=True, slots=True)
class EntityPeer:
    """A Cilium entity (``world``, ``cluster``, ``kube-apiserver``, ...)."""

    entity: str

    def describe(self) -> str:
        """Human form."""
        return f"entity {self.entity}"


@dataclass(frozen=True, slots=True)
class FqdnPeer:
    """A ``toFQDNs`` selector: addresses learnt from DNS answers, unknown before runtime."""

    pattern: str  # matchName as written, or matchPattern with its wildcards

    def describe(self) -> str:
        """Human form."""
        return f"fqdn {self.pattern}"


Peer = K8sPodPeer | CiliumEndpointPeer | CidrPeer | EntityPeer | FqdnPeer


@dataclass(frozen=True, slots=True)
class PortSpec:
    """Ports of one protocol set: a number, a range, a named port or all (``port=None``)."""

    protocols: tuple[str, ...]
    port: int | str | None = None
    end_port: int | None = None
    l7: L7 = None

    @property
    def named(self) -> bool:
        """Whether the port is a container port name, resolved per destination pod."""
        return isinstance(self.port, str)

    def describe(self) -> str:
        """``80/TCP``, ``8000-8080/TCP``, ``http/TCP``, ``all/UDP``."""
        proto = "+".join(self.protocols)
        if self.port is None:
            port = "all" if self.protocols != ("ICMP",) else "any type"
        elif self.end_port is not None and self.end_port != self.port:
            port = f"{self.port}-{self.end_port}"
        else:
            port = str(self.port)
        if self.protocols == ("ICMP",):
            return f"ICMP type {port}" if self.port is not None else "ICMP"
        return f"{port}/{proto}" + (" with L7 rules" if self.l7 is not None else "")


@dataclass(frozen=True, slots=True)
class Rule:
    """One allow or deny rule; ``peers``/``ports`` ``None`` mean any."""

    direction: Direction
    action: Action
    peers: tuple[Peer, ...] | None
    ports: tuple[PortSpec, ...] | None
    number: int  # 1-based within its list (spec.ingress, spec.egressDeny, ...)
    field: str  # e.g. "spec.ingress[0]"
    location: Location | None = dc_field(default=None, compare=False)

    @property
    def label(self) -> str:
        """``ingress rule #1`` / ``egressDeny rule #2``."""
        kind = self.direction if self.action is Action.ALLOW else f"{self.direction}Deny"
        return f"{kind} rule #{self.number}"


@dataclass(frozen=True, slots=True)
class Subject:
    """Which pods a section applies to: a selector in a namespace (``None``: cluster-wide)."""

    namespace: str | None
    selector: LabelSelector | None  # None: the section selects no pods (node selector)
    cilium: bool  # Cilium endpoint labels (namespace labels, service account...) apply

    def describe(self) -> str:
        """Human form."""
        where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
        if self.selector is None:
            return "nodes (host policy)"
        return f"pods {self.selector.describe()} in {where}"


@dataclass(frozen=True, slots=True)
class Section:
    """One subject selector with its isolation effect and rules."""

    subject: Subject
    isolates_ingress: bool
    isolates_egress: bool
    rules: tuple[Rule, ...]
    field: str  # "spec" or "specs[1]"
    location: Location | None = dc_field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy object."""

    kind: str
    namespace: str | None
    name: str
    sections: tuple[Section, ...]
    location: Location | None = dc_field(default=None, compare=False)
    raw: Any = dc_field(default=None, compare=False, hash=False, repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity: kind, namespace ('' when cluster-wide), name."""
        return (self.kind, self.namespace or "", self.name)

    @property
    def display(self) -> str:
        """``CiliumNetworkPolicy app/allow-web``."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"
