"""The `alerts:` config: defaults, environment over top level, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster_mgmt.core.config import ProjectConfig

HEAD = """version: 1
gitlab:
  project: g/cluster-management
"""
ENVS = """environments:
  dev:
    provider: kind
    agent: dev
"""

# (id, config text, line, field, message fragment)
CASES = [
    (
        "bad-window",
        HEAD + "alerts:\n  rules:\n    policy_drops:\n      window: 5 minutes\n" + ENVS,
        7,
        "alerts.rules.policy_drops.window",
        "Prometheus duration",
    ),
    (
        "zero-threshold-in-env",
        HEAD
        + ENVS
        + "    alerts:\n      rules:\n        audit_verdicts:\n          threshold: 0\n",
        11,
        "environments.dev.alerts.rules.audit_verdicts.threshold",
        "greater than 0",
    ),
    (
        "unknown-rule",
        HEAD + "alerts:\n  rules:\n    policy_drop: {threshold: 1}\n" + ENVS,
        6,
        "alerts.rules.policy_drop",
        "did you mean 'policy_drops'",
    ),
    (
        "window-shorter-than-two-scrapes",
        HEAD + "alerts:\n  rules:\n    policy_drops:\n      window: 30s\n" + ENVS,
        7,
        "alerts.rules.policy_drops.window",
        "at least 60s",
    ),
    (
        "units-out-of-order",
        HEAD + "alerts:\n  rules:\n    drop_ratio_spike:\n      baseline: 30m1h\n" + ENVS,
        7,
        "alerts.rules.drop_ratio_spike.baseline",
        "Prometheus duration",
    ),
    (
        "bad-for",
        HEAD + "alerts:\n  rules:\n    metrics_missing:\n      for: soon\n" + ENVS,
        7,
        "alerts.rules.metrics_missing.for",
        "Prometheus duration",
    ),
    (
        "url-with-newline",
        HEAD + 'alerts:\n  url: "https://gitlab.example.com/g/p\\nrm -rf"\n' + ENVS,
        5,
        "alerts.url",
        "http(s) URL",
    ),
    (
        "url-with-credentials",
        HEAD + "alerts:\n  url: https://user:secret@gitlab.example.com/g/p/x.json\n" + ENVS,
        5,
        "alerts.url",
        "must not carry credentials",
    ),
    (
        "bad-severity",
        HEAD + "alerts:\n  rules:\n    policy_drops: {severity: warning}\n" + ENVS,
        6,
        "alerts.rules.policy_drops.severity",
        "'critical', 'high', 'medium', 'low' or 'info'",
    ),
    (
        "factor-not-above-one",
        HEAD + ENVS + "    alerts:\n      rules:\n        drop_ratio_spike: {factor: 1}\n",
        10,
        "environments.dev.alerts.rules.drop_ratio_spike.factor",
        "greater than 1",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_alerts_config(tmp_path: Path, run_cli, text, line, field, fragment) -> None:
    config = tmp_path / "cluster-mgmt.yaml"
    config.write_text(text)
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 2, result
    assert f"{config}:{line}:" in result.stderr, result.stderr
    assert f": {field}: " in result.stderr, result.stderr
    assert fragment in result.stderr, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["cluster-mgmt.yaml"]


def _config(top: dict, env: dict | None = None) -> ProjectConfig:
    dev = {"provider": "kind", "agent": "dev", **({"alerts": env} if env else {})}
    return ProjectConfig.model_validate(
        {"gitlab": {"project": "g/p"}, "alerts": top, "environments": {"dev": dev}}
    )


def test_environment_fields_override_the_top_level_one_by_one() -> None:
    config = _config(
        {"url": "https://gitlab.example.com/g/p/alerts/notify/x/1.json",
         "rules": {"policy_drops": {"threshold": 2, "window": "2m"}}},
        {"rules": {"policy_drops": {"window": "1m"}, "audit_verdicts": {"enabled": False}}},
    )  # fmt: skip
    alerts = config.alerts_for("dev")
    assert alerts.rules.policy_drops.threshold == 2  # from the top level
    assert alerts.rules.policy_drops.window == "1m"  # the environment's
    assert alerts.rules.policy_drops.for_ == "5m"  # the default
    assert alerts.rules.audit_verdicts.enabled is False
    assert config.alerts_url("dev") == "https://gitlab.example.com/g/p/alerts/notify/x/1.json"


def test_defaults_and_the_derived_url() -> None:
    config = _config({})
    assert config.alerting("dev")
    assert config.alerts_url("dev") == "https://gitlab.com/g/p/prometheus/alerts/notify.json"
    off = _config({"enabled": False}, {"enabled": True})
    assert off.alerting("dev")
    no_prometheus = ProjectConfig.model_validate(
        {"gitlab": {"project": "g/p"}, "apps": {"prometheus": False},
         "environments": {"dev": {"provider": "kind", "agent": "dev"}}}
    )  # fmt: skip
    assert not no_prometheus.alerting("dev")


def test_the_key_check_follows_subchart_schemas(tmp_path: Path, run_cli, upstream_charts) -> None:
    # alertmanager.config.route is declared by the alertmanager subchart's schema, behind $ref.
    (tmp_path / "cluster-mgmt.yaml").write_text(HEAD + ENVS)
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    override = tmp_path / "values/dev/prometheus.override.yaml"
    override.write_text("alertmanager:\n  config:\n    route:\n      group_bye: [namespace]\n")
    result = run_cli("-C", tmp_path, "validate", "--charts-dir", upstream_charts, "--no-helmfile")
    assert result.exit_code == 2
    assert f"{override.relative_to(tmp_path)}:4:7: alertmanager.config.route.group_bye" in (
        result.stderr
    ), result.stderr
    assert "did you mean 'group_by'" in result.stderr
    override.write_text("alertmanager:\n  config:\n    route:\n      group_by: [namespace]\n")
    ok = run_cli("-C", tmp_path, "validate", "--charts-dir", upstream_charts, "--no-helmfile")
    assert ok.exit_code == 0, ok.stderr
