"""A healthy stack on the Kubernetes API fake, a Hubble-like exporter scraped by a real
Prometheus, and Cilium's agent played by a reactor for ``verify --probe``."""

from __future__ import annotations

import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kube_builders import (
    cilium_endpoint,
    config_map,
    daemonset,
    deployment,
    helm_release_secret,
    namespace,
    node,
    pod,
    service,
)
from kube_fake import KubeFake

from cluster_mgmt.core.config import BASE_HUBBLE_METRICS

SCRAPE_WAIT_S = 60.0


@dataclass
class HubbleExporter:
    """A Hubble-like ``/metrics`` endpoint: AUDIT flows for the namespaces in ``audited``."""

    audited: set[str] = field(default_factory=set)
    url: str = ""

    def text(self) -> str:
        lines = ["# TYPE hubble_flows_processed_total counter"]
        lines.append(
            'hubble_flows_processed_total{source="shop",destination="shop",verdict="FORWARDED",'
            'type="Trace",subtype="to-endpoint",protocol="TCP"} 42'
        )
        lines += [
            f'hubble_flows_processed_total{{source="{ns}",destination="{ns}",verdict="AUDIT",'
            f'type="PolicyVerdict",subtype="",protocol="TCP"}} 1'
            for ns in sorted(self.audited)
        ]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LivePrometheus:
    url: str
    exporter: HubbleExporter


def serve_exporter(exporter: HubbleExporter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = exporter.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    exporter.url = f"127.0.0.1:{server.server_address[1]}"
    return server


def wait_for_up(url: str, value: str) -> None:
    """Poll until Prometheus has scraped its target once (``up`` == value), bounded."""
    deadline = time.monotonic() + SCRAPE_WAIT_S
    query = urllib.parse.urlencode({"query": f"up == {value}"})
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=5) as response:
            if b'"value"' in response.read():
                return
        time.sleep(0.2)
    raise RuntimeError(f"Prometheus at {url} scraped nothing within {SCRAPE_WAIT_S}s")


def scrape_config(target: str) -> str:
    # As the prometheus chart's service-endpoints job labels the hubble-metrics Service.
    return (
        "  - job_name: kubernetes-service-endpoints\n"
        "    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
        "        labels: {service: hubble-metrics, namespace: kube-system}\n"
    )


PINNED = {
    "cilium": ("kube-system", "cilium", "1.19.6"),
    "ingress": ("ingress", "traefik", "41.3.0"),
    "prometheus": ("monitoring", "prometheus", "29.27.0"),
    "fluentd": ("logging", "fluentd", "0.6.0"),
    "gitlab-agent": ("gitlab-agent", "gitlab-agent", "2.29.0"),
}
NODES = ("node-a", "node-b", "node-c")
# What the chart writes into cilium-config for the config's (default) Hubble metrics.
HUBBLE_METRICS = " ".join(BASE_HUBBLE_METRICS)


def healthy_stack(fake: KubeFake, prometheus_url: str | None, *, audit: bool = True) -> None:
    """Everything `verify` expects of the EKS project above, in good health."""
    for ns in ("kube-system", "ingress", "monitoring", "logging", "gitlab-agent", "shop"):
        fake.add(namespace(ns))
    for name, (ns, chart, version) in PINNED.items():
        fake.add(
            helm_release_secret(name, ns, 1, chart=chart, version="0.0.1", status="superseded"),
            helm_release_secret(name, ns, 2, chart=chart, version=version),
        )
    fake.add(*(node(n, pod_cidr=f"10.0.{i}.0/24") for i, n in enumerate(NODES)))
    fake.add(
        daemonset("kube-system", "cilium", desired=3, labels={"k8s-app": "cilium"}),
        deployment("kube-system", "cilium-operator", replicas=2),
        config_map("kube-system", "cilium-config", {
            "policy-audit-mode": "true" if audit else "false",
            "enable-hubble": "true",
            "hubble-metrics": HUBBLE_METRICS,
            "ipam": "eni",
        }),
        service("kube-system", "hubble-metrics", labels={"k8s-app": "hubble"}),
        service("ingress", "ingress-traefik", type_="LoadBalancer",
                lb=["k8s-ingress-1a2b3c.elb.eu-west-1.amazonaws.com"],
                labels={"app.kubernetes.io/instance": "ingress"}),
        daemonset("logging", "fluentd", desired=3,
                  labels={"app.kubernetes.io/instance": "fluentd"}),
        deployment("gitlab-agent", "gitlab-agent-v2", replicas=1,
                   labels={"app.kubernetes.io/instance": "gitlab-agent"}),
    )  # fmt: skip
    # Pods: all managed by Cilium except host-network agents.
    pods = [
        pod("shop", "web-1", owner_ref=("ReplicaSet", "web-6f7")),
        pod("kube-system", "coredns-1", owner_ref=("ReplicaSet", "coredns-5d")),
        pod("monitoring", "prometheus-server-0", owner_ref=("ReplicaSet", "prometheus-server-7")),
        pod("gitlab-agent", "gitlab-agent-v2-1", owner_ref=("ReplicaSet", "gitlab-agent-v2-5")),
    ]
    fake.add(*pods)
    fake.add(*(cilium_endpoint(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods))
    fake.add(*(
        pod("kube-system", f"cilium-{n}", owner_ref=("DaemonSet", "cilium"), host_network=True,
            node=n)
        for n in NODES
    ))  # fmt: skip
    if prometheus_url:
        fake.proxy_service("monitoring", "prometheus-server", 80, prometheus_url)


class CiliumAgent:
    """Cilium's agent for the probe: endpoints for new pods, enforcement, verdicts.

    A pod gets a CiliumEndpoint and is Ready; a CiliumNetworkPolicy makes the endpoints it
    selects enforce; a client pod finishes Succeeded when no enforced deny stands between it
    and the server or the mode is audit (then Hubble counts an AUDIT flow), else Failed.
    """

    def __init__(self, *, audit: bool, exporter: HubbleExporter | None = None,
                 start_pods: bool = True) -> None:  # fmt: skip
        self.audit = audit
        self.exporter = exporter
        self.start_pods = start_pods

    def __call__(self, fake: KubeFake, verb: str, kind: str, obj: dict[str, Any]) -> None:
        if verb != "create":
            return
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if kind == "Pod" and self.start_pods:
            fake.add(cilium_endpoint(ns, name))
            if name == "probe-client":
                denied = any(k[0] == ns for k in fake.store["cilium.io/v2/ciliumnetworkpolicies"])
                phase = "Succeeded" if (self.audit or not denied) else "Failed"
                obj["status"] = {
                    "phase": phase,
                    "conditions": [{"type": "Ready", "status": "False"}],
                }
                if self.audit and self.exporter is not None:
                    self.exporter.audited.add(ns)
            else:
                obj["status"] = {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                }
        if kind == "CiliumNetworkPolicy":
            for (ens, _), endpoint in fake.store["cilium.io/v2/ciliumendpoints"].items():
                if ens == ns:
                    endpoint["status"]["policy"]["ingress"]["enforcing"] = True
