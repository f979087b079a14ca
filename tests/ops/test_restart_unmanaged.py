"""restart-unmanaged-pods against the shared Kubernetes API fake."""

from __future__ import annotations

import json

import pytest
from kube_builders import cilium_endpoint, namespace, pdb, pod
from kube_fake import KubeFake

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.errors import ClusterError
from cluster_mgmt.ops.restart import Clock, Outcome, restart_unmanaged


def _cluster(fake: KubeFake) -> None:
    fake.add(
        namespace("shop"), namespace("kube-system"), namespace("batch"),
        # Managed by Cilium: has an endpoint.
        pod("shop", "web-1", owner_ref=("ReplicaSet", "web-7d9"), labels={"app": "web"}),
        cilium_endpoint("shop", "web-1"),
        # Unmanaged, owned.
        pod("shop", "web-2", owner_ref=("ReplicaSet", "web-7d9"), labels={"app": "web"}),
        pod("shop", "web-3", owner_ref=("ReplicaSet", "web-7d9"), labels={"app": "web"}),
        pod("shop", "db-0", owner_ref=("StatefulSet", "db"), labels={"app": "db"}),
        pod("kube-system", "coredns-5d-abc", owner_ref=("ReplicaSet", "coredns-5d")),
        # Unmanaged but host network, not running, terminating or static: never touched.
        pod("kube-system", "kube-proxy-x", owner_ref=("DaemonSet", "kube-proxy"),
            host_network=True),
        pod("batch", "job-1-xyz", owner_ref=("Job", "job-1"), phase="Succeeded"),
        pod("shop", "pending-1", owner_ref=("ReplicaSet", "web-7d9"), phase="Pending"),
        pod("kube-system", "etcd-node-a", owner_ref=("Node", "node-a")),
        # Bare pod: only with --include-bare-pods.
        pod("shop", "debug", labels={"run": "debug"}),
    )  # fmt: skip
    terminating = pod("shop", "old-1", owner_ref=("ReplicaSet", "old"))
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    fake.add(terminating)


def test_dry_run_json_lists_exactly_the_unmanaged_running_pods(kube_fake, run_cli):
    _cluster(kube_fake)
    result = run_cli("restart-unmanaged-pods", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"namespace": "kube-system", "name": "coredns-5d-abc", "owner": "ReplicaSet/coredns-5d"},
        {"namespace": "shop", "name": "db-0", "owner": "StatefulSet/db"},
        {"namespace": "shop", "name": "web-2", "owner": "ReplicaSet/web-7d9"},
        {"namespace": "shop", "name": "web-3", "owner": "ReplicaSet/web-7d9"},
    ]
    assert "skipped shop/debug: bare pod" in result.stderr
    assert "skipped kube-system/etcd-node-a: static pod" in result.stderr
    assert kube_fake.writes() == []  # a dry run changes nothing

    bare = run_cli("restart-unmanaged-pods", "--dry-run", "-o", "json", "--include-bare-pods")
    assert {"namespace": "shop", "name": "debug", "owner": None} in json.loads(bare.stdout)
    assert len(json.loads(bare.stdout)) == 5

    one_ns = run_cli("restart-unmanaged-pods", "--dry-run", "-o", "json", "-n", "kube-system")
    assert [p["name"] for p in json.loads(one_ns.stdout)] == ["coredns-5d-abc"]
    assert "/api/v1/namespaces/kube-system/pods" in kube_fake.requests

    table = run_cli("restart-unmanaged-pods", "--dry-run")
    assert "4 pod(s) would be restarted" in table.stdout
    assert "ReplicaSet/web-7d9" in table.stdout


