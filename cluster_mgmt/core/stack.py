"""The stack: every release, its chart, pinned version and namespace, in one place.

The helmfile states shipped in ``helmfile.d/`` name the same repositories, releases,
namespaces and charts; a test holds them to this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChartPin:
    """A chart in a repository, pinned to a version."""

    repo_name: str
    repo_url: str
    chart: str
    version: str

    @property
    def ref(self) -> str:
        """``repo/chart`` as helm and helmfile name it."""
        return f"{self.repo_name}/{self.chart}"


@dataclass(frozen=True, slots=True)
class Release:
    """A helmfile release of the stack."""

    name: str
    app: str
    namespace: str
    charts: tuple[str, ...] = ()  # keys of CHARTS it installs from (one, chosen by config)


# Versions are pinned here and nowhere else; `charts:` in cluster-mgmt.yaml may override them.
CHARTS: dict[str, ChartPin] = {
    "cilium": ChartPin("cilium", "https://helm.cilium.io", "cilium", "1.19.6"),
    "traefik": ChartPin("traefik", "https://traefik.github.io/charts", "traefik", "41.3.0"),
    "ingress-nginx": ChartPin(
        "ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "ingress-nginx", "4.15.1"
    ),
    "prometheus": ChartPin(
        "prometheus-community",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus",
        "29.27.0",
    ),
    "fluentd": ChartPin("fluent", "https://fluent.github.io/helm-charts", "fluentd", "0.6.0"),
    "gitlab-agent": ChartPin("gitlab", "https://charts.gitlab.io", "gitlab-agent", "2.29.0"),
}

# Release names are part of the interface: every command and CI job uses them.
RELEASES: dict[str, Release] = {
    "cilium": Release("cilium", "cilium", "kube-system", ("cilium",)),
    "ingress": Release("ingress", "ingress", "ingress", ("traefik", "ingress-nginx")),
    "prometheus": Release("prometheus", "prometheus", "monitoring", ("prometheus",)),
    "fluentd": Release("fluentd", "fluentd", "logging", ("fluentd",)),
    "gitlab-agent": Release("gitlab-agent", "gitlab_agent", "gitlab-agent", ("gitlab-agent",)),
    # The policies in the project's policies/ directory, as a local chart.
    "network-policies": Release("network-policies", "network_policies", "kube-system"),
}

# Where the Prometheus server the stack installs answers (chart `prometheus`, release
# `prometheus`: the chart names the Service `<release>-server`, port 80).
PROMETHEUS_NAMESPACE = RELEASES["prometheus"].namespace
PROMETHEUS_SERVICE = "prometheus-server"
PROMETHEUS_PORT = 80

# Hubble writes flows for the SIEM here on every node (hostPath shared with Fluentd).
HUBBLE_EXPORT_DIR = "/var/run/cilium/hubble"
HUBBLE_EXPORT_FILE = f"{HUBBLE_EXPORT_DIR}/events.log"
HUBBLE_METRICS_PORT = 9965
# The Service the Cilium chart puts in front of Hubble's metrics (annotated for scraping).
HUBBLE_METRICS_SERVICE = "hubble-metrics"
