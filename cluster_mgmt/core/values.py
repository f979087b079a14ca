"""Helm values of every release, per environment: pure functions of the config.

Each key written here exists in the pinned chart's own ``values.yaml``; the test suite
checks that against the real chart data, because helm silently ignores unknown keys.
"""

from __future__ import annotations

import json
from typing import Any

from cluster_mgmt.core import alerts
from cluster_mgmt.core.config import (
    BASE_HUBBLE_METRICS,
    Environment,
    IngressController,
    ProjectConfig,
    Provider,
    SiemProtocol,
)
from cluster_mgmt.core.stack import HUBBLE_EXPORT_DIR, HUBBLE_EXPORT_FILE, HUBBLE_METRICS_PORT

Values = dict[str, Any]

# Flows the static exporter writes for the SIEM: what policy dropped or, in audit mode,
# would have dropped.
EXPORTED_VERDICTS = ("DROPPED", "AUDIT")

_SCRAPE = "prometheus.io/scrape"
_PORT = "prometheus.io/port"


def hubble_metrics(env: Environment) -> list[str]:
    """The ``hubble.metrics.enabled`` list: base metrics first, then the ones asked for."""
    return [*BASE_HUBBLE_METRICS, *env.cilium.hubble_metrics]


def cilium_values(config: ProjectConfig, env_name: str) -> Values:
    """Values of the ``cilium`` release: Hubble, metrics, audit mode and provider profile."""
    env = config.environments[env_name]
    monitor = env.cilium.service_monitor
    values: Values = {
        "policyAuditMode": env.cilium.policy_audit_mode,
        "prometheus": {"enabled": True, "serviceMonitor": {"enabled": monitor}},
        "operator": {"prometheus": {"enabled": True, "serviceMonitor": {"enabled": monitor}}},
        "hubble": {
            "enabled": True,
            "relay": {"enabled": True},
            "metrics": {
                "enabled": hubble_metrics(env),
                "port": HUBBLE_METRICS_PORT,
                "serviceMonitor": {"enabled": monitor},
            },
            "export": {
                "static": {
                    "enabled": True,
                    "filePath": HUBBLE_EXPORT_FILE,
                    "allowList": [json.dumps({"verdict": list(EXPORTED_VERDICTS)})],
                    "fileMaxSizeMb": 10,
                    "fileMaxBackups": 5,
                }
            },
        },
    }
    if env.provider == Provider.EKS:
        values.update(
            {
                "eni": {"enabled": True},
                "ipam": {"mode": "eni"},
                "routingMode": "native",
                "egressMasqueradeInterfaces": env.cilium.egress_masquerade_interfaces or "eth+",
            }
        )
    elif env.provider == Provider.GKE:
        values.update(
            {
                "gke": {"enabled": True},
                "ipam": {"mode": "kubernetes"},
                "ipv4NativeRoutingCIDR": env.cilium.native_routing_cidr,
                "cni": {"binPath": "/home/kubernetes/bin"},
                # Cilium >= 1.16 dropped nodeinit.reconfigureKubelet/removeCbrBridge.
                "nodeinit": {"enabled": True},
            }
        )
    else:  # kind: images are often side-loaded with `kind load`, one operator is enough
        values.update(
            {
                "ipam": {"mode": "kubernetes"},
                "image": {"pullPolicy": "IfNotPresent"},
                "operator": {
                    **values["operator"],
                    "replicas": 1,
                },
            }
        )
    if env.ingress.controller == IngressController.CILIUM:
        # Cilium's ingress controller needs kube-proxy replacement and the API server address.
        values.update(
            {
                "kubeProxyReplacement": True,
                "k8sServiceHost": env.cilium.k8s_service_host,
                "k8sServicePort": env.cilium.k8s_service_port,
                "ingressController": {
                    "enabled": True,
                    "default": True,
                    "loadbalancerMode": "shared",
                    "service": {"annotations": _nlb_annotations(env)},
                },
            }
        )
    return values


def _nlb_annotations(env: Environment) -> dict[str, str]:
    if env.provider != Provider.EKS:
        return {}
    return {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    }


def ingress_values(config: ProjectConfig, env_name: str) -> Values:
    """Values of the ``ingress`` release (traefik or ingress-nginx chart)."""
    env = config.environments[env_name]
    service_type = "NodePort" if env.provider == Provider.KIND else "LoadBalancer"
    if env.ingress.controller == IngressController.INGRESS_NGINX:
        return {
            "controller": {
                "ingressClassResource": {"default": True},
                "metrics": {"enabled": True},
                "podAnnotations": {_SCRAPE: "true", _PORT: "10254"},
                "service": {"type": service_type, "annotations": _nlb_annotations(env)},
            }
        }
    return {
        "ingressClass": {"enabled": True, "isDefaultClass": True},
        "deployment": {
            "podAnnotations": {_SCRAPE: "true", _PORT: "9100", "prometheus.io/path": "/metrics"}
        },
        "metrics": {"prometheus": {"entryPoint": "metrics"}},
        "providers": {"kubernetesIngress": {"publishedService": {"enabled": True}}},
        "service": {"annotations": _nlb_annotations(env), "spec": {"type": service_type}},
    }


