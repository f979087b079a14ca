"""The one redaction helper: secret values never reach a log line or an error message.

Secrets are known two ways: by the environment variables that carry them (agent, GitLab and
alert tokens, SIEM keys), and by registration when a secret is learned at run time (a new
agent token created through the API). Every adapter that prints or raises text from a
subprocess or an HTTP answer passes it through :func:`redact`.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Mapping

# Variables whose values are secrets wherever they appear.
SECRET_ENV = (
    "GITLAB_AGENT_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "GITLAB_ALERTS_KEY",
    "SIEM_TLS_KEY",
)
# Shorter values are not replaced: they would turn ordinary words into placeholders.
MIN_SECRET_LEN = 4

_lock = threading.Lock()
_registered: dict[str, str] = {}


def register_secret(value: str, label: str = "secret") -> None:
    """Redact ``value`` (shown as ``<label>``) from now on, for the rest of the process."""
    if len(value) >= MIN_SECRET_LEN:
        with _lock:
            _registered[value] = label


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every known secret value replaced by ``<NAME>``.

    Each value is also found base64-encoded (shown as ``<NAME (base64)>``), as a Secret's
    ``data`` holds it.

    Args:
        text: a log line, command output or error message.
        env: the environment to read secret variables from (default: ``os.environ``).
    """
    source = env if env is not None else os.environ
    pairs = [(source.get(name) or "", name) for name in SECRET_ENV]
    with _lock:
        pairs += list(_registered.items())
    # A Secret manifest carries the value base64-encoded (helm output, a failed render).
    pairs += [
        (base64.b64encode(secret.encode()).decode(), f"{name} (base64)")
        for secret, name in list(pairs)
        if len(secret) >= MIN_SECRET_LEN
    ]
    # Longest first, so a secret containing another is replaced whole.
    for secret, name in sorted(pairs, key=lambda p: -len(p[0])):
        if len(secret) >= MIN_SECRET_LEN and secret in text:
            text = text.replace(secret, f"<{name}>")
    return text
