"""Helm values of every release, per environment: pure functions of the config.

Each key written here exists in the pinned chart's own ``values.yaml``; the test suite
checks that against the real chart data, because helm silently ignores unknown keys.
"""

from __future__ import annotations

import json
from typing import Any

from cluster_mgmt.core import alerts, fluentd_siem, siem_tunnel
from cluster_mgmt.core.config import (
    BASE_HUBBLE_METRICS,
    DEFAULT_SIEM_VERDICTS,
    Environment,
    IngressController,
    ProjectConfig,
    Provider,
)
from cluster_mgmt.core.stack import HUBBLE_EXPORT_DIR, HUBBLE_EXPORT_FILE, HUBBLE_METRICS_PORT

Values = dict[str, Any]


def exported_verdicts(env: Environment) -> list[str] | None:
    """Verdicts Hubble's static exporter writes for the SIEM (None: every verdict).

    Without a SIEM, and by default: what policy dropped or, in audit mode, would have dropped.
    """
    if env.siem is None:
        return list(DEFAULT_SIEM_VERDICTS)
    return env.siem.exported_verdicts


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
                    "allowList": _allow_list(env),
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


def _allow_list(env: Environment) -> list[str]:
    verdicts = exported_verdicts(env)
    # Each entry is a Hubble FlowFilter as JSON; an empty list exports every flow.
    return [] if verdicts is None else [json.dumps({"verdict": verdicts})]


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


def fluentd_values(config: ProjectConfig, env_name: str) -> Values:
    """Values of the ``fluentd`` release: tail Hubble's export file, send RFC 5424 to the SIEM."""
    env = config.environments[env_name]
    siem = env.siem
    volumes: list[Values] = [
        {
            "name": "hubble-export",
            "hostPath": {"path": HUBBLE_EXPORT_DIR, "type": "DirectoryOrCreate"},
        },
        # Position file and file buffer on the node: a restarted pod resumes where it was.
        {
            "name": "fluentd-state",
            "hostPath": {"path": fluentd_siem.STATE_DIR, "type": "DirectoryOrCreate"},
        },
    ]
    mounts: list[Values] = [
        {"name": "hubble-export", "mountPath": HUBBLE_EXPORT_DIR, "readOnly": True},
        {"name": "fluentd-state", "mountPath": fluentd_siem.STATE_DIR},
    ]
    tunnel = siem is not None and siem_tunnel.enabled(siem)
    if siem and siem.tls_secret:
        volumes.append({"name": siem_tunnel.CA_VOLUME, "secret": {"secretName": siem.tls_secret}})
        if not tunnel:  # with mutual TLS only the tunnel verifies the SIEM
            mounts.append(
                {"name": siem_tunnel.CA_VOLUME, "mountPath": fluentd_siem.TLS_DIR, "readOnly": True}
            )
    values: Values = {
        "kind": "DaemonSet",
        "variant": "syslog",
        "mountVarLogDirectory": False,
        "mountDockerContainersDirectory": False,
        "podSecurityPolicy": {"enabled": False},
        "podAnnotations": {_SCRAPE: "true", _PORT: "24231"},
        "tolerations": [{"operator": "Exists"}],
        "volumes": volumes,
        "volumeMounts": mounts,
        "fileConfigs": fluentd_siem.file_configs(siem),
    }
    if siem is not None:
        # The chart runs `fluent-gem install <entry>` before starting Fluentd.
        values["plugins"] = [fluentd_siem.PLUGIN_INSTALL]
    if siem is not None and tunnel:
        volumes.extend(siem_tunnel.volumes(siem))
        values["initContainers"] = [siem_tunnel.sidecar(siem)]
        # Secret volumes take the pod's fsGroup: the tunnel's group may read the key (0440).
        values["podSecurityContext"] = {"fsGroup": siem_tunnel.RUN_AS}
    return values


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