def prometheus_values(config: ProjectConfig, env_name: str) -> Values:
    """Values of the ``prometheus`` release.

    The chart's default scrape jobs follow ``prometheus.io/*`` annotations on pods and
    services, which the Cilium chart sets on the agent, the operator and ``hubble-metrics``.
    """
    env = config.environments[env_name]
    persistent = env.provider != Provider.KIND
    values: Values = {
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "server": {
            "retention": "15d",
            "persistentVolume": {"enabled": persistent, "size": "20Gi"},
            "global": {"scrape_interval": "30s"},
        },
    }
    if config.alerting(env_name):
        # Rules on Hubble's metrics; Alertmanager posts them to the GitLab integration.
        values["alertmanager"] = alerts.alertmanager_values(config, env_name, persistent)
        values["serverFiles"] = {"alerting_rules.yml": alerts.rule_file(config, env_name)}
    return values


FLUENTD_POS_DIR = "/var/lib/fluentd-hubble"
SIEM_TLS_DIR = "/etc/fluentd/siem-tls"


def fluentd_values(config: ProjectConfig, env_name: str) -> Values:
    """Values of the ``fluentd`` release: tail Hubble's export file, forward to the SIEM."""
    env = config.environments[env_name]
    volumes: list[Values] = [
        {
            "name": "hubble-export",
            "hostPath": {"path": HUBBLE_EXPORT_DIR, "type": "DirectoryOrCreate"},
        },
        {"name": "fluentd-pos", "hostPath": {"path": FLUENTD_POS_DIR, "type": "DirectoryOrCreate"}},
    ]
    mounts: list[Values] = [
        {"name": "hubble-export", "mountPath": HUBBLE_EXPORT_DIR, "readOnly": True},
        {"name": "fluentd-pos", "mountPath": FLUENTD_POS_DIR},
    ]
    if env.siem and env.siem.tls_secret:
        volumes.append({"name": "siem-tls", "secret": {"secretName": env.siem.tls_secret}})
        mounts.append({"name": "siem-tls", "mountPath": SIEM_TLS_DIR, "readOnly": True})
    return {
        "kind": "DaemonSet",
        # The syslog image variant carries fluent-plugin-remote_syslog.
        "variant": "syslog",
        "mountVarLogDirectory": False,
        "mountDockerContainersDirectory": False,
        "podSecurityPolicy": {"enabled": False},
        "podAnnotations": {_SCRAPE: "true", _PORT: "24231"},
        "tolerations": [{"operator": "Exists"}],
        "volumes": volumes,
        "volumeMounts": mounts,
        "fileConfigs": {
            "01_sources.conf": _fluentd_sources(),
            "02_filters.conf": _fluentd_filters(),
            "03_dispatch.conf": "",
            "04_outputs.conf": _fluentd_outputs(env),
        },
    }


def _fluentd_sources() -> str:
    return f"""<source>
  @type tail
  @id in_tail_hubble_flows
  path {HUBBLE_EXPORT_FILE}
  pos_file {FLUENTD_POS_DIR}/hubble-events.log.pos
  tag hubble.flows
  read_from_head true
  <parse>
    @type json
  </parse>
</source>
<source>
  @type prometheus
  bind 0.0.0.0
  port 24231
  metrics_path /metrics
</source>"""


def _fluentd_filters() -> str:
    return """<filter hubble.flows>
  @type record_transformer
  <record>
    cluster_mgmt_source hubble
  </record>
</filter>"""


def _fluentd_outputs(env: Environment) -> str:
    if env.siem is None:
        # No SIEM configured: flows are read (keeping the position file current) and dropped.
        return "<match hubble.**>\n  @type null\n</match>"
    siem = env.siem
    lines = [
        "<match hubble.**>",
        "  @type remote_syslog",
        f"  host {siem.host}",
        f"  port {siem.port}",
        f"  protocol {'udp' if siem.protocol == SiemProtocol.UDP else 'tcp'}",
        "  program hubble",
        "  severity notice",
    ]
    if siem.protocol == SiemProtocol.TLS:
        lines += ["  tls true", f"  ca_file {SIEM_TLS_DIR}/ca.crt", "  verify_mode 1"]
    if siem.protocol != SiemProtocol.UDP:
        lines += ["  keep_alive true", "  timeout 10"]
    lines += [
        "  <format>",
        "    @type json",
        "  </format>",
        "  <buffer>",
        "    flush_interval 5s",
        "    retry_max_interval 60s",
        "  </buffer>",
        "</match>",
    ]
    return "\n".join(lines)


def gitlab_agent_values(config: ProjectConfig, env_name: str) -> Values:
    """Values of the ``gitlab-agent`` release. The token is not here: see the state file."""
    return {
        "config": {"kasAddress": config.gitlab.kas_address},
        "podAnnotations": {_SCRAPE: "true", "prometheus.io/path": "/metrics", _PORT: "8080"},
    }


RELEASE_VALUES = {
    "cilium": cilium_values,
    "ingress": ingress_values,
    "prometheus": prometheus_values,
    "fluentd": fluentd_values,
    "gitlab-agent": gitlab_agent_values,
}
