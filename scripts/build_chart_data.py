#!/usr/bin/env python3
"""Write the chart data `validate` uses by default: cluster_mgmt/_data/charts.zip.

The data comes from the chart files next to the checkout (``../shared/upstream/charts`` in
the ``--charts-dir`` layout, or the directory given as the first argument, or
``CLUSTER_MGMT_UPSTREAM_CHARTS``); only the chart versions pinned in
``cluster_mgmt/core/stack.py`` (and their subcharts) are kept, as parsed JSON in a deflated
zip. The file is not committed: ``make venv`` and the wheel build (``hatch_build.py``) run
this. Exit status 0 also when the chart files are absent: the package then has no bundle
and `validate` falls back to its cache and ``helm pull``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "cluster_mgmt" / "_data" / "charts.zip"


def upstream_dir(argv: list[str]) -> Path:
    """Where the chart files are: argument, environment, or ../shared next to the checkout."""
    if argv:
        return Path(argv[0])
    env = os.environ.get("CLUSTER_MGMT_UPSTREAM_CHARTS")
    if env:
        return Path(env)
    return ROOT.parent / "shared" / "upstream" / "charts"


def build(upstream: Path, out: Path = OUT) -> list[str]:
    """Build the bundle; an empty list when ``upstream`` is absent."""
    if not upstream.is_dir():
        return []
    sys.path.insert(0, str(ROOT))
    from cluster_mgmt.adapters.chart_data import build_bundle

    return build_bundle(upstream, out)


def main() -> int:
    """Build from the argument, $CLUSTER_MGMT_UPSTREAM_CHARTS or ../shared; always exit 0."""
    upstream = upstream_dir(sys.argv[1:])
    written = build(upstream)
    if not written:
        print(
            f"chart data: {upstream} not found; the package will have no chart data "
            "(validate then uses its cache and helm pull)",
            file=sys.stderr,
        )
        return 0
    print(
        f"chart data: {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KiB): "
        + ", ".join(written)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
