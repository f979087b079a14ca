"""The typed project config, ``cluster-mgmt.yaml``.

pydantic v2 models with ``extra="forbid"``: an unknown or misspelled key is an error, never
silently ignored. Reading the file (and mapping errors to ``file:line:col``) is the
adapters' job; this module only knows shapes and rules.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cluster_mgmt.core.syslog import MAX_APP_NAME, MAX_MSGID, check_header_value, check_host

CONFIG_FILE = "cluster-mgmt.yaml"
CONFIG_VERSION = 1

_NAME_RE = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$")
_PROJECT_RE = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$"
# A container image reference: [registry[:port]/]path[:tag][@sha256:digest] (OCI grammar).
_IMAGE_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_RE = (
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?/)?{_IMAGE_PART}(?:/{_IMAGE_PART})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)


_ModelT = TypeVar("_ModelT", bound=BaseModel)


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


# Metrics Hubble always exports (flows, drops and policy verdicts labelled with source and
# destination namespace) and the optional ones a user may add. Namespace context on `drop`
# is what lets `stats` give drop reasons per namespace, and on `policy` what lets an alert
# name the namespace of audited (would-be-denied) traffic.
_NS_CONTEXT = "sourceContext=namespace;destinationContext=namespace"
BASE_HUBBLE_METRICS = (f"flow:{_NS_CONTEXT}", f"drop:{_NS_CONTEXT}", f"policy:{_NS_CONTEXT}")
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


HUBBLE_VERDICTS = (
    "FORWARDED",
    "DROPPED",
    "ERROR",
    "AUDIT",
    "REDIRECTED",
    "TRACED",
    "TRANSLATED",
)
DEFAULT_SIEM_VERDICTS = ("DROPPED", "AUDIT")

HubbleVerdict = Literal[
    "FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED"
]
SyslogFacilityName = Literal[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
]  # fmt: skip


class SiemNamespaces(_Model):
    """Which flows reach the SIEM by namespace (source or destination)."""

    include: Annotated[
        list[Annotated[str, Field(pattern=_NAME_RE)]],
        Field(description="Only flows from or to these namespaces (empty: every namespace)."),
    ] = []
    exclude: Annotated[
        list[Annotated[str, Field(pattern=_NAME_RE)]],
        Field(description="Never flows from or to these namespaces (wins over include)."),
    ] = []


class Siem(_Model):
    """Where Fluentd forwards Hubble's flows, as RFC 5424 syslog (docs/siem.md)."""

    host: Annotated[str, Field(description="SIEM syslog host: a DNS name or an IP address.")]
    port: Annotated[int, Field(ge=1, le=65535)] = 514
    protocol: Annotated[
        SiemProtocol,
        Field(description="udp (RFC 5426), tcp (RFC 6587 octet counting) or tls (RFC 5425)."),
    ] = SiemProtocol.UDP
    tls_secret: Annotated[
        str | None,
        Field(
            pattern=_NAME_RE,
            description="Kubernetes Secret (namespace logging) whose ca.crt verifies the SIEM's "
            "certificate; required with protocol tls. Never inline certificates here.",
        ),
    ] = None
    client_cert_secret: Annotated[
        str | None,
        Field(
            pattern=_NAME_RE,
            description="Kubernetes Secret (namespace logging, keys tls.crt and tls.key) with the "
            "client certificate for a SIEM that requires mutual TLS; only with protocol tls. "
            "A TLS tunnel sidecar presents it (Kubernetes >= 1.29).",
        ),
    ] = None
    tunnel_image: Annotated[
        str | None,
        Field(
            pattern=_IMAGE_RE,
            description="Container image of the mutual TLS tunnel (stunnel); default: the "
            "image this release of cluster-mgmt pins.",
        ),
    ] = None
    verdicts: Annotated[
        list[HubbleVerdict] | Literal["all"],
        Field(
            description="Hubble verdicts exported to the SIEM (default DROPPED and AUDIT), or "
            "'all'. Hubble's export allowList follows it."
        ),
    ] = ["DROPPED", "AUDIT"]
    namespaces: SiemNamespaces = SiemNamespaces()
    facility: Annotated[
        SyslogFacilityName, Field(description="Syslog facility of every message.")
    ] = "local0"
    app_name: Annotated[
        str, Field(description="RFC 5424 APP-NAME: 1-48 printable ASCII characters.")
    ] = "hubble"
    msgid: Annotated[str, Field(description="RFC 5424 MSGID: 1-32 printable ASCII characters.")] = (
        "flow"
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("app_name")
    @classmethod
    def _app_name(cls, value: str) -> str:
        return check_header_value(value, MAX_APP_NAME, "app_name")

    @field_validator("msgid")
    @classmethod
    def _msgid(cls, value: str) -> str:
        return check_header_value(value, MAX_MSGID, "msgid")

    @field_validator("verdicts", mode="before")
    @classmethod
    def _verdicts(cls, value: object) -> object:
        # Checked here so that a mistake gets one message, not one per member of the union.
        known = ", ".join(HUBBLE_VERDICTS)
        if isinstance(value, list):
            if not value:
                raise ValueError(f"list at least one verdict ({known}), or write 'all'")
            for item in value:
                if item not in HUBBLE_VERDICTS:
                    raise ValueError(f"unknown verdict {item!r}: use {known}, or 'all'")
            return list(dict.fromkeys(value))
        if value != "all":
            raise ValueError(f"write 'all' or a list of verdicts ({known})")
        return value

    @model_validator(mode="after")
    def _tls(self) -> Siem:
        if self.protocol == SiemProtocol.TLS and not self.tls_secret:
            raise ValueError("protocol tls needs tls_secret: the Secret holding ca.crt")
        if self.protocol != SiemProtocol.TLS and self.tls_secret:
            raise ValueError("tls_secret is only used with protocol: tls")
        if self.protocol != SiemProtocol.TLS and self.client_cert_secret:
            raise ValueError("client_cert_secret (mutual TLS) is only used with protocol: tls")
        if self.tunnel_image and not self.client_cert_secret:
            raise ValueError("tunnel_image is only used with client_cert_secret (mutual TLS)")
        return self

    @property
    def exported_verdicts(self) -> list[str] | None:
        """The verdicts Hubble exports, or None for every verdict."""
        return None if self.verdicts == "all" else list(self.verdicts)


# A Prometheus duration (`30s`, `10m`, `1h30m`, `7d`; units largest first, each once): the
# only form a window may take, since it is written into PromQL and rule files.
_DURATION_RE = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "y": 31536000,
}


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as ``1h30m`` (already validated)."""
    return sum(int(n) * _DURATION_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def _check_duration(value: str) -> str:
    if not value or not _DURATION_RE.fullmatch(value) or duration_seconds(value) <= 0:
        raise ValueError("must be a Prometheus duration such as 30s, 10m, 1h or 1h30m")
    return value


# rate() needs two samples in its window: two scrapes at the generated 30s scrape interval.
MIN_RATE_WINDOW_S = 60


Duration = Annotated[str, Field(description="A Prometheus duration: 30s, 10m, 1h, 1d.")]
PerSecond = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Severity(StrEnum):
    """Alert severity, in GitLab's own terms (the ``severity`` label GitLab reads)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class _Rule(_Model):
    enabled: Annotated[bool, Field(description="Whether this alert is rendered.")] = True
    for_: Annotated[
        Duration,
        Field(alias="for", description="How long the condition must hold before it fires."),
    ] = "5m"
    severity: Severity = Severity.HIGH

    @field_validator("for_", "window", "baseline", check_fields=False)
    @classmethod
    def _durations(cls, value: str) -> str:
        return _check_duration(value)

    @field_validator("window", "baseline", check_fields=False)
    @classmethod
    def _rate_windows(cls, value: str) -> str:
        if duration_seconds(value) < MIN_RATE_WINDOW_S:
            raise ValueError(
                f"must be at least {MIN_RATE_WINDOW_S}s: a rate needs two scrapes (every 30s)"
            )
        return value


