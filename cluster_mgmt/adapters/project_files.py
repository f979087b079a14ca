"""Which files of a project go to its GitLab repository, read from disk.

Only what belongs to a cluster-management project is pushed: the config, the generated
files, the user's overrides, policies and pipeline. Anything else in the directory (a
kubeconfig, a ``.env``, editor files) stays local.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from cluster_mgmt.adapters.project_fs import MANIFEST
from cluster_mgmt.core.config import CONFIG_FILE
from cluster_mgmt.errors import UserError

# Top-level files and directories that make up a project.
PROJECT_FILES = (CONFIG_FILE, ".gitlab-ci.yml", "README.md", "environments.yaml", ".gitignore")
PROJECT_DIRS = ("helmfile.d", "environments", "values", "policies", ".gitlab")
# A repository file larger than this is a mistake (a chart tarball, a dump), not config.
MAX_FILE_BYTES = 1024 * 1024


def read_project_files(root: Path) -> dict[PurePosixPath, bytes]:
    """The project's files (relative POSIX path → content), sorted by path."""
    found: dict[PurePosixPath, bytes] = {}
    candidates = [root / name for name in PROJECT_FILES] + [root / str(MANIFEST)]
    for name in PROJECT_DIRS:
        base = root / name
        if base.is_dir():
            candidates += [p for p in base.rglob("*") if p.is_file()]
    for path in candidates:
        if not path.is_file() or path.is_symlink():
            continue
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if any(part.startswith(".") and part.endswith(".tmp") for part in rel.parts):
            continue  # a write in progress (project_fs writes via .name.*.tmp)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UserError(
                f"{rel} is larger than {MAX_FILE_BYTES // 1024} KiB: not a project file",
                hint="move it out of the project directory",
            )
        found[rel] = path.read_bytes()
    return dict(sorted(found.items()))


def read_text(path: Path) -> str | None:
    """A text file's content, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
