"""values (what helm receives) and validate (keys checked against the real chart data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cluster_mgmt.adapters.chart_data import load_chart_data
from cluster_mgmt.core.render import enabled_releases, release_chart
from cluster_mgmt.ops.project import load_project

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.yaml").is_file())
yaml = YAML(typ="safe", pure=True)


def _project(tmp_path: Path, run_cli, case: str) -> Path:
    shutil.copy(GOLDEN / case / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    return tmp_path


def test_values_merges_the_override_file(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli, "kind")
    (project / "values/dev/cilium.override.yaml").write_text(
        "hubble:\n  relay:\n    replicas: 2\n  export: null\npolicyAuditMode: false\n"
    )
    result = run_cli("-C", project, "values", "cilium")
    assert result.exit_code == 0, result.stderr
    values = yaml.load(result.stdout)
    assert values["policyAuditMode"] is False
    assert values["hubble"]["relay"] == {"enabled": True, "replicas": 2}
    assert "export" not in values["hubble"]  # null deletes, as in helm
    assert values["hubble"]["metrics"]["enabled"][0].startswith("flow:sourceContext=namespace")
    assert "values/dev/cilium.override.yaml" in result.stdout.splitlines()[0]


def test_values_needs_env_when_several(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli, "eks")
    result = run_cli("-C", project, "values", "cilium")
    assert result.exit_code == 2
    assert "--env" in result.stderr
    ok = run_cli("-C", project, "values", "fluentd", "--env", "production")
    assert "host 10.20.30.40" in ok.stdout


def test_values_unknown_or_disabled_release(tmp_path: Path, run_cli) -> None:
    project = _project(tmp_path, run_cli, "gke")
    assert "no release 'cillium'" in run_cli("-C", project, "values", "cillium").stderr
    disabled = run_cli("-C", project, "values", "prometheus")
    assert disabled.exit_code == 2
    assert "not installed in environment 'production'" in disabled.stderr


def test_agent_token_is_never_in_generated_files(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_AGENT_TOKEN", "glagent-SECRET-123456")
    project = _project(tmp_path, run_cli, "eks")
    for path in project.rglob("*"):
        if path.is_file():
            assert "glagent-SECRET" not in path.read_text(), path
    token_file = (project / "values/agent-token.yaml.gotmpl").read_text()
    assert 'requiredEnv "GITLAB_AGENT_TOKEN"' in token_file
    out = run_cli("-C", project, "values", "gitlab-agent", "--env", "staging").stdout
    assert "glagent-SECRET" not in out
    assert yaml.load(out)["config"]["kasAddress"] == "wss://gitlab.example.com/-/kubernetes-agent/"


@pytest.mark.parametrize("case", CASES)
def test_every_rendered_values_key_exists_in_the_real_chart(
    case: str, tmp_path: Path, run_cli, upstream_charts: Path
) -> None:
    project = _project(tmp_path, run_cli, case)
    config = load_project(project).config
    checked = 0
    for env in config.environments:
        for release in enabled_releases(config, env):
            pin = release_chart(config, env, release)
            if pin is None:
                continue
            chart, _note = load_chart_data(upstream_charts, *pin)
            assert chart is not None, pin
            checked += 1
    assert checked >= 3
    result = run_cli("-C", project, "validate", "--charts-dir", upstream_charts, "--no-helmfile")
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout
    assert result.stdout.count("ok: values:") == checked


@pytest.mark.parametrize(
    ("release", "override", "line", "field", "fragment"),
    [
        ("cilium", "hubble:\n  metrics:\n    enable: [dns]\n", 3, "hubble.metrics.enable",
         "did you mean 'enabled'"),
        ("cilium", "ipam:\n  mod: eni\n", 2, "ipam.mod", "unknown key 'mod'"),
        ("ingress", "ports:\n  web:\n    expossedPort: 8080\n", 3, "ports.web.expossedPort",
         "unknown key"),
        ("prometheus", "alertmanager:\n  enabledd: true\n", 2, "alertmanager.enabledd",
         "unknown key"),
        ("fluentd", "kinds: Deployment\n", 1, "kinds", "did you mean 'kind'"),
        ("fluentd", "fileConfig:\n  extra.conf: x\n", 1, "fileConfig",
         "did you mean 'fileConfigs'"),
        ("cilium", "hubble:\n  relay:\n    replicas: many\n", 3, "hubble.relay.replicas",
         "schema"),
    ],
)  # fmt: skip
def test_misspelled_override_key_is_reported_with_file_and_line(
    tmp_path: Path, run_cli, upstream_charts: Path, release, override, line, field, fragment
) -> None:
    project = _project(tmp_path, run_cli, "kind")
    rel = f"values/dev/{release}.override.yaml"
    (project / rel).write_text(override)
    result = run_cli("-C", project, "validate", "--charts-dir", upstream_charts, "--no-helmfile")
    assert result.exit_code == 2
    assert f"{rel}:{line}:" in result.stderr, result.stderr
    assert f" {field}: " in result.stderr
    assert fragment in result.stderr


def test_any_file_name_under_fluentd_file_configs_is_known(
    tmp_path: Path, run_cli, upstream_charts: Path
) -> None:
    """The chart renders every key of fileConfigs into its ConfigMap, not only its defaults."""
    project = _project(tmp_path, run_cli, "kind")
    (project / "values/dev/fluentd.override.yaml").write_text(
        "fileConfigs:\n  05_extra.conf: '# more'\n  notes.txt: hello\n"
    )
    result = run_cli("-C", project, "validate", "--charts-dir", upstream_charts, "--no-helmfile")
    assert result.exit_code == 0, result.stderr


def test_commented_chart_keys_are_known(upstream_charts: Path) -> None:
    chart, _ = load_chart_data(upstream_charts, "cilium", "1.19.6")
    assert chart is not None
    assert ("policyAuditMode",) in chart.documented
    assert "policyAuditMode" not in chart.values


def test_validate_reports_bad_policy_and_stale_files(
    tmp_path: Path, run_cli, bundled_charts: Path
) -> None:
    project = _project(tmp_path, run_cli, "kind")
    (project / "policies/broken.yaml").write_text("kind: Deployment\napiVersion: apps/v1\n")
    (project / "environments.yaml").write_text("environments: {}\n")
    result = run_cli("-C", project, "validate", "--no-helmfile")
    assert result.exit_code == 2
    assert "policies/broken.yaml: Deployment (no name) is not a NetworkPolicy" in result.stderr
    assert "stale or edited: environments.yaml" in result.stderr
    # Values keys are checked with no flags, against the chart data shipped for the pins.
    assert "ok: values: dev/cilium against cilium 1.19.6" in result.stdout


def test_schema_command_prints_the_config_schema(run_cli) -> None:
    result = run_cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"gitlab", "environments"} <= set(schema["required"])
    env = schema["$defs"]["Environment"]
    assert env["properties"]["provider"]["$ref"].endswith("Provider")


def test_validate_reports_policy_field_errors_with_line(
    tmp_path: Path, run_cli, bundled_charts: Path
) -> None:
    project = _project(tmp_path, run_cli, "kind")
    (project / "policies/bad.yaml").write_text(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
        "metadata: {name: bad, namespace: default}\n"
        "spec:\n  endpointSelector: {}\n  ingress:\n    - fromEntitiez: [world]\n"
    )
    result = run_cli("-C", project, "validate", "--no-helmfile")
    assert result.exit_code == 2
    assert "policies/bad.yaml:7" in result.stderr + result.stdout, result.stderr
    assert "fromEntitiez" in result.stderr + result.stdout


def test_validate_notes_the_kubernetes_version_mutual_tls_needs(
    tmp_path: Path, run_cli, upstream_charts: Path
) -> None:
    project = _project(tmp_path, run_cli, "eks")  # staging: client_cert_secret; production: udp
    result = run_cli("-C", project, "validate", "--charts-dir", upstream_charts, "--no-helmfile")
    assert result.exit_code == 0, result.stderr
    output = result.stdout + result.stderr
    assert "staging: siem.client_cert_secret runs the TLS tunnel" in output
    assert "the cluster needs Kubernetes >= 1.29" in output
    assert "production: siem.client_cert_secret" not in output
