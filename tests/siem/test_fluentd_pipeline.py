"""The rendered Fluentd configuration, parsed back: sections, directives, the output plugin, per
protocol and option; and its Ruby expressions, run by a real Ruby, produce the same bytes as
the core formatter that `siem test` uses."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fluentd_conf import Section, parse_files

from cluster_mgmt.core import fluentd_siem, siem_tunnel
from cluster_mgmt.core.config import ProjectConfig, Siem
from cluster_mgmt.core.stack import HUBBLE_EXPORT_FILE
from cluster_mgmt.core.syslog import (
    FLOW_FIELDS,
    SiemFormat,
    Transport,
    flow_message,
    format_message,
    frame,
)
from cluster_mgmt.core.values import cilium_values, fluentd_values


def _config(siem: dict[str, Any] | None) -> ProjectConfig:
    env: dict[str, Any] = {"provider": "kind", "agent": "dev"}
    if siem is not None:
        env["siem"] = siem
    return ProjectConfig.model_validate(
        {"gitlab": {"project": "me/clusters"}, "environments": {"dev": env}}
    )


def _render(siem: dict[str, Any] | None) -> tuple[dict[str, Any], Section]:
    values = fluentd_values(_config(siem), "dev")
    return values, parse_files(values["fileConfigs"])


def _match(conf: Section) -> Section:
    return conf.one("match")


def _filters(conf: Section) -> list[Section]:
    return conf.find("filter")


def test_source_tails_the_hubble_export_with_a_host_position_file() -> None:
    values, conf = _render({"host": "siem.example.com"})
    tail = next(s for s in conf.find("source") if s.params["@type"] == "tail")
    assert tail.params["path"] == HUBBLE_EXPORT_FILE
    assert tail.params["pos_file"].startswith(fluentd_siem.STATE_DIR + "/")
    assert tail.params["tag"] == "hubble.flows"
    parse = tail.one("parse")
    assert parse.params == {
        "@type": "json",
        "time_key": "time",
        "time_type": "string",
        "keep_time_key": "true",
    }
    # The position file and the buffer live on the node (hostPath), not in the pod.
    state = next(v for v in values["volumes"] if v["name"] == "fluentd-state")
    assert state["hostPath"]["path"] == fluentd_siem.STATE_DIR
    mount = next(m for m in values["volumeMounts"] if m["name"] == "fluentd-state")
    assert mount["mountPath"] == fluentd_siem.STATE_DIR
    assert values["kind"] == "DaemonSet"


@pytest.mark.parametrize(
    ("protocol", "extra", "octet_counted"),
    [("udp", {}, False), ("tcp", {}, True), ("tls", {"tls_secret": "siem-ca"}, True)],
)
def test_output_per_protocol(protocol: str, extra: dict[str, Any], octet_counted: bool) -> None:
    values, conf = _render(
        {"host": "siem.example.com", "port": 6514, "protocol": protocol, **extra}
    )
    assert values["plugins"] == ["fluent-plugin-syslog_rfc5424 -v 0.9.0.rc.8"]
    match = _match(conf)
    assert match.arg == "hubble.flows"
    params = match.params
    assert params["@type"] == "syslog_rfc5424"
    assert (params["host"], params["port"], params["transport"]) == (
        "siem.example.com",
        "6514",
        protocol,
    )
    if protocol == "tls":
        assert params["trusted_ca_path"] == f"{fluentd_siem.TLS_DIR}/ca.crt"
        assert params["insecure"] == "false"
        secret = {"name": "siem-tls", "secret": {"secretName": "siem-ca"}}
        assert secret in values["volumes"]
    else:
        assert "trusted_ca_path" not in params
        assert all(v["name"] != "siem-tls" for v in values["volumes"])
    # No tunnel without client_cert_secret: Fluentd talks to the SIEM itself.
    assert "initContainers" not in values and "podSecurityContext" not in values
    assert siem_tunnel.CONFIG_KEY not in values["fileConfigs"]
    fmt = match.one("format").params
    assert fmt == {"@type": "single_value", "message_key": "syslog_frame", "add_newline": "false"}
    buffer = match.one("buffer").params
    assert buffer["@type"] == "file"
    assert buffer["path"].startswith(fluentd_siem.STATE_DIR + "/")
    assert buffer["total_limit_size"] == "512m"
    assert buffer["retry_type"] == "exponential_backoff"
    assert buffer["retry_max_interval"] == "60s"
    frame_filter = _filters(conf)[-1]
    expression = frame_filter.one("record").params["syslog_frame"]
    assert expression.endswith('m.bytesize.to_s + " " + m}') == octet_counted
    assert frame_filter.params["@type"] == "record_transformer"


def _stunnel_sections(text: str) -> dict[str, dict[str, str]]:
    """stunnel's configuration syntax: ``[service]`` sections, ``key = value``, ``;`` comments."""
    sections: dict[str, dict[str, str]] = {"": {}}
    current = sections[""]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"line {number}: {line!r}"
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"line {number}: {line!r} is not key = value"
        assert key.strip() not in current, f"line {number}: {key.strip()} set twice"
        current[key.strip()] = value.strip()
    return sections


