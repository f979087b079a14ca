"""`cluster-mgmt init`: flags, refusals, what a new project holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

yaml = YAML(typ="safe", pure=True)


def _init(run_cli, target: Path, *extra: str):
    return run_cli(
        "init", target, "--agent-project", "g/cm", "--env", "prod", "--agent", "a1", *extra
    )


def test_init_kind_creates_a_complete_project(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "demo"
    result = _init(run_cli, target, "--provider", "kind")
    assert result.exit_code == 0, result.stderr
    for rel in [
        "cluster-mgmt.yaml",
        "environments.yaml",
        "helmfile.d/00-cilium.yaml.gotmpl",
        "values/prod/cilium.yaml",
        "values/prod/cilium.override.yaml",
        "values/prod/ingress.yaml",
        "values/prod/prometheus.yaml",
        "values/prod/fluentd.yaml",
        "values/prod/gitlab-agent.yaml",
        ".gitlab/agents/a1/config.yaml",
        ".gitlab-ci.yml",
        "policies/default-deny-ingress.yaml",
    ]:
        assert (target / rel).is_file(), rel
    assert "provider: kind" in (target / "cluster-mgmt.yaml").read_text()
    # The project is consistent: render has nothing to do.
    assert run_cli("-C", target, "render", "--check").exit_code == 0


def test_init_refuses_a_non_empty_directory(tmp_path: Path, run_cli) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = _init(run_cli, tmp_path, "--provider", "kind")
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_without_tty_names_the_missing_flag(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cluster_mgmt", "init", str(tmp_path / "x"), "--env", "e"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--provider" in result.stderr
    assert not (tmp_path / "x").exists()


def test_init_gke_requires_native_routing_cidr(tmp_path: Path, run_cli) -> None:
    result = _init(run_cli, tmp_path / "g", "--provider", "gke")
    assert result.exit_code == 2
    assert "--native-routing-cidr" in result.stderr
    ok = _init(run_cli, tmp_path / "g", "--provider", "gke", "--native-routing-cidr", "10.4.0.0/14")
    assert ok.exit_code == 0, ok.stderr
    values = yaml.load((tmp_path / "g/values/prod/cilium.yaml").read_text())
    assert values["ipv4NativeRoutingCIDR"] == "10.4.0.0/14"
    assert values["gke"] == {"enabled": True}


def test_init_with_invalid_value_leaves_nothing(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "bad"
    result = _init(run_cli, target, "--provider", "gke", "--native-routing-cidr", "10.4.0.1/14")
    assert result.exit_code == 2
    assert "native_routing_cidr" in result.stderr
    assert not target.exists()


def test_init_siem_tls_and_ingress_nginx_warning(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "p"
    result = _init(
        run_cli,
        target,
        "--provider", "eks",
        "--ingress", "ingress-nginx",
        "--siem-host", "siem.example.com",
        "--siem-port", "6514",
        "--siem-protocol", "tls",
        "--siem-tls-secret", "siem-ca",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "ingress-nginx was retired" in result.stderr
    fluentd = yaml.load((target / "values/prod/fluentd.yaml").read_text())
    outputs = fluentd["fileConfigs"]["04_outputs.conf"]
    assert "@type syslog_rfc5424" in outputs
    assert "host siem.example.com" in outputs and "port 6514" in outputs
    assert "transport tls" in outputs
    assert "trusted_ca_path /etc/fluentd/siem-tls/ca.crt" in outputs
    assert {"name": "siem-tls", "secret": {"secretName": "siem-ca"}} in fluentd["volumes"]
    ingress = yaml.load((target / "values/prod/ingress.yaml").read_text())
    annotations = ingress["controller"]["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"


def test_no_siem_means_no_output(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "p"
    assert _init(run_cli, target, "--provider", "kind").exit_code == 0
    fluentd = yaml.load((target / "values/prod/fluentd.yaml").read_text())
    assert "syslog_rfc5424" not in fluentd["fileConfigs"]["04_outputs.conf"]
    assert "plugins" not in fluentd
    assert "@type null" in fluentd["fileConfigs"]["04_outputs.conf"]


def test_siem_host_flag_cannot_inject_yaml(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "p"
    host = "siem.example.com\n    apps:\n      fluentd: false\n#"
    result = _init(run_cli, target, "--provider", "kind", "--siem-host", host)
    assert result.exit_code == 2
    assert "--siem-host: " in result.stderr and "not a host name or IP address" in result.stderr
    assert not target.exists()
