"""The Fluentd configuration that turns Hubble's export file into RFC 5424 syslog.

Pipeline (docs/siem.md): ``in_tail`` reads the export file (position file on the node) →
``grep`` keeps the configured namespaces → ``record_transformer`` flattens each flow into the
documented record (:data:`cluster_mgmt.core.syslog.FLOW_FIELDS`) → ``record_transformer``
builds the framed RFC 5424 message (:func:`cluster_mgmt.core.syslog.fluentd_frame_expression`)
→ the ``syslog_rfc5424`` output writes those bytes over UDP, TCP or TLS from a bounded file
buffer with exponential retry.

Every value written here is a constant, a number, or a config string validated against its
grammar (host, namespaces, APP-NAME, MSGID), so nothing can open a new directive.
"""

from __future__ import annotations

from cluster_mgmt.core import siem_tunnel
from cluster_mgmt.core.config import Siem
from cluster_mgmt.core.stack import HUBBLE_EXPORT_FILE
from cluster_mgmt.core.syslog import (
    FLOW_FIELDS,
    Facility,
    SiemFormat,
    Transport,
    fluentd_frame_expression,
)

# fluent-plugin-syslog_rfc5424 (Cloud Foundry): buffered output over udp/tcp/tls through
# Fluentd's socket helper; one write per record, so one datagram per message over UDP.
PLUGIN = "fluent-plugin-syslog_rfc5424"
PLUGIN_VERSION = "0.9.0.rc.8"
PLUGIN_INSTALL = f"{PLUGIN} -v {PLUGIN_VERSION}"
OUTPUT_TYPE = "syslog_rfc5424"

STATE_DIR = "/var/lib/fluentd-hubble"
POS_FILE = f"{STATE_DIR}/hubble-events.log.pos"
BUFFER_DIR = f"{STATE_DIR}/buffer/siem"
TLS_DIR = "/etc/fluentd/siem-tls"
TAG = "hubble.flows"
FRAME_KEY = "syslog_frame"
METRICS_PORT = 24231

# File buffer bounds: at most 512 MiB on the node; then the oldest chunk goes first.
BUFFER_TOTAL_LIMIT = "512m"
BUFFER_CHUNK_LIMIT = "2m"


def siem_format(siem: Siem) -> SiemFormat:
    """Facility, APP-NAME and MSGID of the messages for this SIEM."""
    return SiemFormat(
        facility=Facility.from_name(str(siem.facility)),
        app_name=siem.app_name,
        msgid=siem.msgid,
    )


def file_configs(siem: Siem | None) -> dict[str, str]:
    """The chart's ``fileConfigs``: the four files the chart's fluent.conf includes.

    With mutual TLS, also the tunnel's stunnel file (not ``*.conf``: Fluentd does not read it).
    """
    files = {
        "01_sources.conf": _sources(),
        "02_filters.conf": _filters(siem) if siem else "",
        "03_dispatch.conf": "",
        "04_outputs.conf": _outputs(siem),
    }
    if siem is not None and siem_tunnel.enabled(siem):
        files[siem_tunnel.CONFIG_KEY] = siem_tunnel.stunnel_config(siem)
    return files


def _sources() -> str:
    return f"""<source>
  @type tail
  @id in_tail_hubble_flows
  path {HUBBLE_EXPORT_FILE}
  pos_file {POS_FILE}
  tag {TAG}
  read_from_head true
  follow_inodes true
  <parse>
    @type json
    time_key time
    time_type string
    keep_time_key true
  </parse>
</source>
<source>
  @type prometheus
  bind 0.0.0.0
  port {METRICS_PORT}
  metrics_path /metrics
</source>"""


def _namespace_pattern(namespaces: list[str]) -> str:
    # Namespaces are validated DNS labels: no regex metacharacters to escape.
    return "/^(?:" + "|".join(namespaces) + ")$/"


def _grep(directive: str, namespaces: list[str]) -> list[str]:
    pattern = _namespace_pattern(namespaces)
    lines = [f"<filter {TAG}>", "  @type grep", "  <or>"]
    for side in ("source", "destination"):
        lines += [
            f"    <{directive}>",
            f"      key $.flow.{side}.namespace",
            f"      pattern {pattern}",
            f"    </{directive}>",
        ]
    return [*lines, "  </or>", "</filter>"]


def _filters(siem: Siem) -> str:
    lines: list[str] = []
    if siem.namespaces.include:
        lines += _grep("regexp", siem.namespaces.include)
    if siem.namespaces.exclude:
        lines += _grep("exclude", siem.namespaces.exclude)
    lines += [
        f"<filter {TAG}>",
        "  @type record_transformer",
        "  @id flatten_hubble_flow",
        "  enable_ruby true",
        "  auto_typecast true",
        "  renew_record true",
        "  <record>",
        *(f"    {field.name} ${{{field.ruby}}}" for field in FLOW_FIELDS),
        "  </record>",
        "</filter>",
        f"<filter {TAG}>",
        "  @type record_transformer",
        "  @id rfc5424_frame",
        "  enable_ruby true",
        "  auto_typecast true",
        "  renew_record true",
        "  <record>",
        f"    {FRAME_KEY} ${{{fluentd_frame_expression(siem_format(siem), _transport(siem))}}}",
        "  </record>",
        "</filter>",
    ]
    return "\n".join(lines)


def _transport(siem: Siem) -> Transport:
    return Transport(str(siem.protocol))


def _outputs(siem: Siem | None) -> str:
    if siem is None:
        # No SIEM configured: flows are read (keeping the position file current) and dropped.
        return f"<match {TAG}>\n  @type null\n</match>"
    lines = [f"<match {TAG}>", f"  @type {OUTPUT_TYPE}", "  @id out_siem"]
    if siem_tunnel.enabled(siem):
        # Mutual TLS: the same octet-counted frames go in plain TCP to the tunnel beside
        # Fluentd, which carries them in TLS with the client certificate.
        lines += [
            f"  host {siem_tunnel.LISTEN_HOST}",
            f"  port {siem_tunnel.LISTEN_PORT}",
            f"  transport {Transport.TCP}",
        ]
    else:
        lines += [f"  host {siem.host}", f"  port {siem.port}", f"  transport {_transport(siem)}"]
    if _transport(siem) == Transport.TLS and not siem_tunnel.enabled(siem):
        lines += ["  insecure false", f"  trusted_ca_path {TLS_DIR}/ca.crt"]
    lines += [
        # The frame is complete (header, SD, JSON, octet count): write it as it is.
        "  <format>",
        "    @type single_value",
        f"    message_key {FRAME_KEY}",
        "    add_newline false",
        "  </format>",
        "  <buffer>",
        "    @type file",
        f"    path {BUFFER_DIR}",
        f"    total_limit_size {BUFFER_TOTAL_LIMIT}",
        f"    chunk_limit_size {BUFFER_CHUNK_LIMIT}",
        "    overflow_action drop_oldest_chunk",
        "    flush_mode interval",
        "    flush_interval 5s",
        "    flush_at_shutdown true",
        "    retry_type exponential_backoff",
        "    retry_wait 1s",
        "    retry_exponential_backoff_base 2",
        "    retry_max_interval 60s",
        "    retry_forever true",
        "  </buffer>",
        "</match>",
    ]
    return "\n".join(lines)
