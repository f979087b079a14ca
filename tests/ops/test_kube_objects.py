"""core.kube_objects and core.unmanaged: parsing API objects, helm records, restart batches."""

from __future__ import annotations

import pytest
from kube_builders import daemonset, deployment, helm_release_secret, pod, service

from cluster_mgmt.core.kube_objects import (
    OwnerRef,
    RolloutKind,
    decode_helm_secret,
    parse_pod,
    parse_rollout,
    parse_service,
    split_chart,
)
from cluster_mgmt.core.unmanaged import batches, select_unmanaged


@pytest.mark.parametrize(
    ("chart", "expected"),
    [
        ("cilium-1.19.6", ("cilium", "1.19.6")),
        ("gitlab-agent-2.29.0", ("gitlab-agent", "2.29.0")),
        ("ingress-nginx-4.15.1-rc.1", ("ingress-nginx", "4.15.1-rc.1")),
        ("network-policies-0.1.0+build.5", ("network-policies", "0.1.0+build.5")),
        ("weird", ("weird", "")),
    ],
)
def test_split_chart(chart, expected):
    assert split_chart(chart) == expected


def test_helm_secret_round_trip_and_other_secrets():
    record = decode_helm_secret(
        helm_release_secret(
            "fluentd", "logging", 4, chart="fluentd", version="0.6.0", status="failed"
        )  # fmt: skip
    )
    assert record is not None
    assert (record.name, record.namespace, record.revision, record.status) == (
        "fluentd", "logging", 4, "failed",
    )  # fmt: skip
    assert (record.chart, record.chart_version) == ("fluentd", "0.6.0")
    assert decode_helm_secret({"type": "Opaque", "data": {"x": "eA=="}}) is None
    with pytest.raises(ValueError, match="sh.helm"):
        decode_helm_secret({"type": "helm.sh/release.v1", "metadata": {"name": "sh.helm.x"},
                            "data": {"release": "not base64!"}})  # fmt: skip


def test_rollout_states():
    done = parse_rollout(daemonset("kube-system", "cilium", desired=3), RolloutKind.DAEMONSET)
    assert done.complete and done.describe() == (
        "DaemonSet kube-system/cilium: 3/3 ready, 3/3 updated, 3/3 available"
    )
    half = parse_rollout(daemonset("k", "c", desired=3, updated=1), RolloutKind.DAEMONSET)
    assert not half.complete
    stale = parse_rollout(daemonset("k", "c", desired=3, generation=4, observed=3),
                          RolloutKind.DAEMONSET)  # fmt: skip
    assert not stale.complete and stale.describe().endswith("(new spec not yet observed)")
    scaled = parse_rollout(deployment("k", "d", replicas=2, ready=1), RolloutKind.DEPLOYMENT)
    assert (scaled.desired, scaled.ready, scaled.complete) == (2, 1, False)
    no_status = parse_rollout({"metadata": {"name": "x", "generation": 1}}, RolloutKind.DEPLOYMENT)
    assert not no_status.complete  # never reconciled


def test_pods_services_and_batches():
    owned = parse_pod(pod("a", "p1", owner_ref=("ReplicaSet", "rs")))
    assert owned.owner == OwnerRef("ReplicaSet", "rs") and str(owned.owner) == "ReplicaSet/rs"
    assert parse_pod(pod("a", "p2")).owner is None
    svc = parse_service(service("i", "lb", type_="LoadBalancer", lb=["1.2.3.4", "a.example"]))
    assert svc.lb_addresses == ("1.2.3.4", "a.example")
    pods = [parse_pod(pod("a", f"p{i}", owner_ref=("ReplicaSet", "rs"))) for i in range(5)]
    pods.append(parse_pod(pod("a", "bare")))
    selection = select_unmanaged(pods, set(), include_bare=True)
    plan = batches(selection.targets, 2)
    assert [[p.name for p in group] for _, group in plan] == [
        ["bare"], ["p0", "p1"], ["p2", "p3"], ["p4"],
    ]  # fmt: skip
    with pytest.raises(ValueError):
        batches(selection.targets, 0)
