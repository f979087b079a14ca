"""The Prometheus adapter against a real Prometheus, the Kubernetes service-proxy fake, and
misbehaving servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from promserver import free_port
from stats_hubble import FakeKubeApi, HubbleData

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.adapters.prometheus import PrometheusClient
from cluster_mgmt.errors import ClusterError

pytestmark = pytest.mark.integration

KUBE_SYSTEM = 'hubble_flows_processed_total{source="kube-system"}'


def test_range_and_instant_queries(hubble_prometheus: HubbleData) -> None:
    client = PrometheusClient.from_url(hubble_prometheus.url, timeout_s=10)
    t0 = hubble_prometheus.t0
    [series] = client.query_range(KUBE_SYSTEM, t0, t0 + 600, 60)
    assert series.labels["destination"] == "kube-system"
    assert series.labels["instance"] == "node-a:9965"
    assert series.points == tuple((float(t0 + 60 * k), float(k)) for k in range(11))
    [sample] = client.query(f"sum({KUBE_SYSTEM})", t0 + 600)
    assert sample.labels == {} and sample.points == ((t0 + 600.0, 10.0),)
    assert client.query("absent_metric_xyz", t0) == []
    assert client.queries == 3


def test_prometheus_errors_are_translated(hubble_prometheus: HubbleData) -> None:
    client = PrometheusClient.from_url(hubble_prometheus.url, timeout_s=10)
    with pytest.raises(ClusterError, match=r"HTTP 400: .*parse error"):
        client.query("sum(", hubble_prometheus.t0)
    with pytest.raises(ClusterError, match="returned 'string'"):
        client.query('"a string literal"', hubble_prometheus.t0)


def test_unreachable_prometheus() -> None:
    client = PrometheusClient.from_url(f"http://127.0.0.1:{free_port()}", timeout_s=5)
    with pytest.raises(ClusterError, match="Prometheus unreachable at http://127.0.0.1"):
        client.query("up", 0)


def test_invalid_url_is_refused() -> None:
    with pytest.raises(ClusterError, match="invalid Prometheus URL"):
        PrometheusClient.from_url("127.0.0.1:9090")


def test_a_silent_server_times_out_within_the_bound() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        client = PrometheusClient.from_url(f"http://127.0.0.1:{listener.getsockname()[1]}", 1)
        began = time.monotonic()
        with pytest.raises(ClusterError, match="did not answer within 1s"):
            client.query("up", 0)
        assert time.monotonic() - began < 10


@pytest.fixture
def html_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"<html><body>Grafana login</body></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_non_prometheus_answer_is_refused(html_server: str) -> None:
    client = PrometheusClient.from_url(html_server, timeout_s=5)
    with pytest.raises(ClusterError, match="not a Prometheus API response"):
        client.query("up", 0)


# --- through the Kubernetes API service proxy ---------------------------------------------


def test_service_proxy_reaches_the_same_prometheus(
    fake_kube_api: FakeKubeApi, hubble_prometheus: HubbleData
) -> None:
    kube = KubeClient.from_kubeconfig(fake_kube_api.context, str(fake_kube_api.kubeconfig))
    client = PrometheusClient.via_service_proxy(kube, "monitoring", "prometheus-server", 80)
    t0 = hubble_prometheus.t0
    [series] = client.query_range(KUBE_SYSTEM, t0, t0 + 600, 60)
    assert [v for _, v in series.points] == [float(k) for k in range(11)]
    [request] = fake_kube_api.proxied("/api/v1/query_range")
    assert "query=hubble_flows_processed_total" in request and "step=60" in request
    assert "service proxy monitoring/prometheus-server:80 (context fake-agent)" in (
        client.description
    )


def test_service_proxy_errors_name_the_service(fake_kube_api: FakeKubeApi) -> None:
    kube = KubeClient.from_kubeconfig(fake_kube_api.context, str(fake_kube_api.kubeconfig))
    client = PrometheusClient.via_service_proxy(kube, "monitoring", "nope", 9090)
    with pytest.raises(ClusterError) as info:
        client.query("up", 0)
    assert "Prometheus via service proxy monitoring/nope:9090" in info.value.message
    assert 'services "nope:9090" not found' in info.value.message
    assert info.value.hint is not None and "--prometheus-url" in info.value.hint


def test_service_proxy_passes_prometheus_refusals(fake_kube_api: FakeKubeApi) -> None:
    kube = KubeClient.from_kubeconfig(fake_kube_api.context, str(fake_kube_api.kubeconfig))
    client = PrometheusClient.via_service_proxy(kube, "monitoring", "prometheus-server", 80)
    with pytest.raises(ClusterError, match="HTTP 400"):
        client.query("sum(", 0)
