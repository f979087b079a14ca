"""Fixtures for the stats tests: real Prometheus servers with the known Hubble data set of
stats_hubble.py, and the shared fake Kubernetes API whose service proxy forwards to one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_fake import KubeFake
from stats_hubble import (
    INTERVALS,
    STEP,
    HubbleData,
    _counter,
    _require_binaries,
    _serve,
    hubble_families,
)


@pytest.fixture(scope="session")
def hubble_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubbleData]:
    """A Prometheus holding the known Hubble data set (see stats_hubble.py)."""
    _require_binaries()
    # Whole hours, twelve hours back: inside the default 24h window, never in the future.
    t0 = int(time.time()) // 3600 * 3600 - 12 * 3600
    workdir = tmp_path_factory.mktemp("prom-hubble")
    with _serve(workdir, hubble_families(t0)) as server:
        yield HubbleData(t0=t0, end=t0 + STEP * INTERVALS, url=server.url)


@pytest.fixture(scope="session")
def plain_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus with node metrics but no Hubble metrics at all."""
    _require_binaries()
    t0 = int(time.time()) // 3600 * 3600 - 12 * 3600
    load = [
        (
            {"instance": "node-a:9100", "job": "node"},
            [(t0 + STEP * k, 0.5) for k in range(INTERVALS + 1)],
        )
    ]
    workdir = tmp_path_factory.mktemp("prom-plain")
    with _serve(workdir, {"node_load1": ("gauge", load)}) as server:
        yield server.url


@pytest.fixture(scope="session")
def stack_default_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubbleData]:
    """Flows per namespace, but the plain ``drop`` metric: reason and protocol labels only."""
    _require_binaries()
    t0 = int(time.time()) // 3600 * 3600 - 12 * 3600
    labels = {"source": "shop", "destination": "shop", "verdict": "DROPPED", "protocol": "TCP"}
    plain = {"reason": "POLICY_DENIED", "protocol": "TCP", "instance": "node-a:9965"}
    families = {
        "hubble_flows_processed_total": ("counter", [(labels, _counter(t0, 0, lambda k: 1))]),
        "hubble_drop_total": ("counter", [(plain, _counter(t0, 0, lambda k: 1))]),
    }
    with _serve(tmp_path_factory.mktemp("prom-stack-default"), families) as server:
        yield HubbleData(t0=t0, end=t0 + STEP * INTERVALS, url=server.url)


# --- the shared fake Kubernetes API, its service proxy forwarding to the test Prometheus ----


@pytest.fixture
def fake_kube_api(hubble_prometheus: HubbleData, tmp_path: Path) -> Iterator[KubeFake]:
    """A Kubernetes API on 127.0.0.1 whose prometheus-server service proxy is real."""
    fake = KubeFake(tmp_path, context="fake-agent")
    fake.proxy_service("monitoring", "prometheus-server", 80, hubble_prometheus.url)
    try:
        yield fake
    finally:
        fake.close()
