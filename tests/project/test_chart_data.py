"""`validate` checks values keys with no flags: shipped chart data, the fetch cache, notes.

The chart data of the pinned versions is packed into the package when it is built
(`make venv`, the wheel build hook) from ../shared/upstream/charts; tests that need it skip
with that reason when it is absent. Fetching other versions is tested against a real chart
repository (made with `helm package` and `helm repo index`) served on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster_mgmt.adapters.chart_data import ChartLibrary, build_bundle, load_chart_data
from cluster_mgmt.adapters.helm import Helm
from cluster_mgmt.core.stack import CHARTS
from cluster_mgmt.ops.validate import validate_project

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _init(run_cli, target: Path) -> Path:
    result = run_cli(
        "init", target, "--provider", "kind", "--env", "dev", "--agent-project", "g/cm"
    )
    assert result.exit_code == 0, result.stderr
    return target


# Two ways a user writes the key so that it sits on line 4: in place of the seeded `{}`
# under the three comment lines, or as a block under one comment line.
@pytest.mark.parametrize(
    "override",
    [
        "SEEDED",
        "# tuning for dev\nhubble:\n  metrics:\n    enable: [dns, drop]\n",
    ],
    ids=["flow-under-seeded-comments", "block-under-one-comment"],
)
def test_fresh_project_misspelled_key_fails_validate_with_no_flags(
    tmp_path: Path, run_cli, bundled_charts: Path, helmfile_bin: str, monkeypatch, override: str
) -> None:
    # helmfile on PATH, so that the misspelled key is the only problem.
    monkeypatch.setenv("PATH", f"{Path(helmfile_bin).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CLUSTER_MGMT_CHARTS_DIR", raising=False)
    project = _init(run_cli, tmp_path / "fresh")
    rel = "values/dev/cilium.override.yaml"
    seeded = (project / rel).read_text()
    assert seeded.splitlines()[3] == "{}"
    if override == "SEEDED":
        override = seeded.replace("{}\n", "hubble: {metrics: {enable: [dns, drop]}}\n")
    (project / rel).write_text(override)

    result = run_cli("-C", project, "validate")

    assert result.exit_code == 2, result.stdout + result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith(f"{rel}:")]
    assert len(problems) == 1, result.stderr
    assert problems[0].startswith(f"{rel}:4:")
    assert " hubble.metrics.enable: unknown key 'enable'" in problems[0]
    assert "(did you mean 'enabled'?)" in problems[0]
    assert "1 problem(s)" in result.stderr  # nothing else is wrong with the project

    (project / rel).write_text(override.replace("enable:", "enabled:"))
    fixed = run_cli("-C", project, "validate")
    assert fixed.exit_code == 0, fixed.stderr
    assert "ok: values: dev/cilium against cilium 1.19.6" in fixed.stdout


def test_every_pinned_chart_is_shipped(bundled_charts: Path) -> None:
    library = ChartLibrary(cache=Path("/nonexistent"), helm=Helm("/nonexistent/helm"))
    for key, pin in CHARTS.items():
        data, note = library.get(key, pin.version)
        assert data is not None, key
        assert data.values, key
        if key == "cilium":
            assert ("policyAuditMode",) in data.documented  # a commented-out chart key
            assert data.schema is not None
        if key == "prometheus":
            assert {"alertmanager", "kube-state-metrics"} <= set(data.subcharts)


def test_shipped_data_equals_the_charts_dir(
    bundled_charts: Path, upstream_charts: Path, tmp_path: Path
) -> None:
    """The offline result is the same as with --charts-dir: same data, same notes."""
    shipped = ChartLibrary(bundle=bundled_charts, cache=tmp_path, helm=Helm("/nonexistent"))
    for key, pin in CHARTS.items():
        expected, expected_note = load_chart_data(upstream_charts, key, pin.version)
        got, note = shipped.get(key, pin.version)
        assert expected is not None and got is not None
        assert note == expected_note
        assert got.values == expected.values
        assert got.schema == expected.schema
        assert got.documented == expected.documented
        assert got.version == expected.version
        assert set(got.subcharts) == set(expected.subcharts)
        for name, sub in got.subcharts.items():
            assert sub.values == expected.subcharts[name].values
            assert sub.documented == expected.subcharts[name].documented


@pytest.mark.parametrize("case", ["eks", "kind"])
def test_validate_without_flags_reports_like_charts_dir(
    case: str, tmp_path: Path, run_cli, bundled_charts: Path, upstream_charts: Path, monkeypatch
) -> None:
    monkeypatch.delenv("CLUSTER_MGMT_CHARTS_DIR", raising=False)
    shutil.copy(GOLDEN / case / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    env = sorted(p.name for p in (tmp_path / "values").iterdir() if p.is_dir())[0]
    (tmp_path / f"values/{env}/cilium.override.yaml").write_text(
        "hubble:\n  relay:\n    replicas: many\n  metrics:\n    enable: [dns]\nipam:\n  mod: x\n"
    )
    (tmp_path / f"values/{env}/prometheus.override.yaml").write_text(
        "alertmanager:\n  enabledd: true\nserver:\n  retention: 1\n"
    )
    default = run_cli("-C", tmp_path, "validate", "--no-helmfile")
    with_dir = run_cli("-C", tmp_path, "validate", "--no-helmfile", "--charts-dir", upstream_charts)
    assert default.exit_code == with_dir.exit_code == 2
    assert default.stdout == with_dir.stdout
    assert default.stderr == with_dir.stderr
    assert default.stderr.count(f"values/{env}/") == 5  # relay, enable, mod, enabledd, retention


def test_bundle_build_is_reproducible_and_holds_only_pinned_versions(
    upstream_charts: Path, tmp_path: Path
) -> None:
    first = build_bundle(upstream_charts, tmp_path / "a.zip")
    second = build_bundle(upstream_charts, tmp_path / "b.zip")
    assert first == second == sorted(f"{k}/{p.version}" for k, p in CHARTS.items())
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert b"1.20.0" not in (tmp_path / "a.zip").read_bytes()  # other cilium version left out
    # Compressed: far smaller than the chart files it comes from.
    source = sum(p.stat().st_size for p in upstream_charts.rglob("*") if p.is_file())
    assert (tmp_path / "a.zip").stat().st_size < source / 5


# --- versions the package does not ship: fetched with helm into the cache -----------------

TINY_VALUES = """\
# A small chart standing in for cilium at a version the package does not ship.
policyAuditMode: false
prometheus: {}
operator: {}
ipam: {}
image: {}
hubble:
  enabled: false
  relay: {}
  export: {}
  metrics:
    enabled: null
    port: 9965
    serviceMonitor:
      enabled: false
