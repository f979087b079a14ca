"""What helm receives for the prometheus release when alerts are on, with the real binaries.

helmfile fills ``GITLAB_ALERTS_KEY`` into the Secret manifest at deploy time (and refuses to
go on without it); the rendered chart mounts that Secret into Alertmanager and keeps the key
out of every ConfigMap. The chart-rendering part needs the real chart unpacked under
``CLUSTER_MGMT_CHART_CACHE`` (chart repositories are unreachable in some CI).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cluster_mgmt.adapters.helm import Helm

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
KEY = "glalert-deploy-0c1d2e3f4a5b6c7d"
yaml = YAML(typ="safe", pure=True)
TIMEOUT_S = 300


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(__file__).resolve().parents[2] / ".venv/bin" / name)
    if not Path(found).is_file():
        pytest.skip(f"{name} binary not installed (run `make tools`)")
    return found


def _project(tmp_path: Path, run_cli) -> Path:
    (tmp_path / "cluster-mgmt.yaml").write_text((GOLDEN / "kind/input.yaml").read_text())
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    return tmp_path


def _write_values(project: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITLAB_ALERTS_KEY"}
    env["HELMFILE_V1MODE"] = "true"
    if key is not None:
        env["GITLAB_ALERTS_KEY"] = key
    return subprocess.run(
        [_tool("helmfile"), "--helm-binary", _tool("helm"), "--environment", "dev",
         "--selector", "name=prometheus", "write-values", "--skip-deps",
         "--output-file-template", f"{project}/" + "{{ .Release.Name }}.values.yaml"],
        cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip


def test_deploy_time_values_carry_the_key_as_a_secret(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli)
    result = _write_values(project, KEY)
    assert result.returncode == 0, result.stderr
    values = yaml.load((project / "prometheus.values.yaml").read_text())
    [manifest] = values["extraManifests"]
    secret = yaml.load(manifest)
    assert secret["kind"] == "Secret"
    assert secret["metadata"] == {"name": "gitlab-alerts-key", "namespace": "monitoring"}
    assert base64.b64decode(secret["data"]["key"]).decode() == KEY
    assert "{{" not in manifest  # nothing left for the chart's tpl to evaluate
    # The key is only in what helm receives, never in the project.
    (project / "prometheus.values.yaml").unlink()
    for path in project.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(), path


def test_deploy_without_the_key_stops_naming_the_variable(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli)
    result = _write_values(project, None)
    assert result.returncode != 0
    assert "GITLAB_ALERTS_KEY" in result.stderr


def test_alerts_off_needs_no_key(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli)
    config = project / "cluster-mgmt.yaml"
    config.write_text(config.read_text() + "    alerts:\n      enabled: false\n")
    assert run_cli("-C", project, "render").exit_code == 0
    assert not (project / "values/alerts-key.yaml.gotmpl").exists()
    result = _write_values(project, None)
    assert result.returncode == 0, result.stderr
    values = yaml.load((project / "prometheus.values.yaml").read_text())
    assert values["alertmanager"] == {"enabled": False}
    assert "extraManifests" not in values and "serverFiles" not in values


def _chart(name: str, version: str) -> Path:
    value = os.environ.get("CLUSTER_MGMT_CHART_CACHE")
    if not value:
        pytest.skip(
            "real chart archives are fetched from chart repositories, unreachable here: "
            "set CLUSTER_MGMT_CHART_CACHE to a directory of unpacked charts to run this"
        )
    for candidate in (Path(value) / f"{name}-{version}", Path(value) / name):
        chart_yaml = candidate / "Chart.yaml"
        if chart_yaml.is_file() and str(yaml.load(chart_yaml.read_text())["version"]) == version:
            return candidate
    pytest.skip(f"chart {name} {version} not in CLUSTER_MGMT_CHART_CACHE={value}")


def test_the_real_chart_mounts_the_key_and_loads_the_rules(tmp_path: Path, run_cli) -> None:
    chart = _chart("prometheus", "29.27.0")
    project = _project(tmp_path, run_cli)
    result = _write_values(project, KEY)
    assert result.returncode == 0, result.stderr
    out = Helm(_tool("helm")).template(
        "prometheus", chart, "monitoring", [project / "prometheus.values.yaml"],
        kube_version="1.31",
    )  # fmt: skip
    docs = [d for d in yaml.load_all(out) if d]
    secret = next(d for d in docs if d["kind"] == "Secret" and "alerts" in d["metadata"]["name"])
    assert base64.b64decode(secret["data"]["key"]).decode() == KEY
    configmaps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    assert all(KEY not in str(data) for data in configmaps.values())
    am = yaml.load(configmaps["prometheus-alertmanager"]["alertmanager.yml"])
    [hook] = am["receivers"][0]["webhook_configs"]
    assert hook["http_config"]["authorization"]["credentials_file"] == "/etc/gitlab-alerts/key"
    assert hook["send_resolved"] is True
    assert am["route"]["group_by"] == ["namespace", "alertname"]
    server = configmaps["prometheus-server"]
    assert "alertmanagers" in yaml.load(server["prometheus.yml"])["alerting"]
    rules = yaml.load(server["alerting_rules.yml"])["groups"][0]["rules"]
    assert len(rules) == 4
    sts = next(
        d for d in docs
        if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "prometheus-alertmanager"
    )  # fmt: skip
    pod = sts["spec"]["template"]["spec"]
    assert {"name": "gitlab-alerts-key", "secret": {"secretName": "gitlab-alerts-key"}} in pod[
        "volumes"
    ]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["gitlab-alerts-key"] == "/etc/gitlab-alerts"