class PolicyDropsRule(_Rule):
    """Blocking mode: packets dropped by network policy, per namespace."""

    threshold: Annotated[PerSecond, Field(description="Policy-denied drops per second.")] = 0.1
    window: Duration = "5m"


class AuditVerdictsRule(_Rule):
    """Audit mode: policy verdicts that would have denied traffic, per namespace."""

    threshold: Annotated[PerSecond, Field(description="Would-be-denied verdicts per second.")] = 0.1
    window: Duration = "10m"
    for_: Annotated[Duration, Field(alias="for")] = "10m"
    severity: Severity = Severity.MEDIUM


class DropRatioSpikeRule(_Rule):
    """Dropped flows' share jumps above the namespace's own recent baseline."""

    factor: Annotated[
        float,
        Field(
            gt=1,
            allow_inf_nan=False,
            description="Fires when the ratio exceeds this many times its baseline.",
        ),
    ] = 3.0
    min_ratio: Annotated[
        float,
        Field(
            gt=0,
            lt=1,
            allow_inf_nan=False,
            description="...and is at least this share of the namespace's flows.",
        ),
    ] = 0.05
    min_rate: Annotated[
        PerSecond,
        Field(
            description="...and at least this many drops per second (quiet namespaces stay quiet)."
        ),
    ] = 0.05
    window: Duration = "10m"
    baseline: Annotated[
        Duration, Field(description="The recent past the ratio is compared with.")
    ] = "1d"


