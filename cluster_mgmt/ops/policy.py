"""Policy use cases: matrix, explain, lint, new, diff and the audit/block mode switch.

Inputs (inventory and policies) come from manifests or a live cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_mgmt.core.policy.analysis import Analysis, Connection
from cluster_mgmt.core.policy.documents import PolicySet, parse_policies, split_documents
from cluster_mgmt.core.policy.drift import (
    ConnChange,
    PolicyChange,
    connectivity_delta,
    policy_changes,
)
from cluster_mgmt.core.policy.editor import (
    EditorError,
    build_policy,
    check_generated,
    parse_labels,
    parse_rule,
)
from cluster_mgmt.core.policy.explain import ExplainError, Explanation, explain
from cluster_mgmt.core.policy.inventory import Inventory
from cluster_mgmt.core.policy.lint import lint
from cluster_mgmt.core.policy.safety import Hazard, block_mode_hazards
from cluster_mgmt.core.policy.source import Finding, Severity, SourceDoc
from cluster_mgmt.errors import ClusterError, UserError
from cluster_mgmt.ops.policy_manifests import dump_yaml, load_manifests

POLICIES_DIR = "policies"


@dataclass(frozen=True, slots=True)
class Source:
    """Where inventory and policies come from: a manifest directory or a kube context."""

    directory: Path | None = None
    kube_context: str | None = None
    kubeconfig: str | None = None

    @property
    def given(self) -> bool:
        """Whether any source was chosen."""
        return self.directory is not None or self.kube_context is not None

    def describe(self) -> str:
        """``dir manifests/`` or ``context prod``."""
        if self.directory is not None:
            return f"directory {self.directory}"
        return f"context {self.kube_context}"


@dataclass(slots=True)
class Inputs:
    """Inventory and policies ready for analysis."""

    inventory: Inventory
    policies: PolicySet
    apiserver_ips: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        """Findings from reading the inputs (policy parsing, inventory)."""
        return self.policies.findings + self.inventory.findings


def _client(source: Source) -> Any:
    from cluster_mgmt.adapters.kube import KubeClient

    return KubeClient.from_kubeconfig(source.kube_context, source.kubeconfig)


def load_inputs(
    source: Source,
    *,
    policy_paths: Sequence[Path] = (),
    default_namespace: str = "default",
    apiserver_ips: Sequence[str] = (),
) -> Inputs:
    """Inventory and policies from ``source``; ``policy_paths`` replace the source's policies.

    Raises:
        UserError: no source, unreadable files, or an unreachable cluster.
    """
    if source.directory is not None and source.kube_context is not None:
        raise UserError("give either --dir or --kube-context, not both")
    notes: list[str] = []
    ips = list(apiserver_ips)
    if source.directory is not None:
        docs = load_manifests([source.directory])
        inventory, policies = split_documents(docs, default_namespace)
    elif source.kube_context is not None:
        from cluster_mgmt.ops.policy_live import read_cluster

        live = read_cluster(_client(source), policies=not policy_paths)
        inventory, policies = split_documents(live.inventory + live.policies, default_namespace)
        ips = ips or live.apiserver_ips
        notes.extend(live.notes)
    else:
        raise UserError(
            "no inventory: give --dir DIR (manifests) or --kube-context CONTEXT (live cluster)"
        )
    if policy_paths:
        policies = load_policy_files(policy_paths, default_namespace)
        for policy in policies.policies:
            if policy.namespace:
                inventory.ensure_namespace(policy.namespace)
    return Inputs(inventory, policies, ips, notes)


def load_policy_files(paths: Sequence[Path], default_namespace: str = "default") -> PolicySet:
    """Policies from files or directories (other kinds are skipped)."""
    return parse_policies(load_manifests(paths), default_namespace)


def analyze(inputs: Inputs) -> Analysis:
    """The analysis of the inputs."""
    return Analysis(inputs.inventory, inputs.policies.policies, apiserver_ips=inputs.apiserver_ips)


def matrix(inputs: Inputs, *, extra_peers: bool = False) -> list[Connection]:
    """All allowed connections."""
    return analyze(inputs).connections(extra_peers=extra_peers)


def explain_flow(inputs: Inputs, src: str, dst: str, port: str | None) -> list[Explanation]:
    """Explain a flow.

    Raises:
        UserError: unknown workloads or a bad port.
    """
    try:
        return explain(analyze(inputs), src, dst, port)
    except ExplainError as exc:
        raise UserError(str(exc), hint="list workloads with `cluster-mgmt policy matrix`") from exc


def lint_policies(policies: PolicySet, inventory: Inventory | None) -> list[Finding]:
    """Lint findings (parse findings included)."""
    return lint(policies.policies, policies.findings, inventory)


def project_policies_dir(project_dir: Path) -> Path:
    """The project's ``policies/`` directory."""
    return project_dir / POLICIES_DIR


