"""Kubernetes API adapter: the only module that imports ``kubernetes``.

It speaks raw REST paths (``/api/v1/pods``, ``/apis/cilium.io/v2/ciliumnetworkpolicies``)
through the client's ``ApiClient`` so callers get plain JSON dicts, and translates every
library or HTTP error into :class:`~cluster_mgmt.errors.ClusterError`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.core.kube_objects import (
    HelmRecord,
    Node,
    Pod,
    Rollout,
    RolloutKind,
    Service,
    decode_helm_secret,
    parse_node,
    parse_pod,
    parse_rollout,
    parse_service,
)
from cluster_mgmt.errors import ClusterError

# Bounded waits: the API server (or the GitLab agent's proxy) must answer within these, and
# within the command's --timeout when that is shorter.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
MAX_PAGES = 1000  # with limit=500 per page: half a million objects of one kind


def request_timeout(timeout_s: float | None) -> tuple[float, float]:
    """``(connect, read)`` seconds of each request: the defaults, capped by ``timeout_s``."""
    if timeout_s is None:
        return CONNECT_TIMEOUT_S, READ_TIMEOUT_S
    return min(CONNECT_TIMEOUT_S, timeout_s), min(READ_TIMEOUT_S, timeout_s)


class KubeClient:
    """A small JSON client for the Kubernetes API."""

    def __init__(
        self, api_client: Any, context: str | None, timeout_s: float | None = None
    ) -> None:
        self._api = api_client
        self.context = context
        self.timeout = request_timeout(timeout_s)
        self.server = str(getattr(getattr(api_client, "configuration", None), "host", "") or "")

    @classmethod
    def from_kubeconfig(
        cls,
        context: str | None = None,
        kubeconfig: str | None = None,
        timeout_s: float | None = None,
    ) -> KubeClient:
        """Build a client from a kubeconfig (``KUBECONFIG`` or ``~/.kube/config``) and context.

        Each request then waits at most :func:`request_timeout` of ``timeout_s`` (the
        command's ``--timeout``) and is sent once: urllib3 retries nothing.
        """
        import yaml  # type: ignore[import-untyped]
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
        from urllib3.util.retry import Retry

        configuration = client.Configuration()
        # urllib3 would retry a GET three times after a read timeout: a hung API server
        # would cost four timeouts. Callers that poll (restart, verify) ask again themselves.
        configuration.retries = Retry(total=0, read=False, redirect=False)
        try:
            with _logged_errors() as logged:
                api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
        except (ConfigException, OSError, ValueError, yaml.YAMLError, TypeError, KeyError) as exc:
            # Malformed files raise YAML, type or key errors: all are one line for the user.
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ClusterError(
                f"cannot load kubeconfig{_source(kubeconfig)} for {_where(context)}: "
                f"{redact(reason)}",
                hint="check KUBECONFIG and --kube-context (kubectl config get-contexts)",
            ) from exc
        if logged:
            # The loader logs a failed exec credential plugin and goes on without credentials.
            raise _credential_error(kubeconfig, context, logged[-1])
        assert isinstance(api_client, client.ApiClient)
        return cls(api_client, context, timeout_s)

    def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET an API path and decode its JSON body."""
        return json.loads(self.get_raw(path, params))

    def get_raw(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        """GET an API path (or a proxy path below it) and return the body bytes."""
        return self._call("GET", path, params)[1]

    def get_optional(self, path: str) -> Any | None:
        """GET an object; None when it does not exist (404)."""
        status, body = self._call("GET", path, accept=(404,))
        return None if status == 404 else json.loads(body)

    def create(self, path: str, obj: Mapping[str, Any]) -> Any:
        """POST an object to a collection path; the created object."""
        return json.loads(self._call("POST", path, body=obj)[1])

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> Any:
        """PATCH an object with a JSON merge patch (``null`` removes a key)."""
        return json.loads(
            self._call("PATCH", path, body=patch, content_type="application/merge-patch+json")[1]
        )

    def delete(self, path: str, *, missing_ok: bool = True) -> bool:
        """DELETE an object (foreground for namespaces); False when it was already gone."""
        accept = (404,) if missing_ok else ()
        status, _ = self._call(
            "DELETE", path, body={"propagationPolicy": "Background"}, accept=accept
        )
        return status != 404

    def evict(self, namespace: str, name: str) -> Eviction:
        """Ask the Eviction API to evict a pod; PodDisruptionBudgets are honoured.

        A 429 (a budget refuses it now) is returned as :attr:`Eviction.BLOCKED`, never turned
        into a delete; the caller retries later.
        """
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
        status, raw = self._call("POST", path, body=body, accept=(404, 429))
        if status == 429:
            return Eviction(EvictionStatus.BLOCKED, _api_message(raw))
        if status == 404:
            return Eviction(EvictionStatus.GONE, "the pod no longer exists")
        return Eviction(EvictionStatus.EVICTED, "")

    def list_items(
        self, collection_path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """All items of a collection path, following ``continue`` tokens (bounded)."""
        items: list[dict[str, Any]] = []
        token = ""
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "limit": "500"}
            if token:
                query["continue"] = token
            page = self.get_json(collection_path, query)
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

    def server_version(self) -> str:
        """The API server's version (``GET /version``): a cheap "is it reachable" check."""
        return str(self.get_json("/version").get("gitVersion", "unknown"))

    # --- typed reads -------------------------------------------------------------------

    def pods(self, namespace: str | None = None) -> list[Pod]:
        """Pods of a namespace (all when None), with their controlling owners."""
        return [parse_pod(o) for o in self.list_items(_collection("", "pods", namespace))]

    def pod(self, namespace: str, name: str) -> Pod | None:
        """One pod, or None when it does not exist."""
        obj = self.get_optional(f"/api/v1/namespaces/{namespace}/pods/{name}")
        return None if obj is None else parse_pod(obj)

    def cilium_endpoints(self, namespace: str | None = None) -> set[tuple[str, str]]:
        """``(namespace, name)`` of every CiliumEndpoint: the pods Cilium manages.

        Raises:
            ClusterError: the CiliumEndpoint resource does not exist (Cilium not installed).
        """
        path = _collection("cilium.io/v2", "ciliumendpoints", namespace)
        try:
            items = self.list_items(path)
        except ClusterError as exc:
            if "not found" in exc.message:
                raise ClusterError(
                    "the cluster has no CiliumEndpoint resource: Cilium is not installed",
                    hint="install the cilium release first (helmfile apply / cluster-mgmt apply)",
                ) from exc
            raise
        return {
            (str(o["metadata"].get("namespace", "")), str(o["metadata"].get("name", "")))
            for o in items
        }

    def cilium_endpoint(self, namespace: str, name: str) -> dict[str, Any] | None:
        """One CiliumEndpoint object (the pod's endpoint), or None."""
        path = f"/apis/cilium.io/v2/namespaces/{namespace}/ciliumendpoints/{name}"
        found: dict[str, Any] | None = self.get_optional(path)
        return found

    def daemonsets(self, namespace: str) -> list[Rollout]:
        """Rollout state of the DaemonSets of a namespace."""
        path = _collection("apps/v1", "daemonsets", namespace)
        return [parse_rollout(o, RolloutKind.DAEMONSET) for o in self.list_items(path)]

    def deployments(self, namespace: str) -> list[Rollout]:
        """Rollout state of the Deployments of a namespace."""
        path = _collection("apps/v1", "deployments", namespace)
        return [parse_rollout(o, RolloutKind.DEPLOYMENT) for o in self.list_items(path)]

    def rollout(self, kind: RolloutKind, namespace: str, name: str) -> Rollout | None:
        """Rollout state of one Deployment or DaemonSet, or None when it does not exist."""
        plural = "daemonsets" if kind == RolloutKind.DAEMONSET else "deployments"
        obj = self.get_optional(f"/apis/apps/v1/namespaces/{namespace}/{plural}/{name}")
        return None if obj is None else parse_rollout(obj, kind)

    def services(self, namespace: str) -> list[Service]:
        """Services of a namespace with their load-balancer addresses."""
        return [parse_service(o) for o in self.list_items(_collection("", "services", namespace))]

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """The ``data`` of a ConfigMap, or None when it does not exist."""
        obj = self.get_optional(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        if obj is None:
            return None
        return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}

    def nodes(self) -> list[Node]:
        """Every node: readiness, scheduling taints, pod CIDRs."""
        return [parse_node(o) for o in self.list_items("/api/v1/nodes")]

    def namespace_exists(self, name: str) -> bool:
        """Whether a namespace exists."""
        return self.get_optional(f"/api/v1/namespaces/{name}") is not None

    def helm_records(self, namespace: str | None = None) -> list[HelmRecord]:
        """Every revision of every helm release, read from helm's storage Secrets."""
        path = _collection("", "secrets", namespace)
        records = []
        for obj in self.list_items(path, {"labelSelector": "owner=helm"}):
            try:
                record = decode_helm_secret(obj)
            except ValueError as exc:
                raise ClusterError(f"unreadable helm release record: {exc}") from exc
            if record is not None:
                records.append(record)
        return records

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        accept: tuple[int, ...] = (),
    ) -> tuple[int, bytes]:
        """One request; HTTP errors not in ``accept`` and network errors become ClusterError."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return _request(
                self._api, method, path, params, body, content_type, accept, self.timeout
            )
        except ApiException as exc:
            raise ClusterError(
                _describe_api_error(method, path, exc.status, exc.body),
                hint=_hint(exc.status, self.context),
            ) from exc
        except (HTTPError, OSError) as exc:
            timed_out = _timed_out(exc)
            if timed_out is not None:
                connect_s, read_s = self.timeout
                what = (
                    f"accept a connection within {connect_s:g} s"
                    if timed_out == "connect"
                    else f"answer within {read_s:g} s"
                )
                raise ClusterError(
                    f"Kubernetes API server {self.server or '(unknown)'} did not {what} "
                    f"({method} {path})",
                    hint=f"is the cluster up and the kube context right? ({_where(self.context)}; "
                    "kubectl cluster-info); raise --timeout if it is only slow",
                ) from exc
            raise ClusterError(
                f"Kubernetes API unreachable ({method} {path}): {redact(str(exc))}",
                hint=f"is the cluster up and the kube context right? ({_where(self.context)}; "
                "kubectl cluster-info)",
            ) from exc


class EvictionStatus(StrEnum):
    """What the Eviction API answered."""

    EVICTED = "evicted"
    BLOCKED = "blocked"  # 429: a PodDisruptionBudget does not allow it now
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Eviction:
    """The answer to one eviction request."""

    status: EvictionStatus
    message: str


def _timed_out(exc: BaseException) -> str | None:
    """``connect`` or ``read`` when a request timed out (urllib3 may wrap it), else None."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NewConnectionError,
        ReadTimeoutError,
    )

    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    # NewConnectionError (refused, no route) subclasses ConnectTimeoutError: not a timeout.
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return "connect"
    if isinstance(reason, ReadTimeoutError | TimeoutError):
        return "read"
    return None


@contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """Collect what the kubernetes config loader logs instead of letting it print.

    It logs a failed exec credential plugin on the root logger (which would print
    ``ERROR:root:...``) and carries on without credentials.
    """
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield messages
    finally:
        root.removeHandler(handler)


def _exec_command(kubeconfig: str | None, context: str | None) -> str | None:
    """The exec credential plugin the context's user runs, if any."""
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION, KubeConfigMerger

    try:
        merged = KubeConfigMerger(kubeconfig or KUBE_CONFIG_DEFAULT_LOCATION).config  # type: ignore[no-untyped-call]
        name = context or merged["current-context"]
        user_name = merged["contexts"].get_with_name(name)["context"]["user"]
        exec_config = merged["users"].get_with_name(user_name)["user"].safe_get("exec")
    except (ConfigException, OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(exec_config, Mapping) or not exec_config.get("command"):
        return None
    return str(exec_config["command"])


def _credential_error(kubeconfig: str | None, context: str | None, logged: str) -> ClusterError:
    """One line for a credential plugin that is missing or failed."""
    reason = redact(" ".join(logged.split()))[:300]
    command = _exec_command(kubeconfig, context)
    if command is None:
        return ClusterError(
            f"cannot load the credentials of {_where(context)}{_source(kubeconfig)}: {reason}",
            hint="check the user of the context (kubectl config view --minify)",
        )
    if shutil.which(command) is None:
        return ClusterError(
            f"the credential plugin {command!r} of {_where(context)}{_source(kubeconfig)} "
            "is not installed (not found on PATH)",
            hint=f"install {command} (e.g. the AWS CLI for EKS, gke-gcloud-auth-plugin for "
            "GKE) or add its directory to PATH",
        )
    return ClusterError(
        f"the credential plugin {command!r} of {_where(context)}{_source(kubeconfig)} "
        f"failed: {reason}",
        hint=f"run {command} by hand to see why (logged in? the right profile or project?) "
        "and check PATH",
    )


def _source(kubeconfig: str | None) -> str:
    return f" in {kubeconfig}" if kubeconfig else ""


def _collection(group_version: str, plural: str, namespace: str | None) -> str:
    root = f"/apis/{group_version}" if group_version else "/api/v1"
    return f"{root}/namespaces/{namespace}/{plural}" if namespace else f"{root}/{plural}"


def _where(context: str | None) -> str:
    return f"context {context!r}" if context else "the current context"


def _hint(status: int | None, context: str | None) -> str | None:
    if status == 401:
        return f"the API server rejected the credentials of {_where(context)}: refresh them"
    if status == 403:
        return f"{_where(context)} lacks the RBAC permission for this request"
    return None


def _api_message(body: bytes) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    return redact(str(message))


def _describe_api_error(method: str, path: str, status: int | None, body: Any) -> str:
    message = ""
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        message = _api_message(raw)
    reasons = {401: "unauthorized", 403: "forbidden", 404: "not found", 409: "conflict"}
    reason = reasons.get(status or 0, f"HTTP {status}")
    where = path if method == "GET" else f"{method} {path}"
    return f"Kubernetes API {reason} for {where}" + (f": {message}" if message else "")


def _request(
    api: Any,
    method: str,
    path: str,
    params: Mapping[str, str] | None,
    body: Mapping[str, Any] | None,
    content_type: str,
    accept: tuple[int, ...],
    timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
) -> tuple[int, bytes]:
    """Send with the client's auth; raise ``ApiException`` on a status not 2xx nor accepted.

    kubernetes >= 35 (openapi-generator 7) split ``call_api`` into ``param_serialize`` +
    ``call_api`` and no longer raises on HTTP errors; older clients take the one-call form.
    """
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": "application/json, */*"}
    if body is not None:
        headers["Content-Type"] = content_type
    query = list((params or {}).items())
    if not hasattr(api, "param_serialize"):
        try:
            response = api.call_api(
                path, method, query_params=query, header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False, _request_timeout=timeout,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status in accept:
                raw_body = exc.body if isinstance(exc.body, bytes) else str(exc.body).encode()
                return int(exc.status), raw_body
            raise
        raw = response[0].data
        return int(response[1]), raw if isinstance(raw, bytes) else bytes(raw)
    method, url, header_params, body, post_params = api.param_serialize(
        method, path, query_params=query, header_params=headers, body=body,
        auth_settings=["BearerToken"],
    )  # fmt: skip
    result = api.call_api(method, url, header_params, body, post_params, _request_timeout=timeout)
    data = result.read()
    raw = data if isinstance(data, bytes) else bytes(data or b"")
    if not 200 <= result.status <= 299 and result.status not in accept:
        raise ApiException(http_resp=result, body=raw.decode("utf-8", "replace"), data=None)
    return int(result.status), raw
