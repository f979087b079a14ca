"""Prometheus HTTP API adapter: ``/api/v1/query`` and ``/api/v1/query_range``.

Two ways to reach the server, one client: straight to a URL (stdlib ``urllib``), or through
the Kubernetes API server's service proxy (:meth:`KubeClient.service_proxy_get`), which needs
no exposed port and works through the GitLab agent's kube context in CI. Every failure is
translated into :class:`~cluster_mgmt.errors.ClusterError`; every wait is bounded.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cluster_mgmt.adapters.kube import KubeClient
from cluster_mgmt.errors import ClusterError

DEFAULT_TIMEOUT_S = 30.0
# Bodies beyond this are refused rather than decoded: a mistyped URL or a runaway query.
MAX_RESPONSE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a query result: labels and ``(unix seconds, value)`` points, oldest first."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


class Transport(Protocol):
    """Something that GETs a Prometheus API path and returns the body."""

    @property
    def description(self) -> str:
        """Where requests go, for error messages."""

    def get(self, path: str, params: Mapping[str, str]) -> bytes:
        """GET ``path`` with query ``params``; raise :class:`ClusterError` on failure."""


@dataclass(frozen=True, slots=True)
class HttpTransport:
    """Direct HTTP(S) to a Prometheus base URL such as ``http://127.0.0.1:9090``."""

    base_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def description(self) -> str:
        """The base URL."""
        return self.base_url

    def get(self, path: str, params: Mapping[str, str]) -> bytes:
        """GET ``base_url + path``; HTTP, network and timeout errors become ClusterError."""
        url = f"{self.base_url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return _read_bounded(response)
        except urllib.error.HTTPError as exc:
            body = _read_bounded(exc) if exc.fp is not None else b""
            raise ClusterError(_describe_error(self.base_url, exc.code, body)) from exc
        except urllib.error.URLError as exc:
            raise ClusterError(
                f"Prometheus unreachable at {self.base_url}: {exc.reason}",
                hint="check --prometheus-url, or omit it to go through the Kubernetes API",
            ) from exc
        except TimeoutError as exc:
            raise ClusterError(
                f"Prometheus at {self.base_url} did not answer within {self.timeout_s:g}s"
            ) from exc
        except OSError as exc:
            raise ClusterError(f"Prometheus at {self.base_url}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class KubeServiceTransport:
    """Through the Kubernetes API service proxy to ``namespace/service:port``."""

    kube: KubeClient
    namespace: str
    service: str
    port: int | str

    @property
    def description(self) -> str:
        """``service proxy namespace/service:port (context C)``."""
        context = f" (context {self.kube.context})" if self.kube.context else ""
        return f"service proxy {self.namespace}/{self.service}:{self.port}{context}"

    def get(self, path: str, params: Mapping[str, str]) -> bytes:
        """GET through the proxy; the Kubernetes adapter's errors get Prometheus context."""
        try:
            return self.kube.service_proxy_get(
                self.namespace, self.service, self.port, path, params
            )
        except ClusterError as exc:
            raise ClusterError(
                f"Prometheus via {self.description}: {exc.message}",
                hint=exc.hint
                or (
                    f"is the prometheus release installed (service {self.service} in namespace "
                    f"{self.namespace})? Or pass --prometheus-url"
                ),
            ) from exc


class PrometheusClient:
    """A small client for Prometheus' query API that counts the queries it sends."""

    def __init__(self, transport: Transport, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.transport = transport
        self.timeout_s = timeout_s
        self.queries = 0
        self._lock = threading.Lock()  # queries may run in parallel threads

    @classmethod
    def from_url(cls, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> PrometheusClient:
        """A client talking straight to ``url``."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ClusterError(f"invalid Prometheus URL {url!r}: use http(s)://host:port[/path]")
        return cls(HttpTransport(url, timeout_s), timeout_s)

    @classmethod
    def via_service_proxy(
        cls,
        kube: KubeClient,
        namespace: str,
        service: str,
        port: int | str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> PrometheusClient:
        """A client going through the Kubernetes API service proxy."""
        return cls(KubeServiceTransport(kube, namespace, service, port), timeout_s)

    @property
    def description(self) -> str:
        """Where the client sends queries."""
        return self.transport.description

    def query(self, expr: str, at: float) -> list[Series]:
        """An instant query; each series has one point."""
        data = self._get("/api/v1/query", {"query": expr, "time": _num(at)})
        if data.get("resultType") != "vector":
            raise ClusterError(f"Prometheus returned {data.get('resultType')!r} for {expr!r}")
        return [Series(_labels(item), _points([item.get("value")])) for item in _result_list(data)]

    def raw_samples(self, expr: str, at: float) -> list[Series]:
        """An instant query of a range-vector selector (``metric{…}[5m]``): raw samples."""
        data = self._get("/api/v1/query", {"query": expr, "time": _num(at)})
        if data.get("resultType") != "matrix":
            raise ClusterError(f"Prometheus returned {data.get('resultType')!r} for {expr!r}")
        return [Series(_labels(item), _points(item.get("values"))) for item in _result_list(data)]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """A range query evaluated at ``start``, ``start + step``, … ``end``."""
        params = {"query": expr, "start": _num(start), "end": _num(end), "step": _num(step)}
        data = self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise ClusterError(f"Prometheus returned {data.get('resultType')!r} for {expr!r}")
        return [Series(_labels(item), _points(item.get("values"))) for item in _result_list(data)]

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        # Prometheus aborts evaluation past this, so the server gives up when we do.
        params["timeout"] = f"{max(1, math.floor(self.timeout_s))}s"
        with self._lock:
            self.queries += 1
        body = self.transport.get(path, params)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise ClusterError(
                f"not a Prometheus API response from {self.description} ({path}): {body[:80]!r}"
            ) from exc
        if not isinstance(payload, dict) or payload.get("status") != "success":
            error = payload.get("error") if isinstance(payload, dict) else None
            raise ClusterError(
                f"Prometheus query failed ({self.description}): {error or body[:200]!r}"
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ClusterError(f"Prometheus answer without data from {self.description}")
        return data


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _result_list(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    result = data.get("result")
    if not isinstance(result, list):
        raise ClusterError("Prometheus answer has no result list")
    return [item for item in result if isinstance(item, dict)]


def _labels(item: Mapping[str, Any]) -> dict[str, str]:
    metric = item.get("metric") or {}
    return {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}


def _points(values: Any) -> tuple[tuple[float, float], ...]:
    try:
        return tuple((float(t), float(v)) for t, v in values or ())
    except (TypeError, ValueError) as exc:
        raise ClusterError(f"malformed sample in Prometheus answer: {exc}") from exc


def _read_bounded(response: Any) -> bytes:
    body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ClusterError(
            f"Prometheus answer larger than {MAX_RESPONSE_BYTES // 2**20} MiB",
            hint="narrow the query: fewer namespaces (-n) or a larger --step",
        )
    return body


def _describe_error(where: str, status: int, body: bytes) -> str:
    detail = ""
    try:
        payload = json.loads(body)
        if isinstance(payload, dict):
            detail = str(payload.get("error") or "")
    except ValueError:
        detail = body[:200].decode("utf-8", "replace").strip()
    return f"Prometheus at {where} answered HTTP {status}" + (f": {detail}" if detail else "")