def test_evicts_owner_by_owner_and_only_through_the_eviction_api(kube_fake, run_cli):
    _cluster(kube_fake)
    result = run_cli("restart-unmanaged-pods", "-o", "json", "--max-unavailable", "2")
    assert result.exit_code == 0, result.stderr
    outcomes = {(r["namespace"], r["name"]): r["outcome"] for r in json.loads(result.stdout)}
    assert set(outcomes.values()) == {"evicted"} and len(outcomes) == 4
    evictions = [path for method, path, _ in kube_fake.writes()]
    assert evictions == [
        "/api/v1/namespaces/kube-system/pods/coredns-5d-abc/eviction",
        "/api/v1/namespaces/shop/pods/db-0/eviction",
        "/api/v1/namespaces/shop/pods/web-2/eviction",
        "/api/v1/namespaces/shop/pods/web-3/eviction",
    ]
    assert all(method == "POST" for method, _, _ in kube_fake.writes())
    assert "[4/4] shop/web-3 (ReplicaSet/web-7d9): evicted" in result.stderr
    # Replacements have endpoints now: nothing left to restart.
    again = run_cli("restart-unmanaged-pods", "--dry-run", "-o", "json")
    assert json.loads(again.stdout) == []


def _clock() -> tuple[Clock, list[float]]:
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    return Clock(now=lambda: now[0], sleep=sleep, interval_s=5.0), slept


def test_a_budget_refusal_is_retried_never_deleted(kube_fake: KubeFake):
    _cluster(kube_fake)
    kube_fake.add(pdb("shop", "db", {"app": "db"}, allowed=0))
    kube_fake.pdb_refusals[("shop", "db")] = 2  # refused twice, then allowed
    kube = KubeClient.from_kubeconfig(kube_fake.context, str(kube_fake.kubeconfig))
    clock, slept = _clock()
    lines: list[str] = []
    report = restart_unmanaged(kube, namespace="shop", clock=clock, progress=lines.append)
    db = next(r for r in report.results if r.pod.name == "db-0")
    assert db.outcome == Outcome.EVICTED and report.complete
    posts = [p for m, p, _ in kube_fake.writes() if p.endswith("/db-0/eviction")]
    assert len(posts) == 3 and slept[:2] == [5.0, 5.0]
    assert kube_fake.writes("DELETE") == []


def test_a_budget_that_never_allows_leaves_the_pod_and_says_why(kube_fake, run_cli):
    _cluster(kube_fake)
    kube_fake.add(pdb("shop", "db", {"app": "db"}, allowed=0))
    kube = KubeClient.from_kubeconfig(kube_fake.context, str(kube_fake.kubeconfig))
    clock, _ = _clock()
    report = restart_unmanaged(kube, namespace="shop", clock=clock, timeout_s=30)
    db = next(r for r in report.results if r.pod.name == "db-0")
    assert db.outcome == Outcome.BLOCKED
    assert db.message.startswith("blocked by PodDisruptionBudget shop/db: Cannot evict pod")
    assert not report.complete
    assert kube_fake.get("Pod", "shop", "db-0") is not None  # never deleted
    assert kube_fake.writes("DELETE") == []

    result = run_cli("restart-unmanaged-pods", "-n", "shop", "--timeout", "1", "-o", "json")
    assert result.exit_code == 1, result.stderr  # 1: some pods not restarted (2 is bad input)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["db-0"]["outcome"] == "blocked"
    assert "blocked by PodDisruptionBudget shop/db" in rows["db-0"]["message"]
    assert "1 pod(s) not restarted (blocked): shop/db-0 (blocked)" in result.stderr
    assert "kubectl get pdb -A" in result.stderr and "Traceback" not in result.stderr


def test_a_blocked_owner_waits_behind_the_others_instead_of_holding_them(kube_fake: KubeFake):
    _cluster(kube_fake)
    kube_fake.add(pdb("shop", "db", {"app": "db"}, allowed=0))
    kube = KubeClient.from_kubeconfig(kube_fake.context, str(kube_fake.kubeconfig))
    clock, slept = _clock()
    lines: list[str] = []
    report = restart_unmanaged(kube, namespace="shop", clock=clock, timeout_s=60,
                               progress=lines.append)  # fmt: skip
    outcomes = {r.pod.name: r.outcome for r in report.results}
    # db-0 comes first and is refused; the web pods are restarted meanwhile, not starved.
    assert outcomes == {"db-0": Outcome.BLOCKED, "web-2": Outcome.EVICTED,
                        "web-3": Outcome.EVICTED}  # fmt: skip
    evictions = [p.rsplit("/", 2)[-2] for _, p, _ in kube_fake.writes("POST")]
    assert evictions[:4] == ["db-0", "db-0", "db-0", "web-2"]
    assert evictions.count("db-0") > 3, "asked again after the others"
    assert any("asking again after the other owners" in line for line in lines)
    assert sum(slept) <= 60 + 5  # bounded by the deadline