"""


def _make_repo(helm: str, root: Path) -> Path:
    """A chart repository directory: cilium 9.9.9 with an `extras` subchart, indexed."""
    src = root / "src" / "cilium"
    (src / "charts").mkdir(parents=True)
    (src / "Chart.yaml").write_text("apiVersion: v2\nname: cilium\nversion: 9.9.9\n")
    (src / "values.yaml").write_text(TINY_VALUES)
    sub = root / "src" / "extras"
    sub.mkdir()
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: extras\nversion: 0.1.0\n")
    (sub / "values.yaml").write_text("replicas: 1\nimage:\n  tag: v1\n")
    repo = root / "repo"
    repo.mkdir()
    for argv in (
        [helm, "package", str(sub), "-d", str(src / "charts")],  # a packed dependency
        [helm, "package", str(src), "-d", str(repo)],
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return repo


@pytest.fixture
def chart_repo(helm_bin: str, tmp_path: Path) -> Iterator[str]:
    repo = _make_repo(helm_bin, tmp_path / "chart-repo")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(repo), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run(
        [helm_bin, "repo", "index", str(repo), "--url", url],
        check=True,
        capture_output=True,
        timeout=60,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _pinned_project(tmp_path: Path, run_cli, version: str) -> Path:
    project = _init(run_cli, tmp_path / "pinned")
    config = project / "cluster-mgmt.yaml"
    config.write_text(config.read_text() + f"charts:\n  cilium: {version}\n")
    assert run_cli("-C", project, "render").exit_code == 0
    return project


def test_other_version_is_fetched_into_the_cache_and_checked(
    tmp_path: Path, run_cli, helm_bin: str, chart_repo: str
) -> None:
    project = _pinned_project(tmp_path, run_cli, "9.9.9")
    (project / "values/dev/cilium.override.yaml").write_text(
        "hubble:\n  metrics:\n    enable: [dns]\nextras:\n  replicaz: 2\n"
    )
    cache = tmp_path / "cache"
    library = ChartLibrary(
        bundle=None, cache=cache, helm=Helm(helm_bin), repo_urls={"cilium": chart_repo}
    )
    report = validate_project(project, run_helmfile=False, charts=library)
    cilium = [p for p in report.problems if "cilium.override.yaml" in p]
    assert len(cilium) == 2, report.problems
    assert cilium[0].startswith("values/dev/cilium.override.yaml:3:5: hubble.metrics.enable:")
    assert "did you mean 'enabled'" in cilium[0]
    # The subchart came packed as charts/extras-0.1.0.tgz: its keys are known too.
    assert cilium[1].startswith("values/dev/cilium.override.yaml:5:3: extras.replicaz:")
    assert "did you mean 'replicas'" in cilium[1]
    assert (cache / "cilium" / "9.9.9" / "cilium" / "Chart.yaml").is_file()
    assert not any("cilium" in note for note in report.notes), report.notes
    assert [p.name for p in (cache / "cilium").iterdir()] == ["9.9.9"]  # no staging left


def test_cached_chart_is_used_without_the_repository(
    tmp_path: Path, run_cli, helm_bin: str, chart_repo: str
) -> None:
    project = _pinned_project(tmp_path, run_cli, "9.9.9")
    cache = tmp_path / "cache"
    fetch = ChartLibrary(
        bundle=None, cache=cache, helm=Helm(helm_bin), repo_urls={"cilium": chart_repo}
    )
    assert validate_project(project, run_helmfile=False, charts=fetch).problems == []
    (project / "values/dev/cilium.override.yaml").write_text("ipam:\n  mode: x\nimagee: {}\n")
    # No repository and no helm now: only the cache can answer.
    offline = ChartLibrary(
        bundle=None,
        cache=cache,
        helm=Helm(str(tmp_path / "no-helm")),
        repo_urls={"cilium": "http://127.0.0.1:9"},
    )
    report = validate_project(project, run_helmfile=False, charts=offline)
    assert [p.split(": ")[0] for p in report.problems] == ["values/dev/cilium.override.yaml:3:1"]
    assert "unknown key 'imagee'" in report.problems[0]
    assert not any("cilium" in note for note in report.notes), report.notes


@pytest.mark.parametrize("helm_missing", [False, True], ids=["unreachable", "no-helm"])
def test_no_data_anywhere_gives_a_note_naming_release_and_version(
    tmp_path: Path, run_cli, helm_bin: str, helm_missing: bool
) -> None:
    project = _pinned_project(tmp_path, run_cli, "9.9.8")
    (project / "values/dev/cilium.override.yaml").write_text("anything: [goes]\n")
    # A port on 127.0.0.1 where nothing listens.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cache = tmp_path / "cache"
    library = ChartLibrary(
        bundle=None,
        cache=cache,
        helm=Helm(str(tmp_path / "no-helm") if helm_missing else helm_bin),
        repo_urls={"cilium": closed},
    )
    report = validate_project(project, run_helmfile=False, charts=library)
    assert not any("cilium" in p for p in report.problems), report.problems
    notes = [n for n in report.notes if n.startswith("release cilium:")]
    assert len(notes) == 1, report.notes
    assert "cilium 9.9.8: not shipped with this cluster-mgmt and not fetched" in notes[0]
    assert "not checked" in notes[0]
    assert ("not found" in notes[0]) if helm_missing else (closed in notes[0])
    assert not (cache / "cilium" / "9.9.8").exists()
    assert not any(p.name.startswith(".") for p in (cache / "cilium").iterdir())
