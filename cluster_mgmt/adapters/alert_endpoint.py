"""The GitLab alert integration's webhook endpoint: POST one Alertmanager-format payload.

Failures become one-line :class:`~cluster_mgmt.errors.ClusterError` messages (a wrong key,
a wrong URL, an unreachable host); the key is sent only in the ``Authorization`` header and
every text that leaves here goes through :func:`redact`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cluster_mgmt.adapters.secrets import redact, register_secret
from cluster_mgmt.errors import ClusterError

DEFAULT_TIMEOUT_S = 15.0
# GitLab answers with a small JSON body; anything longer is not read.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the endpoint answered to an accepted alert."""

    status: int
    body: str


def post_alert(
    url: str, payload: dict[str, Any], key: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Delivery:
    """POST ``payload`` as JSON to ``url`` with ``Authorization: Bearer <key>``.

    Raises:
        ClusterError: the endpoint refused the key (401/403), does not exist (404), failed
            otherwise, or could not be reached in ``timeout_s``.
    """
    register_secret(key, "GITLAB_ALERTS_KEY")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key}",
            "User-Agent": "cluster-mgmt",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body = response.read(MAX_BODY_BYTES).decode("utf-8", "replace")
            return Delivery(response.status, redact(body))
    except urllib.error.HTTPError as exc:
        raise ClusterError(_refusal(url, exc.code)) from None
    except urllib.error.URLError as exc:
        raise ClusterError(
            redact(f"GitLab alert endpoint {url} unreachable: {exc.reason}")
        ) from None
    except TimeoutError:
        raise ClusterError(
            f"GitLab alert endpoint {url} did not answer within {timeout_s:g}s"
        ) from None
    except OSError as exc:
        raise ClusterError(redact(f"GitLab alert endpoint {url}: {exc}")) from None


def _refusal(url: str, status: int) -> str:
    if status in (401, 403):
        return (
            f"GitLab refused the alert key (HTTP {status}) at {url}: GITLAB_ALERTS_KEY is not "
            "this integration's authorization key, or the integration is inactive"
        )
    if status == 404:
        return (
            f"no GitLab alert integration at {url} (HTTP 404): run `cluster-mgmt gitlab "
            "bootstrap`, which writes the integration's URL into alerts.url (or see Settings > "
            "Monitor > Alerts)"
        )
    if status == 422:
        return f"GitLab rejected the alert payload (HTTP 422) at {url}"
    return f"GitLab alert endpoint {url} answered HTTP {status}"
