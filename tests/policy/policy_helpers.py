"""Helpers shared by the policy tests (not fixtures; those live in conftest.py)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cluster_mgmt.core.policy.analysis import Analysis
from cluster_mgmt.core.policy.documents import split_documents
from cluster_mgmt.core.policy.source import SourceDoc
from cluster_mgmt.ops.policy_manifests import parse_text, unwrap

UPSTREAM = Path(__file__).resolve().parents[2] / "../shared/upstream"


def upstream(*parts: str) -> Path:
    """A path in the shared upstream data; skip the test when it is absent."""
    path = UPSTREAM.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"upstream data not available: {path} (see ../shared/upstream/SOURCES.md)")
    return path


def docs_of(text: str, file: str = "test.yaml") -> list[SourceDoc]:
    """Objects of a YAML text, with positions, as the loader reads them."""
    out: list[SourceDoc] = []
    for obj in parse_text(textwrap.dedent(text), file):
        out.extend(unwrap(obj, file))
    return out


def analysis_of(text: str, **kwargs: Any) -> Analysis:
    """An analysis of a YAML text holding workloads and policies."""
    inventory, policies = split_documents(docs_of(text))
    errors = [f.render() for f in policies.findings if f.severity == "error"]
    assert not errors, errors
    return Analysis(inventory, policies.policies, **kwargs)


def peer_text(peer: dict[str, Any]) -> str:
    """``ns/name`` for a workload peer, ``ip:a-b,c-d`` for address ranges."""
    if "ip_ranges" in peer:
        return "ip:" + ",".join(peer["ip_ranges"])
    if "namespace" in peer:
        return f"{peer['namespace']}/{peer['name']}"
    return ":".join(f"{k}={v}" for k, v in peer.items())


def conn_map(matrix: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """``{(src, dst): conn}`` from the JSON matrix."""
    out = {}
    for entry in matrix:
        key = (peer_text(entry["src"]), peer_text(entry["dst"]))
        assert key not in out, f"duplicate entry {key}"
        out[key] = entry["conn"]
    return out


def tcp(*ports: str, l7: Any = None) -> list[dict[str, Any]]:
    """A CONN list with TCP ports."""
    return [{"protocol": "TCP", "ports": list(ports), "l7": l7}]


@dataclass
class CliResult:
    """What one CLI run produced."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


RESOURCES = {
    "Namespace": "v1/namespaces",
    "Pod": "v1/pods",
    "ReplicationController": "v1/replicationcontrollers",
    "Endpoints": "v1/endpoints",
    "Deployment": "apps/v1/deployments",
    "StatefulSet": "apps/v1/statefulsets",
    "DaemonSet": "apps/v1/daemonsets",
    "ReplicaSet": "apps/v1/replicasets",
    "Job": "batch/v1/jobs",
    "CronJob": "batch/v1/cronjobs",
    "NetworkPolicy": "networking.k8s.io/v1/networkpolicies",
    "CiliumNetworkPolicy": "cilium.io/v2/ciliumnetworkpolicies",
    "CiliumClusterwideNetworkPolicy": "cilium.io/v2/ciliumclusterwidenetworkpolicies",
}
CLUSTER_SCOPED = {"Namespace", "CiliumClusterwideNetworkPolicy"}
# The context `init --agent-project my-group/cluster-management --agent demo-agent` configures.
AGENT_CONTEXT = "my-group/cluster-management:demo-agent"


class FakeCluster:
    """A small stateful Kubernetes API fake on 127.0.0.1 (GET only, paginated lists).

    kmock 0.8 cannot serve ``GET /api/v1/namespaces`` (its path parser reads ``namespaces``
    as a namespace segment and fails), so this fake is a plain ``http.server``. Lists page
    at ``limit`` with ``continue`` tokens, like the real API server.
    """

    def __init__(self, tmp_path: Path, *, cilium: bool = True) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.objects: dict[str, list[dict[str, Any]]] = {
            r: [] for k, r in RESOURCES.items() if cilium or not r.startswith("cilium.io")
        }
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(url.path)
                status, body = fake.answer(url.path, query)
                self._send(status, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.context = "fake-ctx"
        self.kubeconfig = tmp_path / "kubeconfig"
        server = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.kubeconfig.write_text(
            textwrap.dedent(f"""\
            apiVersion: v1
            kind: Config
            clusters: [{{name: fake, cluster: {{server: "{server}"}}}}]
            users: [{{name: u, user: {{token: test}}}}]
            contexts:
            - {{name: {self.context}, context: {{cluster: fake, user: u}}}}
            - {{name: "{AGENT_CONTEXT}", context: {{cluster: fake, user: u}}}}
            current-context: {self.context}
        """)
        )

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """Status and body for a GET."""
        if path == "/apis":
            groups = sorted({r.split("/")[0] for r in self.objects if r.count("/") == 2})
            return 200, {
                "kind": "APIGroupList",
                "groups": [
                    {
                        "name": g,
                        "versions": [
                            {"groupVersion": f"{g}/{v}", "version": v}
                            for v in sorted(
                                {r.split("/")[1] for r in self.objects if r.startswith(g + "/")}
                            )
                        ],
                    }
                    for g in groups
                ],
            }
        for resource, items in self.objects.items():
            prefix = "/api/" if resource.startswith("v1/") else "/apis/"
            if path == prefix + resource:
                start = int(query.get("continue") or 0)
                limit = int(query.get("limit") or len(items) or 1)
                page = items[start : start + limit]
                more = start + limit < len(items)
                return 200, {
                    "kind": "List",
                    "metadata": {"continue": str(start + limit) if more else ""},
                    "items": page,
                }
        if path.startswith("/api/v1/namespaces/"):
            _, _, _, _, ns, plural, name = path.split("/")
            for obj in self.objects.get(f"v1/{plural}", []):
                if obj["metadata"].get("namespace") == ns and obj["metadata"]["name"] == name:
                    return 200, obj
        return 404, {
            "kind": "Status",
            "status": "Failure",
            "reason": "NotFound",
            "message": f"the server could not find the requested resource ({path})",
        }

    def add(self, *objects: dict[str, Any]) -> None:
        """Store objects as the API server would serve them (lists omit each item's kind)."""
        for obj in objects:
            stored = json.loads(json.dumps(obj))
            if obj["kind"] not in CLUSTER_SCOPED:
                stored["metadata"].setdefault("namespace", "default")
            resource = RESOURCES[obj["kind"]]
            if resource in self.objects:
                del stored["kind"]
                self.objects[resource].append(stored)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
