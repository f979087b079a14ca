"""How long `cluster-mgmt --help` takes, and what the heavy imports it avoids would cost."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15


def _time(argv: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    bare = _time([sys.executable, "-c", "pass"])
    help_ = _time([sys.executable, "-m", "cluster_mgmt", "--help"])
    heavy = _time([sys.executable, "-c", "import pydantic, kubernetes, ruamel.yaml, jinja2"])
    print(f"python startup            {bare * 1000:7.1f} ms (median of {RUNS})")
    print(f"cluster-mgmt --help       {help_ * 1000:7.1f} ms")
    print(f"heavy imports it avoids   {(heavy - bare) * 1000:7.1f} ms (pydantic, kubernetes, …)")


if __name__ == "__main__":
    main()
