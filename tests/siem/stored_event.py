"""What every test that sends `siem test`'s event checks in rsyslog's store."""

from __future__ import annotations

import json
import socket

from rfc5424 import parse

from cluster_mgmt.core.syslog import FLOW_FIELDS

FIELDS = [f.name for f in FLOW_FIELDS]


def check_stored(server, *, pri: int = 16 * 8 + 5, app: str = "hubble", msgid: str = "flow"):
    raw, fields = server.wait_for_messages(1)
    assert len(raw) == 1, raw
    message = parse(raw[0])
    assert (message.pri, message.version) == (pri, 1)
    assert (message.app_name, message.procid, message.msgid) == (app, "-", msgid)
    assert message.hostname == socket.gethostname()
    assert message.structured_data == [("origin", [("software", "cluster-mgmt")])]
    record = json.loads(message.msg)
    assert list(record) == FIELDS
    assert record["verdict"] == "AUDIT" and record["drop_reason"] == "POLICY_DENIED"
    assert record["src_namespace"] == record["dst_namespace"] == "cluster-mgmt-test"
    assert (record["src_ip"], record["dst_ip"]) == ("192.0.2.10", "192.0.2.20")
    assert (record["src_port"], record["dst_port"], record["protocol"]) == (40000, 8080, "TCP")
    assert record["policies_denied"] == ["cluster-mgmt-test/siem-test-deny"]
    assert record["time"].startswith(message.timestamp[:19])
    # rsyslog's own RFC 5424 parser agrees field by field.
    (pri_, version, _stamp, host, app_, procid, msgid_, sd, msg) = fields[0]
    assert (int(pri_), version, host, app_, procid, msgid_) == (
        pri,
        "1",
        message.hostname,
        app,
        "-",
        msgid,
    )
    assert sd == '[origin software="cluster-mgmt"]'
    assert json.loads(msg) == record
    return message
