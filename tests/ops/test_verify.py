"""`cluster-mgmt verify` against the Kubernetes API fake, the real helm binary reading release
Secrets from it, and a real Prometheus scraping a Hubble-like target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from kube_builders import daemonset, deployment, helm_release_secret, pod, service
from kube_fake import KubeFake
from ops_stack import CiliumAgent, LivePrometheus, healthy_stack, scrape_config, wait_for_up
from promserver import PrometheusServer, free_port, missing_binaries

CHECKS = [
    "release/cilium", "release/ingress", "release/prometheus", "release/fluentd",
    "release/gitlab-agent", "cilium-rollout", "cilium-config", "hubble-metrics", "ingress",
    "fluentd", "gitlab-agent", "unmanaged-pods",
]  # fmt: skip


def _verify(run_cli, project: Path, *args: str | Path) -> tuple[int, dict[str, Any], str]:
    result = run_cli("-C", project, "verify", "--env", "production", "-o", "json", *args)
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


def _failures(report: dict[str, Any], err: str) -> object:
    return [c for c in report.get("checks", []) if c["status"] == "fail"] or err


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def test_healthy_cluster_passes_with_a_junit_report(
    run_cli, project: Path, stack_api: KubeFake, live_prometheus: LivePrometheus, tmp_path: Path
):
    healthy_stack(stack_api, live_prometheus.url)
    junit = tmp_path / "reports" / "verify.xml"
    (tmp_path / "reports").mkdir()
    code, report, err = _verify(run_cli, project, "--junit", junit)
    assert code == 0, _failures(report, err)
    assert report["ok"] is True and report["env"] == "production"
    assert list(_statuses(report)) == CHECKS
    assert set(_statuses(report).values()) == {"pass"}, report
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["cilium-config"]["message"].startswith(
        "policy audit mode: traffic is logged, not blocked"
    )
    assert by_name["ingress"]["message"] == (
        "load balancer: k8s-ingress-1a2b3c.elb.eu-west-1.amazonaws.com; DNS: *.apps.example.com "
        "CNAME k8s-ingress-1a2b3c.elb.eu-west-1.amazonaws.com"
    )
    assert by_name["release/cilium"]["message"] == "cilium revision 2 (cilium-1.19.6) deployed"
    assert by_name["hubble-metrics"]["message"].endswith("1 Hubble target(s), all up")
    # The project's environment gives the context; Prometheus was reached via the API proxy.
    assert stack_api.proxied("/api/v1/query")

    # JUnit as GitLab reads it: testsuites/testsuite/testcase, counts, no failure elements.
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "cluster-mgmt verify production"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("12", "0", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == CHECKS
    assert all(c.get("classname") == "verify.production" for c in cases)
    assert all(float(c.get("time") or "x") >= 0 for c in cases)
    assert not suite.findall("testcase/failure")


def _old_cilium(fake: KubeFake) -> None:
    fake.add(helm_release_secret("cilium", "kube-system", 3, chart="cilium", version="1.18.2"))


def _failed_prometheus(fake: KubeFake) -> None:
    fake.add(helm_release_secret("prometheus", "monitoring", 3, chart="prometheus",
                                 version="29.27.0", status="failed"))  # fmt: skip


def _no_fluentd_release(fake: KubeFake) -> None:
    for revision in (1, 2):
        fake.remove("Secret", "logging", f"sh.helm.release.v1.fluentd.v{revision}")


def _agents_not_ready(fake: KubeFake) -> None:
    fake.add(daemonset("kube-system", "cilium", desired=3, ready=2, labels={"k8s-app": "cilium"}))


def _no_operator(fake: KubeFake) -> None:
    fake.remove("Deployment", "kube-system", "cilium-operator")


def _blocking_mode(fake: KubeFake) -> None:
    fake.update(
        "ConfigMap", "kube-system", "cilium-config", {"data": {"policy-audit-mode": "false"}}
    )


def _hubble_metrics_off(fake: KubeFake) -> None:
    fake.update("ConfigMap", "kube-system", "cilium-config", {"data": {"hubble-metrics": "policy"}})


def _no_lb_address(fake: KubeFake) -> None:
    fake.add(service("ingress", "ingress-traefik", type_="LoadBalancer",
                     labels={"app.kubernetes.io/instance": "ingress"}))  # fmt: skip


def _fluentd_on_two_nodes(fake: KubeFake) -> None:
    fake.add(daemonset("logging", "fluentd", desired=2,
                       labels={"app.kubernetes.io/instance": "fluentd"}))  # fmt: skip


def _agent_not_ready(fake: KubeFake) -> None:
    fake.add(deployment("gitlab-agent", "gitlab-agent-v2", replicas=1, ready=0,
                        labels={"app.kubernetes.io/instance": "gitlab-agent"}))  # fmt: skip


def _unmanaged_pod(fake: KubeFake) -> None:
    fake.add(pod("shop", "web-2", owner_ref=("ReplicaSet", "web-6f7")))


def _no_prometheus_service(fake: KubeFake) -> None:
    fake.proxies.clear()


BREAKAGES: list[tuple[Callable[[KubeFake], None], str, str, str]] = [
    (_old_cilium, "release/cilium", "chart version 1.18.2 deployed, 1.19.6 pinned", "apply"),
    (_failed_prometheus, "release/prometheus", "is failed, not deployed", "rollback prometheus"),
    (_no_fluentd_release, "release/fluentd", "not installed in namespace logging", "apply"),
    (_agents_not_ready, "cilium-rollout", "2/3 ready", "cilium status"),
    (_no_operator, "cilium-rollout", "Deployment kube-system/cilium-operator not found",
     "cilium status"),
    (_blocking_mode, "cilium-config", "runs in blocking mode, the config asks for audit mode",
     "rollout restart ds/cilium"),
    (_hubble_metrics_off, "cilium-config", "Hubble metrics missing: flow:", "cluster-mgmt apply"),
    (_no_prometheus_service, "hubble-metrics", 'services "prometheus-server:80" not found',
     "prometheus release"),
    (_no_lb_address, "ingress", "has no load-balancer address yet", "AWS Load Balancer"),
    (_fluentd_on_two_nodes, "fluentd", "Fluentd runs on 2 of 3 nodes", "toleration"),
    (_agent_not_ready, "gitlab-agent", "agent not ready", "GITLAB_AGENT_TOKEN"),
    (_unmanaged_pod, "unmanaged-pods", "1 running pod(s) not managed by Cilium",
     "restart-unmanaged-pods"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("breakage", "check", "message", "hint"), BREAKAGES, ids=[b[0].__name__ for b in BREAKAGES]
)
def test_each_broken_component_fails_its_check_with_a_hint(
    run_cli, project, stack_api, live_prometheus, tmp_path, breakage, check, message, hint
):
    healthy_stack(stack_api, live_prometheus.url)
    breakage(stack_api)
    junit = tmp_path / "verify.xml"
    code, report, err = _verify(run_cli, project, "--junit", junit)
    assert code == 1, err
    assert "verify: 1 of 12 checks failed (context 'my-group/cluster-management:dev-agent'" in err
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == [check], failed
    assert message in failed[0]["message"]
    assert failed[0]["hint"] and hint in failed[0]["hint"]
    [failure] = ET.parse(junit).getroot().findall("testsuite/testcase/failure")
    assert failure.get("message") == failed[0]["message"]
    assert failure.text and f"hint: {failed[0]['hint']}" in failure.text


def test_hubble_target_down(run_cli, project, stack_api, down_prometheus):
    healthy_stack(stack_api, down_prometheus)
    code, report, _ = _verify(run_cli, project)
    assert code == 1
    [failed] = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed["name"] == "hubble-metrics"
    assert failed["message"].startswith("1/1 Hubble targets down: 127.0.0.1:")
    assert "cannot scrape them" in failed["hint"] and "port 9965" in failed["hint"]
    assert "Status > Targets" in failed["hint"]


@pytest.fixture(scope="module")
def prometheus_without_hubble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus that scrapes a target, but none of Hubble's (no annotated Service)."""
    if missing_binaries():
        pytest.skip("prometheus not installed (Debian package 'prometheus')")
    server = PrometheusServer(tmp_path_factory.mktemp("prom-no-hubble"))
    other = scrape_config(f"127.0.0.1:{free_port()}").replace("hubble-metrics", "other-app")
    server.start(scrape_configs=other.replace("kubernetes-service-endpoints", "apps"))
    try:
        wait_for_up(server.url, "0")
        yield server.url
    finally:
        server.stop()


