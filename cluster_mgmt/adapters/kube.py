"""Kubernetes API adapter: the only module that imports ``kubernetes``.

It speaks raw REST paths (``/api/v1/pods``, ``/apis/cilium.io/v2/ciliumnetworkpolicies``)
through the client's ``ApiClient`` so callers get plain JSON dicts, and translates every
library or HTTP error into :class:`~cluster_mgmt.errors.ClusterError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cluster_mgmt.errors import ClusterError

# Bounded waits: the API server (or the GitLab agent's proxy) must answer within these.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
MAX_PAGES = 1000  # with limit=500 per page: half a million objects of one kind


class KubeClient:
    """A small JSON client for the Kubernetes API."""

    def __init__(self, api_client: Any, context: str | None) -> None:
        self._api = api_client
        self.context = context

    @classmethod
    def from_kubeconfig(
        cls, context: str | None = None, kubeconfig: str | None = None
    ) -> KubeClient:
        """Build a client from a kubeconfig (``KUBECONFIG`` or ``~/.kube/config``) and context."""
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        try:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError) as exc:
            where = f"context {context!r}" if context else "the current context"
            raise ClusterError(
                f"cannot load kubeconfig for {where}: {exc}",
                hint="check KUBECONFIG and --kube-context (kubectl config get-contexts)",
            ) from exc
        assert isinstance(api_client, client.ApiClient)
        return cls(api_client, context)

    def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET an API path and decode its JSON body."""
        return json.loads(self.get_raw(path, params))

    def get_raw(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        """GET an API path (or a proxy path below it) and return the body bytes."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return _get_bytes(self._api, path, params)
        except ApiException as exc:
            raise ClusterError(_describe_api_error(path, exc.status, exc.body)) from exc
        except (HTTPError, OSError) as exc:
            raise ClusterError(f"Kubernetes API unreachable ({path}): {exc}") from exc

    def list_items(self, collection_path: str) -> list[dict[str, Any]]:
        """All items of a collection path, following ``continue`` tokens (bounded)."""
        items: list[dict[str, Any]] = []
        token = ""
        for _ in range(MAX_PAGES):
            params = {"limit": "500"}
            if token:
                params["continue"] = token
            page = self.get_json(collection_path, params)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items
        raise ClusterError(f"{collection_path}: more than {MAX_PAGES} pages; giving up")

    def service_proxy_get(
        self,
        namespace: str,
        service: str,
        port: int | str,
        path: str,
        params: Mapping[str, str] | None = None,
    ) -> bytes:
        """GET through the API server's service proxy (no port exposed on the cluster)."""
        proxy = f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path.lstrip('/')}"
        return self.get_raw(proxy, params)


def _describe_api_error(path: str, status: int | None, body: Any) -> str:
    message = ""
    if isinstance(body, bytes | str):
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = str(body)[:200]
    reasons = {401: "unauthorized", 403: "forbidden", 404: "not found"}
    reason = reasons.get(status or 0, f"HTTP {status}")
    return f"Kubernetes API {reason} for {path}" + (f": {message}" if message else "")


def _get_bytes(api: Any, path: str, params: Mapping[str, str] | None) -> bytes:
    """GET ``path`` with the client's auth; raise ``ApiException`` on a non-2xx status.

    kubernetes >= 35 (openapi-generator 7) split ``call_api`` into ``param_serialize`` +
    ``call_api`` and no longer raises on HTTP errors; older clients take the one-call form.
    """
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": "application/json, */*"}
    timeout = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    query = list((params or {}).items())
    if not hasattr(api, "param_serialize"):
        response = api.call_api(
            path, "GET", query_params=query, header_params=headers,
            auth_settings=["BearerToken"], _preload_content=False, _request_timeout=timeout,
        )  # fmt: skip
        raw = response[0].data
        return raw if isinstance(raw, bytes) else bytes(raw)
    method, url, header_params, body, post_params = api.param_serialize(
        "GET", path, query_params=query, header_params=headers, auth_settings=["BearerToken"]
    )
    result = api.call_api(method, url, header_params, body, post_params, _request_timeout=timeout)
    data = result.read()
    raw = data if isinstance(data, bytes) else bytes(data or b"")
    if not 200 <= result.status <= 299:
        raise ApiException(http_resp=result, body=raw.decode("utf-8", "replace"), data=None)
    return raw
