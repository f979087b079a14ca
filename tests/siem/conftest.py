"""Fixtures for the SIEM tests: a real rsyslogd per test and a CA made in the test."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rsyslog_server import Rsyslog, TlsServerFiles, ensure_rsyslog, free_port
from stunnel_process import Stunnel, ensure_stunnel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def rsyslog_available() -> None:
    reason = ensure_rsyslog(REPO)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def rsyslog(rsyslog_available: None, tmp_path: Path) -> Iterator[Callable[..., Rsyslog]]:
    """Start rsyslogd on 127.0.0.1 for a protocol (udp, tcp, tls); stopped after the test."""
    started: list[Rsyslog] = []

    def start(protocol: str, tls: TlsServerFiles | None = None) -> Rsyslog:
        workdir = tmp_path / f"rsyslog-{protocol}-{len(started)}"
        workdir.mkdir()
        server = Rsyslog(workdir, protocol, tls)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def stunnel_available() -> None:
    reason = ensure_stunnel(REPO)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def stunnel(stunnel_available: None, tmp_path: Path) -> Iterator[Callable[..., Stunnel]]:
    """Start stunnel with a rendered tunnel config (``render(listen_port)``) and PKI files."""
    started: list[Stunnel] = []

    def start(render: Callable[[int], str], *, ca: Path, cert: Path, key: Path) -> Stunnel:
        workdir = tmp_path / f"stunnel-{len(started)}"
        workdir.mkdir()
        port = free_port(socket.SOCK_STREAM)
        tunnel = Stunnel(workdir, render(port), ca, cert, key, port)
        started.append(tunnel)
        tunnel.start()
        return tunnel

    yield start
    for tunnel in started:
        tunnel.stop()


class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM
    files; plus an unrelated CA for the wrong-CA case."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self.directory = directory
        self.ca = trustme.CA()
        self.other_ca = trustme.CA()
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        client = self.ca.issue_cert("siem-client.example.com")
        self.ca_file = self._write("ca.pem", self.ca.cert_pem.bytes())
        self.other_ca_file = self._write("other-ca.pem", self.other_ca.cert_pem.bytes())
        self.server_cert = self._write(
            "server.pem", b"".join(blob.bytes() for blob in server.cert_chain_pems)
        )
        self.server_key = self._write("server.key", server.private_key_pem.bytes())
        self.client_cert = self._write(
            "client.pem", b"".join(blob.bytes() for blob in client.cert_chain_pems)
        )
        self.client_key = self._write("client.key", client.private_key_pem.bytes())
        stranger = self.other_ca.issue_cert("stranger.example.com")
        self.stranger_cert = self._write(
            "stranger.pem", b"".join(blob.bytes() for blob in stranger.cert_chain_pems)
        )
        self.stranger_key = self._write("stranger.key", stranger.private_key_pem.bytes())

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def server_files(self, *, require_client_cert: bool = False) -> TlsServerFiles:
        return TlsServerFiles(self.ca_file, self.server_cert, self.server_key, require_client_cert)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(directory)
