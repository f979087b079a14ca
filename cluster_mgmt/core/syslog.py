"""RFC 5424 syslog messages for the SIEM, and the flow record they carry.

One formatter for two senders: ``cluster-mgmt siem test`` sends what :func:`format_message`
and :func:`frame` return, and the Fluentd pipeline builds the same bytes with the Ruby
expressions rendered from :data:`FLOW_FIELDS` and :func:`fluentd_frame_expression`
(docs/siem.md shows the correspondence field by field). Pure: no sockets, no clock.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

NILVALUE = "-"
# Limits of RFC 5424 section 6 (ABNF): HOSTNAME 255, APP-NAME 48, PROCID 128, MSGID 32,
# SD-NAME 32 characters of PRINTUSASCII (%d33-126).
MAX_HOSTNAME = 255
MAX_APP_NAME = 48
MAX_PROCID = 128
MAX_MSGID = 32
MAX_SD_NAME = 32

# The registered SD-ID "origin" (RFC 5424 section 7.2) names the software that sent the event.
ORIGIN_SOFTWARE = "cluster-mgmt"


class Facility(IntEnum):
    """Syslog facilities (RFC 5424 table 1), named as syslog.conf names them."""

    KERN = 0
    USER = 1
    MAIL = 2
    DAEMON = 3
    AUTH = 4
    SYSLOG = 5
    LPR = 6
    NEWS = 7
    UUCP = 8
    CRON = 9
    AUTHPRIV = 10
    FTP = 11
    NTP = 12
    SECURITY = 13
    CONSOLE = 14
    SOLARIS_CRON = 15
    LOCAL0 = 16
    LOCAL1 = 17
    LOCAL2 = 18
    LOCAL3 = 19
    LOCAL4 = 20
    LOCAL5 = 21
    LOCAL6 = 22
    LOCAL7 = 23

    @classmethod
    def from_name(cls, name: str) -> Facility:
        """``local0`` → ``Facility.LOCAL0``."""
        return cls[name.upper().replace("-", "_")]


FACILITY_NAMES = tuple(f.name.lower().replace("_", "-") for f in Facility)


class Severity(IntEnum):
    """Syslog severities (RFC 5424 table 2)."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7


class Transport(StrEnum):
    """How messages travel: one per datagram, or octet-counted in a stream."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


# A dropped flow is a warning, an audited one (would have been dropped) a notice.
VERDICT_SEVERITY = {"DROPPED": Severity.WARNING, "AUDIT": Severity.NOTICE}


def verdict_severity(verdict: object) -> Severity:
    """The severity of a flow with this Hubble verdict (informational when not listed)."""
    return VERDICT_SEVERITY.get(str(verdict), Severity.INFORMATIONAL)


# ---------------------------------------------------------------------------------------------
# Grammar checks


def is_printusascii(value: str, max_len: int) -> bool:
    """Whether ``value`` is 1..max_len characters of PRINTUSASCII (``!``..``~``)."""
    return 1 <= len(value) <= max_len and all(33 <= ord(c) <= 126 for c in value)


def header_field(value: str | None, max_len: int) -> str:
    """A header field as sent: the value when it fits the grammar, else NILVALUE."""
    if value is None or not is_printusascii(value, max_len):
        return NILVALUE
    return value


_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def check_host(value: str) -> str:
    """Return ``value`` if it is an IPv4/IPv6 address or a DNS host name, else raise.

    Raises:
        ValueError: naming what is wrong (a space, newline or other character never passes).
    """
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253 or not all(_HOST_LABEL.match(p) for p in name.split(".")):
        raise ValueError(
            f"{value!r} is not a host name or IP address (letters, digits, '-' and '.' only)"
        )
    return value


# Characters RFC 5424 allows in APP-NAME/MSGID but that cannot pass through a Fluentd
# configuration value and the Ruby expression built from it without quoting rules of their own.
CONFIG_UNSAFE = frozenset("\"'\\#$`{}")


def check_header_value(value: str, max_len: int, field: str) -> str:
    """Return ``value`` if it is PRINTUSASCII, at most ``max_len`` long and config-safe."""
    if not is_printusascii(value, max_len):
        raise ValueError(
            f"{field} must be 1 to {max_len} printable ASCII characters without spaces (RFC 5424)"
        )
    bad = sorted(set(value) & CONFIG_UNSAFE)
    if bad:
        raise ValueError(f"{field} may not contain {' '.join(bad)} (they cannot be passed safely)")
    return value


# ---------------------------------------------------------------------------------------------
# The message


@dataclass(frozen=True, slots=True)
class SdElement:
    """One STRUCTURED-DATA element: ``[id name="value" ...]``."""

    sd_id: str
    params: tuple[tuple[str, str], ...] = ()


def _check_sd_name(name: str) -> str:
    if not is_printusascii(name, MAX_SD_NAME) or set(name) & set('= ]"'):
        raise ValueError(f"{name!r} is not an SD-NAME (RFC 5424: no '=', ' ', ']' or '\"')")
    return name


def escape_param_value(value: str) -> str:
    """PARAM-VALUE escaping (RFC 5424 section 6.3.3): quote, backslash and ``]`` get a backslash."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_structured_data(elements: Sequence[SdElement]) -> str:
    """STRUCTURED-DATA: the elements side by side, or NILVALUE when there are none."""
    if not elements:
        return NILVALUE
    parts = []
    for element in elements:
        params = "".join(
            f' {_check_sd_name(name)}="{escape_param_value(value)}"'
            for name, value in element.params
        )
        parts.append(f"[{_check_sd_name(element.sd_id)}{params}]")
    return "".join(parts)


