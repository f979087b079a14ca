"""Malformed configs: each gives file:line, the field and a clear message, exit 2, no files."""

from __future__ import annotations

from pathlib import Path

import pytest

GOOD_HEAD = """version: 1
gitlab:
  project: g/cluster-management
environments:
  dev:
    provider: kind
    agent: dev
"""

# (id, config text, line, field, message fragment)
CASES = [
    ("unknown-top-key", GOOD_HEAD + "extra: 1\n", 8, "extra", "unknown key 'extra'"),
    (
        "misspelled-env-key",
        GOOD_HEAD + "    provder: eks\n",
        8,
        "environments.dev.provder",
        "did you mean 'provider'",
    ),
    (
        "bad-provider",
        GOOD_HEAD.replace("provider: kind", "provider: aks"),
        6,
        "environments.dev.provider",
        "'eks', 'gke' or 'kind'",
    ),
    (
        "missing-agent",
        GOOD_HEAD.replace("    agent: dev\n", ""),
        5,
        "environments.dev.agent",
        "required field is missing",
    ),
    (
        "missing-gitlab-project",
        GOOD_HEAD.replace("  project: g/cluster-management\n", "  url: https://gitlab.com\n"),
        2,
        "gitlab.project",
        "required field is missing",
    ),
    (
        "bad-gitlab-url",
        GOOD_HEAD.replace("gitlab:\n", "gitlab:\n  url: gitlab.example.com\n"),
        3,
        "gitlab.url",
        "http(s) URL",
    ),
    (
        "gke-without-cidr",
        GOOD_HEAD.replace("provider: kind", "provider: gke"),
        5,
        "environments.dev",
        "native_routing_cidr",
    ),
    (
        "bad-cidr",
        GOOD_HEAD.replace("provider: kind", "provider: gke")
        + "    cilium:\n      native_routing_cidr: 10.0.0.1/8\n",
        9,
        "environments.dev.cilium.native_routing_cidr",
        "not a network CIDR",
    ),
    (
        "bad-ingress",
        GOOD_HEAD + "    ingress:\n      controller: haproxy\n",
        9,
        "environments.dev.ingress.controller",
        "'traefik', 'ingress-nginx' or 'cilium'",
    ),
    (
        "siem-port-range",
        GOOD_HEAD + "    siem:\n      host: siem\n      port: 70000\n",
        10,
        "environments.dev.siem.port",
        "less than or equal to 65535",
    ),
    (
        "siem-tls-without-secret",
        GOOD_HEAD + "    siem:\n      host: siem\n      protocol: tls\n",
        8,
        "environments.dev.siem",
        "tls_secret",
    ),
    (
        "siem-client-cert-without-tls",
        GOOD_HEAD + "    siem:\n      host: siem\n      protocol: tcp\n"
        "      client_cert_secret: siem-client\n",
        8,
        "environments.dev.siem",
        "client_cert_secret (mutual TLS) is only used with protocol: tls",
    ),
    (
        "siem-client-cert-secret-name",
        GOOD_HEAD + "    siem:\n      host: siem\n      protocol: tls\n      tls_secret: ca\n"
        "      client_cert_secret: Siem_Client\n",
        12,
        "environments.dev.siem.client_cert_secret",
        "should match pattern",
    ),
    (
        "siem-tunnel-image-injection",
        GOOD_HEAD + "    siem:\n      host: siem\n      protocol: tls\n      tls_secret: ca\n"
        "      client_cert_secret: client\n      tunnel_image: 'stunnel:5 --debug'\n",
        13,
        "environments.dev.siem.tunnel_image",
        "should match pattern",
    ),
    (
        "siem-host-injection",
        GOOD_HEAD + '    siem:\n      host: "siem.example.com\\n  @type null"\n',
        9,
        "environments.dev.siem.host",
        "not a host name or IP address",
    ),
    (
        "siem-host-space",
        GOOD_HEAD + "    siem:\n      host: siem example\n",
        9,
        "environments.dev.siem.host",
        "not a host name or IP address",
    ),
    (
        "siem-app-name-too-long",
        GOOD_HEAD + "    siem:\n      host: siem\n      app_name: " + "a" * 49 + "\n",
        10,
        "environments.dev.siem.app_name",
        "1 to 48 printable ASCII",
    ),
    (
        "siem-msgid-quote",
        GOOD_HEAD + "    siem:\n      host: siem\n      msgid: 'fl\"ow'\n",
        10,
        "environments.dev.siem.msgid",
        "may not contain",
    ),
    (
        "siem-facility",
        GOOD_HEAD + "    siem:\n      host: siem\n      facility: local9\n",
        10,
        "environments.dev.siem.facility",
        "'local7'",
    ),
    (
        "siem-verdict",
        GOOD_HEAD + "    siem:\n      host: siem\n      verdicts: [DROPPED, DENIED]\n",
        10,
        "environments.dev.siem.verdicts",
        "unknown verdict 'DENIED'",
    ),
    (
        "siem-namespace",
        GOOD_HEAD + "    siem:\n      host: siem\n      namespaces:\n        include: [Shop]\n",
        11,
        "environments.dev.siem.namespaces.include.0",
        "pattern",
    ),
    (
        "bad-metric",
        GOOD_HEAD + "    cilium:\n      hubble_metrics: [dns, kafka]\n",
        9,
        "environments.dev.cilium.hubble_metrics.1",
        "Input should be",
    ),
    (
        "audit-mode-not-bool",
        GOOD_HEAD + "    cilium:\n      policy_audit_mode: sometimes\n",
        9,
        "environments.dev.cilium.policy_audit_mode",
        "valid boolean",
    ),
    (
        "chart-range",
        GOOD_HEAD + "charts:\n  cilium: ^1.19\n",
        9,
        "charts.cilium",
        "exact chart version",
    ),
    (
        "env-name",
        GOOD_HEAD.replace("  dev:\n", "  Dev_1:\n"),
        4,
        "environments",
        "lowercase",
    ),
    (
        "duplicate-key",
        GOOD_HEAD + "    agent: other\n",
        8,
        None,
        "duplicate key",
    ),
    ("bad-yaml", GOOD_HEAD + "    base_domain: [unclosed\n", 9, None, "invalid YAML"),
    ("not-a-mapping", "- just\n- a list\n", 1, None, "must be a mapping"),
    (
        "shared-agent",
        GOOD_HEAD + "  prod:\n    provider: kind\n    agent: dev\n",
        4,
        "environments",
        "share agent 'dev'",
    ),
    ("wrong-version", GOOD_HEAD.replace("version: 1", "version: 2"), 1, "version", "1"),
    (
        "apps-not-bool",
        GOOD_HEAD + "apps:\n  fluentd: maybe\n",
        9,
        "apps.fluentd",
        "valid boolean",
    ),
    (
        "bad-domain",
        GOOD_HEAD + "    base_domain: not a domain\n",
        8,
        "environments.dev.base_domain",
        "DNS name",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_malformed_config(tmp_path: Path, run_cli, text, line, field, fragment) -> None:
    config = tmp_path / "cluster-mgmt.yaml"
    config.write_text(text)
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr
    assert f"{config}:{line}:" in result.stderr, result.stderr
    if field is not None:
        assert f": {field}: " in result.stderr, result.stderr
    assert fragment in result.stderr, result.stderr
    # Nothing half-written: the config is the only file.
    assert [p.name for p in tmp_path.iterdir()] == ["cluster-mgmt.yaml"]


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15


def test_missing_config_names_the_directory(tmp_path: Path, run_cli) -> None:
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 2
    assert f"no cluster-mgmt.yaml in {tmp_path}" in result.stderr
