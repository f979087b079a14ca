"""render owns generated files, never the user's: edits are detected, overrides kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture
def project(tmp_path: Path, run_cli) -> Path:
    shutil.copy(GOLDEN / "eks" / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    return tmp_path


def _snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_hand_edit_of_generated_file_survives_render(project: Path, run_cli) -> None:
    generated = project / "values/staging/cilium.yaml"
    edited = generated.read_text() + "debug:\n  enabled: true\n"
    generated.write_text(edited)
    config = project / "cluster-mgmt.yaml"
    config.write_text(config.read_text().replace("[dns, tcp, port-distribution]", "[dns]"))
    before = _snapshot(project)

    result = run_cli("-C", project, "render")

    assert result.exit_code == 2
    assert "values/staging/cilium.yaml" in result.stderr
    assert "values/staging/cilium.override.yaml" in result.stderr  # how to keep the change
    assert "--force" in result.stderr
    assert generated.read_text() == edited
    assert _snapshot(project) == before  # nothing else written either


def test_force_discards_the_edit(project: Path, run_cli) -> None:
    generated = project / "values/staging/cilium.yaml"
    original = generated.read_text()
    generated.write_text(original + "debug:\n  enabled: true\n")
    assert run_cli("-C", project, "render", "--force").exit_code == 0
    assert generated.read_text() == original


def test_override_files_are_never_touched(project: Path, run_cli) -> None:
    override = project / "values/staging/cilium.override.yaml"
    override.write_text("hubble:\n  relay:\n    replicas: 3\n")
    config = project / "cluster-mgmt.yaml"
    config.write_text(config.read_text().replace("port: 6514", "port: 6515"))
    assert run_cli("-C", project, "render").exit_code == 0
    assert override.read_text() == "hubble:\n  relay:\n    replicas: 3\n"
    # staging sends through the mutual TLS tunnel: the new port is where the tunnel connects.
    fluentd = (project / "values/staging/fluentd.yaml").read_text()
    assert "connect = siem.example.com:6515" in fluentd


def test_deleted_seed_is_not_recreated(project: Path, run_cli) -> None:
    example = project / "policies/allow-prometheus-scrape.yaml"
    example.unlink()
    assert run_cli("-C", project, "render").exit_code == 0
    assert not example.exists()


def test_check_lists_stale_files_and_exits_1(project: Path, run_cli) -> None:
    config = project / "cluster-mgmt.yaml"
    config.write_text(config.read_text().replace("port: 6514", "port: 6515"))
    before = _snapshot(project)
    result = run_cli("-C", project, "render", "--check")
    assert result.exit_code == 1
    assert "values/staging/fluentd.yaml" in result.stderr
    assert "values/staging/cilium.yaml" not in result.stderr
    assert _snapshot(project) == before


def test_check_reports_hand_edits(project: Path, run_cli) -> None:
    (project / "environments.yaml").write_text("environments: {}\n")
    result = run_cli("-C", project, "render", "--check")
    assert result.exit_code == 1
    assert "environments.yaml" in result.stderr


def test_removed_environment_removes_its_generated_files(project: Path, run_cli) -> None:
    config = project / "cluster-mgmt.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("  production:")])
    assert run_cli("-C", project, "render").exit_code == 0
    assert not (project / "values/production/cilium.yaml").exists()
    assert not (project / ".gitlab/agents/production/config.yaml").exists()
    # ... but the user's override file of that environment stays.
    assert (project / "values/production/cilium.override.yaml").exists()


def test_edited_file_of_removed_environment_blocks_render(project: Path, run_cli) -> None:
    stale = project / "values/production/cilium.yaml"
    stale.write_text(stale.read_text() + "debug: {enabled: true}\n")
    config = project / "cluster-mgmt.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("  production:")])
    result = run_cli("-C", project, "render")
    assert result.exit_code == 2
    assert "values/production/cilium.yaml" in result.stderr
    assert stale.exists()
