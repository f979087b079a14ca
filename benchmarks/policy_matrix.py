"""Benchmark: full connectivity matrix of a synthetic cluster.

Generates namespaces, workloads (Deployments, StatefulSets, DaemonSets, bare Pods) whose pods
are listed with owner references, labels that overlap realistically (app, tier, team, env,
version), and a mix of Kubernetes NetworkPolicies and CiliumNetworkPolicies; writes them as
YAML, then times loading and analysis separately and prints the figures, next to a bare
``yaml.CSafeLoader`` load of the same files (in-process, and as whole processes against
`cluster-mgmt policy matrix -o json`; target: at most 1.5x the bare load).

    python benchmarks/policy_matrix.py                # 5,000 pods / 1,000 policies
    python benchmarks/policy_matrix.py --pods 50000   # same label sets, 10x the pods
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_mgmt.core.policy import conn  # noqa: E402
from cluster_mgmt.core.policy.analysis import Analysis  # noqa: E402
from cluster_mgmt.core.policy.documents import split_documents  # noqa: E402
from cluster_mgmt.core.policy.matrix_output import to_json_text  # noqa: E402
from cluster_mgmt.ops.policy_manifests import load_manifests  # noqa: E402

TIERS = ["web", "api", "worker", "db", "cache"]
TEAMS = ["red", "blue", "green", "gold", "teal", "pink", "gray"]
PORTS = {"web": 8080, "api": 9000, "worker": 7000, "db": 5432, "cache": 6379}


def _pod(
    ns: str, name: str, labels: dict[str, str], owner: tuple[str, str] | None, port: int
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner[0],
                "name": owner[1],
                "controller": True,
                "uid": "0",
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "serviceAccountName": "default",
            "containers": [
                {
                    "name": "main",
                    "image": "registry.example.com/app:1.0",
                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ],
        },
        "status": {"phase": "Running"},
    }


def generate(
    n_pods: int, n_policies: int, n_namespaces: int, replicas: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    rng = random.Random(seed)
    namespaces = [f"team-{i:02d}" for i in range(n_namespaces)]
    objects: list[dict[str, Any]] = []
    for i, ns in enumerate(namespaces):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "labels": {
                        "team": TEAMS[i % len(TEAMS)],
                        "env": "prod" if i % 3 else "staging",
                    },
                },
            }
        )
    objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})
    n_workloads = max(1, (n_pods * 1) // max(1, replicas))
    distinct = min(
        n_workloads, 1000
    )  # label sets: grows with workloads, capped like a real cluster
    apps = []
    for w in range(distinct):
        ns = namespaces[w % n_namespaces]
        tier = TIERS[w % len(TIERS)]
        apps.append((ns, f"{tier}-{w}", tier, TEAMS[rng.randrange(len(TEAMS))], f"v{w % 3}"))
    pods = 0
    w = 0
    while pods < n_pods:
        ns, app, tier, team, version = apps[w % distinct]
        kind = ["ReplicaSet", "StatefulSet", "DaemonSet", None][w % 4 if w % 10 else 3]
        name = app if w < distinct else f"{app}-{w // distinct}"
        labels = {"app": app, "tier": tier, "team": team, "version": version}
        for r in range(replicas):
            if pods >= n_pods:
                break
            pod_name = f"{name}-{r}" if kind else name
            owner = (
                (kind, f"{name}-7d4b9c") if kind == "ReplicaSet" else (kind, name) if kind else None
            )
            objects.append(_pod(ns, pod_name, labels, owner, PORTS[tier]))
            pods += 1
            if kind is None:
                break
        w += 1
    # monitoring: one prometheus
    objects.append(
        _pod(
            "monitoring", "prometheus-0", {"app": "prometheus"}, ("StatefulSet", "prometheus"), 9090
        )
    )

    policies: list[dict[str, Any]] = []
    # 1. default deny ingress in every namespace (KNP) and egress default deny in half (CNP)
    for i, ns in enumerate(namespaces):
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            }
        )
        if i % 2 == 0:
            policies.append(
                {
                    "apiVersion": "cilium.io/v2",
                    "kind": "CiliumNetworkPolicy",
                    "metadata": {"name": "egress-baseline", "namespace": ns},
                    "spec": {
                        "endpointSelector": {},
                        "egress": [
                            {
                                "toEndpoints": [
                                    {
                                        "matchLabels": {
                                            "k8s:io.kubernetes.pod.namespace": "kube-system",
                                            "k8s-app": "kube-dns",
                                        }
                                    }
                                ],
                                "toPorts": [
                                    {
                                        "ports": [{"port": "53", "protocol": "ANY"}],
                                        "rules": {"dns": [{"matchPattern": "*"}]},
                                    }
                                ],
                            },
                            {"toEndpoints": [{}]},
                            {
                                "toCIDRSet": [{"cidr": "10.0.0.0/8", "except": [f"10.{i}.0.0/16"]}],
                                "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
                            },
                        ],
                    },
                }
            )
    # 2. per-app allow rules until the policy budget is used
    k = 0
    while len(policies) < n_policies:
        ns, app, tier, team, _ = apps[k % distinct]
        k += 1
        choice = k % 5
        if choice in (0, 1):
            src_tier = TIERS[max(0, TIERS.index(tier) - 1)]
            policies.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": f"allow-{app}", "namespace": ns},
                    "spec": {
                        "podSelector": {"matchLabels": {"app": app}},
                        "ingress": [
                            {
                                "from": [
                                    {"podSelector": {"matchLabels": {"tier": src_tier}}},
                                    {
                                        "namespaceSelector": {"matchLabels": {"team": team}},
                                        "podSelector": {
                                            "matchExpressions": [
                                                {
                                                    "key": "tier",
                                                    "operator": "In",
                                                    "values": [src_tier, "api"],
                                                }
                                            ]
                                        },
                                    },
                                ],
                                "ports": [{"port": "http"}],
                            }
                        ],
                    },
                }
            )
        elif choice == 2:
            policies.append(
                {
                    "apiVersion": "cilium.io/v2",
                    "kind": "CiliumNetworkPolicy",
                    "metadata": {"name": f"allow-{app}-monitoring", "namespace": ns},
                    "spec": {
                        "endpointSelector": {"matchLabels": {"app": app}},
                        "ingress": [
                            {
                                "fromEndpoints": [
                                    {
                                        "matchLabels": {
                                            "k8s:io.kubernetes.pod.namespace": "monitoring",
                                            "app": "prometheus",
                                        }
                                    }
                                ],
                                "toPorts": [
                                    {"ports": [{"port": str(PORTS[tier]), "protocol": "TCP"}]}
                                ],
                            }
                        ],
                    },
                }
            )
        elif choice == 3:
            policies.append(
                {
                    "apiVersion": "cilium.io/v2",
                    "kind": "CiliumNetworkPolicy",
                    "metadata": {"name": f"allow-{app}-l7", "namespace": ns},
                    "spec": {
                        "endpointSelector": {"matchLabels": {"app": app}},
                        "ingress": [
                            {
                                "fromEndpoints": [{"matchLabels": {"team": team}}],
                                "toPorts": [
                                    {
                                        "ports": [{"port": str(PORTS[tier]), "protocol": "TCP"}],
                                        "rules": {"http": [{"method": "GET", "path": "/api/.*"}]},
                                    }
                                ],
                            }
                        ],
                        "ingressDeny": [{"fromCIDR": [f"192.168.{k % 256}.0/24"]}],
                    },
                }
            )
        else:
            policies.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": f"allow-{app}-lb", "namespace": ns},
                    "spec": {
                        "podSelector": {"matchLabels": {"tier": tier, "team": team}},
                        "ingress": [
                            {
                                "from": [
                                    {
                                        "ipBlock": {
                                            "cidr": f"172.{16 + k % 16}.0.0/16",
                                            "except": [f"172.{16 + k % 16}.{k % 256}.0/24"],
                                        }
                                    }
                                ],
                                "ports": [{"port": PORTS[tier], "endPort": PORTS[tier] + 10}],
                            }
                        ],
                    },
                }
            )
    return objects, policies, pods


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=40)
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()

    objects, policies, n_pods = generate(
        args.pods, args.policies, args.namespaces, args.replicas, args.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "workloads.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
        (root / "policies.yaml").write_text(yaml.safe_dump_all(policies, sort_keys=False))
        size = sum(p.stat().st_size for p in root.iterdir())
        bares, loads, analyses, outputs = [], [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for path in sorted(root.iterdir()):
                list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
            bares.append(time.perf_counter() - t0)
            for cached in (conn.union, conn.intersect, conn.subtract, conn.is_subset):
                cached.cache_clear()  # every run starts cold
            t0 = time.perf_counter()
            inventory, policy_set = split_documents(load_manifests([root]))
            t1 = time.perf_counter()
            analysis = Analysis(inventory, policy_set.policies)
            matrix = analysis.connections()
            t2 = time.perf_counter()
            text = to_json_text(matrix)
            t3 = time.perf_counter()
            loads.append(t1 - t0)
            analyses.append(t2 - t1)
            outputs.append(t3 - t2)
        # The command as a user runs it, against a bare CSafeLoader load in its own process.
        command = [sys.executable, "-m", "cluster_mgmt", "policy", "matrix", "--dir", tmp]
        bare_process = [
            sys.executable,
            "-c",
            "import sys, yaml\n"
            "for f in sorted(sys.argv[1:]): list(yaml.load_all(open(f).read(), "
            "Loader=yaml.CSafeLoader))",
            *(str(p) for p in root.iterdir()),
        ]
        cli = _process_time([*command, "-o", "json"], args.repeat)
        bare_cli = _process_time(bare_process, args.repeat)
    bare, load, analysis_t, output = min(bares), min(loads), min(analyses), min(outputs)
    end_to_end = load + analysis_t + output
    print(f"pods:               {n_pods}")
    print(f"workloads:          {len(analysis.workloads)}")
    print(f"distinct pod shapes:{len(analysis.classes.shapes):6d}")
    errors = sum(f.severity == "error" for f in policy_set.findings)
    print(f"policies:           {len(policy_set.policies)} (errors: {errors})")
    print(f"YAML size:          {size / 1e6:.1f} MB")
    print(f"address atoms:      {len(analysis.atoms.partition)}")
    print(f"matrix entries:     {len(matrix)}  ({len(text) / 1e6:.1f} MB of JSON)")
    print(f"bare CSafeLoader:   {bare:.3f} s   (yaml.load_all of the same files)")
    print(f"load (YAML):        {load:.3f} s   positions for policies, inventory and parsing")
    print(f"analysis (matrix):  {analysis_t:.3f} s   ratio analysis/load = {analysis_t / load:.2f}")
    print(f"JSON output:        {output:.3f} s")
    print(f"end to end:         {end_to_end:.3f} s   = {end_to_end / bare:.2f} x bare load")
    print(
        f"processes:          `policy matrix -o json` {cli:.3f} s, bare load {bare_cli:.3f} s"
        f" = {cli / bare_cli:.2f} x (target <= 1.5 x)"
    )


def _process_time(argv: list[str], runs: int) -> float:
    """Median wall time of a whole process, output discarded."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=600)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


if __name__ == "__main__":
    main()
