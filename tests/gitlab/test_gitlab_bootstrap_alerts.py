"""`gitlab bootstrap` and alerting: the config decides, and the config gets the URL."""

from __future__ import annotations

from pathlib import Path

import yaml
from bootstrap_checks import bootstrap as _bootstrap
from bootstrap_checks import has_row as _row
from bootstrap_checks import local_files as _local_files
from gitlab_fake import PROJECT, FakeGitLab

from cluster_mgmt.ops.project import load_project

CONFIG = "cluster-mgmt.yaml"


def _edit(run_cli, project_dir: Path, old: str, new: str) -> None:
    """Edit cluster-mgmt.yaml and render, as a user would."""
    config = project_dir / CONFIG
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    rendered = run_cli("-C", project_dir, "render")
    assert rendered.exit_code == 0, rendered.stderr


def _alert_keys(fake: FakeGitLab) -> dict[str, str]:
    return {
        v["environment_scope"]: v["value"]
        for v in fake.project(PROJECT).variables
        if v["key"] == "GITLAB_ALERTS_KEY"
    }


def _webhook_urls(values_text: str | bytes) -> list[str]:
    values = yaml.safe_load(values_text)
    receivers = values["alertmanager"]["config"]["receivers"]
    return [hook["url"] for r in receivers for hook in r.get("webhook_configs", [])]


