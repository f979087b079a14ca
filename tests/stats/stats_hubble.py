"""Fixtures for the stats tests: real Prometheus servers with known Hubble data, and a fake
Kubernetes API whose service proxy forwards to one of them.

The data set (``hubble_data``), per one-minute step over six hours from ``t0``:

==================  ============================  ===========  ====================  ======
series              labels (source → destination)  verdict      per minute            total
==================  ============================  ===========  ====================  ======
S1                  shop → shop                    FORWARDED    10                    3600
S2                  shop → payments                FORWARDED    5                     1800
S3                  payments → shop                DROPPED      1 (odd k), 2 (even k)  540
                                                                reset at k=181
S4                  (world) → shop                 DROPPED      2; no samples          720
                                                                k=100..159 (gap)
S5                  batch → (world)                FORWARDED    3; gap k=200..239     1080
S6                  kube-system → kube-system      FORWARDED    1                      360
S7                  shop → shop                    AUDIT        4                     (not counted)
S8                  old → old                      FORWARDED    only 2h..1h before t0  (outside)
S9                  payments → payments            FORWARDED    1, born at k=300        60
D1 drop_total       payments → shop  POLICY_DENIED              like S3                540
D2 drop_total       (world) → shop   STALE_OR_UNROUTABLE_IP     like S4                720
D3 drop_total       payments → (world) CT_MAP_INSERTION_FAILED  1 every 10th minute     36
==================  ============================  ===========  ====================  ======

Counters start from non-zero baselines (an agent that ran before the window); the baseline
and the first value of a series born in the window are not counted, as in Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from kube_fake import KubeFake
from promserver import PrometheusServer, missing_binaries, write_openmetrics

STEP = 60
INTERVALS = 360  # six hours of one-minute steps
# The context a project made by `init --agent-project my-group/cluster-management --agent
# dev-agent` uses for its environment: GitLab agent contexts are <project>:<agent>.
AGENT_CONTEXT = "my-group/cluster-management:dev-agent"


@dataclass(frozen=True, slots=True)
class HubbleData:
    """Where the known data set lies in time."""

    t0: int
    end: int
    url: str


def _counter(
    t0: int,
    base: float,
    increment: Callable[[int], float],
    *,
    first: int = 0,
    last: int = INTERVALS,
    reset_at: int | None = None,
    missing: range = range(0),
) -> list[tuple[int, float]]:
    """Samples at ``t0 + 60k``: ``base`` at ``first``, then ``+ increment(k)`` per minute."""
    points: list[tuple[int, float]] = []
    value = base
    for k in range(first, last + 1):
        if k > first:
            # After a restart the counter starts again from zero.
            value = increment(k) if k == reset_at else value + increment(k)
        if k not in missing:
            points.append((t0 + STEP * k, value))
    return points


def hubble_families(
    t0: int,
) -> dict[str, tuple[str, list[tuple[dict[str, str], list[tuple[int, float]]]]]]:
    def flow(src: str, dst: str, verdict: str, proto: str, node: str) -> dict[str, str]:
        return {
            "source": src,
            "destination": dst,
            "verdict": verdict,
            "protocol": proto,
            "type": "Trace" if verdict != "DROPPED" else "Drop",
            "subtype": "to-endpoint",
            "instance": f"{node}:9965",
            "job": "hubble",
        }

    def drop(src: str, dst: str, reason: str, proto: str) -> dict[str, str]:
        return {
            "source": src,
            "destination": dst,
            "reason": reason,
            "protocol": proto,
            "instance": "node-b:9965",
            "job": "hubble",
        }

    s3 = _counter(t0, 40, lambda k: 1 if k % 2 else 2, reset_at=181)
    s4 = _counter(t0, 0, lambda k: 2, missing=range(100, 160))
    flows = [
        (flow("shop", "shop", "FORWARDED", "TCP", "node-a"), _counter(t0, 5000, lambda k: 10)),
        (flow("shop", "payments", "FORWARDED", "TCP", "node-a"), _counter(t0, 200, lambda k: 5)),
        (flow("payments", "shop", "DROPPED", "TCP", "node-b"), s3),
        (flow("", "shop", "DROPPED", "UDP", "node-b"), s4),
        (
            flow("batch", "", "FORWARDED", "TCP", "node-a"),
            _counter(t0, 7, lambda k: 3, missing=range(200, 240)),
        ),
        (
            flow("kube-system", "kube-system", "FORWARDED", "UDP", "node-a"),
            _counter(t0, 0, lambda k: 1),
        ),
        (flow("shop", "shop", "AUDIT", "TCP", "node-a"), _counter(t0, 0, lambda k: 4)),
        (
            flow("old", "old", "FORWARDED", "TCP", "node-a"),
            _counter(t0, 0, lambda k: 1, first=-120, last=-60),
        ),
        (
            flow("payments", "payments", "FORWARDED", "TCP", "node-b"),
            _counter(t0, 50, lambda k: 1, first=300),
        ),
    ]
    drops = [
        (drop("payments", "shop", "POLICY_DENIED", "TCP"), s3),
        (drop("", "shop", "STALE_OR_UNROUTABLE_IP", "UDP"), s4),
        (
            drop("payments", "", "CT_MAP_INSERTION_FAILED", "UDP"),
            _counter(t0, 3, lambda k: 1 if k % 10 == 0 else 0),
        ),
    ]
    return {
        "hubble_flows_processed_total": ("counter", flows),
        "hubble_drop_total": ("counter", drops),
    }


def _require_binaries() -> None:
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (Debian package 'prometheus'; "
            "run scripts/install-system.sh)"
        )


@contextmanager
def _serve(workdir: Path, families: dict) -> Iterator[PrometheusServer]:  # type: ignore[type-arg]
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data.om"
    with data.open("w") as out:
        write_openmetrics(out, families)
    server = PrometheusServer(workdir)
    server.backfill(data)
    server.start()
    try:
        yield server
    finally:
        server.stop()


FakeKubeApi = KubeFake