def test_pods_their_owner_does_not_bring_back_are_not_replaced(kube_fake: KubeFake):
    _cluster(kube_fake)

    def no_replacement_for_web(fake: KubeFake, verb: str, kind: str, obj) -> None:
        if verb == "evict" and obj["metadata"]["name"].startswith("web-"):
            pods = fake.store["v1/pods"]
            for key in [k for k in pods if k[1].startswith(obj["metadata"]["name"] + "-r")]:
                del pods[key]  # the ReplicaSet cannot schedule a new pod

    kube_fake.reactors.append(no_replacement_for_web)
    kube = KubeClient.from_kubeconfig(kube_fake.context, str(kube_fake.kubeconfig))
    clock, _ = _clock()
    report = restart_unmanaged(kube, namespace="shop", clock=clock, replace_timeout_s=20)
    by_name = {r.pod.name: r for r in report.results}
    assert by_name["web-2"].outcome == Outcome.NOT_REPLACED
    assert "ReplicaSet/web-7d9 in shop has 3 of 4 pods ready" in by_name["web-2"].message
    # The owner is not taken down further; other owners go on.
    assert by_name["web-3"].outcome == Outcome.NOT_REACHED
    assert "earlier pods of ReplicaSet/web-7d9 were not replaced" in by_name["web-3"].message
    assert by_name["db-0"].outcome == Outcome.EVICTED
    assert not report.complete
    assert [p for _, p, _ in kube_fake.writes("POST") if "/web-3/" in p] == []


def test_cluster_without_cilium_is_one_clear_error(tmp_path, run_cli, monkeypatch):
    fake = KubeFake(tmp_path, cilium=False)
    try:
        fake.add(namespace("shop"), pod("shop", "web-1", owner_ref=("ReplicaSet", "web")))
        result = run_cli("restart-unmanaged-pods", "--dry-run", "--kubeconfig", fake.kubeconfig)
        assert result.exit_code == 2
        assert "no CiliumEndpoint resource: Cilium is not installed" in result.stderr
    finally:
        fake.close()


def test_max_unavailable_bounds_and_usage(run_cli, kube_fake):
    result = run_cli("restart-unmanaged-pods", "-n", "x", "-A")
    assert result.exit_code == 2 and "not both" in result.stderr
    assert run_cli("restart-unmanaged-pods", "--max-unavailable", "0").exit_code == 2


def test_progress_and_clock_are_bounded(kube_fake: KubeFake):
    _cluster(kube_fake)
    kube = KubeClient.from_kubeconfig(kube_fake.context, str(kube_fake.kubeconfig))
    clock, _ = _clock()
    with pytest.raises(ValueError):
        restart_unmanaged(kube, max_unavailable=0, clock=clock)
    with pytest.raises(ClusterError):
        KubeClient.from_kubeconfig("no-such-context", str(kube_fake.kubeconfig))


@pytest.mark.parametrize("max_unavailable", [1, 2])
def test_max_unavailable_pods_of_one_owner_at_a_time(kube_fake: KubeFake, run_cli, max_unavailable):
    _cluster(kube_fake)
    result = run_cli("restart-unmanaged-pods", "-n", "shop", "--max-unavailable",
                     str(max_unavailable))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    calls = [(m, p) for m, p, _ in kube_fake.calls]
    second = calls.index(("POST", "/api/v1/namespaces/shop/pods/web-3/eviction"))
    first = calls.index(("POST", "/api/v1/namespaces/shop/pods/web-2/eviction"))
    between = calls[first + 1 : second]
    # One at a time: the first pod must be gone (and the owner ready again) before the next.
    waited = ("GET", "/api/v1/namespaces/shop/pods/web-2") in between
    assert waited is (max_unavailable == 1), between
