"""``cluster-mgmt siem``: check the path to the SIEM before deploying."""

from __future__ import annotations

from pathlib import Path

import click

from cluster_mgmt.cli import state
from cluster_mgmt.cli.options import env_option, timeout_option

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("siem")
def siem() -> None:
    """SIEM export (RFC 5424 syslog from Hubble through Fluentd)."""


@siem.command("test")
@env_option("Environment whose siem section gives host, port, protocol and format.")
@click.option("--host", help="SIEM host name or IP (overrides the environment's).")
@click.option("--port", type=click.IntRange(1, 65535), help="SIEM port.")
@click.option("--protocol", type=click.Choice(("udp", "tcp", "tls")), help="Transport.")
@click.option("--ca-file", type=_FILE, help="CA certificate (PEM) that verifies the SIEM (tls).")
@click.option("--cert-file", type=_FILE, help="Client certificate (PEM) for mutual TLS.")
@click.option("--key-file", type=_FILE, help="Client private key (PEM, unencrypted).")
@timeout_option("5s", "How long to wait for the connection (5s, or seconds: 0.5).", maximum=120)
@click.pass_context
def test_cmd(
    ctx: click.Context,
    env: str | None,
    host: str | None,
    port: int | None,
    protocol: str | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    timeout: float,
) -> None:
    """Send one RFC 5424 test event, byte for byte as the Fluentd pipeline frames it.

    Exit 0 when it was sent (TCP/TLS: accepted by the server; UDP: no refusal came back),
    2 on refusal, timeout or TLS failure.
    """
    from cluster_mgmt.adapters.syslog import TlsFiles
    from cluster_mgmt.ops.siem import resolve_target, send_test_event

    target = resolve_target(
        state(ctx).project_dir, env=env, host=host, port=port, protocol=protocol
    )
    result = send_test_event(
        target,
        tls=TlsFiles(ca_file=ca_file, cert_file=cert_file, key_file=key_file),
        timeout_s=timeout,
    )
    delivery = result.delivery
    how = "octet-counted" if delivery.acknowledged else "one datagram"
    verb = "delivered to" if delivery.acknowledged else "sent to"
    line = (
        f"ok: test event {verb} {delivery.peer}: {delivery.octets} octets, RFC 5424, {how}, "
        f"APP-NAME {target.fmt.app_name}, MSGID {target.fmt.msgid}"
    )
    if not delivery.acknowledged:
        line += " (UDP has no acknowledgement: look for it in the SIEM)"
    click.echo(line)
