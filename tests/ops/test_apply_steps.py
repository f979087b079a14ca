"""`cluster-mgmt apply` end to end: the recording fake helmfile (which upgrades through the
recording fake helm, as helmfile does), the Kubernetes API fake, and verify's checks.

Provider preparation before the first Cilium install, the restart of unmanaged pods after
Cilium changed, and `--rollback-on-failure`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fake_helm import FakeHelm
from kube_builders import daemonset, namespace, node, pdb, pod
from kube_fake import KubeFake
from ops_stack import PINNED, LivePrometheus, healthy_stack

TOKEN = "glagent-apply-wiring-secret-0a1b2c3d4e5f"
AWS_NODE_PATH = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"


@pytest.fixture
def cluster(
    kube_fake: KubeFake, fake_helm: FakeHelm, fake_helmfile, monkeypatch: pytest.MonkeyPatch
) -> tuple[KubeFake, FakeHelm, Any]:
    """The API fake, the fake helm first on PATH (helmfile's --helm-binary and pyhelm3 both
    find it), and the fake helmfile upgrading releases through it."""
    monkeypatch.setenv("PATH", f"{fake_helm.binary.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELMFILE_HELM_UPGRADES", "1")
    monkeypatch.setenv("GITLAB_AGENT_TOKEN", TOKEN)
    return kube_fake, fake_helm, fake_helmfile


def _aws_node() -> dict[str, Any]:
    return daemonset("kube-system", "aws-node", desired=2, labels={"k8s-app": "aws-node"},
                     node_selector={"kubernetes.io/os": "linux"})  # fmt: skip


def _record_writes(fake: KubeFake, helmfile) -> list[tuple[str, str, str, int]]:
    """(verb, kind, name, helmfile calls so far) for every write the API fake receives."""
    events: list[tuple[str, str, str, int]] = []

    def reactor(_fake: KubeFake, verb: str, kind: str, obj: dict[str, Any]) -> None:
        events.append((verb, kind, obj["metadata"]["name"], len(helmfile.calls())))

    fake.reactors.append(reactor)
    return events


def _helm_commands(fake: FakeHelm, command: str) -> list[list[str]]:
    return [argv for argv in fake.calls() if argv[0] == command]


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text


def test_first_install_on_eks_prepares_before_helmfile_and_restarts_after(
    run_cli, project: Path, cluster, monkeypatch
):
    kube, helm, helmfile = cluster
    kube.add(
        namespace("kube-system"), namespace("shop"), _aws_node(), node("node-a"),
        # Started before Cilium: no CiliumEndpoint, so no policy applies to them.
        pod("shop", "web-1", owner_ref=("ReplicaSet", "web-6f7")),
        pod("kube-system", "coredns-1", owner_ref=("ReplicaSet", "coredns-5d")),
    )  # fmt: skip
    events = _record_writes(kube, helmfile)
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "install")

    result = run_cli("-C", project, "apply", "--env", "production")
    assert result.exit_code == 0, result.stderr
    # aws-node was patched before helmfile ran (0 calls), the pods evicted after (1 call).
    assert events[0] == ("patch", "DaemonSet", "aws-node", 0)
    evictions = [e for e in events if e[0] == "evict"]
    assert sorted(evictions) == [
        ("evict", "Pod", "coredns-1", 1), ("evict", "Pod", "web-1", 1),
    ]  # fmt: skip
    selector = kube.get("DaemonSet", "kube-system", "aws-node")["spec"]["template"]["spec"]
    assert selector["nodeSelector"]["io.cilium/aws-node-enabled"] == "true"
    # helmfile installed cilium through helm; apply then saw it as an install.
    assert [argv[:2] for argv in _helm_commands(helm, "upgrade")] == [["upgrade", "cilium"]]
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["cilium", "kube-system", "install"] in rows
    assert "cluster-mgmt: prepare (eks): DaemonSet kube-system/aws-node: add nodeSelector" in (
        result.stderr
    )
    assert "cluster-mgmt: restart: cilium install: restarting the pods" in result.stderr
    assert "cluster-mgmt: restart: [2/2]" in result.stderr
    assert "note: restarted 2 pod(s) Cilium did not manage" in result.stderr
    _no_secret(result.stdout, result.stderr)

    # The second apply: Cilium installed and unchanged. No preparation, no restart.
    kube.add(pod("shop", "late-1", owner_ref=("ReplicaSet", "late-5")))  # unmanaged again
    writes_before = len(kube.writes())
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "none")
    again = run_cli("-C", project, "apply", "--env", "production")
    assert again.exit_code == 0, again.stderr
    assert len(kube.writes()) == writes_before, kube.writes()[writes_before:]
    assert "prepare" not in again.stderr and "restart" not in again.stderr
    assert "nothing to change" in again.stdout


def test_cilium_upgraded_restarts_unmanaged_pods_and_the_steps_can_be_skipped(
    run_cli, project: Path, cluster, monkeypatch
):
    kube, helm, helmfile = cluster
    helm.set_release("kube-system", "cilium", ("cilium-1.19.5", "deployed", "Install complete"))
    helm.set_release("monitoring", "prometheus",
                     ("prometheus-29.26.0", "deployed", "Install complete"))  # fmt: skip
    kube.add(namespace("kube-system"), namespace("shop"), _aws_node(),
             pod("shop", "web-1", owner_ref=("ReplicaSet", "web-6f7")))  # fmt: skip
    events = _record_writes(kube, helmfile)
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "upgrade")

    skipped = run_cli("-C", project, "apply", "--env", "production", "--skip-restart")
    assert skipped.exit_code == 0, skipped.stderr
    assert "cluster-mgmt: restart: skipped (--skip-restart)" in skipped.stderr
    assert events == [], "cilium was installed: no preparation; the restart was skipped"

    result = run_cli("-C", project, "apply", "--env", "production")
    assert result.exit_code == 0, result.stderr
    assert [e for e in events if e[0] != "create"] == [("evict", "Pod", "web-1", 2)]
    assert "cluster-mgmt: restart: cilium upgrade: restarting" in result.stderr
    assert kube.writes("PATCH") == [], "aws-node is left alone once Cilium is installed"


def test_apply_of_other_releases_does_not_prepare_for_cilium(
    run_cli, project: Path, cluster, monkeypatch
):
    kube, helm, _ = cluster
    kube.add(namespace("kube-system"), _aws_node())
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "none")
    result = run_cli("-C", project, "apply", "--env", "production", "-l", "name=ingress")
    assert result.exit_code == 0, result.stderr
    assert kube.writes() == [] and helm.calls() == [], "cilium is not part of this apply"
    skip = run_cli("-C", project, "apply", "--env", "production", "--skip-prepare")
    assert skip.exit_code == 0, skip.stderr
    assert "cluster-mgmt: prepare: skipped (--skip-prepare)" in skip.stderr
    assert kube.writes() == []


def test_a_blocking_finding_stops_apply_before_helmfile(
    run_cli, tmp_path: Path, cluster, monkeypatch
):
    kube, _, helmfile = cluster
    made = run_cli(
        "init", tmp_path / "kind", "--provider", "kind", "--env", "dev",
        "--agent-project", "my-group/cluster-management", "--agent", "dev-agent",
        "--gitlab-url", "https://gitlab.com",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    kube.add(namespace("kube-system"), daemonset("kube-system", "kindnet", desired=1))
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "install")
    result = run_cli("-C", tmp_path / "kind", "apply", "--env", "dev")
    assert result.exit_code == 1
    assert "not ready for Cilium" in result.stderr and "disableDefaultCNI" in result.stderr
    assert helmfile.calls() == [], "nothing is deployed onto an unprepared cluster"


def test_plan_says_what_apply_would_do_besides_helmfile(
    run_cli, project: Path, cluster, monkeypatch
):
    kube, helm, _ = cluster
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "install")
    result = run_cli("-C", project, "plan", "--env", "production")
    assert result.exit_code == 0, result.stderr
    assert "note: apply would prepare the provider (eks) before installing cilium" in result.stderr
    assert "note: apply would restart the pods Cilium does not manage after cilium's install" in (
        result.stderr
    )
    assert kube.calls == [] and helm.calls() == [], "plan reads nothing but helmfile's diff"


def _installed_stack(helm: FakeHelm, *, old: dict[str, str]) -> None:
    """Every release of the EKS project at its pinned version, or at ``old[name]``."""
    for name, (ns, chart, version) in PINNED.items():
        revisions = [(f"{chart}-0.0.1", "superseded", "Install complete")]
        revisions.append((f"{chart}-{old.get(name, version)}", "deployed", "Upgrade complete"))
        helm.set_release(ns, name, *revisions)


def test_failed_verify_rolls_every_changed_release_back(
    run_cli, project: Path, cluster, live_prometheus: LivePrometheus, monkeypatch, tmp_path
):
    kube, helm, helmfile = cluster
    healthy_stack(kube, live_prometheus.url)
    # The new Cilium does not come up on one node.
    kube.add(daemonset("kube-system", "cilium", desired=3, ready=2, labels={"k8s-app": "cilium"}))
    _installed_stack(helm, old={"cilium": "1.19.5", "prometheus": "29.26.0"})
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "upgrade")
    junit = tmp_path / "apply-verify.xml"

    # A short --verify-timeout: the failed checks run again until then, and keep failing.
    result = run_cli("-C", project, "apply", "--env", "production", "--rollback-on-failure",
                     "--verify-timeout", "2s", "--junit", junit)  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    # helmfile waited for the resources before verify looked.
    [call] = helmfile.calls()
    assert call["argv"][-2:] == ["--wait", "--wait-for-jobs"]
    # The recorded helm calls: each changed release back to the revision it had before.
    assert [argv[:3] for argv in _helm_commands(helm, "rollback")] == [
        ["rollback", "prometheus", "2"],
        ["rollback", "cilium", "2"],
    ]
    for ns, name, chart in (("kube-system", "cilium", "cilium-1.19.5"),
                            ("monitoring", "prometheus", "prometheus-29.26.0")):  # fmt: skip
        current = helm.revisions(ns, name)[-1]
        assert (current["chart"], current["description"]) == (chart, "Rollback to 2")
    assert helm.revisions("ingress", "ingress")[-1]["revision"] == 2, "unchanged: left alone"
    # Both outcomes in the report.
    assert "rollback-on-failure:" in result.stdout
    summary = [line.strip() for line in result.stdout.splitlines()]
    assert "verify after deploy: failed" in summary
    assert ("rollback cilium: revision 3 -> 2 (cilium-1.19.6 -> cilium-1.19.5): rolled-back"
            in summary)  # fmt: skip
    assert ("rollback prometheus: revision 3 -> 2 (prometheus-29.27.0 -> prometheus-29.26.0): "
            "rolled-back" in summary)  # fmt: skip
    # The second verify expects the rolled-back releases at the versions they went back to;
    # it still fails here because the fake's Cilium DaemonSet stays short of a node.
    assert "verify after rollback: failed" in summary
    assert "cluster-mgmt: verify (after deploy): cilium-rollout failed" in result.stderr
    assert "cluster-mgmt: rolling back cilium: revision 3 -> 2 (cilium-1.19.5)" in result.stderr
    assert ("error: verify failed after apply: 2 release(s) rolled back; verify after rollback "
            "failed") in result.stderr  # fmt: skip
    # The JUnit file holds both runs, as GitLab's test report reads them.
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "cluster-mgmt verify production (after deploy)",
        "cluster-mgmt verify production (after rollback)",
    ]
    first = {c.get("name"): c.find("failure") is not None for c in suites[0].findall("testcase")}
    assert first["cilium-rollout"] and not first["release/cilium"]
    second = {c.get("name"): c for c in suites[1].findall("testcase")}
    assert second["cilium-rollout"].find("failure") is not None
    for name, at, pinned in (("cilium", "cilium-1.19.5", "1.19.6"),
                             ("prometheus", "prometheus-29.26.0", "29.27.0")):  # fmt: skip
        case = second[f"release/{name}"]
        assert case.find("failure") is None, ET.tostring(case)
        assert f"({at}) deployed (rolled back; the repository pins {pinned})" in (
            ET.tostring(case, encoding="unicode")
        )
    _no_secret(result.stdout, result.stderr, junit.read_text())


def test_passing_verify_rolls_nothing_back(
    run_cli, project: Path, cluster, live_prometheus: LivePrometheus, monkeypatch
):
    kube, helm, _ = cluster
    healthy_stack(kube, live_prometheus.url)
    _installed_stack(helm, old={"cilium": "1.19.5", "prometheus": "29.26.0"})
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "upgrade")
    result = run_cli("-C", project, "apply", "--env", "production", "--rollback-on-failure",
                     "--detailed-exitcode")  # fmt: skip
    assert result.exit_code == 2, result.stdout + result.stderr  # changes, verify passed
    assert _helm_commands(helm, "rollback") == []
    assert [line.strip() for line in result.stdout.splitlines()][-2:] == [
        "rollback-on-failure:",
        "verify after deploy: passed",
    ]
    assert helm.revisions("kube-system", "cilium")[-1]["chart"] == "cilium-1.19.6"
    _no_secret(result.stdout, result.stderr)


def test_a_check_failing_just_after_helmfile_runs_again_and_nothing_rolls_back(
    run_cli, project: Path, cluster, live_prometheus: LivePrometheus, monkeypatch
):
    kube, helm, _ = cluster
    healthy_stack(kube, live_prometheus.url)
    # helmfile returned while the Cilium agent was still starting on the third node.
    kube.add(daemonset("kube-system", "cilium", desired=3, ready=2, labels={"k8s-app": "cilium"}))
    agent = "/apis/apps/v1/namespaces/kube-system/daemonsets/cilium"
    reads: list[str] = []

    def agent_ready_on_the_second_look(fake: KubeFake, path: str) -> None:
        if path == agent:
            reads.append(path)
            if len(reads) == 2:
                fake.update("DaemonSet", "kube-system", "cilium",
                            {"status": {"numberReady": 3, "numberAvailable": 3}})  # fmt: skip

    kube.read_reactors.append(agent_ready_on_the_second_look)
    _installed_stack(helm, old={"cilium": "1.19.5"})
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "upgrade")

    result = run_cli("-C", project, "apply", "--env", "production", "--rollback-on-failure",
                     "--verify-timeout", "30s")  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    assert _helm_commands(helm, "rollback") == []
    assert ("cluster-mgmt: verify (after deploy): failing: cilium-rollout; checking again in 1 s"
            in result.stderr)  # fmt: skip
    assert "cluster-mgmt: verify (after deploy): passed" in result.stderr
    assert [line.strip() for line in result.stdout.splitlines()][-2:] == [
        "rollback-on-failure:",
        "verify after deploy: passed",
    ]
    # Only the failed check ran again: the agent was read twice, cilium-config once.
    assert len(reads) == 2
    assert kube.requests.count("/api/v1/namespaces/kube-system/configmaps/cilium-config") == 1


def test_a_failed_helmfile_apply_rolls_back_too(run_cli, project: Path, cluster, monkeypatch):
    kube, helm, _ = cluster
    healthy_stack(kube, None)
    _installed_stack(helm, old={})
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "error")
    result = run_cli("-C", project, "apply", "--env", "production", "--rollback-on-failure",
                     "--verify-timeout", "2s")  # fmt: skip
    assert result.exit_code == 1
    assert "deploy failed: helmfile apply failed" in result.stdout
    assert "helmfile apply failed for environment 'production'" in result.stdout
    assert _helm_commands(helm, "rollback") == [], "no release changed: nothing to roll back"
    assert "error: helmfile apply failed: 0 release(s) rolled back" in result.stderr
    _no_secret(result.stdout, result.stderr)


def test_junit_needs_rollback_on_failure(run_cli, project: Path, cluster):
    result = run_cli("-C", project, "apply", "--env", "production", "--junit", "x.xml")
    assert result.exit_code == 1 and "--junit needs --rollback-on-failure" in result.stderr


def test_pods_a_budget_keeps_fail_apply_but_never_roll_cilium_back(
    run_cli, project: Path, cluster, live_prometheus: LivePrometheus, monkeypatch
):
    kube, helm, _ = cluster
    healthy_stack(kube, live_prometheus.url)
    kube.add(  # started while Cilium was being replaced: no endpoint yet
        pod("shop", "api-1", owner_ref=("ReplicaSet", "api-5c"), labels={"app": "api"}),
        pdb("shop", "api", {"app": "api"}, allowed=0),
    )
    _installed_stack(helm, old={"cilium": "1.19.5"})
    monkeypatch.setenv("FAKE_HELMFILE_SCENARIO", "upgrade")
    result = run_cli("-C", project, "apply", "--env", "production", "--rollback-on-failure",
                     "--restart-timeout", "1s", "--verify-timeout", "2s")  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    assert _helm_commands(helm, "rollback") == [], "a budget is no reason to roll Cilium back"
    assert kube.get("Pod", "shop", "api-1") is not None and kube.writes("DELETE") == []
    assert "error: apply finished, but: 1 pod(s) not restarted: shop/api-1 (blocked: blocked " \
        "by PodDisruptionBudget shop/api" in result.stderr
    assert [line.strip() for line in result.stdout.splitlines()][-2:] == [
        "rollback-on-failure:",
        "verify after deploy: passed",
    ]
    assert "unmanaged-pods failed" not in result.stderr
