"""Benchmark: one project driving a fleet of clusters.

Generates a project with N environments on mixed providers (EKS, GKE, kind; every ingress
controller; SIEM over UDP, TCP and TLS; some apps turned off; a few chart pins and override
files), renders it once, then times the commands a pipeline runs on every push, each as a
whole `cluster-mgmt` process (Python start-up included):

- `render` with nothing to change;
- `validate --no-helmfile` (config, generated files current, every values key against the
  chart data shipped with the package, policies).

It prints the median CPU and wall time of several runs for each size (the targets are
checked on CPU time, which does not depend on other load on a shared machine), and a
straight-line fit (fixed cost + cost per environment) so linear growth can be read off.

    python benchmarks/fleet.py                 # 25, 50 and 100 environments
    python benchmarks/fleet.py --sizes 100 200 --runs 7
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TARGETS = {100: {"render": 1.0, "validate": 2.0}}  # seconds, 2 cores


def config_text(n: int) -> str:
    """A ``cluster-mgmt.yaml`` with ``n`` environments, cycling through the variations."""
    envs: dict[str, object] = {}
    for i in range(n):
        provider = ("eks", "gke", "kind")[i % 3]
        env: dict[str, object] = {
            "provider": provider,
            "agent": f"agent-{i:03d}",
            "base_domain": f"env{i:03d}.example.com",
        }
        cilium: dict[str, object] = {"policy_audit_mode": i % 4 != 0}
        if i % 2:
            cilium["hubble_metrics"] = ["dns", "tcp", "port-distribution"][: 1 + i % 3]
        if provider == "gke":
            cilium["native_routing_cidr"] = f"10.{i % 250}.0.0/16"
        controller = ("traefik", "ingress-nginx", "cilium", "traefik", "traefik")[i % 5]
        if controller == "cilium":
            cilium["k8s_service_host"] = f"api.env{i:03d}.example.com"
        env["cilium"] = cilium
        env["ingress"] = {"controller": controller}
        protocol = ("udp", "tcp", "tls", None)[i % 4]
        if protocol is not None:
            siem: dict[str, object] = {"host": f"siem{i % 7}.example.com", "protocol": protocol}
            if protocol == "tls":
                siem["tls_secret"] = "siem-ca"
                siem["port"] = 6514
            env["siem"] = siem
        if i % 6 == 5:
            env["apps"] = {"prometheus": False}
        envs[f"env-{i:03d}"] = env
    doc = {
        "version": 1,
        "gitlab": {"url": "https://gitlab.example.com", "project": "platform/clusters"},
        "apps": {"network_policies": True},
        "environments": envs,
    }
    return yaml.safe_dump(doc, sort_keys=False)


OVERRIDES = {
    "cilium": "hubble:\n  relay:\n    replicas: 2\noperator:\n  replicas: 2\n",
    "ingress": "# nothing yet\n{}\n",
    "fluentd": "resources:\n  requests:\n    cpu: 50m\n",
}


def make_project(root: Path, n: int, cli: list[str]) -> None:
    """Write the config, render it, and fill some override files as users do."""
    (root / "cluster-mgmt.yaml").write_text(config_text(n))
    subprocess.run([*cli, "-C", str(root), "render"], check=True, capture_output=True)
    for i, env_dir in enumerate(sorted((root / "values").iterdir())):
        if not env_dir.is_dir():
            continue
        for release, text in OVERRIDES.items():
            override = env_dir / f"{release}.override.yaml"
            if i % 2 == 0 and override.is_file():
                override.write_text(text)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(argv: list[str], runs: int) -> tuple[float, float, float]:
    """(median CPU, median wall, max wall) seconds of ``argv`` over ``runs`` runs after one
    warm-up. The process is single-threaded, so on a quiet machine wall time equals its CPU
    time; on a shared machine the CPU figure is the one that does not depend on neighbours."""
    cpu, wall = [], []
    for attempt in range(runs + 1):
        cpu_start, start = _children_cpu(), time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        elapsed, cpu_used = time.perf_counter() - start, _children_cpu() - cpu_start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
        if attempt:
            wall.append(elapsed)
            cpu.append(cpu_used)
    return statistics.median(cpu), statistics.median(wall), max(wall)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure")
    args = parser.parse_args()

    cli = [sys.executable, "-m", "cluster_mgmt"]
    env_vars = dict(os.environ)
    env_vars.pop("CLUSTER_MGMT_CHARTS_DIR", None)  # the data shipped with the package
    os.environ.clear()
    os.environ.update(env_vars)
    print(f"{'envs':>5} {'command':<26} {'CPU s':>7} {'wall s':>7} {'max wall':>9}")
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            root = Path(tmp, f"fleet-{n}")
            root.mkdir()
            make_project(root, n, cli)
            results[n] = {}
            for name, extra in (
                ("render", ["render"]),
                ("validate", ["validate", "--no-helmfile"]),
            ):
                cpu, wall, high = time_command([*cli, "-C", str(root), *extra], args.runs)
                results[n][name] = cpu
                label = " ".join(extra) + (" (no-op)" if name == "render" else "")
                print(f"{n:5d} {label:<26} {cpu:7.3f} {wall:7.3f} {high:9.3f}")
    if len(args.sizes) > 1:
        sizes = sorted(results)
        for name in ("render", "validate"):
            fit = statistics.linear_regression(sizes, [results[n][name] for n in sizes])
            print(
                f"{name}: {fit.intercept:.3f} s fixed + {fit.slope * 1000:.1f} ms per environment "
                f"(least squares over {', '.join(map(str, sizes))})"
            )
    for n, limits in TARGETS.items():
        for name, limit in limits.items():
            if n in results:
                verdict = "meets" if results[n][name] <= limit else "MISSES"
                print(f"target {name} @ {n} envs <= {limit:.1f} s (median CPU): {verdict}")


if __name__ == "__main__":
    main()
