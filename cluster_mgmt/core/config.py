"""The typed project config, ``cluster-mgmt.yaml``.

pydantic v2 models with ``extra="forbid"``: an unknown or misspelled key is an error, never
silently ignored. Reading the file (and mapping errors to ``file:line:col``) is the
adapters' job; this module only knows shapes and rules.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CONFIG_FILE = "cluster-mgmt.yaml"
CONFIG_VERSION = 1

_NAME_RE = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$")
_PROJECT_RE = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


class Provider(StrEnum):
    """Where the cluster runs; selects a Cilium profile."""

    EKS = "eks"
    GKE = "gke"
    KIND = "kind"


class IngressController(StrEnum):
    """Which Ingress controller the stack installs."""

    TRAEFIK = "traefik"
    INGRESS_NGINX = "ingress-nginx"
    CILIUM = "cilium"


class SiemProtocol(StrEnum):
    """Syslog transport to the SIEM."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


# Metrics Hubble always exports (flows and drops labelled with source and destination
# namespace, policy verdicts) and the optional ones a user may add. Namespace context on
# `drop` is what lets `stats` give drop reasons per namespace.
_NS_CONTEXT = "sourceContext=namespace;destinationContext=namespace"
BASE_HUBBLE_METRICS = (f"flow:{_NS_CONTEXT}", f"drop:{_NS_CONTEXT}", "policy")
OPTIONAL_HUBBLE_METRICS = ("dns", "tcp", "port-distribution", "icmp", "http", "flows-to-world")


class GitLab(_Model):
    """The GitLab instance and the project that holds the agent configuration."""

    url: Annotated[str, Field(description="GitLab URL, e.g. https://gitlab.com")] = (
        "https://gitlab.com"
    )
    project: Annotated[
        str,
        Field(
            pattern=_PROJECT_RE,
            description="Path of this cluster-management project (group/project); agent "
            "configs live in its .gitlab/agents/ and kube contexts are <project>:<agent>.",
        ),
    ]

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ValueError("must be an http(s) URL such as https://gitlab.example.com")
        return value.rstrip("/")

    @property
    def kas_address(self) -> str:
        """The agent server (KAS) address derived from the GitLab URL."""
        parsed = urlparse(self.url)
        if parsed.hostname == "gitlab.com":
            return "wss://kas.gitlab.com"
        scheme = "wss" if parsed.scheme == "https" else "ws"
        netloc = parsed.netloc
        path = parsed.path.rstrip("/")
        return f"{scheme}://{netloc}{path}/-/kubernetes-agent/"


class Apps(_Model):
    """Which releases are installed. Unset fields inherit (environment → project → default)."""

    cilium: bool | None = None
    ingress: bool | None = None
    prometheus: bool | None = None
    fluentd: bool | None = None
    gitlab_agent: bool | None = None
    network_policies: bool | None = None


DEFAULT_APPS = {
    "cilium": True,
    "ingress": True,
    "prometheus": True,
    "fluentd": True,
    "gitlab_agent": True,
    "network_policies": False,
}


class Charts(_Model):
    """Chart version overrides; unset means the version this release of cluster-mgmt pins."""

    cilium: str | None = None
    traefik: str | None = None
    ingress_nginx: Annotated[str | None, Field(alias="ingress-nginx")] = None
    prometheus: str | None = None
    fluentd: str | None = None
    gitlab_agent: Annotated[str | None, Field(alias="gitlab-agent")] = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("*")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?", value):
            raise ValueError("must be an exact chart version such as 1.19.6 (no ranges)")
        return value