ORIGIN = SdElement("origin", (("software", ORIGIN_SOFTWARE),))


def format_timestamp(when: datetime) -> str:
    """TIMESTAMP in UTC with microseconds (RFC 5424 allows at most six fraction digits)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class SyslogMessage:
    """The fields of one RFC 5424 message."""

    facility: Facility
    severity: Severity
    timestamp: datetime | None
    hostname: str | None
    app_name: str
    procid: str | None
    msgid: str
    structured_data: tuple[SdElement, ...]
    msg: str

    @property
    def pri(self) -> int:
        """PRI: facility × 8 + severity."""
        return int(self.facility) * 8 + int(self.severity)


def format_message(message: SyslogMessage) -> bytes:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG`` in UTF-8.

    MSG is sent without a BOM (RFC 5424 MSG-ANY); it is the flow record as compact JSON.
    """
    header = " ".join(
        (
            f"<{message.pri}>1",
            format_timestamp(message.timestamp) if message.timestamp else NILVALUE,
            header_field(message.hostname, MAX_HOSTNAME),
            header_field(message.app_name, MAX_APP_NAME),
            header_field(message.procid, MAX_PROCID),
            header_field(message.msgid, MAX_MSGID),
            format_structured_data(message.structured_data),
        )
    )
    return f"{header} {message.msg}".encode()


def frame(message: bytes, transport: Transport) -> bytes:
    """Transport framing of one message.

    UDP sends the message alone in one datagram (RFC 5426); TCP and TLS prefix its length in
    octets and a space (octet counting, RFC 6587 3.4.1 / RFC 5425 4.3).
    """
    if transport == Transport.UDP:
        return message
    return str(len(message)).encode() + b" " + message


