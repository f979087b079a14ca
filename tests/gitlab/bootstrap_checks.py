"""What the bootstrap tests share: running it, reading its plan, the project on disk."""

from __future__ import annotations

from pathlib import Path


def bootstrap(run_cli, project_dir: Path, *extra: str):
    """Run `gitlab bootstrap` in the project; it must succeed."""
    result = run_cli("-C", project_dir, "gitlab", "bootstrap", *extra)
    assert result.exit_code == 0, result.stderr
    return result


def has_row(stdout: str, action: str, target: str) -> bool:
    """Whether the plan table has a line with this action and object."""
    return any(line.split()[:1] == [action] and target in line for line in stdout.splitlines())


def local_files(project_dir: Path) -> dict[str, bytes]:
    """Every file of the project directory (the config, generated files, the manifest)."""
    return {
        str(p.relative_to(project_dir)): p.read_bytes()
        for p in sorted(project_dir.rglob("*"))
        if p.is_file()
    }
