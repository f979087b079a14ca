"""Chart data for `validate`: the defaults, schema and subcharts of a chart version.

Where it comes from, first match wins:

1. ``--charts-dir DIR`` (``CLUSTER_MGMT_CHARTS_DIR``): ``<chart>/<version>/values.yaml``
   (+ ``values.schema.json``, ``subcharts/``) or charts unpacked by ``helm pull --untar``;
2. the data shipped inside the package for the versions this release pins
   (``cluster_mgmt/_data/charts.zip``, made when the package is built, see
   :func:`build_bundle`);
3. the cache of charts fetched before, ``$XDG_CACHE_HOME/cluster-mgmt/charts``;
4. ``helm pull`` from the chart's repository into that cache.

When none has the version, :meth:`ChartLibrary.get` returns a note saying why instead of
failing: checking values keys is worth a lot, but not worth blocking a pipeline that has no
network.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cluster_mgmt.adapters import yamlio
from cluster_mgmt.adapters.helm import Helm
from cluster_mgmt.core.chart_check import ChartData, chart_from_json, chart_to_json, commented_keys
from cluster_mgmt.core.stack import CHARTS
from cluster_mgmt.errors import ToolError

BUNDLE_NAME = "charts.zip"
# A fixed timestamp keeps the bundle byte-for-byte reproducible.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _yaml(path: Path) -> Any:
    return yamlio.to_plain(yamlio.load_plain(path.read_text(encoding="utf-8"), str(path))) or {}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _from_files(
    name: str, version: str, values_text: str, schema_text: str | None, source: str
) -> ChartData:
    values = yamlio.to_plain(yamlio.load_plain(values_text, source)) or {}
    return ChartData(
        name,
        version,
        values if isinstance(values, dict) else {},
        json.loads(schema_text) if schema_text else None,
        source,
        documented=commented_keys(values_text),
    )


def _archived_subchart(archive: Path) -> ChartData | None:
    """A dependency packed as ``charts/<name>-<version>.tgz`` inside a pulled chart."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(member: str) -> str | None:
            info = members.get(member)
            handle = tar.extractfile(info) if info is not None else None
            return handle.read().decode("utf-8") if handle is not None else None

        tops = {n.split("/", 1)[0] for n in members if n.count("/") == 1}
        for top in sorted(tops):
            values_text = read(f"{top}/values.yaml")
            if values_text is None:
                continue
            meta = yamlio.load_plain(read(f"{top}/Chart.yaml") or "{}", str(archive)) or {}
            return _from_files(
                str(meta.get("name") or top),
                str(meta.get("version", "")),
                values_text,
                read(f"{top}/values.schema.json"),
                str(archive),
            )
    return None


def _subcharts(where: Path) -> dict[str, ChartData]:
    subcharts: dict[str, ChartData] = {}
    for container in (where / "subcharts", where / "charts"):
        if not container.is_dir():
            continue
        for sub in sorted(container.iterdir()):
            if sub.is_file() and sub.name.endswith(".tgz"):
                archived = _archived_subchart(sub)
                if archived is not None:
                    subcharts[archived.name] = archived
                continue
            if not sub.is_dir():
                continue
            values = sub / "values.yaml"
            if not values.is_file():
                versions = [p for p in sub.iterdir() if (p / "values.yaml").is_file()]
                if not versions:
                    continue
                values = versions[0] / "values.yaml"
            schema_file = values.with_name("values.schema.json")
            subcharts[sub.name] = _from_files(
                sub.name,
                values.parent.name,
                values.read_text(encoding="utf-8"),
                schema_file.read_text(encoding="utf-8") if schema_file.is_file() else None,
                str(values.parent),
            )
    return subcharts


def read_chart(where: Path, chart: str, version: str) -> ChartData:
    """The chart data in one directory: ``values.yaml``, schema, subcharts."""
    schema_file = where / "values.schema.json"
    values_file = where / "values.yaml"
    values_text = values_file.read_text(encoding="utf-8")
    data = _from_files(
        chart,
        version,
        values_text,
        schema_file.read_text(encoding="utf-8") if schema_file.is_file() else None,
        str(where),
    )
    return ChartData(
        data.name,
        data.version,
        data.values,
        data.schema,
        data.source,
        _subcharts(where),
        data.documented,
    )


def _chart_dir(charts_dir: Path, chart: str, version: str) -> tuple[Path | None, str]:
    base = charts_dir / chart
    if (base / version / "values.yaml").is_file():
        return base / version, ""
    chart_yaml = base / "Chart.yaml"
    if chart_yaml.is_file():  # an unpacked chart (`helm pull --untar`)
        found = str((_yaml(chart_yaml) or {}).get("version", ""))
        if found == version:
            return base, ""
        return base, f"{chart}: checked against chart {found}, not the pinned {version}"
    if base.is_dir():
        candidates = [p for p in base.iterdir() if (p / "values.yaml").is_file()]
        if len(candidates) == 1:
            return candidates[0], (
                f"{chart}: no data for {version}; checked against {candidates[0].name}"
            )
    return None, f"{chart} {version}: no chart data in {charts_dir}; keys not checked"