class Cilium(_Model):
    """Cilium and Hubble settings."""

    policy_audit_mode: Annotated[
        bool,
        Field(description="Detection only: policy verdicts are logged (AUDIT), nothing dropped."),
    ] = True
    hubble_metrics: Annotated[
        list[Literal["dns", "tcp", "port-distribution", "icmp", "http", "flows-to-world"]],
        Field(description="Hubble metrics added to flow (per namespace), drop and policy."),
    ] = []
    native_routing_cidr: Annotated[
        str | None,
        Field(description="Pod CIDR routed natively (required on GKE: the cluster's pod range)."),
    ] = None
    egress_masquerade_interfaces: Annotated[
        str | None, Field(description="EKS: interfaces to masquerade on (default eth+).")
    ] = None
    k8s_service_host: Annotated[
        str | None,
        Field(
            description="API server host Cilium talks to when it replaces kube-proxy "
            "(required with ingress.controller cilium)."
        ),
    ] = None
    k8s_service_port: Annotated[int, Field(ge=1, le=65535)] = 443
    service_monitor: Annotated[
        bool,
        Field(description="Create ServiceMonitors (needs the Prometheus Operator CRDs)."),
    ] = False

    @field_validator("native_routing_cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"not a network CIDR: {exc}") from None
        return value


class Ingress(_Model):
    """Ingress controller settings."""

    controller: IngressController = IngressController.TRAEFIK


class Siem(_Model):
    """Where Fluentd forwards Hubble's dropped/audited flows, over syslog."""

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 514
    protocol: SiemProtocol = SiemProtocol.UDP
    tls_secret: Annotated[
        str | None,
        Field(
            pattern=_NAME_RE,
            description="Kubernetes Secret (in the fluentd namespace) with ca.crt and, for "
            "mutual TLS, tls.crt/tls.key. Never inline certificates here.",
        ),
    ] = None

    @model_validator(mode="after")
    def _tls(self) -> Siem:
        if self.protocol == SiemProtocol.TLS and not self.tls_secret:
            raise ValueError("protocol tls needs tls_secret: the Secret holding ca.crt")
        if self.protocol != SiemProtocol.TLS and self.tls_secret:
            raise ValueError("tls_secret is only used with protocol: tls")
        return self


class Environment(_Model):
    """One cluster."""

    provider: Provider
    agent: Annotated[
        str, Field(pattern=_NAME_RE, description="GitLab agent name (.gitlab/agents/<agent>).")
    ]
    kube_context: Annotated[
        str | None, Field(description="Kube context; default <gitlab.project>:<agent>.")
    ] = None
    base_domain: Annotated[str | None, Field(description="DNS base domain of the Ingress.")] = None
    cilium: Cilium = Cilium()
    ingress: Ingress = Ingress()
    siem: Siem | None = None
    apps: Apps = Apps()

    @field_validator("base_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN_RE.match(value):
            raise ValueError("must be a DNS name such as apps.example.com")
        return value

    @model_validator(mode="after")
    def _provider_rules(self) -> Environment:
        if self.provider == Provider.GKE and not self.cilium.native_routing_cidr:
            raise ValueError(
                "provider gke needs cilium.native_routing_cidr (the cluster's pod IPv4 range, "
                "e.g. from `gcloud container clusters describe … --format "
                "'value(clusterIpv4Cidr)'`)"
            )
        if self.ingress.controller == IngressController.CILIUM and not self.cilium.k8s_service_host:
            raise ValueError(
                "ingress.controller cilium replaces kube-proxy, so Cilium needs the API "
                "server address: set cilium.k8s_service_host (kubectl cluster-info)"
            )
        if self.provider != Provider.EKS and self.cilium.egress_masquerade_interfaces:
            raise ValueError("cilium.egress_masquerade_interfaces applies to provider eks only")
        return self


class ProjectConfig(_Model):
    """The whole ``cluster-mgmt.yaml``."""

    version: Literal[1] = 1
    gitlab: GitLab
    charts: Charts = Charts()
    apps: Apps = Apps()
    environments: Annotated[dict[str, Environment], Field(min_length=1)]

    @field_validator("environments")
    @classmethod
    def _env_names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            if not re.fullmatch(_NAME_RE, name):
                raise ValueError(
                    f"environment name {name!r} must be lowercase letters, digits and '-'"
                )
        seen: dict[str, str] = {}
        for name, env in value.items():
            if env.agent in seen:
                raise ValueError(
                    f"environments {seen[env.agent]!r} and {name!r} share agent {env.agent!r}: "
                    "each cluster needs its own agent"
                )
            seen[env.agent] = name
        return value

    def app_enabled(self, env_name: str, app: str) -> bool:
        """Whether ``app`` is installed in ``env_name`` (environment over project over default)."""
        env = self.environments[env_name]
        for layer in (env.apps, self.apps):
            value = getattr(layer, app)
            if value is not None:
                return bool(value)
        if app == "ingress" and env.ingress.controller == IngressController.CILIUM:
            return False  # Cilium's own controller: no separate release
        return DEFAULT_APPS[app]

    def kube_context(self, env_name: str) -> str:
        """The kube context of an environment (GitLab agent context by default)."""
        env = self.environments[env_name]
        return env.kube_context or f"{self.gitlab.project}:{env.agent}"

    def chart_version(self, chart: str, pinned: str) -> str:
        """The version of ``chart`` to deploy: the config's override or ``pinned``."""
        override = getattr(self.charts, chart.replace("-", "_"))
        return str(override) if override else pinned