def json_msg(record: Mapping[str, Any]) -> str:
    """The record as compact JSON in key order, non-ASCII kept as UTF-8 (Ruby's ``to_json``)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Hubble flow → the flat record the SIEM receives


@dataclass(frozen=True, slots=True)
class FlowField:
    """One field of the SIEM record.

    How Python and Fluentd (a Ruby expression) compute it from a Hubble export line
    (``{"flow": {...}, "node_name": ..., "time": ...}``).
    """

    name: str
    ruby: str
    extract: Callable[[Mapping[str, Any]], Any]
    doc: str


def _dig(data: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(data, list) or len(data) <= key:
                return None
        elif not isinstance(data, Mapping):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
    return data


def _l4(event: Mapping[str, Any]) -> Mapping[str, Any]:
    l4 = _dig(event, "flow", "l4")
    return l4 if isinstance(l4, Mapping) else {}


def _port(event: Mapping[str, Any], which: str) -> Any:
    values = list(_l4(event).values())
    return _dig(values, 0, which)


def _policies(event: Mapping[str, Any], *keys: str) -> list[str]:
    names = []
    for key in keys:
        for policy in _dig(event, "flow", key) or []:
            parts = [policy.get("namespace"), policy.get("name")]
            names.append("/".join(p for p in parts if p))
    return names


_L7_PROTOCOLS = ("http", "dns", "kafka")


def _l7_protocol(event: Mapping[str, Any]) -> Any:
    l7 = _dig(event, "flow", "l7")
    if not isinstance(l7, Mapping):
        return None
    return next((k for k in l7 if k in _L7_PROTOCOLS), None)


def _peer_fields(side: str, prefix: str) -> list[FlowField]:
    def field(name: str, keys: tuple[str | int, ...], ruby: str, doc: str) -> FlowField:
        return FlowField(f"{prefix}_{name}", ruby, lambda e: _dig(e, "flow", side, *keys), doc)

    def labels(e: Mapping[str, Any]) -> list[Any]:
        return list(_dig(e, "flow", side, "labels") or [])

    dig = f'record.dig("flow", "{side}"'
    return [
        field("namespace", ("namespace",), f'{dig}, "namespace")', f"{side} namespace"),
        field("pod", ("pod_name",), f'{dig}, "pod_name")', f"{side} pod name"),
        field(
            "workload",
            ("workloads", 0, "name"),
            f'({dig}, "workloads") || []).dig(0, "name")',
            f"{side} workload name (Deployment, DaemonSet, ...)",
        ),
        field(
            "workload_kind",
            ("workloads", 0, "kind"),
            f'({dig}, "workloads") || []).dig(0, "kind")',
            f"{side} workload kind",
        ),
        FlowField(f"{prefix}_labels", f'{dig}, "labels") || []', labels, f"{side} labels"),
        field("identity", ("identity",), f'{dig}, "identity")', f"{side} security identity"),
    ]


FLOW_FIELDS: tuple[FlowField, ...] = (
    FlowField(
        "time",
        'record["time"] || record.dig("flow", "time")',
        lambda e: e.get("time") or _dig(e, "flow", "time"),
        "when the flow was observed (RFC 3339, as Hubble wrote it)",
    ),
    FlowField(
        "node",
        'record["node_name"] || record.dig("flow", "node_name")',
        lambda e: e.get("node_name") or _dig(e, "flow", "node_name"),
        "the node that observed it",
    ),
    FlowField(
        "verdict",
        'record.dig("flow", "verdict")',
        lambda e: _dig(e, "flow", "verdict"),
        "DROPPED, AUDIT, FORWARDED, ...",
    ),
    FlowField(
        "drop_reason",
        'record.dig("flow", "drop_reason_desc")',
        lambda e: _dig(e, "flow", "drop_reason_desc"),
        "why it was dropped (POLICY_DENIED, ...)",
    ),
    FlowField(
        "direction",
        'record.dig("flow", "traffic_direction")',
        lambda e: _dig(e, "flow", "traffic_direction"),
        "INGRESS or EGRESS",
    ),
    FlowField(
        "is_reply",
        'record.dig("flow", "is_reply")',
        lambda e: _dig(e, "flow", "is_reply"),
        "whether the packet is a reply",
    ),
    *_peer_fields("source", "src"),
    FlowField(
        "src_ip",
        'record.dig("flow", "IP", "source")',
        lambda e: _dig(e, "flow", "IP", "source"),
        "source IP",
    ),
    FlowField(
        "src_port",
        '(record.dig("flow", "l4") || {}).values.dig(0, "source_port")',
        lambda e: _port(e, "source_port"),
        "source port (TCP, UDP, SCTP)",
    ),
    *_peer_fields("destination", "dst"),
    FlowField(
        "dst_ip",
        'record.dig("flow", "IP", "destination")',
        lambda e: _dig(e, "flow", "IP", "destination"),
        "destination IP",
    ),
    FlowField(
        "dst_port",
        '(record.dig("flow", "l4") || {}).values.dig(0, "destination_port")',
        lambda e: _port(e, "destination_port"),
        "destination port",
    ),
    FlowField(
        "protocol",
        '(record.dig("flow", "l4") || {}).keys.first',
        lambda e: next(iter(_l4(e)), None),
        "L4 protocol: TCP, UDP, ICMPv4, ICMPv6, SCTP",
    ),
    FlowField(
        "l7_protocol",
        '(record.dig("flow", "l7") || {}).keys.find { |k| ["http", "dns", "kafka"].include?(k) }',
        _l7_protocol,
        "http, dns or kafka when Cilium parsed L7",
    ),
    FlowField(
        "l7_type",
        'record.dig("flow", "l7", "type")',
        lambda e: _dig(e, "flow", "l7", "type"),
        "REQUEST, RESPONSE or SAMPLE",
    ),
    FlowField(
        "summary",
        'record.dig("flow", "Summary")',
        lambda e: _dig(e, "flow", "Summary"),
        "Hubble's one-line L4/L7 summary (TCP flags, HTTP method and URL, DNS query)",
    ),
    FlowField(
        "policies_denied",
        '((record.dig("flow", "ingress_denied_by") || []) + (record.dig("flow", '
        '"egress_denied_by") || [])).map { |p| [p["namespace"], p["name"]].compact.reject('
        '&:empty?).join("/") }',
        lambda e: _policies(e, "ingress_denied_by", "egress_denied_by"),
        "policies that denied it (namespace/name, or name for clusterwide)",
    ),
    FlowField(
        "policies_allowed",
        '((record.dig("flow", "ingress_allowed_by") || []) + (record.dig("flow", '
        '"egress_allowed_by") || [])).map { |p| [p["namespace"], p["name"]].compact.reject('
        '&:empty?).join("/") }',
        lambda e: _policies(e, "ingress_allowed_by", "egress_allowed_by"),
        "policies that allowed it",
    ),
    FlowField(
        "policy_match_type",
        'record.dig("flow", "policy_match_type")',
        lambda e: _dig(e, "flow", "policy_match_type"),
        "how the policy matched (L3 only, L3-L4, L7, all)",
    ),
)


def flow_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The flat record of a Hubble export line, in :data:`FLOW_FIELDS` order."""
    return {f.name: f.extract(event) for f in FLOW_FIELDS}


