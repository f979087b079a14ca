"""Mutual TLS in the pipeline, with real programs: the rendered stunnel config run by a real
stunnel (Debian stunnel4), our formatter writing to it over plain TCP as Fluentd's output does,
and a real rsyslogd that requires client certificates."""

from __future__ import annotations

from typing import Any

import pytest
from fluentd_conf import parse_files
from stored_event import check_stored

from cluster_mgmt.core import siem_tunnel
from cluster_mgmt.core.config import ProjectConfig, Siem
from cluster_mgmt.core.values import fluentd_values

pytestmark = pytest.mark.integration


def _mutual_tls(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "protocol": "tls",
        "tls_secret": "siem-ca",
        "client_cert_secret": "siem-client",
    }


def _values(siem: dict[str, Any]) -> dict[str, Any]:
    config = ProjectConfig.model_validate(
        {
            "gitlab": {"project": "me/clusters"},
            "environments": {"dev": {"provider": "kind", "agent": "dev", "siem": siem}},
        }
    )
    return fluentd_values(config, "dev")


def _through(run_cli, port: int):
    """What Fluentd's output does with mutual TLS: octet-counted frames over TCP to 127.0.0.1."""
    return run_cli(
        "siem", "test", "--timeout", "3", "--host", "127.0.0.1", "--port", port, "--protocol", "tcp"
    )  # fmt: skip


def _wait_session_end(tunnel) -> str:
    """The tunnel's log once its TLS session to the SIEM has ended."""
    return tunnel.wait_for_log(r"Connection (closed|reset)")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # checkIP, checkHost + SNI
def test_tunnel_presents_the_client_certificate(run_cli, rsyslog, stunnel, pki, host) -> None:
    server = rsyslog("tls", pki.server_files(require_client_cert=True))
    siem_doc = _mutual_tls(host, server.port)
    siem = Siem.model_validate(siem_doc)
    # The file the sidecar reads is this rendering (at the production listen port).
    values = _values(siem_doc)
    assert values["fileConfigs"][siem_tunnel.CONFIG_KEY] == siem_tunnel.stunnel_config(siem)
    tunnel = _tunnel(stunnel, pki, siem)
    result = _through(run_cli, tunnel.port)
    assert result.exit_code == 0, result.stderr
    check_stored(server)
    log = tunnel.wait_for_log("Certificate accepted")
    assert "depth=0" in log  # the SIEM's certificate was verified against the CA


def _tunnel(stunnel, pki, siem: Siem, *, ca=None, cert=None, key=None):
    return stunnel(
        lambda port: siem_tunnel.stunnel_config(siem, listen_port=port),
        ca=ca or pki.ca_file,
        cert=cert or pki.client_cert,
        key=key or pki.client_key,
    )


def _then_the_right_tunnel_delivers(run_cli, server, stunnel, pki, siem: Siem) -> None:
    """The control: after the refused session ended, a correct tunnel to the same server
    delivers, and that one event is all the server stored."""
    result = _through(run_cli, _tunnel(stunnel, pki, siem).port)
    assert result.exit_code == 0, result.stderr
    check_stored(server)


def test_tunnel_with_a_client_certificate_of_another_ca_is_refused(
    run_cli, rsyslog, stunnel, pki
) -> None:
    server = rsyslog("tls", pki.server_files(require_client_cert=True))
    siem = Siem.model_validate(_mutual_tls("127.0.0.1", server.port))
    tunnel = _tunnel(stunnel, pki, siem, cert=pki.stranger_cert, key=pki.stranger_key)
    _through(run_cli, tunnel.port)  # the frame reaches the tunnel; the SIEM refuses the peer
    _wait_session_end(tunnel)
    assert "not permitted to talk to peer, certificate invalid" in server.output()
    assert server.stored() == []
    _then_the_right_tunnel_delivers(run_cli, server, stunnel, pki, siem)


def test_tunnel_refuses_a_siem_certificate_of_another_ca(run_cli, rsyslog, stunnel, pki) -> None:
    server = rsyslog("tls", pki.server_files(require_client_cert=True))
    siem = Siem.model_validate(_mutual_tls("127.0.0.1", server.port))
    tunnel = _tunnel(stunnel, pki, siem, ca=pki.other_ca_file)
    _through(run_cli, tunnel.port)
    log = _wait_session_end(tunnel)
    assert "Certificate accepted" not in log
    assert "certificate verify failed" in log.lower() or "verification error" in log.lower(), log
    assert server.stored() == []
    _then_the_right_tunnel_delivers(run_cli, server, stunnel, pki, siem)


def test_without_the_tunnel_no_client_certificate_is_presented(run_cli, rsyslog, pki) -> None:
    """protocol tls without client_cert_secret: no sidecar; Fluentd's output connects to the
    SIEM itself with only a CA (the plugin has no client certificate option), which a SIEM
    requiring client certificates refuses."""
    server = rsyslog("tls", pki.server_files(require_client_cert=True))
    values = _values(
        {"host": "127.0.0.1", "port": server.port, "protocol": "tls", "tls_secret": "siem-ca"}
    )
    assert "initContainers" not in values
    assert siem_tunnel.CONFIG_KEY not in values["fileConfigs"]
    match = parse_files(values["fileConfigs"]).one("match")
    assert (match.params["host"], match.params["transport"]) == ("127.0.0.1", "tls")
    assert not {k for k in match.params if "cert" in k or "key" in k} - {"trusted_ca_path"}
    result = run_cli(
        "siem", "test", "--timeout", "3", "--host", "127.0.0.1", "--port", server.port,
        "--protocol", "tls", "--ca-file", pki.ca_file,
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "it requires a client certificate (--cert-file/--key-file)"
    )
    assert server.stored() == []
