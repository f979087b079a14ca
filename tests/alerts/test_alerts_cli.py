"""`cluster-mgmt alerts rules|test` against a fake GitLab alert endpoint on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

from alerts_fakes import gitlab_alert_endpoint
from ruamel.yaml import YAML

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
KEY = "glalert-0123456789abcdef0123"
yaml = YAML(typ="safe", pure=True)


def _project(tmp_path: Path, run_cli, case: str = "kind", url: str | None = None) -> Path:
    tmp_path.mkdir(exist_ok=True)
    text = (GOLDEN / case / "input.yaml").read_text()
    if url is not None:
        text = text.replace("environments:", f"alerts:\n  url: {url}\nenvironments:", 1)
    (tmp_path / "cluster-mgmt.yaml").write_text(text)
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    return tmp_path


def test_rules_prints_the_rendered_rule_file(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli)
    result = run_cli("-C", project, "alerts", "rules")
    assert result.exit_code == 0, result.stderr
    printed = yaml.load(result.stdout)
    values = yaml.load((project / "values/dev/prometheus.yaml").read_text())
    assert printed == values["serverFiles"]["alerting_rules.yml"]
    names = [rule["alert"] for rule in printed["groups"][0]["rules"]]
    assert names == [
        "HubblePolicyDrops",
        "HubblePolicyAuditDenials",
        "HubbleDropRatioSpike",
        "HubbleMetricsMissing",
    ]
    for rule in printed["groups"][0]["rules"]:
        assert {"summary", "description", "runbook"} <= set(rule["annotations"])
        assert rule["labels"]["gitlab_environment_name"] == "dev"


def test_rules_follow_the_environment_settings(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli, "eks")
    assert "choose one with --env" in run_cli("-C", project, "alerts", "rules").stderr
    result = run_cli("-C", project, "alerts", "rules", "--env", "production")
    rules = yaml.load(result.stdout)["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "HubblePolicyDrops",
        "HubbleDropRatioSpike",
        "HubbleMetricsMissing",
    ]
    drops = rules[0]
    assert drops["expr"].endswith("> 0.5")
    assert drops["for"] == "2m"
    assert drops["labels"]["severity"] == "critical"
    staging = yaml.load(run_cli("-C", project, "alerts", "rules", "--env", "staging").stdout)
    assert staging["groups"][0]["rules"][0]["expr"].endswith("> 0.1")


def test_rules_where_alerts_are_off(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli, "gke")  # prometheus is not installed there
    result = run_cli("-C", project, "alerts", "rules")
    assert result.exit_code == 2
    assert "prometheus app is off" in result.stderr
    kind = _project(tmp_path / "kind", run_cli)
    config = kind / "cluster-mgmt.yaml"
    config.write_text(config.read_text() + "    alerts:\n      enabled: false\n")
    off = run_cli("-C", kind, "alerts", "rules")
    assert off.exit_code == 2
    assert "alerts are off in 'dev'" in off.stderr


def test_test_alert_reaches_gitlab(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_ALERTS_KEY", KEY)
    with gitlab_alert_endpoint(KEY) as gitlab:
        project = _project(tmp_path, run_cli, url=gitlab.url)
        result = run_cli("-C", project, "alerts", "test")
        assert result.exit_code == 0, result.stderr
        assert "ok: test alert for dev sent; GitLab answered HTTP 200" in result.stdout
        assert KEY not in result.stdout + result.stderr
        [payload] = gitlab.snapshot()
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["receiver"] == "gitlab"
    [alert] = payload["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"]["alertname"] == "ClusterMgmtTestAlert"
    assert alert["labels"]["gitlab_environment_name"] == "dev"
    assert alert["annotations"]["summary"] == "cluster-mgmt test alert (dev)"
    assert "Not a real problem" in alert["annotations"]["description"]
    datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
    # Key material never lands in the project.
    for path in project.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(), path


def test_test_alert_with_resolve_closes_it(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_ALERTS_KEY", KEY)
    with gitlab_alert_endpoint(KEY) as gitlab:
        result = run_cli("-C", tmp_path, "alerts", "test", "--url", gitlab.url, "--resolve")
        assert result.exit_code == 0, result.stderr
        assert "sent and resolved" in result.stdout
        firing, resolved = gitlab.snapshot()
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    # GitLab matches the resolution to the alert by start time and title.
    before, after = firing["alerts"][0], resolved["alerts"][0]
    assert after["startsAt"] == before["startsAt"]
    assert after["annotations"]["summary"] == before["annotations"]["summary"]
    assert after["endsAt"] != "0001-01-01T00:00:00Z"


def test_wrong_key_is_one_clear_line(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_ALERTS_KEY", "glalert-WRONG-KEY-987654")
    with gitlab_alert_endpoint(KEY) as gitlab:
        result = run_cli("-C", tmp_path, "alerts", "test", "--url", gitlab.url)
        assert gitlab.refused == [(401, gitlab.path)]
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "GitLab refused the alert key (HTTP 401)" in result.stderr
    assert "glalert-WRONG" not in result.stderr + result.stdout


def test_wrong_url_is_one_clear_line(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_ALERTS_KEY", KEY)
    with gitlab_alert_endpoint(KEY) as gitlab:
        project = _project(tmp_path, run_cli, url=gitlab.url.replace("4f2a", "0000"))
        result = run_cli("-C", project, "alerts", "test")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no GitLab alert integration at" in result.stderr
    assert "(HTTP 404)" in result.stderr


def test_unreachable_endpoint_is_one_clear_line(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_ALERTS_KEY", KEY)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/g/p/prometheus/alerts/notify.json"
    result = run_cli("-C", tmp_path, "alerts", "test", "--url", url)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"GitLab alert endpoint {url} unreachable" in result.stderr


def test_missing_key_is_refused_before_sending(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.delenv("GITLAB_ALERTS_KEY", raising=False)
    with gitlab_alert_endpoint(KEY) as gitlab:
        result = run_cli("-C", tmp_path, "alerts", "test", "--url", gitlab.url)
        assert gitlab.snapshot() == [] and gitlab.refused == []
    assert result.exit_code == 2
    assert "GITLAB_ALERTS_KEY is not set" in result.stderr


def test_default_url_is_the_projects_prometheus_endpoint(
    tmp_path: Path, run_cli, monkeypatch
) -> None:
    # No alerts.url: GitLab's Prometheus endpoint of the project, on gitlab.url.
    monkeypatch.setenv("GITLAB_ALERTS_KEY", KEY)
    with gitlab_alert_endpoint(
        KEY, path="/me/cluster-management/prometheus/alerts/notify.json"
    ) as gitlab:
        base = gitlab.url.removesuffix(gitlab.path)
        text = (
            (GOLDEN / "kind/input.yaml")
            .read_text()
            .replace("gitlab:\n", f"gitlab:\n  url: {base}\n", 1)
        )
        (tmp_path / "cluster-mgmt.yaml").write_text(text)
        result = run_cli("-C", tmp_path, "alerts", "test", "--env", "dev")
        assert result.exit_code == 0, result.stderr
        assert len(gitlab.snapshot()) == 1


def test_values_names_the_deploy_time_secret(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_ALERTS_KEY", KEY)
    project = _project(tmp_path, run_cli)
    result = run_cli("-C", project, "values", "prometheus")
    assert result.exit_code == 0, result.stderr
    assert "gitlab-alerts-key) is added at deploy time from $GITLAB_ALERTS_KEY" in result.stdout
    assert KEY not in result.stdout
    values = yaml.load(result.stdout)
    assert values["alertmanager"]["enabled"] is True
    assert "extraManifests" not in values


def test_alerts_help_stays_light() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cluster_mgmt", "alerts", "--help"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "rules" in result.stdout and "test" in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "click" in imported
    assert not imported & {"pydantic", "ruamel", "jinja2", "kubernetes", "gitlab"}
