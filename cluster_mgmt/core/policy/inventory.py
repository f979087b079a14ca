"""Namespaces and workloads, from manifests or a live cluster listing.

A workload is a controller object (Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job, CronJob); its pods are the Pods whose controller
``ownerReference`` names it or, when the input has none of its pods (no Pod, no controller
of its own such as a Deployment's ReplicaSet, not scaled to zero), one pod made from its pod
template. A Pod without a controller, or whose controller is a Node (the mirror pod of a
static pod, such as the control plane's etcd or kube-apiserver), stands alone as a ``Pod``
workload. Finished Pods (``Succeeded``, ``Failed``) run nothing and are left out. Pods are
reduced to *shapes* (namespace, labels, named ports, service account): pods with the same
shape behave the same under any policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cluster_mgmt.core.policy.source import Finding, Severity, SourceDoc

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
)
INVENTORY_KINDS = ("Namespace", "Pod", *WORKLOAD_KINDS)
_TERMINATED = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True, order=True)
class WorkloadRef:
    """A workload's identity as the matrix prints it."""

    namespace: str
    name: str
    kind: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"

    def as_json(self) -> dict[str, str]:
        """``{"namespace", "name", "kind"}``."""
        return {"namespace": self.namespace, "name": self.name, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class NamedPort:
    """A container port with a name."""

    name: str
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class PodShape:
    """What policies can see of a pod."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    named_ports: tuple[NamedPort, ...] = ()
    service_account: str = "default"
    automount_token: bool = True


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace and its labels (``kubernetes.io/metadata.name`` always present)."""

    name: str
    labels: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Inventory:
    """Namespaces and workloads with their pod shapes."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    workloads: dict[WorkloadRef, list[PodShape]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    virtual: set[WorkloadRef] = field(default_factory=set)

    def ensure_namespace(self, name: str) -> None:
        """Declare a referenced namespace with only its name label."""
        if name not in self.namespaces:
            self.namespaces[name] = Namespace(name, ((NAMESPACE_NAME_LABEL, name),))

    def add_shape(self, ref: WorkloadRef, shape: PodShape) -> None:
        """Add a pod shape to a workload (once)."""
        shapes = self.workloads.setdefault(ref, [])
        if shape not in shapes:
            shapes.append(shape)
        self.ensure_namespace(ref.namespace)

    def copy(self) -> Inventory:
        """A shallow copy that can be extended without touching this one."""
        return Inventory(
            dict(self.namespaces),
            {k: list(v) for k, v in self.workloads.items()},
            list(self.findings),
            set(self.virtual),
        )

    def find(self, text: str) -> list[WorkloadRef]:
        """Workloads matching ``NS/NAME`` or ``NS/KIND/NAME`` (kind case-insensitive)."""
        parts = text.split("/")
        if len(parts) == 2:
            ns, name = parts
            return sorted(r for r in self.workloads if r.namespace == ns and r.name == name)
        if len(parts) == 3:
            ns, kind, name = parts
            return sorted(
                r
                for r in self.workloads
                if r.namespace == ns and r.name == name and r.kind.lower() == kind.lower()
            )
        return []


def _labels(meta: Any) -> tuple[tuple[str, str], ...]:
    labels = (meta or {}).get("labels") or {}
    if not isinstance(labels, Mapping):
        return ()
    return tuple(sorted((str(k), "" if v is None else _text(v)) for k, v in labels.items()))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _named_ports(pod_spec: Mapping[str, Any]) -> tuple[NamedPort, ...]:
    ports: set[NamedPort] = set()
    containers: list[Any] = list(pod_spec.get("containers") or [])
    # Native sidecars (init containers that keep running) serve ports too.
    containers += [
        c
        for c in pod_spec.get("initContainers") or []
        if isinstance(c, Mapping) and c.get("restartPolicy") == "Always"
    ]
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for port in container.get("ports") or []:
            if not isinstance(port, Mapping) or not port.get("name"):
                continue
            raw: Any = port.get("containerPort")
            try:
                number = int(raw)
            except (TypeError, ValueError):
                continue
            proto = str(port.get("protocol") or "TCP").upper()
            ports.add(NamedPort(str(port["name"]).lower(), proto, number))
    return tuple(sorted(ports, key=lambda p: (p.name, p.protocol, p.port)))


def pod_shape(namespace: str, meta: Any, spec: Any) -> PodShape:
    """The shape of a pod from its (template) metadata and spec."""
    spec = spec if isinstance(spec, Mapping) else {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    automount = spec.get("automountServiceAccountToken")
    return PodShape(
        namespace=namespace,
        labels=_labels(meta),
        named_ports=_named_ports(spec),
        service_account=str(account),
        automount_token=automount is not False,
    )


def _template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") if isinstance(spec, Mapping) else None
    return template if isinstance(template, Mapping) else None


def _scaled_to_zero(obj: Mapping[str, Any]) -> bool:
    # `replicas: 0` (an old ReplicaSet of a Deployment, a scaled-down StatefulSet): no pods.
    spec = obj.get("spec")
    replicas = spec.get("replicas") if isinstance(spec, Mapping) else None
    return replicas == 0 and not isinstance(replicas, bool)


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]
    for ref in refs:
        if ref.get("controller") is True and ref.get("kind") and ref.get("name"):
            return ref
    # Hand-written manifests often omit `controller: true`; take a reference to a workload.
    for ref in refs:
        if ref.get("kind") in WORKLOAD_KINDS and ref.get("name") and "controller" not in ref:
            return ref
    return None


def build_inventory(docs: Iterable[SourceDoc], default_namespace: str = "default") -> Inventory:
    """Build the inventory from objects of any kind (other kinds are ignored)."""
    inv = Inventory()
    declared: dict[str, tuple[tuple[str, str], ...]] = {}
    # Templates stand for the pods of workloads whose Pods are not in the input; a listed
    # Pod is what runs (per-pod labels, a newer or older template), so it takes precedence,
    # and so does a child controller (a Deployment's pods are its ReplicaSet's).
    templates: dict[WorkloadRef, PodShape] = {}
    pods_in_input: set[WorkloadRef] = set()  # pods listed elsewhere or finished
    for doc in docs:
        obj = doc.obj
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        if not isinstance(meta, Mapping):
            continue
        if kind == "Namespace":
            name = meta.get("name")
            if name:
                ns_labels = dict(_labels(meta))
                ns_labels[NAMESPACE_NAME_LABEL] = str(name)
                declared[str(name)] = tuple(sorted(ns_labels.items()))
            continue
        if kind not in INVENTORY_KINDS or not meta.get("name"):
            continue
        namespace = str(meta.get("namespace") or default_namespace)
        if kind == "Pod":
            owner = _controller(meta)
            # A mirror pod (a static pod of the kubelet, e.g. etcd) names its Node as
            # controller; each one is a separate pod with its own labels.
            if owner is not None and owner.get("kind") != "Node":
                ref = WorkloadRef(namespace, str(owner["name"]), str(owner["kind"]))
            else:
                ref = WorkloadRef(namespace, str(meta["name"]), "Pod")
            status = obj.get("status")
            if isinstance(status, Mapping) and status.get("phase") in _TERMINATED:
                pods_in_input.add(ref)  # a finished Job's pods are in the input: no template pod
                continue
            inv.add_shape(ref, pod_shape(namespace, meta, obj.get("spec")))
            continue
        ref = WorkloadRef(namespace, str(meta["name"]), str(kind))
        owner = _controller(meta)
        if owner is not None:
            pods_in_input.add(WorkloadRef(namespace, str(owner["name"]), str(owner["kind"])))
        template = _template(obj)
        if template is None:
            inv.findings.append(
                Finding(
                    Severity.INFO,
                    "no-pod-template",
                    f"{kind} {namespace}/{meta['name']} has no pod template; only its pods count",
                    doc.locate(("spec",)),
                )
            )
            inv.ensure_namespace(namespace)
            inv.workloads.setdefault(ref, [])
            continue
        inv.ensure_namespace(namespace)
        inv.workloads.setdefault(ref, [])
        if _scaled_to_zero(obj):
            continue
        templates.setdefault(
            ref, pod_shape(namespace, template.get("metadata"), template.get("spec"))
        )
    for ref, shape in templates.items():
        if not inv.workloads[ref] and ref not in pods_in_input:
            inv.add_shape(ref, shape)
    for name, labels in declared.items():
        inv.namespaces[name] = Namespace(name, labels)
    return inv


def add_namespaces(inv: Inventory, names: Sequence[str]) -> None:
    """Make sure namespaces referenced elsewhere (policies) exist."""
    for name in names:
        inv.ensure_namespace(name)


KUBE_DNS = WorkloadRef("kube-system", "coredns", "Deployment")


def with_virtual_kube_dns(inv: Inventory) -> Inventory:
    """A copy with a stand-in kube-dns Deployment when the inventory has no kube-dns pods."""
    for shapes in inv.workloads.values():
        for shape in shapes:
            if shape.namespace == "kube-system" and ("k8s-app", "kube-dns") in shape.labels:
                return inv
    out = inv.copy()
    out.add_shape(
        KUBE_DNS,
        PodShape(
            "kube-system",
            (("k8s-app", "kube-dns"),),
            (NamedPort("dns", "UDP", 53), NamedPort("dns-tcp", "TCP", 53)),
            "coredns",
            True,
        ),
    )
    out.virtual.add(KUBE_DNS)
    return out


def kube_dns_workloads(inv: Inventory) -> list[WorkloadRef]:
    """Workloads whose pods are kube-dns (``k8s-app=kube-dns`` in kube-system)."""
    return sorted(
        ref
        for ref, shapes in inv.workloads.items()
        if any(s.namespace == "kube-system" and ("k8s-app", "kube-dns") in s.labels for s in shapes)
    )
