"""``cluster-mgmt siem test``: send one RFC 5424 event the way the Fluentd pipeline does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cluster_mgmt.adapters import syslog as syslog_adapter
from cluster_mgmt.core.config import CONFIG_FILE, Siem, SiemProtocol
from cluster_mgmt.core.syslog import (
    SiemFormat,
    Transport,
    check_host,
    flow_message,
    format_message,
    frame,
    sample_event,
)
from cluster_mgmt.errors import UserError


@dataclass(frozen=True, slots=True)
class SiemTarget:
    """Where and how the test event goes."""

    host: str
    port: int
    transport: Transport
    fmt: SiemFormat
    origin: str  # "flags" or "environment NAME in cluster-mgmt.yaml"


@dataclass(frozen=True, slots=True)
class TestResult:
    """A delivered test event."""

    target: SiemTarget
    delivery: syslog_adapter.Delivery
    message: bytes


def resolve_target(
    project_dir: Path,
    *,
    env: str | None,
    host: str | None,
    port: int | None,
    protocol: str | None,
) -> SiemTarget:
    """The SIEM from ``--env`` (its ``siem`` section), with flags taking precedence."""
    siem: Siem | None = None
    origin = "flags"
    if env is not None:
        from cluster_mgmt.ops.project import load_project

        project = load_project(project_dir)
        project.env_names(env)  # unknown environment: a clear error
        siem = project.config.environments[env].siem
        if siem is None and not host:
            raise UserError(f"environment {env!r} has no siem section in {CONFIG_FILE}")
        origin = f"environment {env} in {CONFIG_FILE}"
    if not host and siem is None:
        raise UserError("say where the SIEM is: --env ENV, or --host HOST --port PORT")
    chosen_host = host or (siem.host if siem else "")
    try:
        check_host(chosen_host)
    except ValueError as exc:
        raise UserError(f"--host: {exc}") from None
    fmt = SiemFormat()
    if siem is not None:
        from cluster_mgmt.core.fluentd_siem import siem_format

        fmt = siem_format(siem)
    chosen_protocol = protocol or (str(siem.protocol) if siem else SiemProtocol.UDP.value)
    return SiemTarget(
        host=chosen_host,
        port=port or (siem.port if siem else 514),
        transport=Transport(chosen_protocol),
        fmt=fmt,
        origin=origin,
    )


def send_test_event(
    target: SiemTarget,
    *,
    tls: syslog_adapter.TlsFiles,
    timeout_s: float,
    now: datetime | None = None,
) -> TestResult:
    """Build the test event with the pipeline's formatter and send it, framed as it would be."""
    if target.transport != Transport.TLS and (tls.ca_file or tls.cert_file or tls.key_file):
        raise UserError("--ca-file/--cert-file/--key-file need --protocol tls")
    if (tls.cert_file is None) != (tls.key_file is None):
        raise UserError("mutual TLS needs both --cert-file and --key-file")
    event = sample_event(now or datetime.now(UTC), syslog_adapter.local_hostname())
    message = format_message(flow_message(event, target.fmt))
    delivery = syslog_adapter.send_frame(
        frame(message, target.transport),
        host=target.host,
        port=target.port,
        transport=target.transport,
        tls=tls,
        timeout_s=timeout_s,
    )
    return TestResult(target=target, delivery=delivery, message=message)
