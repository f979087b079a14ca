"""``verify --probe``: does a deny policy do what the mode says, on this cluster, right now?

In a temporary namespace: a server pod behind a Service, a CiliumNetworkPolicy denying all
ingress to it, and a client pod that connects once. Blocking mode expects the connection
dropped; audit mode expects it through (logged, not blocked) and, when Prometheus is there,
an AUDIT verdict for the namespace in Hubble's flow metrics. The namespace is deleted at the
end, whatever happens: :meth:`Probe.cleanup` is idempotent and ``verify`` also calls it from
the main thread on Ctrl-C or SIGTERM. It deletes only the namespace this run created: the
namespace carries a per-run token, checked before the delete, so a refused create (RBAC), a
name taken by someone else or an interrupted request never deletes a namespace it does not own.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.adapters.prometheus import PrometheusClient
from cluster_mgmt.core.verify import CheckResult, failed, passed
from cluster_mgmt.errors import ClusterError

PROBE_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"
PROBE_LABEL = "cluster-mgmt.io/probe"
RUN_ANNOTATION = "cluster-mgmt.io/probe-run"
SERVER_PORT = 8080
POLICY_NAME = "cluster-mgmt-probe-deny"
CHECK = "probe"


def probe_namespace() -> str:
    """A fresh namespace name: ``cluster-mgmt-probe-<8 hex>``."""
    return f"cluster-mgmt-probe-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Timing:
    """How the probe waits: clock, sleep and poll interval (injectable for tests)."""

    now: Callable[[], float]
    sleep: Callable[[float], None]
    interval_s: float = 1.0


class Probe:
    """One probe run in its own namespace."""

    def __init__(
        self,
        kube: KubeClient,
        *,
        audit_mode: bool,
        prometheus: PrometheusClient | None,
        namespace: str | None = None,
        image: str | None = None,
    ) -> None:
        self.kube = kube
        self.image = image or PROBE_IMAGE
        self.audit_mode = audit_mode
        self.prometheus = prometheus
        self.namespace = namespace or probe_namespace()
        self.run_token = secrets.token_hex(8)
        self._lock = threading.Lock()
        self._created = False
        self._cleaned = False
        self.cleanup_error: str | None = None

    def run(self, deadline: float, timing: Timing) -> CheckResult:
        """Create, connect, judge; always delete the namespace."""
        try:
            return self._run(deadline, timing)
        except ClusterError as exc:
            return failed(CHECK, f"probe in {self.namespace}: {exc.message}", exc.hint)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Delete the probe namespace if this run created it (once; safe from any thread)."""
        with self._lock:
            if self._cleaned or not self._created:
                self._cleaned = True
                return
            self._cleaned = True
        path = f"/api/v1/namespaces/{self.namespace}"
        try:
            if self._owns_namespace():
                self.kube.delete(path)
        except ClusterError as exc:
            self.cleanup_error = (
                f"could not delete namespace {self.namespace}: {exc.message} "
                f"(kubectl delete namespace {self.namespace})"
            )

    def _owns_namespace(self) -> bool:
        """Whether the namespace exists and carries this run's token."""
        current = self.kube.get_optional(f"/api/v1/namespaces/{self.namespace}")
        annotations = ((current or {}).get("metadata") or {}).get("annotations") or {}
        return annotations.get(RUN_ANNOTATION) == self.run_token

    def _run(self, deadline: float, timing: Timing) -> CheckResult:
        ns = self.namespace
        with self._lock:
            if self._cleaned:  # cancelled before it started
                return failed(CHECK, "probe cancelled before it started")
            self._created = True  # it may exist even if the answer never arrives
        try:
            self.kube.create("/api/v1/namespaces", _namespace(ns, self.run_token))
        except ClusterError as exc:
            raise ClusterError(
                f"cannot create namespace {ns}: {exc.message}",
                hint="the probe needs to create and delete a namespace and, in it, pods, a "
                "service and a CiliumNetworkPolicy; run verify without --probe otherwise",
            ) from exc
        self.kube.create(f"/api/v1/namespaces/{ns}/pods", _server_pod(ns, self.image))
        self.kube.create(f"/api/v1/namespaces/{ns}/services", _service(ns))
        self._wait(deadline, timing, "the server pod to be ready with a Cilium endpoint",
                   lambda: self._server_ready())  # fmt: skip
        self.kube.create(f"/apis/cilium.io/v2/namespaces/{ns}/ciliumnetworkpolicies", _policy(ns))
        self._wait(deadline, timing, "Cilium to enforce the deny policy on the server",
                   lambda: self._enforcing())  # fmt: skip
        self.kube.create(f"/api/v1/namespaces/{ns}/pods", _client_pod(ns, self.image))
        phase = self._wait(
            deadline, timing, "the client pod to finish", lambda: self._client_done()
        )
        connected = phase == "Succeeded"
        if not self.audit_mode:
            if connected:
                return failed(
                    CHECK,
                    "blocking mode, but the client reached a server that a deny policy covers",
                    "check `cilium status` and that cilium-config has policy-audit-mode false",
                )
            return passed(CHECK, "blocking mode: the deny policy dropped the probe connection")
        if not connected:
            return failed(
                CHECK,
                "audit mode, but the probe connection was dropped",
                "a policy is enforced despite audit mode: check policy-audit-mode in cilium-config",
            )
        if self.prometheus is None:
            return passed(CHECK, "audit mode: the connection went through (logged, not blocked)")
        self._wait(deadline, timing, "an AUDIT verdict in Hubble's flow metrics",
                   lambda: self._audited())  # fmt: skip
        return passed(
            CHECK,
            "audit mode: the connection went through and Hubble counted an AUDIT verdict "
            "(logged, not blocked)",
        )

    def _wait(self, deadline: float, timing: Timing, what: str, ready: Callable[[], Any]) -> Any:
        while True:
            if self._cleaned:  # interrupted: cleanup ran from the main thread
                raise ClusterError("probe interrupted; its namespace was deleted")
            value = ready()
            if value:
                return value
            if timing.now() + timing.interval_s >= deadline:
                raise ClusterError(
                    f"timed out waiting for {what}",
                    hint=f"kubectl -n {self.namespace} get pods,events (image {self.image})",
                )
            timing.sleep(timing.interval_s)

    def _server_ready(self) -> bool:
        pod = self.kube.pod(self.namespace, "probe-server")
        if pod is None or not pod.ready:
            return False
        return self.kube.cilium_endpoint(self.namespace, "probe-server") is not None

    def _enforcing(self) -> bool:
        endpoint = self.kube.cilium_endpoint(self.namespace, "probe-server") or {}
        ingress = ((endpoint.get("status") or {}).get("policy") or {}).get("ingress") or {}
        return bool(ingress.get("enforcing"))

    def _client_done(self) -> str | None:
        pod = self.kube.pod(self.namespace, "probe-client")
        if pod is not None and pod.phase in ("Succeeded", "Failed"):
            return pod.phase
        return None

    def _audited(self) -> bool:
        assert self.prometheus is not None
        expr = (
            f'sum(hubble_flows_processed_total{{verdict="AUDIT",destination="{self.namespace}"}})'
        )
        series = self.prometheus.query(expr, time.time())
        return any(point[1] > 0 for s in series for point in s.points)


