"""Golden trees: a config in, the whole generated project out, compared structurally."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.yaml").is_file())
SKIP = {"cluster-mgmt.yaml", ".cluster-mgmt/generated.json"}


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and str(p.relative_to(root)) not in SKIP
    }


def _structure(name: str, text: str) -> object:
    if name.endswith((".yaml", ".yml")) and not name.endswith(".gotmpl"):
        return list(YAML(typ="safe", pure=True).load_all(text))  # the CI component has two
    return text


@pytest.mark.parametrize("case", CASES)
def test_golden_tree(case: str, tmp_path: Path, run_cli, update_golden: bool) -> None:
    project = tmp_path / case
    project.mkdir()
    shutil.copy(GOLDEN / case / "input.yaml", project / "cluster-mgmt.yaml")
    result = run_cli("-C", project, "render")
    assert result.exit_code == 0, result.stderr
    got = _tree(project)
    expected_dir = GOLDEN / case / "expected"
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for name, text in got.items():
            target = expected_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    expected = _tree(expected_dir)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert _structure(name, got[name]) == _structure(name, expected[name]), name


@pytest.mark.parametrize("case", CASES)
def test_render_is_idempotent(case: str, tmp_path: Path, run_cli) -> None:
    shutil.copy(GOLDEN / case / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = run_cli("-C", tmp_path, "render")
    assert again.exit_code == 0
    assert "nothing to do" in again.stdout
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert run_cli("-C", tmp_path, "render", "--check").exit_code == 0
