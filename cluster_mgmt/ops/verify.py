"""``verify``: check the live stack of one environment, every check concurrently, one deadline.

Each check reads what it needs (helm release state through pyhelm3, objects through the
Kubernetes API, Prometheus through the API server's service proxy) and is judged by
``core.verify``. A check still running at the deadline fails with "did not finish"; an API
error fails only its own check. ``--probe`` adds a live policy test in a temporary
namespace, which is deleted whatever happens (also on Ctrl-C).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from cluster_mgmt.adapters.helm import HelmReleases
from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.adapters.prometheus import PrometheusClient
from cluster_mgmt.core import stack
from cluster_mgmt.core.config import ProjectConfig
from cluster_mgmt.core.kube_objects import RolloutKind
from cluster_mgmt.core.unmanaged import STATIC_OWNER_KIND, select_unmanaged
from cluster_mgmt.core.verify import (
    CILIUM_CONFIG,
    CILIUM_DAEMONSET,
    CILIUM_NAMESPACE,
    CILIUM_OPERATOR,
    CheckResult,
    CheckStatus,
    Expectations,
    ExpectedRelease,
    expectations,
    failed,
    judge_cilium_config,
    judge_cilium_rollout,
    judge_fluentd,
    judge_gitlab_agent,
    judge_hubble_scrape,
    judge_ingress,
    judge_release,
    judge_unmanaged,
    skipped,
)
from cluster_mgmt.errors import ClusterError, ToolError
from cluster_mgmt.ops.kube_target import KubeTarget
from cluster_mgmt.ops.probe import Probe, Timing

DEFAULT_TIMEOUT_S = 300.0
MAX_WORKERS = 8
# Prometheus answers within this, or the check fails (the deadline bounds it too).
PROMETHEUS_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The results of one run, in check order."""

    env: str
    target: str
    results: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(r.status != CheckStatus.FAIL for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.status == CheckStatus.FAIL]

    def to_json(self) -> dict[str, object]:
        """The JSON form printed by ``verify -o json``."""
        return {
            "env": self.env,
            "target": self.target,
            "ok": self.ok,
            "checks": [
                {
                    "name": r.name,
                    "status": str(r.status),
                    "message": r.message,
                    "hint": r.hint,
                    "seconds": round(r.seconds, 3),
                }
                for r in self.results
            ],
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class Verifier:
    """The clients a run uses and what it expects.

    Attributes:
        kube: the Kubernetes API of the environment.
        helm: helm through pyhelm3, or None to read helm's storage Secrets directly.
        prometheus: Prometheus (through the service proxy), or None when it is off.
        expected: what the config asks for.
        target: the cluster, for messages.
    """

    kube: KubeClient
    helm: HelmReleases | None
    prometheus: PrometheusClient | None
    expected: Expectations
    target: str

    def checks(self) -> list[tuple[str, Callable[[], CheckResult]]]:
        """Every check of this environment, in report order."""
        exp = self.expected
        out: list[tuple[str, Callable[[], CheckResult]]] = [
            (f"release/{r.name}", _bind(self.release, r)) for r in exp.releases
        ]
        out += [
            ("cilium-rollout", self.cilium_rollout),
            ("cilium-config", self.cilium_config),
            ("hubble-metrics", self.hubble_metrics),
            ("ingress", self.ingress),
            ("fluentd", self.fluentd),
            ("gitlab-agent", self.gitlab_agent),
            ("unmanaged-pods", self.unmanaged_pods),
        ]
        return out

    def release(self, expected: ExpectedRelease) -> CheckResult:
        """``release/NAME``: deployed at the pinned chart version."""
        if self.helm is not None:
            found = self.helm.release(expected.name, expected.namespace)
            if found is None:
                return judge_release(expected, None)
            return judge_release(
                expected, (found.revision, found.status, found.chart, found.chart_version)
            )
        records = [r for r in self.kube.helm_records(expected.namespace) if r.name == expected.name]
        latest = max(records, key=lambda r: r.revision, default=None)
        if latest is None:
            return judge_release(expected, None)
        return judge_release(
            expected, (latest.revision, latest.status, latest.chart, latest.chart_version)
        )

    def cilium_rollout(self) -> CheckResult:
        """``cilium-rollout``: agent DaemonSet and operator Deployment rolled out."""
        agent = self.kube.rollout(RolloutKind.DAEMONSET, CILIUM_NAMESPACE, CILIUM_DAEMONSET)
        operator = self.kube.rollout(RolloutKind.DEPLOYMENT, CILIUM_NAMESPACE, CILIUM_OPERATOR)
        return judge_cilium_rollout(agent, operator)

    def cilium_config(self) -> CheckResult:
        """``cilium-config``: audit mode and Hubble metrics as configured."""
        data = self.kube.config_map(CILIUM_NAMESPACE, CILIUM_CONFIG)
        return judge_cilium_config(data, self.expected)

    def hubble_metrics(self) -> CheckResult:
        """``hubble-metrics``: Prometheus has the Hubble targets up."""
        if self.prometheus is None:
            return skipped("hubble-metrics", "Prometheus is not installed in this environment")
        series = self.prometheus.query("up", time.time())
        return judge_hubble_scrape(
            [(s.labels, s.points[-1][1] if s.points else 0.0) for s in series]
        )

    def ingress(self) -> CheckResult:
        """``ingress``: a load-balancer address, and the DNS record to create."""
        if self.expected.ingress is None:
            return judge_ingress([], self.expected)
        return judge_ingress(self.kube.services(self.expected.ingress_namespace), self.expected)

    def fluentd(self) -> CheckResult:
        """``fluentd``: the DaemonSet is ready on every node."""
        if not self.expected.fluentd:
            return skipped("fluentd", "Fluentd is not installed in this environment")
        namespace = stack.RELEASES["fluentd"].namespace
        return judge_fluentd(self.kube.daemonsets(namespace), self.kube.nodes())

    def gitlab_agent(self) -> CheckResult:
        """``gitlab-agent``: the agent pod is ready."""
        if not self.expected.gitlab_agent:
            return skipped("gitlab-agent", "the GitLab agent is not installed in this environment")
        return judge_gitlab_agent(self.kube.deployments(stack.RELEASES["gitlab-agent"].namespace))

    def unmanaged_pods(self) -> CheckResult:
        """``unmanaged-pods``: running pods Cilium does not manage."""
        # Pods first: Cilium creates a pod's endpoint before the pod runs, so every running
        # pod of this list has its endpoint in the next one (the other order races new pods).
        pods = self.kube.pods()
        selection = select_unmanaged(pods, self.kube.cilium_endpoints(), include_bare=True)
        unmanaged = [
            p for p in selection.targets if not (p.owner and p.owner.kind == STATIC_OWNER_KIND)
        ]
        return judge_unmanaged(unmanaged)


def live_verifier(
    config: ProjectConfig, env_name: str, target: KubeTarget, kube: KubeClient, timeout_s: float
) -> Verifier:
    """The checks of ``verify`` for one environment.

    helm through pyhelm3 when helm is installed (else helm's storage Secrets), Prometheus
    through the API's service proxy.
    """
    expected = expectations(config, env_name)
    try:
        helm: HelmReleases | None = HelmReleases(
            kube_context=target.context, kubeconfig=target.kubeconfig, timeout_s=timeout_s
        )
    except ToolError:
        helm = None
    prometheus = None
    if expected.prometheus:
        prometheus = PrometheusClient.via_service_proxy(
            kube, stack.PROMETHEUS_NAMESPACE, stack.PROMETHEUS_SERVICE, stack.PROMETHEUS_PORT,
            timeout_s=min(PROMETHEUS_TIMEOUT_S, timeout_s),
        )  # fmt: skip
    return Verifier(kube, helm, prometheus, expected, target.describe())


def _bind(
    method: Callable[[ExpectedRelease], CheckResult], release: ExpectedRelease
) -> Callable[[], CheckResult]:
    return lambda: method(release)


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    started = time.monotonic()
    try:
        result = check()
    except ClusterError as exc:
        result = failed(name, exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        result = failed(name, f"unexpected error: {type(exc).__name__}: {exc}")
    return result.timed(time.monotonic() - started)


def run_verify(
    verifier: Verifier,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    probe: Probe | None = None,
    timing: Timing | None = None,
    only: Collection[str] | None = None,
) -> VerifyReport:
    """Run every check concurrently under one deadline; the probe too when given.

    ``only`` names the checks to run (e.g. those that failed before); None runs them all.
    On KeyboardInterrupt (Ctrl-C, or SIGTERM turned into it by the CLI) the probe namespace
    is deleted before the interrupt goes on.
    """
    timing = timing or Timing(time.monotonic, time.sleep)
    deadline = time.monotonic() + timeout_s
    checks = [(n, c) for n, c in verifier.checks() if only is None or n in only]
    notes: list[str] = []
    if verifier.helm is None:
        notes.append("helm not found: release state read from helm's storage Secrets")
    executor = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="verify")
    futures: list[tuple[str, Future[CheckResult]]] = [
        (name, executor.submit(_guarded, name, check)) for name, check in checks
    ]
    if probe is not None:
        probe_deadline = timing.now() + timeout_s
        futures.append(
            ("probe", executor.submit(_guarded, "probe", lambda: probe.run(probe_deadline, timing)))
        )
    try:
        wait([f for _, f in futures], timeout=max(0.0, deadline - time.monotonic()))
    except BaseException:
        if probe is not None:
            probe.cleanup()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    results = []
    for name, future in futures:
        if future.done():
            results.append(future.result())
        else:
            results.append(
                failed(
                    name,
                    f"did not finish within {timeout_s:g} s",
                    "the API server, helm or Prometheus is slow to answer: raise --timeout",
                ).timed(timeout_s)
            )
    if probe is not None:
        probe.cleanup()
        if probe.cleanup_error:
            notes.append(probe.cleanup_error)
    executor.shutdown(wait=False, cancel_futures=True)
    return VerifyReport(verifier.expected.env, verifier.target, tuple(results), tuple(notes))