def _labels(role: str) -> dict[str, str]:
    return {PROBE_LABEL: role, "app.kubernetes.io/managed-by": "cluster-mgmt"}


def _namespace(ns: str, run_token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": _labels("namespace"),
            "annotations": {RUN_ANNOTATION: run_token},
        },
    }


def _container(name: str, image: str, args: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": args,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
    }


def _server_pod(ns: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe-server", "namespace": ns, "labels": _labels("server")},
        "spec": {
            "containers": [
                {
                    **_container("server", image, ["netexec", f"--http-port={SERVER_PORT}"]),
                    "ports": [{"containerPort": SERVER_PORT}],
                    "readinessProbe": {"tcpSocket": {"port": SERVER_PORT}, "periodSeconds": 2},
                }
            ],
            "terminationGracePeriodSeconds": 1,
        },
    }


def _service(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "probe-server", "namespace": ns, "labels": _labels("server")},
        "spec": {
            "selector": {PROBE_LABEL: "server"},
            "ports": [{"port": 80, "targetPort": SERVER_PORT, "protocol": "TCP"}],
        },
    }


def _policy(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": POLICY_NAME, "namespace": ns, "labels": _labels("policy")},
        "spec": {
            "endpointSelector": {"matchLabels": {PROBE_LABEL: "server"}},
            "ingressDeny": [{"fromEntities": ["all"]}],
        },
    }


def _client_pod(ns: str, image: str) -> dict[str, Any]:
    target = f"probe-server.{ns}.svc:80"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe-client", "namespace": ns, "labels": _labels("client")},
        "spec": {
            "restartPolicy": "Never",
            "containers": [_container("client", image, ["connect", target, "--timeout=5s"])],
            "terminationGracePeriodSeconds": 1,
        },
    }