@dataclass(frozen=True, slots=True)
class NewPolicy:
    """The result of ``policy new``."""

    obj: dict[str, Any]
    text: str
    path: Path | None
    delta: list[ConnChange] | None  # None: no inventory to compute it


@dataclass(frozen=True, slots=True)
class NewPolicyRequest:
    """The options of ``policy new``."""

    name: str
    namespace: str
    select: Sequence[str] = ()
    allow_from: Sequence[str] = ()
    allow_to: Sequence[str] = ()
    kind: str = "cilium"
    dns: bool = True
    description: str | None = None


def new_policy(
    request: NewPolicyRequest,
    *,
    project_dir: Path,
    source: Source,
    output: Path | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> NewPolicy:
    """Build, validate and (unless ``dry_run``) write a policy; compute its matrix delta.

    Raises:
        UserError: invalid rules, an existing file (without ``force``), unreadable inputs.
    """
    try:
        select: dict[str, str] = {}
        for text in request.select:
            select.update(parse_labels(text))
        obj = build_policy(
            name=request.name,
            namespace=request.namespace,
            select=select,
            allow_from=[parse_rule(t) for t in request.allow_from],
            allow_to=[parse_rule(t) for t in request.allow_to],
            kind=request.kind,
            dns=request.dns,
            description=request.description,
        )
        check_generated(obj)
    except EditorError as exc:
        raise UserError(
            str(exc), hint="see `cluster-mgmt policy new --help` for the rule syntax"
        ) from exc
    text = dump_yaml(obj)
    policies_dir = project_policies_dir(project_dir)
    path = output or policies_dir / f"{request.namespace}-{request.name}.yaml"
    delta = None
    if source.given:
        repo_paths = [policies_dir] if policies_dir.is_dir() else []
        inputs = load_inputs(source)
        current = list(inputs.policies.policies)
        if repo_paths:
            current += load_policy_files(repo_paths).policies
        before = list({p.key: p for p in current}.values())
        new = parse_policies([SourceDoc(str(path), obj)]).policies
        replaced = {p.key for p in new}
        after = [p for p in before if p.key not in replaced] + new
        delta = connectivity_delta(
            inputs.inventory, before, after, apiserver_ips=inputs.apiserver_ips
        )
    if not dry_run:
        if path.exists() and not force and path.read_text(encoding="utf-8") != text:
            raise UserError(f"{path} exists", hint="pass --force to overwrite, or --dry-run")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return NewPolicy(obj, text, None if dry_run else path, delta)


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Repository versus live policies."""

    policies: list[PolicyChange]
    connections: list[ConnChange]
    findings: list[Finding]
    notes: list[str]

    @property
    def changed(self) -> bool:
        """Whether anything differs."""
        return bool(self.policies or self.connections)


def diff_policies(
    source: Source,
    repo_paths: Sequence[Path],
    *,
    default_namespace: str = "default",
) -> DriftReport:
    """Compare repository policies with the cluster's (or a directory standing for it).

    Raises:
        UserError: no source, or unreadable inputs.
    """
    if not source.given:
        raise UserError("give --kube-context CONTEXT (or --dir DIR with the live objects)")
    live = load_inputs(source, default_namespace=default_namespace)
    repo = load_policy_files(repo_paths, default_namespace)
    for policy in repo.policies:
        if policy.namespace:
            live.inventory.ensure_namespace(policy.namespace)
    changes = policy_changes(
        repo.docs, live.policies.docs, repo.policies, live.policies.policies, default_namespace
    )
    delta = connectivity_delta(
        live.inventory, live.policies.policies, repo.policies, apiserver_ips=live.apiserver_ips
    )
    return DriftReport(changes, delta, repo.findings + live.policies.findings, live.notes)


@dataclass(frozen=True, slots=True)
class ModeResult:
    """What ``policy mode`` did."""

    mode: str
    changed: list[str]
    hazards: dict[str, list[Hazard]]
    forced: bool


def check_block_mode(policies: PolicySet, inputs: Inputs) -> list[Hazard]:
    """Hazards of blocking mode for one inventory."""
    return block_mode_hazards(
        inputs.inventory, policies.policies, apiserver_ips=inputs.apiserver_ips
    )


def set_mode(
    project_dir: Path,
    mode: str,
    *,
    env: str | None = None,
    source: Source | None = None,
    kubeconfig: str | None = None,
    force: bool = False,
    apiserver_ips: Sequence[str] = (),
) -> ModeResult:
    """Switch ``cilium.policy_audit_mode``; before ``block``, refuse if DNS or the API would be cut.

    Raises:
        UserError: unsafe policy set (exit 2, workloads listed), bad project or inputs.
    """
    from cluster_mgmt.ops.kube_target import environment_targets
    from cluster_mgmt.ops.project import load_project, set_policy_audit_mode

    project = load_project(project_dir)
    hazards: dict[str, list[Hazard]] = {}
    if mode == "block":
        repo_dir = project_policies_dir(project_dir)
        policies = load_policy_files([repo_dir]) if repo_dir.is_dir() else PolicySet()
        errors = [f for f in policies.findings if f.severity is Severity.ERROR]
        if errors and not force:
            raise UserError(
                f"{len(errors)} invalid polic{'y' if len(errors) == 1 else 'ies'} in {repo_dir}:\n"
                + "\n".join(f.render() for f in errors),
                hint="fix them (cluster-mgmt policy lint) or pass --force",
            )
        if source is not None and source.given:
            targets = {source.describe(): source}
        else:
            targets = {
                f"environment {name} (context {target.context})": Source(
                    kube_context=target.context, kubeconfig=target.kubeconfig
                )
                for name, target in environment_targets(project, env, kubeconfig).items()
            }
        for label, src in targets.items():
            try:
                inputs = load_inputs(src, apiserver_ips=apiserver_ips)
            except ClusterError as exc:
                raise UserError(
                    f"cannot read the inventory of {label}: {exc.message}",
                    hint="pass --dir DIR with the workloads' manifests, "
                    "or --force to skip the check",
                ) from exc
            found = check_block_mode(policies, inputs)
            if found:
                hazards[label] = found
        if hazards and not force:
            lines = []
            for label, items in hazards.items():
                lines.append(f"{label}:")
                lines.extend(f"  {h.render()}" for h in items)
            raise UserError(
                "refusing to switch to blocking mode: "
                f"{sum(len(v) for v in hazards.values())} workload problem(s)\n" + "\n".join(lines),
                hint="allow DNS (53/UDP to kube-dns) and the kube-apiserver entity in policies/, "
                "or pass --force",
            )
    changed = set_policy_audit_mode(project_dir, mode == "audit", env)
    return ModeResult(mode, changed, hazards, force)
