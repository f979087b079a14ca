"""Build hook (wheel and sdist): put the chart data of the pinned versions into the package.

``cluster_mgmt/_data/charts.zip`` is made from the chart files beside the checkout
(``scripts/build_chart_data.py``) and is not committed; a wheel built where they are
absent has no chart data, and says so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ChartDataHook(BuildHookInterface):  # type: ignore[misc]
    """Builds cluster_mgmt/_data/charts.zip before the wheel or sdist is assembled."""

    PLUGIN_NAME = "chart-data"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Write the bundle; include it in a wheel (an editable install reads it in place)."""
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location(
            "build_chart_data", root / "scripts" / "build_chart_data.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        upstream = module.upstream_dir([])
        written = module.build(upstream)
        if written:
            self.app.display_info(f"chart data for {', '.join(written)}")
        elif module.OUT.is_file():  # e.g. a wheel built from a source distribution
            self.app.display_info(f"{upstream} not found: using {module.OUT.name} as it is")
        else:
            self.app.display_warning(f"{upstream} not found: the package has no chart data")
        if version != "editable" and module.OUT.is_file():
            build_data["force_include"][str(module.OUT)] = "cluster_mgmt/_data/charts.zip"