class MetricsMissingRule(_Rule):
    """Hubble's metrics are absent or their scrape target is down."""

    window: Duration = "10m"
    for_: Annotated[Duration, Field(alias="for")] = "10m"


class AlertRules(_Model):
    """The alerting rules, each with its thresholds and window."""

    policy_drops: PolicyDropsRule = PolicyDropsRule()
    audit_verdicts: AuditVerdictsRule = AuditVerdictsRule()
    drop_ratio_spike: DropRatioSpikeRule = DropRatioSpikeRule()
    metrics_missing: MetricsMissingRule = MetricsMissingRule()


class Alerts(_Model):
    """Alerting on Hubble metrics, delivered by Alertmanager to the project's GitLab alerts.

    Set at the top level for every environment and per environment; an environment's
    fields override the top-level ones one by one.
    """

    enabled: Annotated[
        bool,
        Field(description="Render the rules and run Alertmanager (needs the prometheus app)."),
    ] = True
    url: Annotated[
        str | None,
        Field(
            description="The GitLab alert integration's webhook URL (Prometheus type); "
            "`cluster-mgmt gitlab bootstrap` sets the top-level one. Default: "
            "<gitlab.url>/<gitlab.project>/prometheus/alerts/notify.json."
        ),
    ] = None
    rules: AlertRules = AlertRules()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = urlparse(value)
        if (
            parsed.scheme not in ("https", "http")
            or not parsed.hostname
            or any(ch.isspace() or ord(ch) < 32 or ch in "\"'<>`{}" for ch in value)
        ):
            raise ValueError(
                "must be an http(s) URL such as https://gitlab.example.com/group/project/"
                "alerts/notify/cluster-mgmt/0123456789abcdef.json"
            )
        if parsed.username or parsed.password:
            raise ValueError("must not carry credentials: the key comes from GITLAB_ALERTS_KEY")
        if parsed.fragment:
            raise ValueError("must not have a #fragment")
        return value


def overlay(base: _ModelT, top: _ModelT) -> _ModelT:
    """``base`` with the fields set explicitly in ``top`` (nested models field by field)."""
    updates: dict[str, object] = {}
    for name in top.model_fields_set:
        value = getattr(top, name)
        under = getattr(base, name)
        if isinstance(value, BaseModel) and isinstance(under, BaseModel):
            value = overlay(under, value)
        updates[name] = value
    return base.model_copy(update=updates)


_SELECTOR_RE = r"^[A-Za-z0-9_.-]+!?=[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+!?=[A-Za-z0-9_.-]+)*$"
_STAGE_RE = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$"


class DriftAction(StrEnum):
    """What the scheduled drift job does when the cluster differs from the repository."""

    FAIL = "fail"
    WARN = "warn"
    DISABLED = "disabled"


class ApplyWhen(StrEnum):
    """When the apply job runs on the default branch."""

    ON_SUCCESS = "on_success"
    MANUAL = "manual"


class CIJobs(_Model):
    """The job settings of one environment's include of the component.

    Set at the top level (``ci:``) for every environment and per environment
    (``environments.<name>.ci:``); an environment's fields override the top-level ones.
    """

    drift: Annotated[
        DriftAction | None,
        Field(
            description="Scheduled drift check: `fail` the job, `warn` (an allowed failure) "
            "or `disabled`. Default fail."
        ),
    ] = None
    apply_when: Annotated[
        ApplyWhen | None,
        Field(
            description="`on_success`: apply when the default branch changes; `manual`: "
            "wait for a click (e.g. production). Default on_success."
        ),
    ] = None
    selector: Annotated[
        str | None,
        Field(
            pattern=_SELECTOR_RE,
            description="helmfile release selector (K=V[,K=V]) for plan, apply and drift, "
            "e.g. name=cilium. Default: every release.",
        ),
    ] = None
    rollback_on_failure: Annotated[
        bool | None,
        Field(
            description="The apply job verifies and, when verify fails, rolls every release it "
            "changed back to its previous revision (`apply --rollback-on-failure`; the verify "
            "job is then left out). Default off."
        ),
    ] = None
    kind_e2e: Annotated[
        bool | None,
        Field(
            description="The opt-in kind-e2e job (install and verify on kind in docker:dind, "
            "merge requests), for environments with provider kind (set at the top level, it "
            "applies to those only). Default off."
        ),
    ] = None


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
    alerts: Alerts = Alerts()
    ci: Annotated[
        CIJobs, Field(description="This environment's CI jobs (over the top-level ci:).")
    ] = CIJobs()

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
        if self.provider != Provider.KIND and self.ci.kind_e2e:
            raise ValueError("ci.kind_e2e applies to provider kind only")
        return self


