"""`cluster-mgmt gitlab upgrade-mr` with chart indexes served on 127.0.0.1 and the fake GitLab."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitlab_fake import PROJECT, FakeGitLab

from cluster_mgmt.core.stack import CHARTS

# Charts a kind project deploys and the versions this release pins.
IN_USE = ("cilium", "traefik", "prometheus", "fluentd", "gitlab-agent")
BRANCH = "cluster-mgmt/upgrade"


class ChartRepos:
    """Helm repositories: ``/<repo>/index.yaml`` for each, content changeable by tests."""

    def __init__(self) -> None:
        self.versions: dict[str, list[str]] = {
            key: [CHARTS[key].version, "0.0.1"] for key in IN_USE
        }
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.hits.append(self.path)
                body = owner.index(self.path.strip("/").split("/")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-yaml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def index(self, repo: str) -> bytes | None:
        charts = {key: v for key, v in self.versions.items() if CHARTS[key].repo_name == repo}
        if not charts:
            return None
        entries = {
            CHARTS[key].chart: [
                {"name": CHARTS[key].chart, "version": version, "urls": [f"x-{version}.tgz"]}
                for version in versions
            ]
            for key, versions in charts.items()
        }
        return yaml.safe_dump({"apiVersion": "v1", "entries": entries}).encode()

    def args(self) -> list[str]:
        host, port = self.server.server_address[:2]
        out = []
        for key in IN_USE:
            repo = CHARTS[key].repo_name
            out += ["--index-url", f"{repo}=http://{host}:{port}/{repo}/index.yaml"]
        return out

    def write_dir(self, directory: Path) -> Path:
        """The indexes as helm's cache lays them out (``<repo>-index.yaml``)."""
        directory.mkdir(parents=True, exist_ok=True)
        for repo in {CHARTS[key].repo_name for key in IN_USE}:
            (directory / f"{repo}-index.yaml").write_bytes(self.index(repo) or b"")
        return directory


@pytest.fixture
def repos() -> Iterator[ChartRepos]:
    server = ChartRepos()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def pushed(project_dir: Path, fake: FakeGitLab, run_cli) -> Path:
    """The project on GitLab's default branch (as bootstrap leaves it)."""
    result = run_cli("-C", project_dir, "gitlab", "bootstrap", "--no-alerts")
    assert result.exit_code == 0, result.stderr
    return project_dir


def _upgrade(run_cli, project_dir: Path, repos: ChartRepos, *extra: str):
    result = run_cli("-C", project_dir, "gitlab", "upgrade-mr", *repos.args(), *extra)
    assert result.exit_code == 0, result.stderr
    return result


def _branch_file(fake: FakeGitLab, path: str, project: str = PROJECT) -> str:
    files = fake.project(project).files(BRANCH)
    assert files is not None
    return files[path].decode()


def test_one_merge_request_opened_then_updated(
    pushed: Path, fake: FakeGitLab, repos: ChartRepos, run_cli
) -> None:
    repos.versions["cilium"] += ["1.19.8", "1.20.1", "1.21.0-rc.1", "2.0.0"]
    local_before = (pushed / "cluster-mgmt.yaml").read_text()

    first = _upgrade(run_cli, pushed, repos)
    project = fake.project(PROJECT)
    [mr] = project.merge_requests.values()
    assert mr["state"] == "opened" and mr["source_branch"] == BRANCH
    assert mr["target_branch"] == "main"
    assert mr["title"] == "Chart upgrades: cilium 1.19.6 → 1.20.1"  # minor by default
    assert (
        "| cilium | cilium | 1.19.6 | 1.20.1 | "
        "[1.20.1](https://github.com/cilium/cilium/releases/tag/v1.20.1) |"
    ) in mr["description"]
    assert "-  cilium: 1.19.6\n+  cilium: 1.20.1\n" in mr["description"]  # the render diff
    assert f"opened merge request !{mr['iid']}" in first.stdout

    config = _branch_file(fake, "cluster-mgmt.yaml")
    assert "charts:\n  cilium: 1.20.1\n" in config
    assert "# a second cluster" in config  # comments kept
    assert "cilium: 1.20.1" in _branch_file(fake, "environments/dev.yaml")
    assert "cilium: 1.20.1" in _branch_file(fake, "environments/staging.yaml")
    assert (pushed / "cluster-mgmt.yaml").read_text() == local_before  # checkout untouched
    commits = len(project.commits)

    # The same versions again: the merge request and the branch are left as they are.
    again = _upgrade(run_cli, pushed, repos)
    assert len(project.merge_requests) == 1 and len(project.commits) == commits
    assert "already up to date: merge request !1" in again.stdout

    # A newer release: the same merge request is updated, the branch rebuilt.
    repos.versions["cilium"].append("1.20.2")
    repos.versions["traefik"].append(_bump_patch(CHARTS["traefik"].version))
    third = _upgrade(run_cli, pushed, repos)
    [mr] = project.merge_requests.values()
    assert "updated merge request !1" in third.stdout
    assert "cilium 1.19.6 → 1.20.2" in mr["title"] and "traefik" in mr["title"]
    assert "1.20.2" in mr["description"]
    assert "cilium: 1.20.2" in _branch_file(fake, "cluster-mgmt.yaml")
    head = project.commits[project.branches[BRANCH]]
    assert head["parent"] == project.branches["main"]  # rebuilt on the default branch


