"""What a healthy stack looks like, and how each ``verify`` check judges what it read. Pure.

The expectations come from the config (releases, pinned chart versions, audit mode, Hubble
metrics, which apps are on); each ``judge_*`` function turns objects read from the cluster
into a :class:`CheckResult` with a message and, when it fails, a hint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from cluster_mgmt.core.config import IngressController, ProjectConfig, Provider
from cluster_mgmt.core.kube_objects import Node, Pod, Rollout, Service
from cluster_mgmt.core.render import enabled_releases, release_chart
from cluster_mgmt.core.stack import CHARTS, RELEASES
from cluster_mgmt.core.values import hubble_metrics

AUDIT_MESSAGE = "policy audit mode: traffic is logged, not blocked"
BLOCKING_MESSAGE = "policy enforcement: traffic denied by a policy is dropped"
CILIUM_NAMESPACE = RELEASES["cilium"].namespace
CILIUM_DAEMONSET = "cilium"
CILIUM_OPERATOR = "cilium-operator"
CILIUM_CONFIG = "cilium-config"
CILIUM_INGRESS_SERVICE = "cilium-ingress"
INSTANCE_LABEL = "app.kubernetes.io/instance"


class CheckStatus(StrEnum):
    """The outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One named result.

    Attributes:
        name: the check, e.g. ``release/cilium`` or ``cilium-config``.
        status: pass, fail or skip (not applicable to this environment).
        message: what was found.
        hint: what to do about a failure.
        seconds: how long the check took.
    """

    name: str
    status: CheckStatus
    message: str
    hint: str | None = None
    seconds: float = 0.0

    def timed(self, seconds: float) -> CheckResult:
        """The same result with its duration."""
        return replace(self, seconds=seconds)


def passed(name: str, message: str) -> CheckResult:
    """A passing result."""
    return CheckResult(name, CheckStatus.PASS, message)


def failed(name: str, message: str, hint: str | None = None) -> CheckResult:
    """A failing result."""
    return CheckResult(name, CheckStatus.FAIL, message, hint)


def skipped(name: str, message: str) -> CheckResult:
    """A check that does not apply here."""
    return CheckResult(name, CheckStatus.SKIP, message)


@dataclass(frozen=True, slots=True)
class ExpectedRelease:
    """A release verify expects: its chart and version (None: a local chart).

    ``pinned`` is set after a rollback: the version the repository pins, while ``version`` is
    the one the release went back to.
    """

    name: str
    namespace: str
    chart: str | None
    version: str | None
    pinned: str | None = None


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the config asks of one environment's cluster."""

    env: str
    provider: Provider
    releases: tuple[ExpectedRelease, ...]
    audit_mode: bool
    hubble_metrics: tuple[str, ...]
    ingress: IngressController | None  # None: no ingress controller in this environment
    base_domain: str | None
    prometheus: bool
    fluentd: bool
    gitlab_agent: bool

    @property
    def ingress_namespace(self) -> str:
        """Where the ingress controller's Service lives."""
        if self.ingress == IngressController.CILIUM:
            return CILIUM_NAMESPACE
        return RELEASES["ingress"].namespace


def expectations(config: ProjectConfig, env_name: str) -> Expectations:
    """The expectations of environment ``env_name``."""
    env = config.environments[env_name]
    releases = []
    for name in enabled_releases(config, env_name):
        pin = release_chart(config, env_name, name)
        chart = CHARTS[pin[0]].chart if pin else None
        releases.append(
            ExpectedRelease(name, RELEASES[name].namespace, chart, pin[1] if pin else None)
        )
    controller = IngressController(env.ingress.controller)
    ingress_on = controller == IngressController.CILIUM or config.app_enabled(env_name, "ingress")
    return Expectations(
        env=env_name,
        provider=Provider(env.provider),
        releases=tuple(releases),
        audit_mode=env.cilium.policy_audit_mode,
        hubble_metrics=tuple(hubble_metrics(env)),
        ingress=controller if ingress_on else None,
        base_domain=env.base_domain,
        prometheus=config.app_enabled(env_name, "prometheus"),
        fluentd=config.app_enabled(env_name, "fluentd"),
        gitlab_agent=config.app_enabled(env_name, "gitlab_agent"),
    )


def judge_release(
    expected: ExpectedRelease,
    found: tuple[int, str, str, str] | None,
) -> CheckResult:
    """A release: ``found`` is (revision, status, chart, chart version) or None."""
    name = f"release/{expected.name}"
    if found is None:
        return failed(
            name,
            f"release {expected.name} is not installed in namespace {expected.namespace}",
            "deploy the stack (cluster-mgmt apply, or helmfile apply)",
        )
    revision, status, chart, version = found
    where = f"{expected.name} revision {revision} ({chart}-{version})"
    if status != "deployed":
        return failed(
            name,
            f"{where} is {status}, not deployed",
            f"see `helm history {expected.name} -n {expected.namespace}`; "
            f"`cluster-mgmt rollback {expected.name}` returns to the previous revision",
        )
    if expected.chart and chart != expected.chart:
        return failed(
            name,
            f"{where} runs chart {chart}, expected {expected.chart}",
            "the release was installed from another chart: re-deploy it",
        )
    if expected.version and version != expected.version:
        wanted = "rolled back to" if expected.pinned else "pinned"
        return failed(
            name,
            f"{where}: chart version {version} deployed, {expected.version} {wanted}",
            "deploy the pinned version (cluster-mgmt apply), or pin this one under charts:",
        )
    if expected.pinned and expected.pinned != version:
        return passed(
            name, f"{where} deployed (rolled back; the repository pins {expected.pinned})"
        )
    return passed(name, f"{where} deployed")