def _mounts(container: dict[str, Any]) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in container["volumeMounts"]}


@pytest.mark.parametrize(
    ("host", "name_check"),
    [
        ("siem.example.com", {"checkHost": "siem.example.com", "sni": "siem.example.com"}),
        ("10.0.0.5", {"checkIP": "10.0.0.5"}),
        ("2001:db8::5", {"checkIP": "2001:db8::5"}),
    ],
)
def test_mutual_tls_sends_to_the_tunnel_sidecar(host: str, name_check: dict[str, str]) -> None:
    siem = {
        "host": host,
        "port": 6514,
        "protocol": "tls",
        "tls_secret": "siem-ca",
        "client_cert_secret": "siem-client",
    }
    values, conf = _render(siem)
    # Fluentd: the same octet-counted frames, in plain TCP to the tunnel on 127.0.0.1.
    params = _match(conf).params
    assert (params["host"], params["port"], params["transport"]) == (
        "127.0.0.1",
        str(siem_tunnel.LISTEN_PORT),
        "tcp",
    )
    assert "trusted_ca_path" not in params
    expression = _filters(conf)[-1].one("record").params["syslog_frame"]
    assert expression.endswith('m.bytesize.to_s + " " + m}')
    # The tunnel's configuration: a file of the chart's fileConfigs ConfigMap, not *.conf.
    assert not siem_tunnel.CONFIG_KEY.endswith(".conf")
    tunnel = _stunnel_sections(values["fileConfigs"][siem_tunnel.CONFIG_KEY])
    assert tunnel[""] == {"foreground": "yes", "syslog": "no", "pid": "", "debug": "notice"}
    service = tunnel["siem"]
    assert service["accept"] == f"{params['host']}:{params['port']}"
    assert service["connect"] == f"{host}:6514"
    assert service["client"] == service["verifyChain"] == service["delay"] == "yes"
    assert service["sslVersionMin"] == "TLSv1.2"
    assert {k: v for k, v in service.items() if k in ("checkHost", "checkIP", "sni")} == name_check
    # The sidecar: a native sidecar (restartable init container) with the files it names.
    (sidecar,) = values["initContainers"]
    assert sidecar["name"] == "siem-tunnel"
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == siem_tunnel.DEFAULT_IMAGE
    assert sidecar["command"] == ["stunnel", f"{siem_tunnel.CONFIG_DIR}/{siem_tunnel.CONFIG_KEY}"]
    assert sidecar["securityContext"]["runAsNonRoot"] is True
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = _mounts(sidecar)
    assert mounts == {
        "etcfluentd-config": siem_tunnel.CONFIG_DIR,  # the chart's volume of fileConfigs
        "siem-tls": siem_tunnel.CA_DIR,
        "siem-client-cert": siem_tunnel.CLIENT_DIR,
    }
    assert all(m["readOnly"] for m in sidecar["volumeMounts"])
    assert service["CAfile"] == f"{mounts['siem-tls']}/ca.crt"
    assert service["cert"] == f"{mounts['siem-client-cert']}/tls.crt"
    assert service["key"] == f"{mounts['siem-client-cert']}/tls.key"
    volumes = {v["name"]: v for v in values["volumes"]}
    client_secret = volumes["siem-client-cert"]["secret"]
    assert client_secret == {"secretName": "siem-client", "defaultMode": 0o440}
    assert volumes["siem-tls"]["secret"] == {"secretName": "siem-ca"}
    assert values["podSecurityContext"] == {"fsGroup": sidecar["securityContext"]["runAsGroup"]}
    # Fluentd itself mounts neither the CA nor the client key.
    assert {m["name"] for m in values["volumeMounts"]} == {"hubble-export", "fluentd-state"}


