"""`cluster-mgmt --help` stays light: no kubernetes, gitlab, pyhelm3 or pydantic import."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("kubernetes", "gitlab", "pyhelm3", "pydantic", "matplotlib", "ruamel", "jinja2")


def _imported(*args: str) -> tuple[set[str], str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cluster_mgmt", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return modules, result.stdout


def test_help_imports_no_heavy_library() -> None:
    modules, out = _imported("--help")
    assert "click" in modules  # the measurement works
    assert not modules & set(HEAVY), modules & set(HEAVY)
    for command in (
        "init", "render", "values", "validate", "schema", "policy", "stats", "gitlab", "verify",
        "restart-unmanaged-pods", "prepare", "rollback",
    ):  # fmt: skip
        assert command in out


def test_version() -> None:
    modules, out = _imported("--version")
    assert out.startswith("cluster-mgmt, version ")
    assert not modules & set(HEAVY)
