"""`cluster-mgmt validate`: config, values keys against the charts, policies, helmfile."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_mgmt.adapters import yamlio
from cluster_mgmt.adapters.helm import Helmfile
from cluster_mgmt.core import render as core_render
from cluster_mgmt.core.chart_check import (
    ChartData,
    commented_keys,
    schema_problems,
    unknown_keys,
)
from cluster_mgmt.core.values_merge import merge_values
from cluster_mgmt.errors import ConfigError, Location, ToolError, UserError
from cluster_mgmt.ops.project import load_project, plan_render

POLICY_KINDS = {
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("cilium.io/v2", "CiliumNetworkPolicy"),
    ("cilium.io/v2", "CiliumClusterwideNetworkPolicy"),
}


@dataclass(slots=True)
class ValidationReport:
    """What validate checked, noted, and found wrong."""

    checked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def raise_for_problems(self) -> None:
        """Fail (exit 2) listing every problem."""
        if self.problems:
            raise UserError(
                f"{len(self.problems)} problem(s):\n" + "\n".join(self.problems),
                hint="fix the files named above; `cluster-mgmt values RELEASE --env ENV` shows "
                "what helm receives",
            )


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _load_yaml(path: Path) -> Any:
    return yamlio.to_plain(yamlio.load_file(path)) or {}


def _chart_dir(charts_dir: Path, chart: str, version: str) -> tuple[Path | None, str]:
    base = charts_dir / chart
    if (base / version / "values.yaml").is_file():
        return base / version, ""
    chart_yaml = base / "Chart.yaml"
    if chart_yaml.is_file():  # an unpacked chart (`helm pull --untar`)
        found = str((_load_yaml(chart_yaml) or {}).get("version", ""))
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
    subcharts: dict[str, ChartData] = {}
    for container in (where / "subcharts", where / "charts"):
        if not container.is_dir():
            continue
        for sub in sorted(container.iterdir()):
            values = sub / "values.yaml"
            if not values.is_file():
                versions = [p for p in sub.iterdir() if (p / "values.yaml").is_file()]
                if not versions:
                    continue
                values = versions[0] / "values.yaml"
            schema_file = values.with_name("values.schema.json")
            subcharts[sub.name] = ChartData(
                sub.name,
                values.parent.name,
                _load_yaml(values),
                _load_json(schema_file) if schema_file.is_file() else None,
                str(values.parent),
                documented=commented_keys(values.read_text(encoding="utf-8")),
            )
    schema_file = where / "values.schema.json"
    data = ChartData(
        chart,
        version if not note else where.name,
        _load_yaml(where / "values.yaml"),
        _load_json(schema_file) if schema_file.is_file() else None,
        str(where),
        subcharts,
        commented_keys((where / "values.yaml").read_text(encoding="utf-8")),
    )
    return data, note


def _check_release(
    project_root: Path, env: str, release: str, chart: ChartData, report: ValidationReport
) -> None:
    gen_rel = core_render.values_path(env, release)
    over_rel = core_render.override_path(env, release)
    defaults = chart.effective_defaults()
    docs: list[tuple[str, Any]] = []
    for rel in (gen_rel, over_rel):
        file = project_root / rel
        if file.is_file():
            docs.append((str(rel), yamlio.load_file(file, str(rel))))
    merged: dict[str, Any] = {}
    for name, doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            report.problems.append(f"{Location(name, 1, 1)}: values must be a mapping")
            continue
        for problem in unknown_keys(
            yamlio.to_plain(doc), defaults, chart.key_schema(), documented=chart.all_documented()
        ):
            loc = yamlio.locate(doc, problem.path, name)
            report.problems.append(f"{loc}: {loc.field}: {problem.message}")
        merged = merge_values(merged, yamlio.to_plain(doc))
    for problem in schema_problems(merged, chart):
        # Point at the last file that sets the path (the override wins).
        name, doc = next(((n, d) for n, d in reversed(docs) if _has_path(d, problem.path)), docs[0])
        loc = yamlio.locate(doc, problem.path, name)
        report.problems.append(f"{loc}: {loc.field or '(values)'}: {problem.message}")


def _has_path(doc: Any, path: tuple[Any, ...]) -> bool:
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return bool(path)


def _check_policies(project_root: Path, report: ValidationReport) -> None:
    from cluster_mgmt.core.policy.documents import parse_policies
    from cluster_mgmt.ops.policy_manifests import load_manifests

    policies = project_root / "policies"
    if not policies.is_dir():
        return
    try:
        docs = load_manifests([policies])
    except ConfigError as exc:
        report.problems.append(exc.render())
        return
    for doc in docs:
        kind = (doc.obj.get("apiVersion"), doc.obj.get("kind"))
        if kind not in POLICY_KINDS:
            report.problems.append(
                f"{_relative(doc.file, project_root)}: {kind[1]} {_name(doc.obj)} is not a "
                "NetworkPolicy, CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy"
            )
    parsed = parse_policies(docs)
    for finding in parsed.findings:
        where = f"{finding.location}: " if finding.location else ""
        text = _relative(f"{where}{finding.message}", project_root)
        # An unknown field is most likely a typo the API server would reject or prune.
        if finding.severity == "error" or finding.code == "unknown-field":
            report.problems.append(text)
        elif finding.severity == "warning":
            report.notes.append(text)
    report.checked.append(f"policies: {len(parsed.policies)} policies parse")


def _name(obj: Any) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("name") or "(no name)") if isinstance(meta, dict) else "(no name)"


def _relative(text: str, root: Path) -> str:
    return text.replace(f"{root}/", "")


def validate_project(
    project_dir: Path,
    *,
    charts_dir: Path | None,
    run_helmfile: bool = True,
    env: str | None = None,
    helmfile: Helmfile | None = None,
) -> ValidationReport:
    """Run every check; problems are collected, not raised one at a time."""
    report = ValidationReport()
    project = load_project(project_dir)
    report.checked.append("config: cluster-mgmt.yaml")
    plan = plan_render(project_dir, project.config)
    if plan.stale:
        names = ", ".join(str(p) for p in plan.stale)
        report.problems.append(
            f"generated files are stale or edited: {names} (run `cluster-mgmt render`)"
        )
    envs = project.env_names(env)
    if charts_dir is None:
        report.notes.append(
            "no --charts-dir: values keys not checked against the charts "
            "(see `cluster-mgmt validate --help`)"
        )
    else:
        cache: dict[tuple[str, str], tuple[ChartData | None, str]] = {}
        for env_name in envs:
            for release in core_render.enabled_releases(project.config, env_name):
                pin = core_render.release_chart(project.config, env_name, release)
                if pin is None:
                    continue
                if pin not in cache:
                    cache[pin] = load_chart_data(charts_dir, *pin)
                    if cache[pin][1]:
                        report.notes.append(cache[pin][1])
                chart = cache[pin][0]
                if chart is None:
                    continue
                before = len(report.problems)
                _check_release(project_dir, env_name, release, chart, report)
                if len(report.problems) == before:
                    report.checked.append(
                        f"values: {env_name}/{release} against {pin[0]} {chart.version}"
                    )
    _check_policies(project_dir, report)
    if run_helmfile:
        runner = helmfile or Helmfile()
        for env_name in envs:
            try:
                runner.build(project_dir, env_name)
            except ToolError as exc:
                report.problems.append(exc.render())
            else:
                report.checked.append(f"helmfile build: {env_name}")
    return report