def test_no_hubble_target_points_at_the_service_and_its_annotations(
    run_cli, project, stack_api, prometheus_without_hubble
):
    healthy_stack(stack_api, prometheus_without_hubble)
    code, report, _ = _verify(run_cli, project)
    assert code == 1
    [failed] = [c for c in report["checks"] if c["status"] == "fail"]
    assert (failed["name"], failed["message"]) == (
        "hubble-metrics",
        "Prometheus has no Hubble metrics target",
    )
    assert 'prometheus.io/scrape: "true"' in failed["hint"]
    assert "kubectl -n kube-system get svc hubble-metrics" in failed["hint"]


def test_table_output_and_blocking_mode(run_cli, project, stack_api, live_prometheus):
    healthy_stack(stack_api, live_prometheus.url, audit=False)
    text = (project / "cluster-mgmt.yaml").read_text()
    (project / "cluster-mgmt.yaml").write_text(
        text.replace("policy_audit_mode: true", "policy_audit_mode: false")
    )
    result = run_cli("-C", project, "verify", "--env", "production")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "policy enforcement: traffic denied by a policy is dropped" in result.stdout
    assert "PASS" in result.stdout and "FAIL" not in result.stdout


def test_disabled_apps_are_skipped_not_failed(run_cli, project, stack_api, live_prometheus):
    healthy_stack(stack_api, live_prometheus.url)
    text = (project / "cluster-mgmt.yaml").read_text()
    assert "    agent: dev-agent\n" in text
    text = text.replace(
        "    agent: dev-agent\n",
        "    agent: dev-agent\n    apps: {fluentd: false, gitlab_agent: false}\n",
    )
    (project / "cluster-mgmt.yaml").write_text(text)
    stack_api.remove("DaemonSet", "logging", "fluentd")
    code, report, err = _verify(run_cli, project)
    assert code == 0, _failures(report, err)
    statuses = _statuses(report)
    assert (statuses["fluentd"], statuses["gitlab-agent"]) == ("skip", "skip")
    assert "release/fluentd" not in statuses


