"""The TLS client tunnel that presents the client certificate for mutual TLS (docs/siem.md).

The pinned Fluentd output hands its TLS socket only a CA, so with ``client_cert_secret`` the
pipeline still writes the same octet-counted RFC 5424 frames, over plain TCP to 127.0.0.1,
and a native sidecar (an init container with ``restartPolicy: Always``, Kubernetes >= 1.29)
runs stunnel in client mode: it verifies the SIEM's chain and name against the CA, presents
the certificate and key of the Secret, and carries the byte stream unchanged, so the SIEM
receives RFC 5425. Its configuration is a file of the chart's ``fileConfigs`` ConfigMap,
mounted into the sidecar too; every value written into it is a constant, a number, or the
validated host.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from cluster_mgmt.core.config import Siem

# The chart mounts its `fileConfigs` ConfigMap as this pod volume (templates/_pod.tpl) and
# includes only `config.d/*.conf` into Fluentd: a file with another suffix is not read by it.
CHART_CONFIG_VOLUME = "etcfluentd-config"
CONFIG_KEY = "siem-tunnel.stunnel"

CONTAINER_NAME = "siem-tunnel"
# Not checked against a registry (none is reachable where this was written): Alpine's stunnel
# 5.72 package; `siem.tunnel_image` replaces it (a mirror, or a reference pinned by digest).
DEFAULT_IMAGE = "ghcr.io/mbta/stunnel:5.72-r0-alpine-3.19.1"
LISTEN_HOST = "127.0.0.1"
LISTEN_PORT = 16514  # above 1024: the tunnel runs as a non-root user
RUN_AS = 65532  # the tunnel's user and group; the pod's fsGroup, so it can read the key

CONFIG_DIR = "/etc/siem-tunnel/config"
CA_DIR = "/etc/siem-tunnel/ca"
CLIENT_DIR = "/etc/siem-tunnel/client"
CA_FILE = f"{CA_DIR}/ca.crt"
CERT_FILE = f"{CLIENT_DIR}/tls.crt"
KEY_FILE = f"{CLIENT_DIR}/tls.key"
CA_VOLUME = "siem-tls"
CLIENT_VOLUME = "siem-client-cert"

# What a value in the generated stunnel file may hold: no space, `;`, `#`, `=`, `[` or newline
# that could end the value, open a comment or start a section.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9.:/_-]+$")


def enabled(siem: Siem | None) -> bool:
    """Whether this SIEM needs the tunnel (mutual TLS)."""
    return siem is not None and siem.client_cert_secret is not None


def _option(key: str, value: str | int) -> str:
    text = str(value)
    if not _SAFE_VALUE.fullmatch(text):
        raise ValueError(f"stunnel {key}: {text!r} cannot be written safely")
    return f"{key} = {text}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def stunnel_config(siem: Siem, *, listen_port: int = LISTEN_PORT) -> str:
    """The stunnel configuration of the tunnel to this SIEM (client mode, mutual TLS)."""
    host = siem.host
    # stunnel splits `connect` at its last colon, so an IPv6 address needs no brackets.
    name_check = (
        [_option("checkIP", host)]
        if _is_ip(host)
        else [_option("checkHost", host.rstrip(".")), _option("sni", host.rstrip("."))]
    )
    lines = [
        "; TLS client tunnel to the SIEM (cluster-mgmt, docs/siem.md). Fluentd writes RFC 5424",
        "; frames to the accept address; they leave in TLS with this pod's client certificate.",
        "foreground = yes",
        "syslog = no",
        "pid =",
        "debug = notice",
        "",
        "[siem]",
        "client = yes",
        _option("accept", f"{LISTEN_HOST}:{listen_port}"),
        _option("connect", f"{host}:{siem.port}"),
        # Resolve the SIEM's name at each connection, not once at start.
        "delay = yes",
        "sslVersionMin = TLSv1.2",
        "verifyChain = yes",
        _option("CAfile", CA_FILE),
        *name_check,
        _option("cert", CERT_FILE),
        _option("key", KEY_FILE),
    ]
    # No final newline: the chart writes each fileConfigs entry as a `|-` block scalar.
    return "\n".join(lines)


def volumes(siem: Siem) -> list[dict[str, Any]]:
    """The client certificate's Secret as a pod volume, readable by owner and group only."""
    return [
        {
            "name": CLIENT_VOLUME,
            "secret": {"secretName": siem.client_cert_secret, "defaultMode": 0o440},
        }
    ]


def sidecar(siem: Siem) -> dict[str, Any]:
    """The native sidecar container running the tunnel (an entry of ``initContainers``)."""
    return {
        "name": CONTAINER_NAME,
        "image": siem.tunnel_image or DEFAULT_IMAGE,
        # A restartable init container: started before Fluentd and kept running beside it.
        "restartPolicy": "Always",
        "command": ["stunnel", f"{CONFIG_DIR}/{CONFIG_KEY}"],
        "securityContext": {
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"memory": "64Mi"},
        },
        "volumeMounts": [
            {"name": CHART_CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": CA_VOLUME, "mountPath": CA_DIR, "readOnly": True},
            {"name": CLIENT_VOLUME, "mountPath": CLIENT_DIR, "readOnly": True},
        ],
    }