def load_chart_data(charts_dir: Path, chart: str, version: str) -> tuple[ChartData | None, str]:
    """Chart defaults, schema and subcharts from a charts directory (two layouts)."""
    where, note = _chart_dir(charts_dir, chart, version)
    if where is None:
        return None, note
    return read_chart(where, chart, version if not note else where.name), note


def build_bundle(upstream: Path, out: Path) -> list[str]:
    """Write the chart data of every pinned chart version found in ``upstream`` to ``out``.

    ``upstream`` has the ``--charts-dir`` layout. The result is what ``validate`` reads
    when no charts directory is given: each chart as JSON (parsed defaults, schema,
    commented keys, subcharts) in a deflated zip, one member per chart version. Returns
    the ``chart/version`` members written.
    """
    written: list[str] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for key, pin in sorted(CHARTS.items()):
            data, note = load_chart_data(upstream, key, pin.version)
            if data is None:
                continue
            entry = {"note": note, "chart": chart_to_json(_relative_sources(data, upstream))}
            member = zipfile.ZipInfo(f"{key}/{pin.version}.json", date_time=_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(member, json.dumps(entry, sort_keys=True, separators=(",", ":")))
            written.append(f"{key}/{pin.version}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(out)
    return written


def _relative_sources(chart: ChartData, root: Path) -> ChartData:
    # Paths of the build machine do not belong in the package.
    source = Path(chart.source)
    shown = str(source.relative_to(root)) if source.is_relative_to(root) else source.name
    return ChartData(
        chart.name,
        chart.version,
        chart.values,
        chart.schema,
        shown,
        {name: _relative_sources(sub, root) for name, sub in chart.subcharts.items()},
        chart.documented,
    )


def bundle_path() -> Path | None:
    """The chart data shipped with the package, if this build has it."""
    found = resources.files("cluster_mgmt").joinpath("_data", BUNDLE_NAME)
    return Path(str(found)) if found.is_file() else None


def cache_dir() -> Path:
    """Where fetched charts are kept: ``$XDG_CACHE_HOME/cluster-mgmt/charts``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cluster-mgmt" / "charts"


@dataclass(slots=True)
class ChartLibrary:
    """Every source of chart data, asked in order; each chart version is read once."""

    charts_dir: Path | None = None
    bundle: Path | None = field(default_factory=bundle_path)
    cache: Path = field(default_factory=cache_dir)
    helm: Helm | None = None
    repo_urls: Mapping[str, str] = field(
        default_factory=lambda: {key: pin.repo_url for key, pin in CHARTS.items()}
    )
    _bundle_members: frozenset[str] | None = None

    def get(self, chart: str, version: str) -> tuple[ChartData | None, str]:
        """The data of ``chart`` (a key of ``stack.CHARTS``) at ``version``, and a note."""
        if self.charts_dir is not None:
            return load_chart_data(self.charts_dir, chart, version)
        bundled = self._from_bundle(chart, version)
        if bundled is not None:
            return bundled
        cached = self._from_cache(chart, version)
        if cached is not None:
            return cached, ""
        return self._fetch(chart, version)

    def _from_bundle(self, chart: str, version: str) -> tuple[ChartData, str] | None:
        if self.bundle is None:
            return None
        name = f"{chart}/{version}.json"
        with zipfile.ZipFile(self.bundle) as bundle:
            if self._bundle_members is None:
                self._bundle_members = frozenset(bundle.namelist())
            if name not in self._bundle_members:
                return None
            entry = json.loads(bundle.read(name))
        return chart_from_json(entry["chart"]), str(entry.get("note") or "")

    def _cached_dir(self, chart: str, version: str) -> Path:
        return self.cache / chart / version

    def _from_cache(self, chart: str, version: str) -> ChartData | None:
        root = self._cached_dir(chart, version)
        name = CHARTS[chart].chart if chart in CHARTS else chart
        where = root / name
        if not (where / "values.yaml").is_file():
            return None
        return read_chart(where, chart, version)

    def _fetch(self, chart: str, version: str) -> tuple[ChartData | None, str]:
        url = self.repo_urls.get(chart)
        if url is None:
            return None, f"{chart} {version}: no chart repository known; keys not checked"
        name = CHARTS[chart].chart if chart in CHARTS else chart
        target = self._cached_dir(chart, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{version}."))
        try:
            (self.helm or Helm()).pull(url, name, version, staging)
            if not (staging / name / "values.yaml").is_file():
                return None, f"{chart} {version}: the chart from {url} has no values.yaml"
            if target.exists():  # another run fetched it meanwhile
                shutil.rmtree(staging, ignore_errors=True)
            else:
                staging.replace(target)
        except ToolError as exc:
            reason = exc.message.splitlines()[0] if exc.message else "helm pull failed"
            return None, (
                f"{chart} {version}: not shipped with this cluster-mgmt and not fetched "
                f"({reason}); its values keys are not checked (pass --charts-dir DIR)"
            )
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return read_chart(target / name, chart, version), ""
