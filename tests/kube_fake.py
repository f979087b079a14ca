"""One realistic Kubernetes API fake on 127.0.0.1, shared by every test that talks to a cluster.

It is a small stateful API server over real HTTP (``http.server``): the kubernetes client,
the real ``helm`` binary and ``kubectl`` reach it through an ordinary kubeconfig. It serves

- discovery (``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/GROUP/VERSION``);
- lists (cluster-wide and per namespace) with ``labelSelector`` and ``limit``/``continue``
  paging, and single objects, for every kind in :data:`RESOURCES`;
- writes: create (409 when the object exists, 404 when its namespace does not), JSON merge
  patch (``generation`` moves when ``spec`` changes), delete (a namespace takes its objects
  with it);
- the Eviction API: PodDisruptionBudgets are honoured; a refused eviction answers 429
  ``TooManyRequests`` as the API server does. An evicted pod of a controller is replaced by a
  new pod, which Cilium manages (it gets a CiliumEndpoint);
- the service proxy (``/api/v1/namespaces/NS/services/NAME:PORT/proxy/...``) to a real
  upstream server on loopback (a real Prometheus in the stats and verify tests).

kmock 0.8 cannot serve ``GET /api/v1/namespaces`` (its path parser reads ``namespaces`` as a
namespace segment), hence a plain ``http.server``. Reactors (callables run after each write)
let a test play a controller, e.g. Cilium's agent in the ``verify --probe`` tests; read
reactors (run before each GET) let state change between reads.
"""

from __future__ import annotations

import copy
import itertools
import json
import textwrap
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kube_protobuf
from kube_builders import cilium_endpoint

