"""Typed views of the Kubernetes objects the live commands read. Pure: JSON in, values out.

The API returns plain JSON; these functions pick the few fields ``verify``,
``restart-unmanaged-pods`` and ``prepare`` need, tolerating missing fields the way
``kubectl`` does (an absent ``status`` is an object that has not been reconciled yet).
Helm's release records are decoded here too: a Secret of type ``helm.sh/release.v1`` holds
``base64(gzip(json))`` in ``data.release``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

HELM_RELEASE_SECRET_TYPE = "helm.sh/release.v1"
_CHART_RE = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?)$")


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """The controlling owner of an object: ``Kind/name``."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod as the restart and verify logic sees it."""

    namespace: str
    name: str
    phase: str
    host_network: bool
    owner: OwnerRef | None
    ready: bool
    node: str | None
    labels: Mapping[str, str]
    deleting: bool = False
    uid: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """``(namespace, name)``."""
        return (self.namespace, self.name)


class RolloutKind(StrEnum):
    """Workload kinds with a rollout status."""

    DEPLOYMENT = "Deployment"
    DAEMONSET = "DaemonSet"


@dataclass(frozen=True, slots=True)
class Rollout:
    """Rollout state of a Deployment or DaemonSet, as ``kubectl rollout status`` reads it.

    Attributes:
        desired: replicas (Deployment) or ``desiredNumberScheduled`` (DaemonSet).
        updated: pods running the current template.
        ready: ready pods.
        available: available pods.
        observed: whether the controller has seen the latest spec (observedGeneration).
    """

    kind: RolloutKind
    namespace: str
    name: str
    desired: int
    updated: int
    ready: int
    available: int
    observed: bool
    labels: Mapping[str, str]

    @property
    def complete(self) -> bool:
        """Every desired pod runs the current template and is available."""
        return (
            self.observed
            and self.updated >= self.desired
            and self.available >= self.desired
            and self.ready >= self.desired
        )

    def describe(self) -> str:
        """``DaemonSet kube-system/cilium: 2/3 ready, 3/3 updated``."""
        text = (
            f"{self.kind} {self.namespace}/{self.name}: {self.ready}/{self.desired} ready, "
            f"{self.updated}/{self.desired} updated, {self.available}/{self.desired} available"
        )
        return text if self.observed else text + " (new spec not yet observed)"


@dataclass(frozen=True, slots=True)
class Service:
    """A Service and its load-balancer ingress addresses (IPs or host names)."""

    namespace: str
    name: str
    type: str
    lb_addresses: tuple[str, ...]
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Node:
    """A node: whether it is Ready and takes ordinary pods (no NoSchedule/NoExecute taint)."""

    name: str
    ready: bool
    schedulable: bool
    labels: Mapping[str, str]
    pod_cidrs: tuple[str, ...]
    taints: tuple[str, ...] = ()  # taint keys


@dataclass(frozen=True, slots=True)
class HelmRecord:
    """One revision of a release, as helm stores it in a Secret."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    chart_version: str


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = _meta(obj).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def controller_of(obj: Mapping[str, Any]) -> OwnerRef | None:
    """The owner reference with ``controller: true``, if any."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            return OwnerRef(str(ref.get("kind", "")), str(ref.get("name", "")))
    return None


def parse_pod(obj: Mapping[str, Any]) -> Pod:
    """A :class:`Pod` from an API object."""
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, Mapping)
    )
    return Pod(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        phase=str(status.get("phase") or "Pending"),
        host_network=bool(spec.get("hostNetwork")),
        owner=controller_of(obj),
        ready=ready,
        node=spec.get("nodeName"),
        labels=_labels(obj),
        deleting=meta.get("deletionTimestamp") is not None,
        uid=str(meta.get("uid", "")),
    )


def parse_rollout(obj: Mapping[str, Any], kind: RolloutKind) -> Rollout:
    """The rollout state of a Deployment or DaemonSet object."""
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    generation = _int(meta.get("generation"))
    observed = _int(status.get("observedGeneration")) >= generation
    if kind == RolloutKind.DAEMONSET:
        desired = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        ready = _int(status.get("numberReady"))
        available = _int(status.get("numberAvailable"))
    else:
        replicas = spec.get("replicas")
        desired = 1 if replicas is None else _int(replicas)
        updated = _int(status.get("updatedReplicas"))
        ready = _int(status.get("readyReplicas"))
        available = _int(status.get("availableReplicas"))
    return Rollout(
        kind=kind,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        desired=desired,
        updated=updated,
        ready=ready,
        available=available,
        observed=observed,
        labels=_labels(obj),
    )


def parse_service(obj: Mapping[str, Any]) -> Service:
    """A :class:`Service` with its load-balancer addresses."""
    meta = _meta(obj)
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    addresses = tuple(
        str(entry.get("hostname") or entry.get("ip"))
        for entry in ingress
        if isinstance(entry, Mapping) and (entry.get("hostname") or entry.get("ip"))
    )
    return Service(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        type=str((obj.get("spec") or {}).get("type") or "ClusterIP"),
        lb_addresses=addresses,
        labels=_labels(obj),
    )


def parse_node(obj: Mapping[str, Any]) -> Node:
    """A :class:`Node`: Ready condition and scheduling taints."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, Mapping)
    )
    taints = [t for t in spec.get("taints") or [] if isinstance(t, Mapping)]
    blocking = any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    return Node(
        name=str(_meta(obj).get("name", "")),
        ready=ready,
        schedulable=not blocking and not spec.get("unschedulable"),
        labels=_labels(obj),
        pod_cidrs=tuple(str(c) for c in cidrs),
        taints=tuple(str(t.get("key", "")) for t in taints),
    )


def split_chart(chart: str) -> tuple[str, str]:
    """``("cilium", "1.19.6")`` from helm's ``cilium-1.19.6``; the version may be empty."""
    match = _CHART_RE.match(chart)
    if match is None:
        return chart, ""
    return match["name"], match["version"]


def encode_helm_release(release: Mapping[str, Any]) -> str:
    """Helm's storage encoding: ``base64(gzip(json))`` (then base64 again as Secret data)."""
    raw = gzip.compress(json.dumps(release).encode())
    return base64.b64encode(base64.b64encode(raw)).decode()


def decode_helm_secret(obj: Mapping[str, Any]) -> HelmRecord | None:
    """The release record of a helm storage Secret, or None for another Secret.

    Raises:
        ValueError: the Secret is a helm release but its payload cannot be decoded.
    """
    if obj.get("type") != HELM_RELEASE_SECRET_TYPE:
        return None
    data = (obj.get("data") or {}).get("release")
    if not isinstance(data, str):
        raise ValueError(f"helm release secret {_meta(obj).get('name')!r} has no data.release")
    try:
        raw = base64.b64decode(base64.b64decode(data))
        if raw[:2] == b"\x1f\x8b":  # helm gzips, but reads plain JSON too
            raw = gzip.decompress(raw)
        release = json.loads(raw)
    except (binascii.Error, OSError, ValueError) as exc:
        raise ValueError(f"helm release secret {_meta(obj).get('name')!r}: {exc}") from exc
    metadata = ((release.get("chart") or {}).get("metadata")) or {}
    return HelmRecord(
        name=str(release.get("name", "")),
        namespace=str(release.get("namespace", "")),
        revision=_int(release.get("version")),
        status=str((release.get("info") or {}).get("status", "unknown")),
        chart=str(metadata.get("name", "")),
        chart_version=str(metadata.get("version", "")),
    )