def test_the_config_decides_which_environments_get_the_alert_key(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    _edit(
        run_cli,
        project_dir,
        "    agent: staging-agent\n",
        "    agent: staging-agent\n    alerts:\n      enabled: false\n",
    )
    result = _bootstrap(run_cli, project_dir)
    [integration] = fake.project(PROJECT).integrations
    assert _alert_keys(fake) == {"dev": integration["token"]}
    assert "GITLAB_ALERTS_KEY (staging)" not in result.stdout
    # Without the prometheus app there is nothing to alert with either.
    _edit(run_cli, project_dir, "      enabled: false\n", "      enabled: true\n")
    _edit(
        run_cli,
        project_dir,
        "    agent: dev-agent\n",
        "    agent: dev-agent\n    apps:\n      prometheus: false\n",
    )
    _bootstrap(run_cli, project_dir)
    assert set(_alert_keys(fake)) == {"dev", "staging"}  # dev's key is not removed
    assert _alert_keys(fake)["staging"] == integration["token"]


def test_no_alerting_environment_means_no_integration(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    _edit(run_cli, project_dir, "alerts:\n  enabled: true\n", "alerts:\n  enabled: false\n")
    before = (project_dir / CONFIG).read_bytes()
    result = _bootstrap(run_cli, project_dir)
    assert fake.project(PROJECT).integrations == []
    assert _alert_keys(fake) == {}
    assert "alert" not in result.stdout
    assert (project_dir / CONFIG).read_bytes() == before


def test_no_alerts_flag_skips_the_step_even_where_the_config_has_alerts(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    before = _local_files(project_dir)
    _bootstrap(run_cli, project_dir, "--no-alerts")
    assert fake.project(PROJECT).integrations == []
    assert _alert_keys(fake) == {}
    assert _local_files(project_dir) == before


def test_the_integration_url_goes_into_the_config_and_the_one_pushed_commit(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    original = (project_dir / CONFIG).read_text()
    result = _bootstrap(run_cli, project_dir)
    project = fake.project(PROJECT)
    [integration] = project.integrations
    url = integration["url"]
    assert url.startswith(f"{fake.url}/{PROJECT}/alerts/notify/cluster-mgmt/")
    assert _row(result.stdout, "update", "cluster-mgmt.yaml alerts.url")
    assert "cluster-mgmt.yaml updated" in result.stdout
    assert "values/dev/prometheus.yaml" in result.stdout

    # Locally: the top-level alerts.url, every comment and line of the user's file kept.
    text = (project_dir / CONFIG).read_text()
    assert f"alerts:\n  enabled: true\n  url: {url}\n  # The alert integration" in text
    assert [line for line in text.splitlines() if line != f"  url: {url}"] == (
        original.splitlines()
    )
    config = load_project(project_dir).config
    assert config.alerts_url("dev") == config.alerts_url("staging") == url
    # ...and rendered: the prometheus values carry it, and render has nothing left to do.
    for env in ("dev", "staging"):
        assert _webhook_urls((project_dir / f"values/{env}/prometheus.yaml").read_text()) == [url]
    assert run_cli("-C", project_dir, "render", "--check").exit_code == 0

    # In GitLab: one commit, holding the new config and the re-rendered values.
    assert len(project.commits) == 1
    pushed = project.files("main")
    assert pushed[CONFIG] == text.encode()
    assert _webhook_urls(pushed["values/staging/prometheus.yaml"]) == [url]
    assert (
        pushed[".cluster-mgmt/generated.json"]
        == (project_dir / ".cluster-mgmt/generated.json").read_bytes()
    )

    # Idempotent: twice == once, on the server and on disk.
    once, local_once = fake.snapshot(), _local_files(project_dir)
    again = _bootstrap(run_cli, project_dir)
    assert "nothing to change" in again.stdout
    assert fake.snapshot() == once
    assert _local_files(project_dir) == local_once


def test_dry_run_shows_the_config_change_and_touches_nothing(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    before, server = _local_files(project_dir), fake.snapshot()
    result = _bootstrap(run_cli, project_dir, "--dry-run")
    assert _row(result.stdout, "create", "alert integration")
    assert _row(result.stdout, "update", "cluster-mgmt.yaml alerts.url")
    assert "the new alert integration's URL" in result.stdout
    assert "cluster-mgmt.yaml updated" not in result.stdout
    assert _local_files(project_dir) == before
    assert fake.snapshot() == server

    # With the integration there (the URL known), the plan names the URL and the files.
    _bootstrap(run_cli, project_dir, "--no-alerts")
    fake.project(PROJECT).integrations.append(
        {
            "id": "gid://gitlab/AlertManagement::HttpIntegration/5",
            "name": "cluster-mgmt",
            "type": "PROMETHEUS",
            "active": True,
            "url": f"{fake.url}/{PROJECT}/alerts/notify/cluster-mgmt/00000000000000ab.json",
            "token": "0123456789abcdef0123456789abcdef",
        }
    )
    before, server = _local_files(project_dir), fake.snapshot()
    planned = _bootstrap(run_cli, project_dir, "--dry-run")
    assert _row(planned.stdout, "update", "cluster-mgmt.yaml alerts.url")
    assert "00000000000000ab.json" in planned.stdout
    assert _row(planned.stdout, "update", "files on main")
    assert "cluster-mgmt.yaml" in planned.stdout and "values/dev/prometheus.yaml" in planned.stdout
    assert _local_files(project_dir) == before
    assert fake.snapshot() == server


def test_an_environment_s_own_url_is_left_alone_with_a_warning(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    own = "https://alerts.example.com/hook/staging.json"
    _edit(
        run_cli,
        project_dir,
        "    agent: staging-agent\n",
        f"    agent: staging-agent\n    alerts:\n      url: {own}   # our relay\n",
    )
    result = _bootstrap(run_cli, project_dir)
    [integration] = fake.project(PROJECT).integrations
    assert "warning: environment staging sets its own alerts.url" in result.stderr
    assert own in result.stderr and integration["url"] in result.stderr
    config = load_project(project_dir).config
    assert config.alerts_url("staging") == own
    assert config.alerts_url("dev") == integration["url"]  # the top level follows GitLab
    assert f"      url: {own}   # our relay\n" in (project_dir / CONFIG).read_text()
    assert _webhook_urls((project_dir / "values/staging/prometheus.yaml").read_text()) == [own]

    # Every alerting environment with its own URL: the config is not touched at all.
    _edit(
        run_cli,
        project_dir,
        "    agent: dev-agent\n",
        f"    agent: dev-agent\n    alerts:\n      url: {own}\n",
    )
    before = _local_files(project_dir)
    again = _bootstrap(run_cli, project_dir)
    assert "warning: environment dev sets its own alerts.url" in again.stderr
    assert not _row(again.stdout, "update", "cluster-mgmt.yaml alerts.url")
    assert _local_files(project_dir) == before


def test_a_hand_edited_generated_file_stops_bootstrap_before_any_write(
    project_dir: Path, fake: FakeGitLab, run_cli
) -> None:
    values = project_dir / "values/dev/prometheus.yaml"
    values.write_text(values.read_text() + "# mine\n")
    before = _local_files(project_dir)
    result = run_cli("-C", project_dir, "gitlab", "bootstrap")
    assert result.exit_code == 2
    assert "values/dev/prometheus.yaml" in result.stderr
    assert _local_files(project_dir) == before
    assert fake.project(PROJECT).integrations == []
    assert not [r for r in fake.requests if r[0] != "GET" and r[1] != "/api/graphql"]


def test_a_new_key_keeps_the_comments_where_they_were(tmp_path: Path) -> None:
    from cluster_mgmt.adapters import yamlio

    def set_url(text: str) -> str:
        path = tmp_path / CONFIG
        path.write_text(text)
        doc = yamlio.load_roundtrip(path)
        yamlio.set_scalar(
            doc["alerts"], "url", "https://g/p/alerts/notify/a/1.json", after="enabled"
        )
        return yamlio.dump_roundtrip(doc)

    url = "  url: https://g/p/alerts/notify/a/1.json\n"
    below = "alerts:\n  enabled: true\n  # about url\n\n  rules: {}\nenvironments: {}\n"
    assert set_url(below) == f"alerts:\n  enabled: true\n{url}  # about url\n\n  rules: {{}}\n" + (
        "environments: {}\n"
    )
    eol = "alerts:\n  enabled: true  # default\n  # about url\nenvironments: {}\n"
    assert set_url(eol) == f"alerts:\n  enabled: true  # default\n{url}  # about url\n" + (
        "environments: {}\n"
    )
    first = "alerts:\n  rules: {}  # none\nenvironments: {}\n"
    assert set_url(first) == f"alerts:\n{url}  rules: {{}}  # none\nenvironments: {{}}\n"
    there = "alerts:\n  url: http://old/x.json\nenvironments: {}\n"
    assert set_url(there) == f"alerts:\n{url}environments: {{}}\n"