def test_tunnel_image_can_be_replaced() -> None:
    image = "registry.example.com/mirror/stunnel@sha256:" + "0" * 64
    values, _ = _render(
        {
            "host": "siem",
            "protocol": "tls",
            "tls_secret": "ca",
            "client_cert_secret": "client",
            "tunnel_image": image,
        }
    )
    assert values["initContainers"][0]["image"] == image


def test_stunnel_config_refuses_a_value_that_would_open_a_directive() -> None:
    # Config validation refuses such a host first; the renderer refuses it on its own too.
    siem = Siem.model_construct(
        host="siem.example.com\n[evil]", port=6514, protocol="tls", client_cert_secret="c"
    )
    with pytest.raises(ValueError, match="cannot be written safely"):
        siem_tunnel.stunnel_config(siem)


def test_flatten_filter_lists_every_documented_field_in_order() -> None:
    _, conf = _render({"host": "10.0.0.9"})
    flatten = _filters(conf)[0]
    assert flatten.params["@type"] == "record_transformer"
    assert (flatten.params["enable_ruby"], flatten.params["auto_typecast"]) == ("true", "true")
    assert flatten.params["renew_record"] == "true"
    record = flatten.one("record").params
    assert list(record) == [f.name for f in FLOW_FIELDS]
    for value in record.values():
        # One whole-value placeholder: record_transformer evaluates it as Ruby and keeps its type.
        assert value.startswith("${") and value.endswith("}") and value.count("${") == 1
        assert " #" not in value  # would start a comment in Fluentd's syntax
    docs = (Path(__file__).resolve().parents[2] / "docs" / "siem.md").read_text()
    for field in FLOW_FIELDS:
        assert f"| `{field.name}` |" in docs, f"{field.name} is not documented in docs/siem.md"


def test_namespace_include_and_exclude() -> None:
    _, conf = _render(
        {"host": "siem", "namespaces": {"include": ["shop", "payments"], "exclude": ["shop-dev"]}}
    )
    include, exclude = (f for f in _filters(conf) if f.params["@type"] == "grep")
    regexps = include.one("or").find("regexp")
    assert [r.params["key"] for r in regexps] == [
        "$.flow.source.namespace",
        "$.flow.destination.namespace",
    ]
    assert {r.params["pattern"] for r in regexps} == {"/^(?:shop|payments)$/"}
    excludes = exclude.one("or").find("exclude")
    assert {e.params["pattern"] for e in excludes} == {"/^(?:shop-dev)$/"}
    assert len(excludes) == 2


def test_no_namespace_filter_by_default() -> None:
    _, conf = _render({"host": "siem"})
    assert all(f.params["@type"] != "grep" for f in _filters(conf))


def test_facility_app_name_msgid_in_the_frame() -> None:
    _, conf = _render({"host": "siem", "facility": "auth", "app_name": "k8s.flows", "msgid": "np"})
    expression = _filters(conf)[-1].one("record").params["syslog_frame"]
    assert expression.startswith('${m = "<" + (32 + ')
    assert '%q{ k8s.flows - np [origin software="cluster-mgmt"] }' in expression


def test_without_siem_flows_are_read_and_dropped() -> None:
    values, conf = _render(None)
    assert _match(conf).params == {"@type": "null"}
    assert "plugins" not in values
    assert _filters(conf) == []


@pytest.mark.parametrize(
    ("verdicts", "allow_list"),
    [
        (None, ['{"verdict": ["DROPPED", "AUDIT"]}']),
        (["DROPPED"], ['{"verdict": ["DROPPED"]}']),
        ("all", []),
    ],
)
def test_hubble_allow_list_follows_verdicts(verdicts: Any, allow_list: list[str]) -> None:
    siem: dict[str, Any] = {"host": "siem"}
    if verdicts is not None:
        siem["verdicts"] = verdicts
    export = cilium_values(_config(siem), "dev")["hubble"]["export"]["static"]
    assert export["allowList"] == allow_list


# ---------------------------------------------------------------------------------------------
# The Ruby expressions, run by Ruby, against the Python formatter

_RUBY_HARNESS = r"""
require "json"
require "time"
input = JSON.parse($stdin.read)
# As record_transformer (enable_ruby, auto_typecast) evaluates a whole-value placeholder.
def expander(expr) = eval("lambda { |tag, time, record| " + expr + " }")
fields = input["fields"].map { |name, expr| [name, expander(expr)] }
framer = expander(input["frame"])
out = input["events"].map do |event|
  time = Time.parse(event["time"])  # in_tail's json parser: time_key time, time_type string
  flat = {}
  fields.each { |name, fn| flat[name] = fn.call("hubble.flows", time, event) }
  framer.call("hubble.flows", time, flat).unpack1("H*")
end
puts JSON.generate(out)
"""