# `include: local` (a copy written by render) or `component:<host>/<path>/<name>@<version>`,
# the host may be `$CI_SERVER_FQDN`; versions are exact (a release or a commit SHA).
_COMPONENT_RE = (
    r"^component:(\$CI_SERVER_FQDN|[A-Za-z0-9.-]+(:[0-9]+)?)(/[A-Za-z0-9_.-]+){2,}"
    r"@([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?|[0-9a-f]{40})$"
)
_IMAGE_RE = (
    r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?(/[a-z0-9._-]+)*(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$"
)


class CI(CIJobs):
    """How the project's pipeline gets the cluster-mgmt CI/CD component, and its jobs."""

    include: Annotated[
        str,
        Field(
            description="`local`: the copy `render` writes to .gitlab/ci/cluster-management.yml; "
            "or `component:<host>/<group>/<project>/cluster-management@<version>` (exact "
            "version) for a component hosted on your GitLab."
        ),
    ] = "local"
    image: Annotated[
        str | None,
        Field(
            description="Job image (ci/Dockerfile) with an exact tag or digest; default: the "
            "image of the cluster-mgmt version that rendered the pipeline."
        ),
    ] = None
    validate_stage: Annotated[
        str, Field(pattern=_STAGE_RE, description="Stage of validate and kind-e2e.")
    ] = "test"
    plan_stage: Annotated[
        str, Field(pattern=_STAGE_RE, description="Stage of plan, drift and upgrade.")
    ] = "test"
    deploy_stage: Annotated[
        str, Field(pattern=_STAGE_RE, description="Stage of apply and verify.")
    ] = "deploy"

    @field_validator("include")
    @classmethod
    def _include(cls, value: str) -> str:
        if value != "local" and not re.fullmatch(_COMPONENT_RE, value):
            raise ValueError(
                "must be `local` or `component:<host>/<group>/<project>/<name>@<version>` "
                "with an exact version such as 1.2.3 or a commit SHA (no ~latest, no ranges)"
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.fullmatch(_IMAGE_RE, value) or value.endswith(":latest"):
            raise ValueError(
                "must be an image with an exact tag or digest, e.g. "
                "registry.example.com/platform/cluster-mgmt-job:1.2.3 (not :latest)"
            )
        return value


class ProjectConfig(_Model):
    """The whole ``cluster-mgmt.yaml``."""

    version: Literal[1] = 1
    gitlab: GitLab
    charts: Charts = Charts()
    apps: Apps = Apps()
    alerts: Annotated[Alerts, Field(description="Alerting defaults for every environment.")] = (
        Alerts()
    )
    ci: CI = CI()
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

    def alerts_for(self, env_name: str) -> Alerts:
        """The alerting settings of an environment (its own over the top-level ones)."""
        return overlay(self.alerts, self.environments[env_name].alerts)

    def ci_jobs(self, env_name: str) -> CIJobs:
        """The CI job settings of an environment (its own over the top-level ``ci:``)."""
        top = CIJobs(**{name: getattr(self.ci, name) for name in CIJobs.model_fields})
        return overlay(top, self.environments[env_name].ci)

    def alerting(self, env_name: str) -> bool:
        """Whether alerts are on in an environment (they need the prometheus release)."""
        return self.alerts_for(env_name).enabled and self.app_enabled(env_name, "prometheus")

    def alerts_url(self, env_name: str) -> str:
        """Where Alertmanager posts: the configured URL, or the project's Prometheus endpoint."""
        return self.alerts_for(env_name).url or (
            f"{self.gitlab.url}/{self.gitlab.project}/prometheus/alerts/notify.json"
        )

    def kube_context(self, env_name: str) -> str:
        """The kube context of an environment (GitLab agent context by default)."""
        env = self.environments[env_name]
        return env.kube_context or f"{self.gitlab.project}:{env.agent}"

    def chart_version(self, chart: str, pinned: str) -> str:
        """The version of ``chart`` to deploy: the config's override or ``pinned``."""
        override = getattr(self.charts, chart.replace("-", "_"))
        return str(override) if override else pinned
