"""``gitlab upgrade-mr``: newer chart versions as one merge request, opened or updated.

The pins under ``charts:`` in cluster-mgmt.yaml are moved (comments kept), the project is
re-rendered in memory, and the changed files are committed to ``cluster-mgmt/upgrade``
(rebuilt from the default branch each time) with one merge request whose description is
the table of versions and the render diff. The local checkout is not modified.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cluster_mgmt.adapters import chart_index, project_files, project_fs, yamlio
from cluster_mgmt.adapters.gitlab import FileAction, MergeRequest
from cluster_mgmt.core import render as core_render
from cluster_mgmt.core.chart_upgrades import (
    UPGRADE_BRANCH,
    Allow,
    Upgrade,
    merge_request_description,
    merge_request_title,
    plan_upgrades,
)
from cluster_mgmt.core.config import CONFIG_FILE, ProjectConfig
from cluster_mgmt.core.gitlab_rules import blob_id
from cluster_mgmt.core.stack import CHARTS
from cluster_mgmt.errors import UserError
from cluster_mgmt.ops.gitlab import connect, resolve_target
from cluster_mgmt.ops.project import Project, load_project, parse_config, plan_render


@dataclass(frozen=True, slots=True)
class UpgradeOptions:
    """What ``gitlab upgrade-mr`` was asked to do."""

    allow: Allow = Allow.MINOR
    dry_run: bool = False
    index_dir: Path | None = None
    index_urls: Mapping[str, str] = field(default_factory=dict)  # repo name -> index URL
    gitlab_url: str | None = None
    project: str | None = None


@dataclass(slots=True)
class UpgradeResult:
    """What was found and done."""

    upgrades: list[Upgrade]
    files: list[str] = field(default_factory=list)
    diff: str = ""
    merge_request: MergeRequest | None = None
    outcome: str = "none"  # none | dry-run | created | updated | unchanged


def charts_in_use(config: ProjectConfig) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Chart key → deployed version, and chart key → releases using it, over all envs."""
    pins: dict[str, str] = {}
    releases: dict[str, list[str]] = {}
    for env in config.environments:
        for release in core_render.enabled_releases(config, env):
            chart = core_render.release_chart(config, env, release)
            if chart is None:
                continue
            key, version = chart
            pins[key] = version
            if release not in releases.setdefault(key, []):
                releases[key].append(release)
    return pins, releases


def available_versions(
    charts: list[str], index_dir: Path | None, index_urls: Mapping[str, str]
) -> dict[str, list[str]]:
    """Versions of each chart from its repository index (each index read once)."""
    texts: dict[str, tuple[str, str]] = {}
    found: dict[str, list[str]] = {}
    for key in charts:
        pin = CHARTS[key]
        if pin.repo_name not in texts:
            texts[pin.repo_name] = _index_text(pin.repo_name, pin.repo_url, index_dir, index_urls)
        text, source = texts[pin.repo_name]
        found[key] = chart_index.chart_versions(text, pin.chart, source)
    return found


def _index_text(
    repo: str, repo_url: str, index_dir: Path | None, index_urls: Mapping[str, str]
) -> tuple[str, str]:
    if index_dir is not None:
        text = chart_index.read_local_index(index_dir, repo)
        if text is None:
            raise UserError(
                f"no index for chart repository {repo!r} in {index_dir} "
                f"(expected {repo}/index.yaml or {repo}-index.yaml)",
                hint=f"download it: curl -o {repo}-index.yaml {chart_index.index_url(repo_url)}",
            )
        return text, str(index_dir / repo)
    url = index_urls.get(repo) or chart_index.index_url(repo_url)
    return chart_index.fetch_index_text(url), url


def _with_pins(project: Project, upgrades: list[Upgrade]) -> str:
    """The config text with the new pins (comments and order kept)."""
    doc = yamlio.load_roundtrip(project.root / CONFIG_FILE)  # edited in place, comments kept
    charts = yamlio.child_mapping(doc, "charts", before="environments")
    for up in upgrades:
        alias = up.chart.replace("-", "_")
        key = alias if alias in charts and up.chart not in charts else up.chart
        charts[key] = up.new
    return yamlio.dump_roundtrip(doc)


def upgrade_mr(project_dir: Path, options: UpgradeOptions) -> UpgradeResult:
    """Find newer chart versions and open or update the upgrade merge request."""
    local = load_project(project_dir)
    pins, releases = charts_in_use(local.config)
    available = available_versions(sorted(pins), options.index_dir, options.index_urls)
    upgrades = plan_upgrades(pins, available, options.allow, releases)
    result = UpgradeResult(upgrades)
    if not upgrades:
        return result
    config_path = project_dir / CONFIG_FILE
    new_config = _with_pins(local, upgrades)
    config = parse_config(yamlio.load_text(new_config, str(config_path)), str(config_path))
    plan = plan_render(project_dir, config)
    if plan.edited:
        raise project_fs.edited_error(plan.edited)
    new_files: dict[str, str] = {CONFIG_FILE: new_config}
    new_files.update({str(rel): text for rel, text in plan.write.items()})
    deleted = [str(rel) for rel in plan.delete]
    result.files = sorted([*new_files, *deleted])
    result.diff = _diff(project_dir, new_files, deleted)
    title = merge_request_title(upgrades)
    description = merge_request_description(upgrades, options.allow, result.diff, result.files)
    if options.dry_run:
        result.outcome = "dry-run"
        return result

    target = resolve_target(local, options.gitlab_url, options.project)
    client = connect(target.url)
    remote = client.project(target.project)
    base = os.environ.get("CI_DEFAULT_BRANCH") or remote.default_branch
    if not base:
        raise UserError(f"GitLab project {remote.path} has no default branch yet")
    base_tree = client.tree(remote, base)
    actions = [
        FileAction("update" if path in base_tree else "create", path, text.encode("utf-8"))
        for path, text in new_files.items()
    ] + [FileAction("delete", path) for path in deleted if path in base_tree]
    exists = client.branch_exists(remote, UPGRADE_BRANCH)
    if not exists or not _branch_has(client.tree(remote, UPGRADE_BRANCH), actions):
        client.commit(
            remote,
            branch=UPGRADE_BRANCH,
            start_branch=base,
            force=True,  # rebuild the branch on the current default branch
            message=title,
            actions=actions,
        )
    existing = client.open_merge_requests(remote, UPGRADE_BRANCH, base)
    if existing:
        mr = existing[0]
        if (mr.title, mr.description) == (title, description):
            result.merge_request, result.outcome = mr, "unchanged"
        else:
            result.merge_request = client.update_merge_request(
                remote, mr.iid, title=title, description=description
            )
            result.outcome = "updated"
    else:
        result.merge_request = client.create_merge_request(
            remote, source=UPGRADE_BRANCH, target=base, title=title, description=description
        )
        result.outcome = "created"
    return result


def _branch_has(tree: Mapping[str, str], actions: list[FileAction]) -> bool:
    for action in actions:
        if action.action == "delete":
            if action.path in tree:
                return False
        elif tree.get(action.path) != blob_id(action.content):
            return False
    return bool(tree)


def _diff(project_dir: Path, new_files: Mapping[str, str], deleted: list[str]) -> str:
    chunks: list[str] = []
    for path in sorted([*new_files, *deleted]):
        old = project_files.read_text(project_dir / path) or ""
        new = new_files.get(path, "")
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{path}",
                tofile=f"b/{path}",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)