def _bump_patch(version: str) -> str:
    major, minor, patch = version.split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def test_nothing_newer_changes_nothing(
    pushed: Path, fake: FakeGitLab, repos: ChartRepos, run_cli
) -> None:
    repos.versions["cilium"].append("1.20.0-rc.1")  # a pre-release is not an upgrade
    before = fake.snapshot()
    sent = len(fake.requests)
    result = _upgrade(run_cli, pushed, repos)
    assert "all charts are current (allowed: minor upgrades): nothing to do" in result.stdout
    assert fake.snapshot() == before
    assert len(fake.requests) == sent  # GitLab was not even asked
    assert sorted(repos.hits) == sorted(f"/{CHARTS[k].repo_name}/index.yaml" for k in IN_USE)


def test_allow_patch_and_major(pushed: Path, fake: FakeGitLab, repos: ChartRepos, run_cli) -> None:
    repos.versions["cilium"] += ["1.19.7", "1.20.0", "2.1.0"]
    patch = _upgrade(run_cli, pushed, repos, "--allow", "patch", "--dry-run")
    assert "1.19.7" in patch.stdout and "1.20.0" not in patch.stdout
    major = _upgrade(run_cli, pushed, repos, "--allow", "major", "--dry-run")
    assert "2.1.0" in major.stdout
    assert "dry run: no branch or merge request was changed" in major.stdout
    assert fake.project(PROJECT).merge_requests == {}
    assert BRANCH not in fake.project(PROJECT).branches


def test_offline_index_dir(
    pushed: Path, fake: FakeGitLab, repos: ChartRepos, run_cli, tmp_path: Path
) -> None:
    repos.versions["fluentd"].append(_bump_patch(CHARTS["fluentd"].version))
    cache = repos.write_dir(tmp_path / "helm-cache")
    result = run_cli("-C", pushed, "gitlab", "upgrade-mr", "--index-dir", cache)
    assert result.exit_code == 0, result.stderr
    assert "opened merge request !1" in result.stdout
    assert f"fluentd: {_bump_patch(CHARTS['fluentd'].version)}" in _branch_file(
        fake, "cluster-mgmt.yaml"
    )
    (cache / "cilium-index.yaml").unlink()
    missing = run_cli("-C", pushed, "gitlab", "upgrade-mr", "--index-dir", cache)
    assert missing.exit_code == 2
    assert "no index for chart repository 'cilium'" in missing.stderr


def test_runs_in_ci_with_the_job_variables(
    project_dir: Path, fake: FakeGitLab, repos: ChartRepos, run_cli, monkeypatch
) -> None:
    # In CI the job's server and project win over the config.
    other = "ops/clusters-mirror"
    fake.add_group("ops")
    created = run_cli(
        "-C",
        project_dir,
        "gitlab",
        "bootstrap",
        "--no-alerts",
        "--project",
        other,
        "--create-project",
    )
    assert created.exit_code == 0, created.stderr
    monkeypatch.setenv("CI_SERVER_URL", fake.url)
    monkeypatch.setenv("CI_PROJECT_PATH", other)
    monkeypatch.setenv("CI_DEFAULT_BRANCH", "main")
    repos.versions["prometheus"].append(_bump_patch(CHARTS["prometheus"].version))
    _upgrade(run_cli, project_dir, repos)
    assert len(fake.project(other).merge_requests) == 1
    assert fake.project(PROJECT).merge_requests == {}


def test_edited_generated_file_stops_the_upgrade(
    pushed: Path, fake: FakeGitLab, repos: ChartRepos, run_cli
) -> None:
    repos.versions["cilium"].append("1.19.9")
    generated = pushed / "environments/dev.yaml"
    generated.write_text(generated.read_text() + "# my edit\n")
    result = run_cli("-C", pushed, "gitlab", "upgrade-mr", *repos.args())
    assert result.exit_code == 2
    assert "edited by hand" in result.stderr
    assert fake.project(PROJECT).merge_requests == {}


def test_unreachable_index_is_one_line(pushed: Path, fake: FakeGitLab, run_cli) -> None:
    result = run_cli(
        "-C", pushed, "gitlab", "upgrade-mr", "--index-url", "cilium=http://127.0.0.1:9/index.yaml"
    )
    assert result.exit_code == 2
    assert "chart index http://127.0.0.1:9/index.yaml unreachable" in result.stderr
