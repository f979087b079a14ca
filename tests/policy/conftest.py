"""Helpers for the policy toolkit tests: run the real CLI, build analyses from YAML text."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cluster_mgmt.cli import main
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


Runner = Callable[..., CliResult]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run ``cluster-mgmt`` through its real entry point and error boundary."""

    def _run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return _run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a (dedented) file under tmp_path and return its directory."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return _write


@pytest.fixture
def matrix(tmp_path: Path, run: Runner) -> Callable[[str], dict[tuple[str, str], Any]]:
    """The JSON matrix of a manifests text, through ``policy matrix --dir DIR -o json``."""
    counter = [0]

    def _matrix(text: str) -> dict[tuple[str, str], Any]:
        counter[0] += 1
        root = tmp_path / f"case{counter[0]}"
        root.mkdir()
        (root / "all.yaml").write_text(textwrap.dedent(text))
        result = run("policy", "matrix", "--dir", root, "-o", "json")
        assert result.code == 0, result.err
        assert "error" not in result.err, result.err
        return conn_map(result.json())

    return _matrix
