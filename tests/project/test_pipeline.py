"""The generated .gitlab-ci.yml is valid GitLab CI (check-jsonschema's vendored schema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.yaml").is_file())


@pytest.mark.parametrize("case", CASES)
def test_pipeline_is_valid_gitlab_ci(case: str, tmp_path: Path, run_cli) -> None:
    shutil.copy(GOLDEN / case / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    pipeline = tmp_path / ".gitlab-ci.yml"
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", str(pipeline)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = YAML(typ="safe", pure=True).load(pipeline.read_text())
    envs = YAML(typ="safe", pure=True).load((tmp_path / "cluster-mgmt.yaml").read_text())
    assert jobs[".helmfile"]["parallel"]["matrix"] == [{"ENVIRONMENT": list(envs["environments"])}]
    assert jobs["apply"]["rules"][0]["when"] == "manual"
    assert "GITLAB_AGENT_TOKEN" not in "".join(jobs["apply"]["script"])  # from CI variables
