"""Sending syslog frames to a SIEM over UDP, TCP or TLS (sockets live here and nowhere else).

Every failure becomes a :class:`SyslogError` with one line that says what happened: refused,
timed out, name not resolved, TLS verification failed, TLS handshake refused. Certificates and
keys are read by the TLS library from the files given; their content is never logged.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cluster_mgmt.core.syslog import Transport
from cluster_mgmt.errors import ClusterError

DEFAULT_TIMEOUT_S = 5.0
# After the last byte, how long to listen for the peer refusing it (ICMP port unreachable on
# UDP, a TLS alert when the server rejects our client certificate).
SETTLE_S = 0.5


class SyslogError(ClusterError):
    """The SIEM could not be reached or refused the connection."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Files for TLS.

    Attributes:
        ca_file: the CA that verifies the server (None: the system store).
        cert_file: the client certificate chain, for mutual TLS.
        key_file: its private key (unencrypted).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to a frame that left without an error."""

    peer: str
    octets: int
    acknowledged: bool  # False for UDP: nothing tells the sender a datagram arrived


def local_hostname() -> str:
    """This machine's host name: the HOSTNAME of the test event (the pipeline sends the node's)."""
    return socket.gethostname()


def send_frame(
    frame: bytes,
    *,
    host: str,
    port: int,
    transport: Transport,
    tls: TlsFiles | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Delivery:
    """Send one framed syslog message; raise :class:`SyslogError` with one clear line."""
    where = f"{host}:{port} ({transport})"
    try:
        if transport == Transport.UDP:
            return _send_udp(frame, host, port, timeout_s, where)
        context = _tls_context(tls or TlsFiles(), where) if transport == Transport.TLS else None
        with_cert = tls is not None and tls.cert_file is not None
        return _send_stream(frame, host, port, timeout_s, context, where, with_cert)
    except ssl.SSLCertVerificationError as exc:
        raise SyslogError(
            f"{where}: TLS verification failed: {exc.verify_message or exc.reason}"
        ) from None
    except ssl.SSLError as exc:
        raise SyslogError(f"{where}: TLS handshake failed: {_ssl_reason(exc)}") from None
    except ConnectionRefusedError:
        raise SyslogError(f"{where}: connection refused (nothing listens there)") from None
    except TimeoutError:
        raise SyslogError(f"{where}: timed out after {timeout_s:g} s") from None
    except socket.gaierror as exc:
        raise SyslogError(f"{where}: cannot resolve {host!r}: {exc.strerror}") from None
    except ConnectionResetError:
        raise SyslogError(f"{where}: the server closed the connection") from None
    except OSError as exc:
        raise SyslogError(f"{where}: {exc.strerror or exc}") from None


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = exc.reason or str(exc)
    return reason.replace("_", " ").lower() if reason.isupper() else reason


def _tls_context(files: TlsFiles, where: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(files.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise SyslogError(f"cannot use CA file {files.ca_file}: {_describe(exc)}") from None
    if files.cert_file is not None:
        try:
            # An empty password makes an encrypted key fail here instead of prompting.
            context.load_cert_chain(
                str(files.cert_file), files.key_file and str(files.key_file), ""
            )
        except (OSError, ssl.SSLError) as exc:
            raise SyslogError(
                f"cannot use client certificate {files.cert_file} / key "
                f"{files.key_file or files.cert_file}: {_describe(exc)}"
            ) from None
    return context


def _describe(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return _ssl_reason(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _send_udp(frame: bytes, host: str, port: int, timeout_s: float, where: str) -> Delivery:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.settimeout(timeout_s)
        sock.connect(address)
        sock.send(frame)
        # A closed UDP port answers with ICMP port unreachable: a connected socket reports it
        # as ECONNREFUSED on the next receive. Silence means "sent", not "received".
        sock.settimeout(SETTLE_S)
        try:
            sock.recv(1)
        except TimeoutError:
            pass
    return Delivery(peer=where, octets=len(frame), acknowledged=False)


def _send_stream(
    frame: bytes,
    host: str,
    port: int,
    timeout_s: float,
    context: ssl.SSLContext | None,
    where: str,
    with_cert: bool,
) -> Delivery:
    raw = socket.create_connection((host, port), timeout=timeout_s)
    with raw:
        sock: socket.socket = raw
        if context is not None:
            sock = context.wrap_socket(raw, server_hostname=host)
        sock.sendall(frame)
        # TLS 1.3 servers reject a client certificate after the handshake: an alert arrives on
        # the next read. Plain syslog servers never answer, so a quiet socket is success.
        sock.settimeout(SETTLE_S)
        try:
            if sock.recv(1) == b"" and context is not None:
                why = (
                    "does not accept this client certificate"
                    if with_cert
                    else ("requires a client certificate (--cert-file/--key-file)")
                )
                raise SyslogError(f"{where}: the server closed the TLS connection: it {why}")
        except TimeoutError:
            pass
        if context is not None and isinstance(sock, ssl.SSLSocket):
            try:
                sock.unwrap()
            except (OSError, ssl.SSLError):
                pass  # the message is already delivered; a rough close does not undo it
    return Delivery(peer=where, octets=len(frame), acknowledged=True)