TOKEN = "test-token"
DEFAULT_CONTEXT = "fake-agent"
# GitLab agent contexts of the projects the tests create with `init --agent-project
# my-group/cluster-management --agent <agent>`: both point at this fake.
AGENT_CONTEXTS = (
    "my-group/cluster-management:demo-agent",
    "my-group/cluster-management:dev-agent",
)
PROXY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Resource:
    """A REST resource: group/version, plural, namespaced or not."""

    group_version: str
    plural: str
    namespaced: bool = True

    @property
    def root(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    @property
    def key(self) -> str:
        return f"{self.group_version}/{self.plural}"


RESOURCES: dict[str, Resource] = {
    "Namespace": Resource("v1", "namespaces", namespaced=False),
    "Node": Resource("v1", "nodes", namespaced=False),
    "Pod": Resource("v1", "pods"),
    "Service": Resource("v1", "services"),
    "Endpoints": Resource("v1", "endpoints"),
    "ConfigMap": Resource("v1", "configmaps"),
    "Secret": Resource("v1", "secrets"),
    "ReplicationController": Resource("v1", "replicationcontrollers"),
    "Deployment": Resource("apps/v1", "deployments"),
    "StatefulSet": Resource("apps/v1", "statefulsets"),
    "DaemonSet": Resource("apps/v1", "daemonsets"),
    "ReplicaSet": Resource("apps/v1", "replicasets"),
    "Job": Resource("batch/v1", "jobs"),
    "CronJob": Resource("batch/v1", "cronjobs"),
    "PodDisruptionBudget": Resource("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": Resource("networking.k8s.io/v1", "networkpolicies"),
    "CiliumNetworkPolicy": Resource("cilium.io/v2", "ciliumnetworkpolicies"),
    "CiliumClusterwideNetworkPolicy": Resource(
        "cilium.io/v2", "ciliumclusterwidenetworkpolicies", namespaced=False
    ),
    "CiliumEndpoint": Resource("cilium.io/v2", "ciliumendpoints"),
}
KIND_OF = {r.key: kind for kind, r in RESOURCES.items()}

Reactor = Callable[["KubeFake", str, str, dict[str, Any]], None]
"""``reactor(fake, verb, kind, obj)`` after a create/patch/delete/evict, under the lock."""
ReadReactor = Callable[["KubeFake", str], None]
"""``reactor(fake, path)`` before a GET is answered, under the lock: state that changes
between reads (a DaemonSet that becomes ready after a few looks)."""


def status_body(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    """A ``Status`` object as the API server sends with errors."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, **details)


def matches_selector(labels: Mapping[str, str], selector: str) -> bool:
    """``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x)``."""
    if not selector:
        return True
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    for term in (t.strip() for t in terms):
        if " in " in term or " notin " in term:
            negate = " notin " in term
            key, _, values = term.partition(" notin " if negate else " in ")
            allowed = {v.strip() for v in values.strip().strip("()").split(",")}
            if (labels.get(key.strip()) in allowed) == negate:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def match_label_selector(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) against labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class KubeFake:
    """The fake API server. ``add`` objects, point a client at ``kubeconfig``, inspect calls."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        cilium: bool = True,
        context: str = DEFAULT_CONTEXT,
        token: str | None = TOKEN,
    ) -> None:
        self.lock = threading.RLock()
        self.cilium = cilium
        self.token = token
        # resource key -> {(namespace, name): object}
        self.store: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            r.key: {} for r in RESOURCES.values() if cilium or r.group_version != "cilium.io/v2"
        }
        self.requests: list[str] = []  # request paths, without the query
        self.calls: list[tuple[str, str, Any]] = []  # (method, path with query, JSON body)
        self.proxies: dict[tuple[str, str, str], str] = {}
        self.reactors: list[Reactor] = []
        self.read_reactors: list[ReadReactor] = []
        # PodDisruptionBudget (namespace, name) -> evictions to refuse before allowing one
        self.pdb_refusals: dict[tuple[str, str], int] = {}
        # (method, path) the caller's RBAC does not allow: answered 403 Forbidden
        self.forbidden: set[tuple[str, str]] = set()
        self._serial = itertools.count(1)
        self._resource_version = itertools.count(1000)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.context = context
        self.kubeconfig = tmp_path / f"kubeconfig-{self._server.server_address[1]}"
        contexts = [context, *(c for c in AGENT_CONTEXTS if c != context)]
        self.kubeconfig.write_text(
            textwrap.dedent(f"""\
            apiVersion: v1
            kind: Config
            clusters: [{{name: fake, cluster: {{server: "{self.url}"}}}}]
            users: [{{name: tester, user: {{token: {token or "anonymous"}}}}}]
            contexts:
            """)
            + "".join(
                f'- {{name: "{c}", context: {{cluster: fake, user: tester}}}}\n' for c in contexts
            )
            + f'current-context: "{context}"\n'
        )

    # --- test-facing API -------------------------------------------------------------

    def add(self, *objects: Mapping[str, Any]) -> None:
        """Store objects as the API server would serve them (lists omit each item's kind)."""
        with self.lock:
            for obj in objects:
                resource = RESOURCES[obj["kind"]]
                if resource.key not in self.store:
                    continue  # e.g. Cilium objects on a cluster without the CRDs
                stored = self._stamp(copy.deepcopy(dict(obj)), resource)
                self.store[resource.key][self._key(stored, resource)] = stored

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A stored object (a copy), or None."""
        resource = RESOURCES[kind]
        with self.lock:
            found = self.store.get(resource.key, {}).get(
                (namespace if resource.namespaced else "", name)
            )
            return copy.deepcopy(found) if found else None

    def items(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Stored objects of a kind (copies), optionally of one namespace."""
        resource = RESOURCES[kind]
        with self.lock:
            return [
                copy.deepcopy(o)
                for (ns, _), o in sorted(self.store.get(resource.key, {}).items())
                if namespace is None or ns == namespace
            ]

    def update(self, kind: str, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch a stored object in place (as a controller would update status)."""
        resource = RESOURCES[kind]
        key = (namespace if resource.namespaced else "", name)
        with self.lock:
            self.store[resource.key][key] = merge_patch(self.store[resource.key][key], patch)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        """Drop a stored object."""
        resource = RESOURCES[kind]
        with self.lock:
            self.store[resource.key].pop((namespace if resource.namespaced else "", name), None)

    def proxy_service(self, namespace: str, service: str, port: int | str, upstream: str) -> None:
        """Serve ``NS/SERVICE:PORT`` through the service proxy from ``upstream`` (a base URL)."""
        self.proxies[(namespace, service, str(port))] = upstream.rstrip("/")

    def proxied(
        self, api_path: str, namespace: str = "monitoring", service: str = "prometheus-server:80"
    ) -> list[str]:
        """Requests proxied to one upstream path (``/api/v1/query_range``), with their query."""
        prefix = f"/api/v1/namespaces/{namespace}/services/{service}/proxy"
        return [
            path
            for method, path, _ in self.calls
            if method == "GET" and urllib.parse.urlsplit(path).path == prefix + api_path
        ]

    def writes(self, method: str | None = None) -> list[tuple[str, str, Any]]:
        """Non-GET calls (optionally of one method), in order."""
        return [c for c in self.calls if c[0] != "GET" and (method is None or c[0] == method)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    # --- the API ---------------------------------------------------------------------

    def _stamp(self, obj: dict[str, Any], resource: Resource) -> dict[str, Any]:
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", f"uid-{next(self._serial)}")
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._resource_version))
        return obj

    @staticmethod
    def _key(obj: Mapping[str, Any], resource: Resource) -> tuple[str, str]:
        meta = obj["metadata"]
        return (meta.get("namespace", "") if resource.namespaced else "", meta["name"])

    def _route(self, path: str) -> tuple[Resource, str | None, str | None, str | None]:
        """(resource, namespace, name, subresource) of an API path."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group_version, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key = f"{group_version}/{rest[0]}"
        if key not in self.store:
            raise ApiError(
                404, "NotFound", f"the server could not find the requested resource ({path})"
            )
        resource = next(r for r in RESOURCES.values() if r.key == key)
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return resource, namespace, name, sub

    def _not_found(self, resource: Resource, name: str) -> ApiError:
        return ApiError(
            404, "NotFound", f'{resource.plural} "{name}" not found',
            name=name, kind=resource.plural,
        )  # fmt: skip

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """Status and JSON body for one request."""
        if method == "GET":
            discovery = self._discovery(path)
            if discovery is not None:
                return 200, discovery
        resource, namespace, name, sub = self._route(path)
        with self.lock:
            objects = self.store[resource.key]
            if method == "GET" and name is None:
                return 200, self._list(resource, objects, namespace, query)
            if name is None and method == "POST":
                return 201, self._create(resource, namespace, body)
            if name is None:
                raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
            key = (namespace or "", name) if resource.namespaced else ("", name)
            if sub == "eviction" and method == "POST" and resource.plural == "pods":
                return 201, self._evict(namespace or "", name)
            current = objects.get(key)
            if current is None:
                raise self._not_found(resource, name)
            if method == "GET":
                return 200, self._typed(resource, current)
            if method == "PATCH":
                patched = merge_patch(current, body)
                if patched.get("spec") != current.get("spec"):
                    patched["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
                patched["metadata"]["resourceVersion"] = str(next(self._resource_version))
                objects[key] = patched
                self._react("patch", resource, patched)
                return 200, self._typed(resource, patched)
            if method == "PUT":
                replaced = copy.deepcopy(body)
                replaced.pop("kind", None)
                replaced.pop("apiVersion", None)
                kept = ("namespace", "uid", "creationTimestamp", "generation")
                for field_name in kept:
                    if field_name in current["metadata"]:
                        replaced["metadata"][field_name] = current["metadata"][field_name]
                replaced["metadata"]["resourceVersion"] = str(next(self._resource_version))
                objects[key] = replaced
                self._react("update", resource, replaced)
                return 200, self._typed(resource, replaced)
            if method == "DELETE":
                del objects[key]
                if resource.plural == "namespaces":
                    for store in self.store.values():
                        for k in [k for k in store if k[0] == name]:
                            del store[k]
                self._react("delete", resource, current)
                return 200, self._typed(resource, current)
        raise ApiError(405, "MethodNotAllowed", f"{method} {path}")

    def _typed(self, resource: Resource, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {"kind": KIND_OF[resource.key], "apiVersion": resource.group_version, **obj}

    def _list(
        self,
        resource: Resource,
        objects: Mapping[tuple[str, str], dict[str, Any]],
        namespace: str | None,
        query: Mapping[str, str],
    ) -> dict[str, Any]:
        selector = query.get("labelSelector", "")
        items = [
            obj
            for (ns, _), obj in objects.items()
            if (namespace is None or ns == namespace)
            and matches_selector(obj["metadata"].get("labels") or {}, selector)
        ]
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or len(items) or 1)
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {
            "kind": f"{KIND_OF[resource.key]}List",
            "apiVersion": resource.group_version,
            "metadata": {
                "continue": str(start + limit) if more else "",
                "resourceVersion": str(next(self._resource_version)),
            },
            "items": copy.deepcopy(page),
        }

    def _create(self, resource: Resource, namespace: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not (body.get("metadata") or {}).get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        obj = copy.deepcopy(body)
        if resource.namespaced:
            ns = namespace or obj["metadata"].get("namespace") or "default"
            obj["metadata"]["namespace"] = ns
            if ("", ns) not in self.store["v1/namespaces"]:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
        stored = self._stamp(obj, resource)
        key = self._key(stored, resource)
        if key in self.store[resource.key]:
            raise ApiError(
                409, "AlreadyExists",
                f'{resource.plural} "{key[1]}" already exists',
            )  # fmt: skip
        if resource.plural == "namespaces":
            stored.setdefault("status", {"phase": "Active"})
        self.store[resource.key][key] = stored
        self._react("create", resource, stored)
        return self._typed(resource, stored)

    def _evict(self, namespace: str, name: str) -> dict[str, Any]:
        pods = self.store["v1/pods"]
        pod = pods.get((namespace, name))
        if pod is None:
            raise self._not_found(RESOURCES["Pod"], name)
        labels = pod["metadata"].get("labels") or {}
        for (ns, pdb_name), pdb in self.store["policy/v1/poddisruptionbudgets"].items():
            if ns != namespace or not match_label_selector(
                pdb["spec"].get("selector") or {}, labels
            ):
                continue
            refusals = self.pdb_refusals.get((ns, pdb_name))
            allowed = (pdb.get("status") or {}).get("disruptionsAllowed", 0)
            if refusals:
                self.pdb_refusals[(ns, pdb_name)] = refusals - 1
                allowed = 0
            elif refusals == 0:
                allowed = max(allowed, 1)
            if allowed < 1:
                cause = f"The disruption budget {pdb_name} needs 1 healthy pods"
                raise ApiError(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    causes=[{"reason": "DisruptionBudget", "message": cause}],
                )
        del pods[(namespace, name)]
        refs = pod["metadata"].get("ownerReferences") or []
        controller = next((r for r in refs if r.get("controller")), None)
        if controller and controller["kind"] != "Node":
            # The controller recreates it; Cilium now gives the new pod an endpoint.
            new_name = (
                name if controller["kind"] == "StatefulSet" else f"{name}-r{next(self._serial)}"
            )
            new = copy.deepcopy(pod)
            new["metadata"].update(name=new_name, uid=f"uid-{next(self._serial)}")
            pods[(namespace, new_name)] = new
            if "cilium.io/v2/ciliumendpoints" in self.store:
                endpoint = self._stamp(
                    cilium_endpoint(namespace, new_name), RESOURCES["CiliumEndpoint"]
                )
                self.store["cilium.io/v2/ciliumendpoints"][(namespace, new_name)] = endpoint
        self._react("evict", RESOURCES["Pod"], pod)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def _react(self, verb: str, resource: Resource, obj: dict[str, Any]) -> None:
        kind = KIND_OF[resource.key]
        for reactor in list(self.reactors):
            reactor(self, verb, kind, obj)

    def _discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.2", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        groups: dict[str, set[str]] = {}
        for key in self.store:
            if key.count("/") == 2:
                group, version, _ = key.split("/")
                groups.setdefault(group, set()).add(version)
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [
                            {"groupVersion": f"{g}/{v}", "version": v} for v in sorted(vs)
                        ],
                        "preferredVersion": {
                            "groupVersion": f"{g}/{sorted(vs)[-1]}",
                            "version": sorted(vs)[-1],
                        },
                    }
                    for g, vs in sorted(groups.items())
                ],
            }
        for gv in {k.rsplit("/", 1)[0] for k in self.store}:
            root = "/api/v1" if gv == "v1" else f"/apis/{gv}"
            if path == root:
                return {
                    "kind": "APIResourceList",
                    "groupVersion": gv,
                    "resources": [
                        {
                            "name": r.plural,
                            "namespaced": r.namespaced,
                            "kind": kind,
                            "verbs": ["create", "delete", "get", "list", "patch", "watch"],
                        }
                        for kind, r in RESOURCES.items()
                        if r.group_version == gv and r.key in self.store
                    ],
                }
        return None

    def _proxy(self, handler: BaseHTTPRequestHandler, path: str) -> bool:
        parts = urllib.parse.urlsplit(path).path.split("/")
        # /api/v1/namespaces/NS/services/NAME:PORT/proxy/...
        if (
            len(parts) < 8
            or parts[1:4] != ["api", "v1", "namespaces"]
            or parts[5] != "services"
            or parts[7] != "proxy"
        ):
            return False
        namespace, service = parts[4], parts[6]
        name, _, port = service.partition(":")
        upstream = self.proxies.get((namespace, name, port))
        if upstream is None:
            _send(handler, 404, status_body(404, "NotFound", f'services "{service}" not found'))
            return True
        prefix = "/".join(parts[:8])
        target = upstream + path[len(prefix) :]
        try:
            with urllib.request.urlopen(target, timeout=PROXY_TIMEOUT_S) as response:  # noqa: S310
                code, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            message = f"error trying to reach service: {getattr(exc, 'reason', exc)}"
            _send(handler, 503, status_body(503, "ServiceUnavailable", message))
            return True
        _send_raw(handler, code, body)
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    if (self.headers.get("Content-Type") or "").startswith(
                        kube_protobuf.CONTENT_TYPE
                    ):
                        body = kube_protobuf.decode(raw)
                    else:
                        body = json.loads(raw) if raw else None
                except ValueError as exc:
                    _send(self, 415, status_body(415, "UnsupportedMediaType", str(exc)))
                    return
                with fake.lock:
                    fake.requests.append(url.path)
                    fake.calls.append((method, self.path, body))
                    if method == "GET":
                        for reactor in list(fake.read_reactors):
                            reactor(fake, url.path)
                # /version, /healthz are public (system:public-info-viewer), as on real clusters.
                public = url.path in ("/version", "/healthz", "/livez", "/readyz")
                authorized = self.headers.get("Authorization") == f"Bearer {fake.token}"
                if fake.token is not None and not public and not authorized:
                    _send(self, 401, status_body(401, "Unauthorized", "Unauthorized"))
                    return
                if (method, url.path) in fake.forbidden:
                    message = f'{method} {url.path} is forbidden: RBAC: access denied'
                    _send(self, 403, status_body(403, "Forbidden", message))
                    return
                if method == "GET" and fake._proxy(self, self.path):
                    return
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                try:
                    code, answer = fake.handle(method, url.path, query, body)
                except ApiError as exc:
                    code, answer = exc.code, exc.body
                _send(self, code, answer)

            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve("PATCH")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

            def do_PUT(self) -> None:  # noqa: N802
                self._serve("PUT")

        return Handler


def _send(handler: BaseHTTPRequestHandler, code: int, body: Any) -> None:
    _send_raw(handler, code, json.dumps(body).encode())


def _send_raw(handler: BaseHTTPRequestHandler, code: int, data: bytes) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
