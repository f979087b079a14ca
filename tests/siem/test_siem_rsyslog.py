"""`cluster-mgmt siem test` against a real rsyslogd over UDP, TCP and TLS (mutual TLS too)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from rsyslog_server import free_port
from stored_event import check_stored

from cluster_mgmt.adapters.syslog import SyslogError, send_frame
from cluster_mgmt.core.syslog import Transport, frame

pytestmark = pytest.mark.integration


def _siem_test(run_cli, *args):
    return run_cli("siem", "test", "--timeout", "3", *args)


def _siem_test_to(run_cli, server, *extra):
    """`siem test` aimed at a started rsyslogd, over its protocol."""
    target = ["--host", "127.0.0.1", "--port", server.port, "--protocol", server.protocol]
    return _siem_test(run_cli, *target, *extra)


def test_udp_one_datagram(run_cli, rsyslog) -> None:
    server = rsyslog("udp")
    result = _siem_test_to(run_cli, server)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: test event sent to 127.0.0.1:")
    assert "one datagram" in result.stdout
    check_stored(server)


def test_tcp_octet_counted(run_cli, rsyslog) -> None:
    server = rsyslog("tcp")
    result = _siem_test_to(run_cli, server)
    assert result.exit_code == 0, result.stderr
    assert "delivered to" in result.stdout and "octet-counted" in result.stdout
    check_stored(server)


def test_tcp_framing_is_octet_counting_not_newlines(rsyslog) -> None:
    """Two frames in one write, the first with a newline inside its MSG: octet counting keeps
    them as exactly two messages (newline framing would make three)."""
    server = rsyslog("tcp")
    first = b'<134>1 - host app - - - {"line":"one\ntwo"}'
    second = b"<134>1 - host app - - - second"
    both = frame(first, Transport.TCP) + frame(second, Transport.TCP)
    send_frame(both, host="127.0.0.1", port=server.port, transport=Transport.TCP)
    raw, fields = server.wait_for_messages(2)
    assert len(raw) == 2
    assert fields[0][-1].startswith('{"line":"one') and fields[1][-1] == "second"


def test_tls(run_cli, rsyslog, pki) -> None:
    server = rsyslog("tls", pki.server_files())
    result = _siem_test_to(run_cli, server, "--ca-file", pki.ca_file)
    assert result.exit_code == 0, result.stderr
    assert "delivered to 127.0.0.1" in result.stdout
    check_stored(server)


def test_mutual_tls(run_cli, rsyslog, pki) -> None:
    server = rsyslog("tls", pki.server_files(require_client_cert=True))
    result = _siem_test_to(
        run_cli,
        server,
        *("--ca-file", pki.ca_file, "--cert-file", pki.client_cert),
        *("--key-file", pki.client_key),
    )
    assert result.exit_code == 0, result.stderr
    check_stored(server)
    key_text = pki.client_key.read_text()
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert key_text not in result.stdout + result.stderr


@pytest.mark.parametrize("client", ["none", "stranger"])
def test_mutual_tls_refuses_missing_or_foreign_client_cert(run_cli, rsyslog, pki, client) -> None:
    server = rsyslog("tls", pki.server_files(require_client_cert=True))
    args = ["--ca-file", pki.ca_file]
    if client == "stranger":
        args += ["--cert-file", pki.stranger_cert, "--key-file", pki.stranger_key]
    result = _siem_test_to(run_cli, server, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: 127.0.0.1:{server.port} (tls): ")
    expected = (
        "does not accept this client certificate"
        if client == "stranger"
        else ("requires a client certificate (--cert-file/--key-file)")
    )
    assert line.endswith(f"the server closed the TLS connection: it {expected}")
    assert server.stored() == []


def test_wrong_ca_is_a_clear_tls_verification_error(run_cli, rsyslog, pki) -> None:
    server = rsyslog("tls", pki.server_files())
    result = _siem_test_to(run_cli, server, "--ca-file", pki.other_ca_file)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"error: 127.0.0.1:{server.port} (tls): TLS verification failed: ")
    assert "certificate" in line
    assert server.stored() == []


@pytest.mark.parametrize("protocol", ["udp", "tcp", "tls"])
def test_closed_port_is_a_clear_refusal(run_cli, protocol) -> None:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    port = free_port(kind)
    result = _siem_test(run_cli, "--host", "127.0.0.1", "--port", port, "--protocol", protocol)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: 127.0.0.1:{port} ({protocol}): connection refused (nothing listens there)"
    )


def test_silent_server_is_a_timeout(run_cli) -> None:
    """A server that accepts TCP but never answers the TLS handshake."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        result = run_cli(
            "siem", "test", "--host", "127.0.0.1", "--port", port, "--protocol", "tls",
            "--timeout", "0.5",
        )  # fmt: skip
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: 127.0.0.1:{port} (tls): timed out after 0.5 s"


def test_env_reads_host_port_protocol_and_format(run_cli, rsyslog, tmp_path: Path) -> None:
    server = rsyslog("tcp")
    project = tmp_path / "project"
    project.mkdir()
    (project / "cluster-mgmt.yaml").write_text(
        "version: 1\n"
        "gitlab:\n  project: me/clusters\n"
        "environments:\n"
        "  dev:\n"
        "    provider: kind\n"
        "    agent: dev\n"
        "    siem:\n"
        "      host: 127.0.0.1\n"
        f"      port: {server.port}\n"
        "      protocol: tcp\n"
        "      facility: auth\n"
        "      app_name: cilium-hubble\n"
        "      msgid: netpol\n"
    )
    result = run_cli("-C", project, "siem", "test", "--env", "dev", "--timeout", "3")
    assert result.exit_code == 0, result.stderr
    assert "APP-NAME cilium-hubble, MSGID netpol" in result.stdout
    check_stored(server, pri=4 * 8 + 5, app="cilium-hubble", msgid="netpol")


def test_adapter_error_is_a_user_error_with_one_line() -> None:
    port = free_port(socket.SOCK_STREAM)
    with pytest.raises(SyslogError) as caught:
        send_frame(b"x", host="127.0.0.1", port=port, transport=Transport.TCP)
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.render()