def after_rollback(expected: Expectations, versions: Mapping[str, str]) -> Expectations:
    """``expected`` with the releases rolled back expected at the versions they went back to.

    Args:
        expected: what the config asks for.
        versions: release name -> the chart version of the revision it was rolled back to.
    """
    releases = tuple(
        replace(r, version=versions[r.name], pinned=r.version) if r.name in versions else r
        for r in expected.releases
    )
    return replace(expected, releases=releases)


def judge_rollout(name: str, rollout: Rollout | None, what: str, hint: str) -> CheckResult:
    """A Deployment or DaemonSet that must exist and be fully rolled out."""
    if rollout is None:
        return failed(name, f"{what} not found", hint)
    if rollout.desired == 0:
        return failed(name, f"{rollout.describe()}: no pod scheduled", hint)
    if not rollout.complete:
        return failed(name, f"{rollout.describe()}: rollout not complete", hint)
    return passed(name, f"{rollout.describe()}")


def judge_cilium_rollout(agent: Rollout | None, operator: Rollout | None) -> CheckResult:
    """The Cilium agent DaemonSet and the operator Deployment are rolled out."""
    name = "cilium-rollout"
    hint = (
        f"kubectl -n {CILIUM_NAMESPACE} get pods -l k8s-app=cilium; "
        "`cilium status` shows why an agent is not ready"
    )
    for rollout, what in (
        (agent, f"DaemonSet {CILIUM_NAMESPACE}/{CILIUM_DAEMONSET}"),
        (operator, f"Deployment {CILIUM_NAMESPACE}/{CILIUM_OPERATOR}"),
    ):
        result = judge_rollout(name, rollout, what, hint)
        if result.status != CheckStatus.PASS:
            return result
    assert agent is not None and operator is not None
    return passed(
        name,
        f"agent on {agent.ready}/{agent.desired} nodes, operator {operator.ready}/"
        f"{operator.desired} ready",
    )


def judge_cilium_config(data: Mapping[str, str] | None, expected: Expectations) -> CheckResult:
    """The running ``cilium-config`` has the audit mode and Hubble metrics asked for."""
    name = "cilium-config"
    if data is None:
        return failed(
            name,
            f"ConfigMap {CILIUM_NAMESPACE}/{CILIUM_CONFIG} not found",
            "is the cilium release installed?",
        )
    problems = []
    audit = data.get("policy-audit-mode", "false").strip().lower() == "true"
    if audit != expected.audit_mode:
        want = "audit" if expected.audit_mode else "blocking"
        have = "audit" if audit else "blocking"
        problems.append(f"runs in {have} mode, the config asks for {want} mode")
    if data.get("enable-hubble", "false").strip().lower() != "true":
        problems.append("Hubble is disabled (enable-hubble is not true)")
    running = set(data.get("hubble-metrics", "").split())
    missing = [m for m in expected.hubble_metrics if m not in running]
    if missing:
        problems.append("Hubble metrics missing: " + ", ".join(missing))
    if problems:
        return failed(
            name,
            "; ".join(problems),
            "deploy the current config (cluster-mgmt apply); Cilium agents pick up "
            "cilium-config on restart (kubectl -n kube-system rollout restart ds/cilium)",
        )
    mode = AUDIT_MESSAGE if audit else BLOCKING_MESSAGE
    return passed(name, f"{mode}; Hubble metrics: {', '.join(expected.hubble_metrics)}")


def judge_hubble_scrape(series: Sequence[tuple[Mapping[str, str], float]]) -> CheckResult:
    """Prometheus' ``up`` series of the Hubble metrics targets: at least one, all up."""
    name = "hubble-metrics"
    hubble = [
        (labels, value)
        for labels, value in series
        if "hubble" in labels.get("job", "") or labels.get("service") == "hubble-metrics"
    ]
    if not hubble:
        return failed(
            name,
            "Prometheus has no Hubble metrics target",
            "Prometheus finds Hubble through the hubble-metrics Service in kube-system: check "
            'that it exists with the annotations prometheus.io/scrape: "true" and '
            'prometheus.io/port: "9965" (kubectl -n kube-system get svc hubble-metrics -o '
            "yaml), and that cilium-config has hubble-metrics set (hubble.metrics.enabled in "
            "the Cilium values); then `cluster-mgmt apply`",
        )
    down = [labels.get("instance", "?") for labels, value in hubble if value != 1]
    if down:
        return failed(
            name,
            f"{len(down)}/{len(hubble)} Hubble targets down: {', '.join(sorted(down))}",
            "Prometheus knows the targets but cannot scrape them: the Cilium agent serves the "
            "metrics on port 9965 of each node (host network), so a security group, node "
            "firewall or a policy on Prometheus' egress may block it; Prometheus' Status > "
            "Targets page shows the scrape error, and `cilium status` on the node whether "
            "the Hubble metrics server runs",
        )
    return passed(name, f"Prometheus scrapes {len(hubble)} Hubble target(s), all up")


