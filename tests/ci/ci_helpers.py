"""Helpers for the CI tests: the component, versions, schema checks, git."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
COMPONENT = REPO / "templates" / "cluster-management.yml"
VERSIONS = REPO / "tools" / "versions.env"
yaml = YAML(typ="safe", pure=True)


def read_versions() -> dict[str, str]:
    """tools/versions.env as a dict (KEY=value lines, comments ignored)."""
    pairs = {}
    for line in VERSIONS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def component_spec() -> tuple[dict[str, Any], str]:
    """The component's spec:inputs and the text of its jobs document."""
    header, _, body = COMPONENT.read_text().partition("\n---\n")
    return yaml.load(header)["spec"]["inputs"], body


def interpolate(body: str, inputs: dict[str, Any], given: dict[str, str]) -> str:
    """Interpolate ``$[[ inputs.x ]]`` the way GitLab does for string inputs."""

    def value(match: re.Match[str]) -> str:
        name = match[1]
        assert name in inputs, f"unknown input {name}"
        spec = inputs[name]
        got = given.get(name, spec.get("default"))
        assert got is not None, f"input {name} is required"
        if "options" in spec:
            assert got in spec["options"], (name, got)
        if "regex" in spec:
            assert re.search(spec["regex"], got), (name, got, spec["regex"])
        return str(got)

    return re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", value, body)


def check_gitlab_ci_schema(files: list[Path]) -> None:
    """Validate files against check-jsonschema's vendored GitLab CI schema."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.gitlab-ci", *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def git_commit(project: Path) -> None:
    """Commit everything (gitlab-ci-local reads the git data of the project)."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    steps = [["git", "add", "-A"], ["git", "commit", "-q", "--allow-empty", "-m", "render"]]
    if not (project / ".git").exists():
        remote = "https://gitlab.example.com/g/cm.git"
        init = ["git", "init", "-q", "-b", "main"]
        steps[:0] = [init, ["git", "remote", "add", "origin", remote]]
    for argv in steps:
        subprocess.run(argv, cwd=project, check=True, timeout=60, env=env, capture_output=True)
