"""Helm chart repository indexes (``index.yaml``): over HTTP(S) or from local copies.

A local directory may hold ``<repo>/index.yaml`` or ``<repo>-index.yaml`` (the layout of
helm's own cache, ``~/.cache/helm/repository``), so ``--index-dir`` works offline.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from cluster_mgmt.adapters import yamlio
from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.errors import ClusterError, ConfigError, UserError

DEFAULT_TIMEOUT_S = 60.0
# Real indexes are a few MB (cilium's is the largest); more is a wrong URL.
MAX_INDEX_BYTES = 64 * 1024 * 1024


def index_url(repo_url: str) -> str:
    """The index of a chart repository URL."""
    return repo_url.rstrip("/") + "/index.yaml"


def fetch_index_text(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """GET an ``index.yaml``; every failure is one ClusterError naming the URL."""
    request = urllib.request.Request(url, headers={"Accept": "application/x-yaml, */*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            body: bytes = response.read(MAX_INDEX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ClusterError(f"chart index {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ClusterError(
            redact(f"chart index {url} unreachable: {exc.reason}"),
            hint="without network access, pass --index-dir with local copies of index.yaml",
        ) from None
    except (TimeoutError, OSError) as exc:
        raise ClusterError(redact(f"chart index {url}: {exc}")) from None
    if len(body) > MAX_INDEX_BYTES:
        raise ClusterError(f"chart index {url} is larger than {MAX_INDEX_BYTES} bytes")
    return body.decode("utf-8", errors="replace")


def read_local_index(index_dir: Path, repo_name: str) -> str | None:
    """A local copy of a repository's index, or None when the directory has none."""
    for path in (index_dir / repo_name / "index.yaml", index_dir / f"{repo_name}-index.yaml"):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def chart_versions(text: str, chart: str, source: str) -> list[str]:
    """The versions of ``chart`` listed in an index (empty when the chart is absent)."""
    try:
        data = yamlio.load_plain(text, source)
    except ConfigError as exc:
        raise UserError(f"not a chart index: {exc.render()}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise UserError(f"{source}: not a chart index (no entries:)")
    entries = data["entries"].get(chart) or []
    return [str(e["version"]) for e in entries if isinstance(e, dict) and "version" in e]