def flow_time(event: Mapping[str, Any]) -> datetime | None:
    """The observation time of a Hubble export line (its ``time``, Fluentd's ``time_key``)."""
    text = event.get("time")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class SiemFormat:
    """What the configuration fixes about every message: facility, APP-NAME, MSGID."""

    facility: Facility = Facility.LOCAL0
    app_name: str = "hubble"
    msgid: str = "flow"


def flow_message(event: Mapping[str, Any], fmt: SiemFormat) -> SyslogMessage:
    """The RFC 5424 message the pipeline sends for one Hubble export line."""
    record = flow_record(event)
    return SyslogMessage(
        facility=fmt.facility,
        severity=verdict_severity(record["verdict"]),
        timestamp=flow_time(event),
        hostname=record["node"] if isinstance(record["node"], str) else None,
        app_name=fmt.app_name,
        procid=None,
        msgid=fmt.msgid,
        structured_data=(ORIGIN,),
        msg=json_msg(record),
    )


def sample_event(now: datetime, node: str) -> dict[str, Any]:
    """A Hubble export line for ``siem test``: an audited, would-be-dropped TCP SYN."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "flow": {
            "time": stamp,
            "verdict": "AUDIT",
            "drop_reason_desc": "POLICY_DENIED",
            "traffic_direction": "INGRESS",
            "is_reply": False,
            "IP": {"source": "192.0.2.10", "destination": "192.0.2.20", "ipVersion": "IPv4"},
            "l4": {"TCP": {"source_port": 40000, "destination_port": 8080, "flags": {"SYN": True}}},
            "source": {
                "identity": 1000,
                "namespace": "cluster-mgmt-test",
                "pod_name": "siem-test-client",
                "labels": ["k8s:app=siem-test-client"],
                "workloads": [{"name": "siem-test-client", "kind": "Deployment"}],
            },
            "destination": {
                "identity": 1001,
                "namespace": "cluster-mgmt-test",
                "pod_name": "siem-test-server",
                "labels": ["k8s:app=siem-test-server"],
                "workloads": [{"name": "siem-test-server", "kind": "Deployment"}],
            },
            "Summary": "cluster-mgmt siem test: TCP Flags: SYN",
            "ingress_denied_by": [{"name": "siem-test-deny", "namespace": "cluster-mgmt-test"}],
            "policy_match_type": 0,
        },
        "node_name": node,
        "time": stamp,
    }


# ---------------------------------------------------------------------------------------------
# The same message in Fluentd: record_transformer expressions (enable_ruby, auto_typecast)


def fluentd_frame_expression(fmt: SiemFormat, transport: Transport) -> str:
    """The Ruby expression that builds the framed message from the flat record.

    Mirrors :func:`flow_message` + :func:`frame`: PRI from facility and verdict, TIMESTAMP
    from the event time (Hubble's ``time``) in UTC with microseconds, HOSTNAME the node name
    when it is PRINTUSASCII (else ``-``), PROCID ``-``, the ``origin`` SD element, MSG the
    record's JSON; TCP/TLS prefix the byte length. It avoids ``#``, ``'`` and ``${`` so that
    it passes unchanged through Fluentd's configuration parser.
    """
    base = int(fmt.facility) * 8
    severities = ", ".join(f'"{v}" => {int(s)}' for v, s in VERDICT_SEVERITY.items())
    sd = format_structured_data((ORIGIN,))
    static = f"{check_header_value(fmt.app_name, MAX_APP_NAME, 'app_name')} - " + (
        f"{check_header_value(fmt.msgid, MAX_MSGID, 'msgid')} {sd} "
    )
    message = (
        f'm = "<" + ({base} + ({{{severities}}}[record["verdict"]] || '
        f'{int(Severity.INFORMATIONAL)})).to_s + ">1 " + '
        'time.getutc.strftime("%Y-%m-%dT%H:%M:%S.%6NZ") + " " + '
        '(h = record["node"].to_s; h.size.between?(1, 255) && h.count("^!-~").zero? ? h : "-")'
        f" + %q{{ {static}}} + record.to_json"
    )
    if transport == Transport.UDP:
        return f"{message}; m"
    return f'{message}; m.bytesize.to_s + " " + m'