def test_checks_share_one_deadline(
    run_cli, project, stack_api, live_prometheus, tmp_path, monkeypatch
):
    healthy_stack(stack_api, live_prometheus.url)
    slow = tmp_path / "slow-helm" / "helm"
    slow.parent.mkdir()
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow.parent}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    code, report, _ = _verify(run_cli, project, "--timeout", "2s")
    assert time.monotonic() - started < 15
    assert code == 1
    statuses = _statuses(report)
    assert {statuses[c] for c in CHECKS if c.startswith("release/")} == {"fail"}
    assert statuses["cilium-config"] == "pass"  # the other checks ran meanwhile
    release = next(c for c in report["checks"] if c["name"] == "release/cilium")
    assert "did not finish within 2 s" in release["message"]


def test_probe_in_audit_mode_sees_an_audit_verdict_and_cleans_up(
    run_cli, project, stack_api, live_prometheus
):
    healthy_stack(stack_api, live_prometheus.url)
    stack_api.reactors.append(CiliumAgent(audit=True, exporter=live_prometheus.exporter))
    image = ("--probe-image", "mirror.local/agnhost:2.53")
    code, report, err = _verify(run_cli, project, "--probe", "--timeout", "60s", *image)
    assert code == 0, _failures(report, err)
    probe = next(c for c in report["checks"] if c["name"] == "probe")
    assert probe["status"] == "pass"
    assert "AUDIT verdict" in probe["message"] and "logged, not blocked" in probe["message"]
    pods = [b for m, p, b in stack_api.writes("POST") if p.endswith("/pods")]
    assert [p["metadata"]["name"] for p in pods] == ["probe-server", "probe-client"]
    assert {c["image"] for p in pods for c in p["spec"]["containers"]} == {
        "mirror.local/agnhost:2.53"
    }
    created = [p for m, p, _ in stack_api.writes("POST")]
    [ns_path] = [p for p in created if p == "/api/v1/namespaces"]
    namespaces = [b["metadata"]["name"] for m, p, b in stack_api.writes("POST") if p == ns_path]
    [probe_ns] = namespaces
    assert probe_ns.startswith("cluster-mgmt-probe-")
    assert f"/apis/cilium.io/v2/namespaces/{probe_ns}/ciliumnetworkpolicies" in created
    assert [p for m, p, _ in stack_api.writes("DELETE")] == [f"/api/v1/namespaces/{probe_ns}"]
    assert stack_api.get("Namespace", "", probe_ns) is None


