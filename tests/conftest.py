"""Shared test options and fixtures."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_helm import FakeHelm
from hypothesis import settings
from kube_fake import KubeFake

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
UPSTREAM = SHARED / "upstream"
UPSTREAM_CHARTS = UPSTREAM / "charts"


# CI runs the property tests on a fixed set of examples (HYPOTHESIS_PROFILE=ci, set by
# .ci/run), so a pipeline's result does not depend on the draw; developers explore new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/*/expected")
    parser.addoption("--e2e", action="store_true", help="run end-to-end tests on kind")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--e2e"):
        return
    skip = pytest.mark.skip(reason="e2e tests need Docker and kind: run with --e2e")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Charts fetched by `validate` land in the session's own cache, never in the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture
def bundled_charts() -> Path:
    """The chart data packed into the package (made from ../shared/upstream/charts)."""
    from cluster_mgmt.adapters.chart_data import bundle_path

    found = bundle_path()
    if found is None:
        pytest.skip(
            "the package has no chart data: it is built from ../shared/upstream/charts by "
            "`make venv` (scripts/build_chart_data.py), and ../shared was absent"
        )
    return found


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def upstream_charts() -> Path:
    if not UPSTREAM_CHARTS.is_dir():
        pytest.skip(f"chart data not found at {UPSTREAM_CHARTS} (../shared/upstream is absent)")
    return UPSTREAM_CHARTS


@pytest.fixture
def chart_cache() -> Path:
    """CLUSTER_MGMT_CHART_CACHE: a directory of unpacked real charts (``helm pull --untar``)."""
    value = os.environ.get("CLUSTER_MGMT_CHART_CACHE")
    if not value:
        pytest.skip(
            "real chart archives are fetched from chart repositories, unreachable here: "
            "set CLUSTER_MGMT_CHART_CACHE to a directory of unpacked charts to run this"
        )
    return Path(value)


@pytest.fixture
def real_chart(chart_cache: Path) -> Callable[[str, str], Path]:
    """The unpacked chart ``<name>-<version>/`` or ``<name>/`` of that exact version."""
    from ruamel.yaml import YAML

    def find(name: str, version: str) -> Path:
        for candidate in (chart_cache / f"{name}-{version}", chart_cache / name):
            if (candidate / "Chart.yaml").is_file():
                found = YAML(typ="safe", pure=True).load((candidate / "Chart.yaml").read_text())
                if str(found["version"]) == version:
                    return candidate
        pytest.skip(f"chart {name} {version} not in CLUSTER_MGMT_CHART_CACHE={chart_cache}")

    return find


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        venv = REPO / ".venv" / "bin" / name
        if venv.is_file():
            return str(venv)
        pytest.skip(f"{name} binary not installed (run `make tools`)")
    return found


@pytest.fixture
def helmfile_bin() -> str:
    return _tool("helmfile")


@pytest.fixture
def helm_bin() -> str:
    return _tool("helm")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """Run the CLI in-process through its real entry point and error boundary."""
    from cluster_mgmt.cli import main

    def run(*args: str | os.PathLike[str]) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = int(exc.code or 0)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def kube_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeFake]:
    """The shared Kubernetes API fake (tests/kube_fake.py), with KUBECONFIG pointing at it."""
    fake = KubeFake(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig))
    monkeypatch.delenv("KUBE_CONTEXT", raising=False)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def fake_helm(tmp_path: Path) -> FakeHelm:
    """A recording fake ``helm`` executable (tests/fake_helm.py) with an empty state."""
    return FakeHelm(tmp_path / "fake-helm")


@pytest.fixture
def python() -> str:
    return sys.executable


@dataclass
class FakeHelmfile:
    bin_dir: Path
    log: Path

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def fake_helmfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelmfile:
    """The recording fake (tests/fake_helmfile.py) installed as `helmfile`, first on PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "helmfile"
    source = (Path(__file__).parent / "fake_helmfile.py").read_text()
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(0o755)
    log = tmp_path / "helmfile-calls.jsonl"
    real = shutil.which("helmfile") or str(REPO / ".venv" / "bin" / "helmfile")
    if Path(real).exists():
        monkeypatch.setenv("REAL_HELMFILE", str(Path(real).resolve()))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELMFILE_LOG", str(log))
    return FakeHelmfile(bin_dir, log)
