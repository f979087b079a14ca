"""The project on disk: which files render owns, and writing them without losing edits.

Generated files are recorded with their SHA-256 in ``.cluster-mgmt/generated.json``. A
generated file whose content no longer matches its record was edited by hand: render stops
and names it, and writes nothing. Seed files (overrides, example policies, the pipeline)
are written once; after that they are the user's, even if deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cluster_mgmt.errors import UserError

MANIFEST = PurePosixPath(".cluster-mgmt", "generated.json")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Manifest:
    """What render wrote last time."""

    generated: dict[str, str] = field(default_factory=dict)  # path -> sha256
    seeded: frozenset[str] = frozenset()

    @classmethod
    def load(cls, root: Path) -> Manifest:
        """Read the manifest of a project (empty when there is none yet)."""
        path = root / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise UserError(
                f"{MANIFEST}: unreadable ({exc})",
                hint="restore it from git, or delete it and run `cluster-mgmt render --force`",
            ) from exc
        return cls(dict(data.get("generated", {})), frozenset(data.get("seeded", [])))

    def dump(self) -> str:
        """The manifest as JSON text."""
        body = {"generated": dict(sorted(self.generated.items())), "seeded": sorted(self.seeded)}
        return (
            json.dumps(
                {"comment": "Written by cluster-mgmt render: which files it owns.", **body},
                indent=2,
            )
            + "\n"
        )


@dataclass(frozen=True, slots=True)
class RenderPlan:
    """What a render would change."""

    write: dict[PurePosixPath, str]
    delete: list[PurePosixPath]
    seed: dict[PurePosixPath, str]
    edited: list[PurePosixPath]  # generated files changed by hand
    manifest: Manifest

    @property
    def stale(self) -> list[PurePosixPath]:
        """Generated files that differ from what render would write (or should be gone)."""
        return sorted({*self.write, *self.delete, *self.edited})


def read_text(root: Path, rel: PurePosixPath) -> str | None:
    """A project file's text, or None when it does not exist."""
    return _read(root / rel)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def plan_render(
    root: Path,
    generated: Mapping[PurePosixPath, str],
    seeds: Mapping[PurePosixPath, str],
    *,
    force: bool = False,
) -> RenderPlan:
    """Compare the desired files with the disk and the manifest."""
    old = Manifest.load(root)
    write: dict[PurePosixPath, str] = {}
    edited: list[PurePosixPath] = []
    for rel, text in generated.items():
        current = _read(root / rel)
        if current == text:
            continue
        recorded = old.generated.get(str(rel))
        if current is not None and recorded != _sha(current) and not force:
            edited.append(rel)
        write[rel] = text
    delete: list[PurePosixPath] = []
    for name, digest in old.generated.items():
        rel = PurePosixPath(name)
        if rel in generated:
            continue
        current = _read(root / rel)
        if current is None:
            continue
        if _sha(current) != digest and not force:
            edited.append(rel)
        delete.append(rel)
    seed = {
        rel: text
        for rel, text in seeds.items()
        if str(rel) not in old.seeded and not (root / rel).exists()
    }
    manifest = Manifest(
        {str(rel): _sha(text) for rel, text in generated.items()},
        old.seeded | {str(rel) for rel in seeds if (root / rel).exists() or rel in seed},
    )
    return RenderPlan(write, sorted(delete), seed, sorted(edited), manifest)


def apply_plan(root: Path, plan: RenderPlan) -> list[PurePosixPath]:
    """Write a plan: every file via a temp file and rename, the manifest last.

    Returns the paths written or deleted. Refuses (writing nothing) if files were edited.
    """
    if plan.edited:
        raise edited_error(plan.edited)
    changed: list[PurePosixPath] = []
    for rel, text in [*plan.seed.items(), *plan.write.items()]:
        write_atomic(root / rel, text)
        changed.append(rel)
    for rel in plan.delete:
        (root / rel).unlink(missing_ok=True)
        changed.append(rel)
    manifest_text = plan.manifest.dump()
    if _read(root / MANIFEST) != manifest_text:
        write_atomic(root / MANIFEST, manifest_text)
    return changed


def edited_error(paths: list[PurePosixPath]) -> UserError:
    """The refusal when generated files were edited by hand."""
    names = "\n".join(f"  {p}" for p in paths)
    example = next((p for p in paths if p.parts[0] == "values"), None)
    keep = (
        f"move the change to {example.with_name(example.stem + '.override.yaml')}"
        if example is not None
        else "move the change to the matching *.override.yaml file or to cluster-mgmt.yaml"
    )
    return UserError(
        f"generated files were edited by hand; nothing was written:\n{names}",
        hint=f"to keep an edit, {keep} (override files are yours and never rewritten), then "
        "run `cluster-mgmt render` again; to discard the edits run `cluster-mgmt render --force`",
    )


def write_atomic(path: Path, text: str) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
