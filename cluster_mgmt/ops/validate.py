"""`cluster-mgmt validate`: config, values keys against the charts, policies, helmfile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_mgmt.adapters import yamlio
from cluster_mgmt.adapters.chart_data import ChartLibrary
from cluster_mgmt.adapters.helmfile import Helmfile
from cluster_mgmt.core import render as core_render
from cluster_mgmt.core.chart_check import ChartCheck
from cluster_mgmt.core.values_merge import merge_values
from cluster_mgmt.errors import ConfigError, Location, ToolError, UserError
from cluster_mgmt.ops.project import load_project, pipeline_note, plan_render

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


def _check_release(
    project_root: Path, env: str, release: str, check: ChartCheck, report: ValidationReport
) -> None:
    gen_rel = core_render.values_path(env, release)
    over_rel = core_render.override_path(env, release)
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
        plain = yamlio.to_plain(doc)
        for problem in check.unknown_keys(plain):
            loc = yamlio.locate(doc, problem.path, name)
            report.problems.append(f"{loc}: {loc.field}: {problem.message}")
        merged = merge_values(merged, plain)
    for problem in check.schema_problems(merged):
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
    charts_dir: Path | None = None,
    run_helmfile: bool = True,
    env: str | None = None,
    helmfile: Helmfile | None = None,
    charts: ChartLibrary | None = None,
) -> ValidationReport:
    """Run every check; problems are collected, not raised one at a time.

    Chart data comes from ``charts_dir`` when given, else from ``charts`` (by default: the
    data shipped with the package, the cache, ``helm pull``).
    """
    report = ValidationReport()
    project = load_project(project_dir)
    report.checked.append("config: cluster-mgmt.yaml")
    plan = plan_render(project_dir, project.config)
    if plan.stale:
        names = ", ".join(str(p) for p in plan.stale)
        report.problems.append(
            f"generated files are stale or edited: {names} (run `cluster-mgmt render`)"
        )
    note = pipeline_note(project_dir)
    if note:
        report.notes.append(note)
    envs = project.env_names(env)
    library = charts or ChartLibrary(charts_dir=charts_dir)
    checks: dict[tuple[str, str], ChartCheck | None] = {}
    for env_name in envs:
        for release in core_render.enabled_releases(project.config, env_name):
            pin = core_render.release_chart(project.config, env_name, release)
            if pin is None:
                continue
            if pin not in checks:  # each chart version is read and prepared once per run
                chart, note = library.get(*pin)
                checks[pin] = ChartCheck(chart) if chart is not None else None
                if note:
                    report.notes.append(note if chart is not None else f"release {release}: {note}")
            check = checks[pin]
            if check is None:
                continue
            before = len(report.problems)
            _check_release(project_dir, env_name, release, check, report)
            if len(report.problems) == before:
                report.checked.append(
                    f"values: {env_name}/{release} against {pin[0]} {check.chart.version}"
                )
    for env_name in envs:
        siem = project.config.environments[env_name].siem
        fluentd = "fluentd" in core_render.enabled_releases(project.config, env_name)
        if fluentd and siem is not None and siem.client_cert_secret:
            report.notes.append(
                f"{env_name}: siem.client_cert_secret runs the TLS tunnel as a native sidecar "
                "(restartPolicy: Always init container): the cluster needs Kubernetes >= 1.29"
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