def test_probe_in_blocking_mode_expects_a_drop(run_cli, project, stack_api, live_prometheus):
    healthy_stack(stack_api, live_prometheus.url, audit=False)
    text = (project / "cluster-mgmt.yaml").read_text()
    (project / "cluster-mgmt.yaml").write_text(
        text.replace("policy_audit_mode: true", "policy_audit_mode: false")
    )
    stack_api.reactors.append(CiliumAgent(audit=False))
    code, report, err = _verify(run_cli, project, "--probe", "--timeout", "60s")
    assert code == 0, _failures(report, err)
    probe = next(c for c in report["checks"] if c["name"] == "probe")
    assert probe["message"] == "blocking mode: the deny policy dropped the probe connection"

    # A cluster that lets the connection through although it should block: the probe fails.
    stack_api.reactors[:] = [CiliumAgent(audit=True)]
    code, report, _ = _verify(run_cli, project, "--probe", "--timeout", "60s")
    assert code == 1
    probe = next(c for c in report["checks"] if c["name"] == "probe")
    assert (
        probe["status"] == "fail"
        and "reached a server that a deny policy covers" in probe["message"]
    )
    assert len(stack_api.writes("DELETE")) == 2  # both probe namespaces deleted


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_probe_namespace_is_deleted_when_interrupted(project, stack_api, live_prometheus, signum):
    healthy_stack(stack_api, live_prometheus.url)
    # No agent: the server pod never becomes ready, so the probe waits until interrupted.
    env = {"KUBECONFIG": str(stack_api.kubeconfig), "PATH": os.environ["PATH"]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cluster_mgmt", "-C", str(project), "verify", "--env",
         "production", "--probe", "--timeout", "120s"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any(p["metadata"]["name"] == "probe-server" for p in stack_api.items("Pod")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the probe did not start"
            time.sleep(0.1)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    [ns] = [
        b["metadata"]["name"] for m, p, b in stack_api.writes("POST") if p == "/api/v1/namespaces"
    ]
    assert ("DELETE", f"/api/v1/namespaces/{ns}") in [(m, p) for m, p, _ in stack_api.writes()]
    assert stack_api.get("Namespace", "", ns) is None


def test_several_environments_need_env(run_cli, project, stack_api):
    text = (project / "cluster-mgmt.yaml").read_text()
    env_block = text[text.index("  production:\n") :]
    second = env_block.replace("  production:\n", "  staging:\n").replace(
        "agent: dev-agent", "agent: demo-agent"
    )
    (project / "cluster-mgmt.yaml").write_text(text + second)
    result = run_cli("-C", project, "verify")
    assert result.exit_code == 2
    assert "the project has 2 environments (production, staging): say which with --env" in (
        result.stderr
    )


def test_without_helm_release_state_comes_from_helm_storage(
    run_cli, project, stack_api, live_prometheus, tmp_path, monkeypatch
):
    healthy_stack(stack_api, live_prometheus.url)
    empty = tmp_path / "no-helm-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, report, err = _verify(run_cli, project)
    assert code == 0, _failures(report, err)
    assert "note: helm not found: release state read from helm's storage Secrets" in err
    assert _statuses(report)["release/cilium"] == "pass"
    assert any("labelSelector=owner%3Dhelm" in p for _, p, _ in stack_api.calls)
    stack_api.add(helm_release_secret("cilium", "kube-system", 3, chart="cilium",
                                      version="1.19.6", status="pending-upgrade"))  # fmt: skip
    code, report, _ = _verify(run_cli, project)
    assert code == 1
    cilium = next(c for c in report["checks"] if c["name"] == "release/cilium")
    assert cilium["message"] == "cilium revision 3 (cilium-1.19.6) is pending-upgrade, not deployed"
