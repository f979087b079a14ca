"""The Fluentd values of a rendered project through the real fluentd chart (0.6.0): a
DaemonSet whose mounted ConfigMap tails the Hubble export and sends RFC 5424 to the configured
host, port and transport, with the node's state on hostPath, the output plugin installed and,
with mutual TLS, the tunnel sidecar. Needs CLUSTER_MGMT_CHART_CACHE (chart repositories are
unreachable here); skips with that reason otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fluentd_conf import parse_files
from ruamel.yaml import YAML

from cluster_mgmt.adapters.helm import Helm
from cluster_mgmt.core import fluentd_siem, siem_tunnel
from cluster_mgmt.core.stack import HUBBLE_EXPORT_DIR, HUBBLE_EXPORT_FILE

pytestmark = pytest.mark.integration
yaml = YAML(typ="safe", pure=True)

CASES = {
    "udp": {"host": "10.20.30.40", "port": 514, "protocol": "udp"},
    "tcp": {"host": "siem.internal.example", "port": 601, "protocol": "tcp"},
    "tls": {"host": "siem.example.com", "port": 6514, "protocol": "tls", "tls_secret": "siem-ca"},
    "mutual-tls": {
        "host": "siem.example.com",
        "port": 6514,
        "protocol": "tls",
        "tls_secret": "siem-ca",
        "client_cert_secret": "siem-client",
    },
}


def _render_project(tmp_path: Path, run_cli, siem: dict[str, Any]) -> Path:
    lines = [
        "version: 1",
        "gitlab:",
        "  project: me/clusters",
        "environments:",
        "  dev:",
        "    provider: kind",
        "    agent: dev",
        "    siem:",
        *(f"      {key}: {value}" for key, value in siem.items()),
    ]
    (tmp_path / "cluster-mgmt.yaml").write_text("\n".join(lines) + "\n")
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 0, result.stderr
    return tmp_path / "values" / "dev" / "fluentd.yaml"


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def _mounted_from(pod: dict[str, Any], container: dict[str, Any], path: str) -> dict[str, Any]:
    """The pod volume a container mounts at ``path``."""
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"].rstrip("/") == path]
    return _by_name(pod["volumes"])[mount["name"]]


@pytest.mark.parametrize("case", list(CASES))
def test_daemonset_carries_the_pipeline(
    case: str, tmp_path: Path, run_cli, helm_bin: str, real_chart
) -> None:
    siem = CASES[case]
    values = _render_project(tmp_path, run_cli, siem)
    out = Helm(helm_bin).template(
        "fluentd", real_chart("fluentd", "0.6.0"), "logging", [values], kube_version="1.31"
    )
    docs = [d for d in yaml.load_all(out) if d]
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    (daemonset,) = [d for d in docs if d["kind"] == "DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    fluentd = _by_name(pod["containers"])["fluentd"]

    # The chart's fluent.conf includes config.d/*.conf; config.d is our fileConfigs ConfigMap.
    main = config_maps[_mounted_from(pod, fluentd, "/etc/fluent")["configMap"]["name"]]
    assert "@include config.d/*.conf" in main["fluent.conf"]
    files = config_maps[_mounted_from(pod, fluentd, "/etc/fluent/config.d")["configMap"]["name"]]
    conf = parse_files(files)

    (tail,) = [s for s in conf.find("source") if s.params["@type"] == "tail"]
    assert tail.params["path"] == HUBBLE_EXPORT_FILE
    match = conf.one("match")
    assert match.params["@type"] == "syslog_rfc5424"
    assert "syslog_frame" in conf.find("filter")[-1].one("record").params
    tunnel = case == "mutual-tls"
    expected = (
        (siem_tunnel.LISTEN_HOST, str(siem_tunnel.LISTEN_PORT), "tcp")
        if tunnel
        else (siem["host"], str(siem["port"]), siem["protocol"])
    )
    assert (match.params["host"], match.params["port"], match.params["transport"]) == expected

    # The export directory and the position/buffer directory are the node's (hostPath).
    export = _mounted_from(pod, fluentd, HUBBLE_EXPORT_DIR)
    assert export["hostPath"]["path"] == HUBBLE_EXPORT_DIR
    state = _mounted_from(pod, fluentd, fluentd_siem.STATE_DIR)
    assert state["hostPath"]["path"] == fluentd_siem.STATE_DIR
    assert tail.params["pos_file"].startswith(fluentd_siem.STATE_DIR + "/")
    assert match.one("buffer").params["path"].startswith(fluentd_siem.STATE_DIR + "/")

    # The chart installs the output plugin before starting Fluentd.
    command = fluentd["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    script = [line.strip() for line in command[2].splitlines() if line.strip()]
    assert script == [
        f"fluent-gem install {fluentd_siem.PLUGIN} -v {fluentd_siem.PLUGIN_VERSION}",
        "exec /fluentd/entrypoint.sh",
    ]

    if case == "tls":
        ca = _mounted_from(pod, fluentd, fluentd_siem.TLS_DIR)
        assert ca["secret"]["secretName"] == "siem-ca"
        assert match.params["trusted_ca_path"] == f"{fluentd_siem.TLS_DIR}/ca.crt"
    if not tunnel:
        assert "initContainers" not in pod
        assert siem_tunnel.CONFIG_KEY not in files
        return

    # Mutual TLS: the native sidecar with the Secret mounted and the tunnel file of the same
    # ConfigMap, listening where Fluentd sends.
    (sidecar,) = pod["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    client = _mounted_from(pod, sidecar, siem_tunnel.CLIENT_DIR)
    assert client["secret"]["secretName"] == "siem-client"
    assert _mounted_from(pod, sidecar, siem_tunnel.CA_DIR)["secret"]["secretName"] == "siem-ca"
    tunnel_config = _mounted_from(pod, sidecar, siem_tunnel.CONFIG_DIR)["configMap"]
    fluentd_config = _mounted_from(pod, fluentd, "/etc/fluent/config.d")["configMap"]
    assert tunnel_config["name"] == fluentd_config["name"]
    config_path = sidecar["command"][-1]
    assert config_path == f"{siem_tunnel.CONFIG_DIR}/{siem_tunnel.CONFIG_KEY}"
    stunnel = files[siem_tunnel.CONFIG_KEY].splitlines()
    assert f"accept = {match.params['host']}:{match.params['port']}" in stunnel
    assert f"connect = {siem['host']}:{siem['port']}" in stunnel
    assert f"cert = {siem_tunnel.CLIENT_DIR}/tls.crt" in stunnel
    assert f"key = {siem_tunnel.CLIENT_DIR}/tls.key" in stunnel
    assert pod["securityContext"]["fsGroup"] == sidecar["securityContext"]["runAsGroup"]
    # Fluentd itself never mounts the client key.
    assert all(m["name"] != "siem-client-cert" for m in fluentd["volumeMounts"])
