"""Helpers shared by the policy tests (not fixtures; those live in conftest.py)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kube_fake import KubeFake

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


# The context `init --agent-project my-group/cluster-management --agent demo-agent` configures.
AGENT_CONTEXT = "my-group/cluster-management:demo-agent"


def FakeCluster(tmp_path: Path, *, cilium: bool = True) -> KubeFake:  # noqa: N802 - a factory
    """The shared Kubernetes API fake (tests/kube_fake.py), as the policy tests use it."""
    return KubeFake(tmp_path, cilium=cilium)
