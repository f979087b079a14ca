"""`verify --probe` deletes only the namespace it created: RBAC refusing the create, or a
name already taken by someone else, never leads to a delete."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kube_builders import namespace
from kube_fake import KubeFake
from ops_stack import CiliumAgent, LivePrometheus, healthy_stack

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.ops.probe import Probe, Timing


def test_a_forbidden_namespace_create_fails_the_probe_and_deletes_nothing(
    run_cli, project: Path, stack_api: KubeFake, live_prometheus: LivePrometheus
):
    healthy_stack(stack_api, live_prometheus.url)
    stack_api.forbidden.add(("POST", "/api/v1/namespaces"))
    result = run_cli("-C", project, "verify", "--env", "production", "-o", "json", "--probe")
    assert result.exit_code == 1, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    probe = checks["probe"]
    assert probe["status"] == "fail"
    assert "cannot create namespace cluster-mgmt-probe-" in probe["message"]
    assert "forbidden" in probe["message"]
    assert "run verify without --probe" in probe["hint"]
    assert stack_api.writes("DELETE") == []
    assert "could not delete namespace" not in result.stderr  # no misleading cleanup note


def test_a_namespace_of_the_same_name_is_left_alone(stack_api: KubeFake):
    stack_api.add(namespace("team-owned"))
    kube = KubeClient.from_kubeconfig(None, str(stack_api.kubeconfig))
    stack_api.reactors.append(CiliumAgent(audit=False))
    probe = Probe(kube, audit_mode=False, prometheus=None, namespace="team-owned")
    result = probe.run(time.monotonic() + 10, Timing(time.monotonic, time.sleep, 0.05))
    assert result.status == "fail" and "already exists" in result.message
    assert stack_api.writes("DELETE") == []
    assert stack_api.get("Namespace", "", "team-owned") is not None
    assert probe.cleanup_error is None


def test_the_probe_s_own_namespace_carries_its_token_and_is_deleted(stack_api: KubeFake):
    kube = KubeClient.from_kubeconfig(None, str(stack_api.kubeconfig))
    stack_api.reactors.append(CiliumAgent(audit=False))
    probe = Probe(kube, audit_mode=False, prometheus=None)
    result = probe.run(time.monotonic() + 30, Timing(time.monotonic, time.sleep, 0.05))
    assert result.status == "pass", result
    [(_, path, body)] = [w for w in stack_api.writes("POST") if w[1] == "/api/v1/namespaces"]
    assert body["metadata"]["annotations"] == {"cluster-mgmt.io/probe-run": probe.run_token}
    assert [p for _, p, _ in stack_api.writes("DELETE")] == [f"{path}/{probe.namespace}"]
