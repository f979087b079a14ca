"""Fixtures for the policy toolkit tests: run the real CLI, write manifests, a fake API."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from policy_helpers import CliResult, conn_map

from cluster_mgmt.cli import main

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


@pytest.fixture
def fake_cluster(kube_fake: Any) -> Any:
    """The shared fake API server (KUBECONFIG points at it)."""
    return kube_fake
