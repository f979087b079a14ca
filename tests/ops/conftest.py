"""Fixtures for the cluster operation tests: a project, the API fake without token checks,
real Prometheus servers scraping a Hubble-like exporter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_fake import KubeFake
from ops_stack import HubbleExporter, LivePrometheus, scrape_config, serve_exporter, wait_for_up
from promserver import PrometheusServer, free_port, missing_binaries

AGENT = "dev-agent"


@pytest.fixture(scope="session")
def live_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePrometheus]:
    """A real Prometheus scraping a Hubble-like exporter every second (target up)."""
    if missing_binaries():
        pytest.skip(
            "prometheus not installed (Debian package 'prometheus'; scripts/install-system.sh)"
        )
    exporter = HubbleExporter()
    http = serve_exporter(exporter)
    server = PrometheusServer(tmp_path_factory.mktemp("prom-live"))
    server.start(scrape_configs=scrape_config(exporter.url))
    try:
        wait_for_up(server.url, "1")
        yield LivePrometheus(server.url, exporter)
    finally:
        server.stop()
        http.shutdown()
        http.server_close()


@pytest.fixture(scope="session")
def down_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus whose Hubble target refuses connections (up == 0)."""
    if missing_binaries():
        pytest.skip(
            "prometheus not installed (Debian package 'prometheus'; scripts/install-system.sh)"
        )
    server = PrometheusServer(tmp_path_factory.mktemp("prom-down"))
    server.start(scrape_configs=scrape_config(f"127.0.0.1:{free_port()}"))
    try:
        wait_for_up(server.url, "0")
        yield server.url
    finally:
        server.stop()


# --- a project and its healthy stack ------------------------------------------------------


@pytest.fixture
def project(run_cli, tmp_path: Path) -> Path:
    """An EKS project, environment production, kube context of agent dev-agent."""
    result = run_cli(
        "init", tmp_path / "project", "--provider", "eks", "--env", "production",
        "--agent-project", "my-group/cluster-management", "--agent", AGENT,
        "--gitlab-url", "https://gitlab.com", "--base-domain", "apps.example.com",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return tmp_path / "project"


@pytest.fixture
def stack_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helm_bin: str) -> Iterator[KubeFake]:
    """The API fake without token checks (client-go sends no bearer token over plain HTTP, and
    the real helm binary reads release state from it), KUBECONFIG and PATH set."""
    fake = KubeFake(tmp_path, token=None)
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig))
    monkeypatch.delenv("KUBE_CONTEXT", raising=False)
    monkeypatch.setenv("PATH", f"{Path(helm_bin).parent}{os.pathsep}{os.environ['PATH']}")
    try:
        yield fake
    finally:
        fake.close()
