"""``cluster-mgmt policy``: the network-policy toolkit.

Heavy modules (the policy engine, YAML, the Kubernetes client) load inside each command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from cluster_mgmt.cli import state
from cluster_mgmt.cli.options import (
    context_from_flag,
    env_option,
    kube_context_option,
    kubeconfig_option,
    manifests_dir_option,
    output_option,
)
from cluster_mgmt.cli.output import echo_table

F = TypeVar("F", bound=Callable[..., Any])

RULE_HELP = (
    "Rule tokens, comma or space separated: app=web (pod label), ns=NAME (namespace), "
    "entity:world, cidr:10.0.0.0/8, fqdn:api.example.com, 80/TCP, 8000-8080/TCP, 53/UDP, "
    "http:GET:/api/.* . One option = one rule; repeat for more rules."
)


def _policy_paths_option(help_text: str) -> Callable[[F], F]:
    """``--policies PATH`` (repeatable): where the policies come from."""
    return click.option(
        "--policies",
        "policy_paths",
        multiple=True,
        type=click.Path(exists=True, path_type=Path),
        help=help_text,
    )


_TEXT_OR_JSON = output_option("text", "json")


def _source_options(f: F) -> F:
    f = kubeconfig_option(f)
    f = kube_context_option("Read workloads and policies from this live cluster context.")(f)
    f = manifests_dir_option(
        "Read workloads and policies from manifests (.yaml/.yml/.json, recursive)."
    )(f)
    f = click.option(
        "-n",
        "--namespace",
        "default_namespace",
        default="default",
        show_default=True,
        help="Namespace of objects that do not name one.",
    )(f)
    return f


def _source(
    ctx: click.Context, directory: Path | None, kube_context: str | None, kubeconfig: str | None
) -> Any:
    from cluster_mgmt.ops.policy import Source

    explicit, ambient = context_from_flag(ctx, kube_context)
    # KUBE_CONTEXT from the environment yields to an explicit --dir.
    context = explicit or (None if directory is not None else ambient)
    return Source(directory, context, kubeconfig)


def _print_findings(findings: Sequence[Any], verbose: bool = False) -> None:
    from cluster_mgmt.core.policy.source import Severity

    for finding in findings:
        if finding.severity is Severity.INFO and not verbose:
            continue
        click.echo(finding.render(), err=True)


@click.group("policy")
def policy() -> None:
    """Build, analyze, explain, lint and diff network policies.

    Inventory (namespaces, workloads, pods) and policies come from a directory of manifests
    (--dir) or a live cluster (--kube-context). Kubernetes NetworkPolicy,
    CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy are understood.
    """


@policy.command("matrix")
@_source_options
@_policy_paths_option("Take the policies from these files/directories instead of the source.")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "json", "csv", "dot"]),
    default="table",
    show_default=True,
)
@click.option(
    "--extra-peers",
    is_flag=True,
    help="Also list Cilium entities (host, kube-apiserver...) and toFQDNs targets.",
)
@click.option("-v", "--verbose", is_flag=True, help="Also print informational findings.")
@click.pass_context
def matrix_cmd(
    ctx: click.Context,
    directory: Path | None,
    kube_context: str | None,
    kubeconfig: str | None,
    default_namespace: str,
    policy_paths: tuple[Path, ...],
    fmt: str,
    extra_peers: bool,
    verbose: bool,
) -> None:
    """All allowed connections between workloads and to/from external addresses.

    JSON: a list of {"src": PEER, "dst": PEER, "conn": CONN}; PEER is
    {"namespace","name","kind"} or {"ip_ranges": ["a.b.c.d-w.x.y.z", ...]}; CONN is "all" or
    a list of {"protocol", "ports": ["80", "8000-8080"], "l7": null or rules}.
    """
    from cluster_mgmt.core.policy import matrix_output
    from cluster_mgmt.ops import policy as ops

    inputs = ops.load_inputs(
        _source(ctx, directory, kube_context, kubeconfig),
        policy_paths=policy_paths,
        default_namespace=default_namespace,
    )
    _print_findings(inputs.findings, verbose)
    for note in inputs.notes:
        click.echo(f"note: {note}", err=True)
    connections = ops.matrix(inputs, extra_peers=extra_peers)
    if fmt == "json":
        sys.stdout.write(matrix_output.to_json_text(connections))
    elif fmt == "csv":
        sys.stdout.write(matrix_output.to_csv_text(connections))
    elif fmt == "dot":
        sys.stdout.write(matrix_output.to_dot_text(connections))
    else:
        echo_table(("SRC", "DST", "CONN"), matrix_output.rows(connections))


@policy.command("explain")
@click.option(
    "--src", required=True, help="NAMESPACE/NAME, NAMESPACE/KIND/NAME or an IPv4 address."
)
@click.option(
    "--dst", required=True, help="NAMESPACE/NAME, NAMESPACE/KIND/NAME or an IPv4 address."
)
@click.option("--port", help="Only this port, e.g. 80/TCP or 53/UDP.")
@_source_options
@_policy_paths_option("Take the policies from these files/directories instead of the source.")
@_TEXT_OR_JSON
@click.pass_context
def explain_cmd(
    ctx: click.Context,
    src: str,
    dst: str,
    port: str | None,
    directory: Path | None,
    kube_context: str | None,
    kubeconfig: str | None,
    default_namespace: str,
    policy_paths: tuple[Path, ...],
    fmt: str,
) -> None:
    """Why traffic from --src to --dst is allowed or denied, per direction and rule."""
    from cluster_mgmt.ops import policy as ops

    inputs = ops.load_inputs(
        _source(ctx, directory, kube_context, kubeconfig),
        policy_paths=policy_paths,
        default_namespace=default_namespace,
    )
    _print_findings(inputs.findings)
    explanations = ops.explain_flow(inputs, src, dst, port)
    if fmt == "json":
        click.echo(json.dumps([e.as_json() for e in explanations], indent=2))
    else:
        click.echo("\n\n".join(e.render() for e in explanations))


@policy.command("lint")
@_policy_paths_option("Policy files/directories (default: the project's policies/, else --dir).")
@_source_options
@_TEXT_OR_JSON
@click.option("-v", "--verbose", is_flag=True, help="Also print informational findings.")
@click.pass_context
def lint_cmd(
    ctx: click.Context,
    policy_paths: tuple[Path, ...],
    directory: Path | None,
    kube_context: str | None,
    kubeconfig: str | None,
    default_namespace: str,
    fmt: str,
    verbose: bool,
) -> None:
    """Policies that select nothing, dead, duplicate or shadowed rules, missing DNS.

    With --dir or --kube-context the checks use those workloads; without, they are structural.
    Exits 1 when there are warnings or errors.
    """
    from cluster_mgmt.ops import policy as ops

    source = _source(ctx, directory, kube_context, kubeconfig)
    paths = list(policy_paths)
    if not paths:
        project_policies = ops.project_policies_dir(state(ctx).project_dir)
        if project_policies.is_dir():
            paths = [project_policies]
    inventory = None
    if source.given:
        inputs = ops.load_inputs(source, policy_paths=paths, default_namespace=default_namespace)
        policies, inventory = inputs.policies, inputs.inventory
    elif paths:
        policies = ops.load_policy_files(paths, default_namespace)
    else:
        from cluster_mgmt.errors import UserError

        raise UserError(
            "nothing to lint", hint="pass --policies DIR, --dir DIR, or run in a project"
        )
    from cluster_mgmt.core.policy.source import Severity

    findings = ops.lint_policies(policies, inventory)
    shown = [f for f in findings if verbose or f.severity is not Severity.INFO]
    if fmt == "json":
        click.echo(json.dumps([f.as_json() for f in shown], indent=2))
    else:
        for finding in shown:
            click.echo(finding.render())
    count = len(policies.policies)
    problems = sum(f.severity in (Severity.ERROR, Severity.WARNING) for f in findings)
    summary = f"{count} polic{'y' if count == 1 else 'ies'} checked, {problems} problem(s)"
    if problems:
        from cluster_mgmt.errors import ChangesDetected

        raise ChangesDetected(summary, exit_code=1)
    click.echo(summary, err=True)


@policy.command("new")
@click.option("--name", required=True, help="Policy name.")
@click.option("--namespace", "policy_namespace", required=True, help="Namespace of the policy.")
@click.option(
    "--select", multiple=True, help="Pods the policy applies to, e.g. app=notes (default: all)."
)
@click.option("--allow-from", multiple=True, help="An ingress rule. " + RULE_HELP)
@click.option("--allow-to", multiple=True, help="An egress rule. " + RULE_HELP)
@click.option(
    "--kind",
    type=click.Choice(["cilium", "k8s"]),
    default="cilium",
    show_default=True,
    help="CiliumNetworkPolicy or Kubernetes NetworkPolicy.",
)
@click.option("--no-dns", is_flag=True, help="Do not add the kube-dns egress rule.")
@click.option("--description", help="Cilium spec.description.")
@click.option(
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: policies/NAMESPACE-NAME.yaml in the project).",
)
@click.option("--dry-run", is_flag=True, help="Print the policy, write nothing.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@manifests_dir_option("Inventory (and current policies) for the matrix delta, from manifests.")
@kube_context_option("Inventory (and current policies) for the matrix delta, from a cluster.")
@kubeconfig_option
@click.pass_context
def new_cmd(
    ctx: click.Context,
    name: str,
    policy_namespace: str,
    select: tuple[str, ...],
    allow_from: tuple[str, ...],
    allow_to: tuple[str, ...],
    kind: str,
    no_dns: bool,
    description: str | None,
    output: Path | None,
    dry_run: bool,
    force: bool,
    directory: Path | None,
    kube_context: str | None,
    kubeconfig: str | None,
) -> None:
    """Write a policy built from simple rules, validated, and print the matrix delta.

    \b
    Example:
      cluster-mgmt policy new --name notes-api --namespace notes --select app=notes
        --allow-from "app=frontend 8080/TCP http:GET:/api/.*"
        --allow-to "fqdn:api.example.com 443/TCP" --dir manifests/
    """  # noqa: D301 - \b is click's "keep this paragraph as is" marker
    from cluster_mgmt.ops import policy as ops

    request = ops.NewPolicyRequest(
        name, policy_namespace, select, allow_from, allow_to, kind, not no_dns, description
    )
    result = ops.new_policy(
        request,
        project_dir=state(ctx).project_dir,
        source=_source(ctx, directory, kube_context, kubeconfig),
        output=output,
        dry_run=dry_run,
        force=force,
    )
    click.echo(result.text, nl=False)
    if result.path is not None:
        click.echo(f"wrote {result.path}", err=True)
    if result.delta is None:
        click.echo(
            "matrix delta: not computed (give --dir or --kube-context for an inventory)", err=True
        )
    elif not result.delta:
        click.echo("matrix delta: no connection changes", err=True)
    else:
        click.echo(f"matrix delta ({len(result.delta)}):", err=True)
        for change in result.delta:
            click.echo(f"  {change.render()}", err=True)


@policy.command("diff")
@_policy_paths_option("Repository policies (default: the project's policies/).")
@_source_options
@_TEXT_OR_JSON
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are differences.")
@click.pass_context
def diff_cmd(
    ctx: click.Context,
    policy_paths: tuple[Path, ...],
    directory: Path | None,
    kube_context: str | None,
    kubeconfig: str | None,
    default_namespace: str,
    fmt: str,
    detailed_exitcode: bool,
) -> None:
    """Repository policies versus the live ones, and the connectivity that changes.

    "added" is in the repository only, "removed" is live only; connection changes read as
    "what applying the repository would do".
    """
    from cluster_mgmt.errors import ChangesDetected, UserError
    from cluster_mgmt.ops import policy as ops

    paths = list(policy_paths)
    if not paths:
        repo = ops.project_policies_dir(state(ctx).project_dir)
        if not repo.is_dir():
            raise UserError(f"no {repo} directory", hint="pass --policies DIR")
        paths = [repo]
    report = ops.diff_policies(
        _source(ctx, directory, kube_context, kubeconfig),
        paths,
        default_namespace=default_namespace,
    )
    _print_findings(report.findings)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "policies": [c.as_json() for c in report.policies],
                    "connections": [c.as_json() for c in report.connections],
                },
                indent=2,
            )
        )
    else:
        if not report.changed:
            click.echo("no differences")
        for change in report.policies:
            click.echo(f"{change.change}: {change.display}")
            for line in change.diff:
                click.echo(f"    {line}")
        if report.connections:
            click.echo(f"connectivity changes ({len(report.connections)}):")
            for conn in report.connections:
                click.echo(f"  {conn.render()}")
    if detailed_exitcode and report.changed:
        raise ChangesDetected("repository and cluster policies differ", exit_code=2)


@policy.command("mode")
@click.argument("mode", type=click.Choice(["audit", "block"]))
@env_option("Only this environment (default: all).")
@click.option("--force", is_flag=True, help="Switch to block even if DNS or the API would be cut.")
@manifests_dir_option(
    "Check against workloads from manifests instead of the environments' clusters."
)
@kube_context_option(
    "Check against this context instead of each environment's (KUBE_CONTEXT applies when "
    "no --env is given)."
)
@kubeconfig_option
@click.option(
    "--apiserver-ip",
    "apiserver_ips",
    multiple=True,
    help="Address of the API server, for NetworkPolicy ipBlock rules (live: read).",
)
@click.pass_context
def mode_cmd(
    ctx: click.Context,
    mode: str,
    env: str | None,
    force: bool,
    directory: Path | None,
    kube_context: str | None,
    kubeconfig: str | None,
    apiserver_ips: tuple[str, ...],
) -> None:
    """Switch Cilium between audit (log only) and block (enforce) and render.

    Before block, the project's policies/ are analysed over each environment's live
    workloads (or --dir): the switch is refused (exit 2) when a workload would lose DNS to
    kube-dns or its access to the kube-apiserver.
    """
    from cluster_mgmt.ops import policy as ops

    explicit, ambient = context_from_flag(ctx, kube_context)
    if directory is None and explicit is None and env is None and ambient:
        explicit = ambient  # KUBE_CONTEXT names the one cluster to check
    source = ops.Source(directory, explicit, kubeconfig)
    result = ops.set_mode(
        state(ctx).project_dir,
        mode,
        env=env,
        source=source,
        kubeconfig=kubeconfig,
        force=force,
        apiserver_ips=apiserver_ips,
    )
    for label, hazards in result.hazards.items():
        click.echo(f"warning: {label}: forced despite:", err=True)
        for hazard in hazards:
            click.echo(f"  {hazard.render()}", err=True)
    if result.changed:
        click.echo(f"policy mode {mode}: changed {', '.join(result.changed)}; rendered")
    else:
        click.echo(f"policy mode {mode}: already set, nothing changed")