def judge_ingress(services: Iterable[Service], expected: Expectations) -> CheckResult:
    """The ingress controller's Service has a load-balancer address; the DNS hint to set."""
    name = "ingress"
    if expected.ingress is None:
        return skipped(name, "no ingress controller in this environment")
    candidates = [
        s
        for s in services
        if s.type == "LoadBalancer"
        and (
            s.name == CILIUM_INGRESS_SERVICE
            if expected.ingress == IngressController.CILIUM
            else s.labels.get(INSTANCE_LABEL, "ingress") == "ingress"
        )
    ]
    addresses = sorted({a for s in candidates for a in s.lb_addresses})
    if expected.provider == Provider.KIND and not addresses:
        return skipped(
            name,
            "kind has no load balancer: the ingress controller is reached on its node ports",
        )
    where = f"namespace {expected.ingress_namespace}"
    if not candidates:
        return failed(
            name,
            f"no LoadBalancer Service of the ingress controller in {where}",
            "is the ingress release installed?",
        )
    if not addresses:
        return failed(
            name,
            f"Service {candidates[0].namespace}/{candidates[0].name} has no load-balancer "
            "address yet",
            "the cloud load balancer is not provisioned: kubectl describe svc shows the "
            "events (EKS needs the AWS Load Balancer Controller for NLB annotations)",
        )
    message = f"load balancer: {', '.join(addresses)}"
    if expected.base_domain:
        first = addresses[0]
        record = "CNAME" if any(c.isalpha() for c in first.replace(".", "")) else "A"
        message += f"; DNS: *.{expected.base_domain} {record} {first}"
    return passed(name, message)


def judge_fluentd(daemonsets: Sequence[Rollout], nodes: Sequence[Node]) -> CheckResult:
    """Fluentd's DaemonSet is ready on every node that takes ordinary pods."""
    name = "fluentd"
    hint = (
        "kubectl -n logging get pods -o wide; a node with a NoSchedule taint needs a "
        "toleration in values/<env>/fluentd.override.yaml"
    )
    mine = [d for d in daemonsets if d.labels.get(INSTANCE_LABEL) == "fluentd"] or list(daemonsets)
    if not mine:
        return failed(name, "no Fluentd DaemonSet in namespace logging", hint)
    ds = mine[0]
    if not ds.complete:
        return failed(name, f"{ds.describe()}: not ready everywhere", hint)
    workers = [n for n in nodes if n.ready and n.schedulable]
    if ds.desired < len(workers):
        return failed(name, f"Fluentd runs on {ds.desired} of {len(workers)} nodes", hint)
    return passed(name, f"Fluentd ready on {ds.ready} node(s)")


def judge_gitlab_agent(deployments: Sequence[Rollout]) -> CheckResult:
    """The GitLab agent's Deployment has its pods ready."""
    name = "gitlab-agent"
    mine = [d for d in deployments if d.labels.get(INSTANCE_LABEL) == "gitlab-agent"] or list(
        deployments
    )
    hint = (
        "kubectl -n gitlab-agent logs deploy/<agent>: a wrong GITLAB_AGENT_TOKEN or an "
        "unreachable KAS address are the usual causes"
    )
    if not mine:
        return failed(name, "no GitLab agent Deployment in namespace gitlab-agent", hint)
    for rollout in mine:
        if not rollout.complete or rollout.ready < 1:
            return failed(name, f"{rollout.describe()}: agent not ready", hint)
    return passed(name, "; ".join(d.describe() for d in mine))


def judge_unmanaged(unmanaged: Sequence[Pod]) -> CheckResult:
    """Running pods Cilium does not manage (no network policy applies to them)."""
    name = "unmanaged-pods"
    if not unmanaged:
        return passed(name, "every running pod off the host network has a Cilium endpoint")
    shown = ", ".join(f"{p.namespace}/{p.name}" for p in unmanaged[:5])
    more = f" and {len(unmanaged) - 5} more" if len(unmanaged) > 5 else ""
    return failed(
        name,
        f"{len(unmanaged)} running pod(s) not managed by Cilium (policies do not apply to "
        f"them): {shown}{more}",
        "cluster-mgmt restart-unmanaged-pods (see --dry-run first); a pod it reports "
        "`blocked` is held by a PodDisruptionBudget that allows no disruption now "
        "(kubectl get pdb -n NAMESPACE)",
    )