EVENTS: list[dict[str, Any]] = [
    {
        "flow": {
            "time": "2026-11-23T06:01:02.123456789Z",
            "verdict": "DROPPED",
            "drop_reason_desc": "POLICY_DENIED",
            "traffic_direction": "EGRESS",
            "IP": {"source": "10.0.1.5", "destination": "10.0.2.7", "ipVersion": "IPv4"},
            "l4": {"TCP": {"source_port": 51234, "destination_port": 5432, "flags": {"SYN": True}}},
            "source": {
                "identity": 4242,
                "namespace": "shop",
                "pod_name": "web-6d9f-abcde",
                "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=shop"],
                "workloads": [{"name": "web", "kind": "Deployment"}],
            },
            "destination": {
                "identity": 4343,
                "namespace": "db",
                "pod_name": "postgres-0",
                "labels": ["k8s:app=postgres"],
                "workloads": [{"name": "postgres", "kind": "StatefulSet"}],
            },
            "Summary": "TCP Flags: SYN",
            "egress_denied_by": [{"name": "deny-db", "namespace": "shop", "labels": []}],
            "ingress_denied_by": [{"name": "cluster-deny"}],
            "policy_match_type": 2,
            "is_reply": False,
        },
        "node_name": "kind-worker",
        "time": "2026-11-23T06:01:02.123456789Z",
    },
    {
        "flow": {
            "verdict": "AUDIT",
            "traffic_direction": "INGRESS",
            "IP": {"source": "fd00::1", "destination": "fd00::2", "ipVersion": "IPv6"},
            "l4": {"TCP": {"source_port": 40000, "destination_port": 80}},
            "l7": {"type": "REQUEST", "http": {"method": "GET", "url": 'http://api/ü?q="x"'}},
            "source": {"namespace": "front", "labels": ["k8s:team=ünïcødé", "tab=\t"]},
            "destination": {"namespace": "api", "pod_name": "api-1"},
            "Summary": 'HTTP/1.1 GET http://api/ü?q="x"] \\ \u0001',
            "ingress_allowed_by": [{"name": "allow-front", "namespace": "api"}],
        },
        "node_name": "node with space",
        "time": "2026-11-23T06:01:03Z",
    },
    {
        "flow": {
            "verdict": "FORWARDED",
            "IP": {"source": "10.0.0.1", "destination": "1.1.1.1"},
            "l4": {"ICMPv4": {"type": 8}},
            "source": {"namespace": "batch"},
            "destination": {"labels": ["reserved:world"]},
        },
        "time": "2026-11-23T06:01:04.5+01:00",
    },
]


def _ruby() -> str:
    found = shutil.which("ruby")
    if found is None:
        pytest.skip("ruby is not installed (Debian package ruby; scripts/install-system.sh)")
    return found


@pytest.mark.parametrize("protocol", ["udp", "tcp", "tls"])
def test_ruby_expressions_build_the_bytes_of_the_core_formatter(
    protocol: str, tmp_path: Path
) -> None:
    ruby = _ruby()
    siem: dict[str, Any] = {"host": "siem", "protocol": protocol, "facility": "local4"}
    siem |= {"app_name": "hubble-x", "msgid": "flow.v1"}
    if protocol == "tls":
        siem["tls_secret"] = "siem-ca"
    _, conf = _render(siem)
    flatten, framer = _filters(conf)
    fields = [[name, value[2:-1]] for name, value in flatten.one("record").params.items()]
    frame_expr = framer.one("record").params["syslog_frame"][2:-1]
    script = tmp_path / "harness.rb"
    script.write_text(_RUBY_HARNESS)
    done = subprocess.run(
        [ruby, str(script)],
        input=json.dumps({"fields": fields, "frame": frame_expr, "events": EVENTS}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    from_ruby = [bytes.fromhex(h) for h in json.loads(done.stdout)]
    fmt = SiemFormat(facility=fluentd_siem.Facility.LOCAL4, app_name="hubble-x", msgid="flow.v1")
    from_python = [frame(format_message(flow_message(e, fmt)), Transport(protocol)) for e in EVENTS]
    assert from_ruby == from_python
    # Octet counts are bytes, not characters (the second event is not ASCII).
    if protocol != "udp":
        count, _, message = from_python[1].partition(b" ")
        assert int(count) == len(message) > len(message.decode())
