"""Project commands: init, render, values, validate, schema."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cluster_mgmt.cli import state

PROVIDERS = ("eks", "gke", "kind")
INGRESS = ("traefik", "ingress-nginx", "cilium")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _need(value: str | None, flag: str, prompt: str, default: str | None = None) -> str:
    """A value from its flag, else a prompt on a terminal, else a clear error."""
    if value:
        return value
    if _interactive():
        answer: str = click.prompt(prompt, default=default)
        return answer
    if default is not None:
        return default
    raise click.UsageError(f"missing {flag} (no terminal to ask on)")


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--provider", type=click.Choice(PROVIDERS), help="Where the cluster runs.")
@click.option("--env", "env", help="Environment (cluster) name.  [default: production]")
@click.option("--ingress", type=click.Choice(INGRESS), default="traefik", show_default=True)
@click.option("--agent", help="GitLab agent name.  [default: <env>]")
@click.option(
    "--agent-project",
    "project",
    help="GitLab path of this project (group/project); agent contexts are <project>:<agent>.",
)
@click.option("--gitlab-url", default="https://gitlab.com", show_default=True)
@click.option("--base-domain", help="DNS base domain for the Ingress.")
@click.option("--siem-host", help="Syslog host of the SIEM (flows are forwarded there).")
@click.option("--siem-port", type=click.IntRange(1, 65535), help="Syslog port.  [default: 514]")
@click.option("--siem-protocol", type=click.Choice(("udp", "tcp", "tls")), help="[default: udp]")
@click.option("--siem-tls-secret", help="Secret with ca.crt for --siem-protocol tls.")
@click.option("--native-routing-cidr", help="GKE: the cluster's pod IPv4 range (required).")
@click.option(
    "--ci-include",
    metavar="local|component:PATH@VERSION",
    help="The pipeline's CI/CD component: `local` (a copy kept in .gitlab/ci/, the default) "
    "or one hosted on your GitLab, e.g. "
    "component:$CI_SERVER_FQDN/platform/cluster-mgmt/cluster-management@1.2.3.",
)
def init_cmd(
    directory: Path,
    provider: str | None,
    env: str | None,
    ingress: str,
    agent: str | None,
    project: str | None,
    gitlab_url: str,
    base_domain: str | None,
    siem_host: str | None,
    siem_port: int | None,
    siem_protocol: str | None,
    siem_tls_secret: str | None,
    native_routing_cidr: str | None,
    ci_include: str | None,
) -> None:
    """Scaffold a new cluster-management project in DIRECTORY (absent or empty)."""
    from cluster_mgmt.ops.project import InitOptions, init_project

    provider = _need(provider, "--provider", "Provider (eks, gke, kind)")
    if provider not in PROVIDERS:
        raise click.BadParameter(f"{provider!r} is not one of {', '.join(PROVIDERS)}")
    env = _need(env, "--env", "Environment name", default="production")
    project = _need(project, "--agent-project", "GitLab project path (group/project)")
    agent = _need(agent, "--agent", "GitLab agent name", default=env)
    if provider == "gke":
        native_routing_cidr = _need(
            native_routing_cidr, "--native-routing-cidr", "Pod IPv4 CIDR (native routing)"
        )
    if (siem_port or siem_protocol or siem_tls_secret) and not siem_host:
        raise click.UsageError("--siem-port/--siem-protocol/--siem-tls-secret need --siem-host")
    if siem_protocol == "tls":
        siem_tls_secret = _need(siem_tls_secret, "--siem-tls-secret", "Secret with the SIEM CA")
    written = init_project(
        directory,
        InitOptions(
            provider=provider,
            env=env,
            agent=agent,
            project=project,
            gitlab_url=gitlab_url,
            ingress=ingress,
            base_domain=base_domain,
            native_routing_cidr=native_routing_cidr,
            siem_host=siem_host,
            siem_port=siem_port,
            siem_protocol=siem_protocol,
            siem_tls_secret=siem_tls_secret,
            ci_include=ci_include,
        ),
    )
    click.echo(f"created {directory} ({len(written)} files)")
    click.echo(f"next: cd {directory} && cluster-mgmt validate && git init && git add -A")


@click.command("render")
@click.option("--check", is_flag=True, help="Only list stale generated files; exit 1 if any.")
@click.option("--force", is_flag=True, help="Overwrite generated files edited by hand.")
@click.pass_context
def render_cmd(ctx: click.Context, check: bool, force: bool) -> None:
    """Regenerate generated files from cluster-mgmt.yaml (never touches your overrides)."""
    from cluster_mgmt.ops.project import render_project

    changed = render_project(state(ctx).project_dir, check=check, force=force)
    if check:
        click.echo("generated files are up to date")
        return
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo("nothing to do: generated files are up to date")


@click.command("values")
@click.argument("release")
@click.option("--env", "env", help="Environment (default: the only one).")
@click.pass_context
def values_cmd(ctx: click.Context, release: str, env: str | None) -> None:
    """Print the final values YAML helm receives for RELEASE (generated + override)."""
    from cluster_mgmt.core.render import dump_yaml
    from cluster_mgmt.errors import UserError
    from cluster_mgmt.ops.project import final_values, load_project

    project = load_project(state(ctx).project_dir)
    if env is None:
        if len(project.config.environments) > 1:
            names = ", ".join(project.config.environments)
            raise UserError(f"several environments ({names}): choose one with --env")
        env = next(iter(project.config.environments))
    project.env_names(env)
    merged, sources = final_values(project, release, env)
    click.echo(f"# {release} in {env}: " + " + ".join(sources))
    if release == "gitlab-agent":
        click.echo("# config.token is added at deploy time from $GITLAB_AGENT_TOKEN")
    if release == "prometheus" and project.config.alerting(env):
        click.echo(
            "# extraManifests (the Secret gitlab-alerts-key) is added at deploy time from "
            "$GITLAB_ALERTS_KEY"
        )
    click.echo(dump_yaml(merged), nl=False)


@click.command("validate")
@click.option(
    "--charts-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    envvar="CLUSTER_MGMT_CHARTS_DIR",
    help="Check against this chart data instead: <chart>/<version>/values.yaml "
    "(+ values.schema.json), or unpacked charts (`helm pull --untar`). By default the data "
    "shipped for the pinned versions is used, and other versions are fetched with helm into "
    "$XDG_CACHE_HOME/cluster-mgmt/charts. [env: CLUSTER_MGMT_CHARTS_DIR]",
)
@click.option("--no-helmfile", is_flag=True, help="Skip `helmfile build`.")
@click.option("--env", "env", help="Only this environment.")
@click.pass_context
def validate_cmd(
    ctx: click.Context, charts_dir: Path | None, no_helmfile: bool, env: str | None
) -> None:
    """Check the config, every values key against its chart, policies and helmfile states."""
    from cluster_mgmt.ops.validate import validate_project

    report = validate_project(
        state(ctx).project_dir, charts_dir=charts_dir, run_helmfile=not no_helmfile, env=env
    )
    for line in report.notes:
        click.echo(f"note: {line}", err=True)
    for line in report.checked:
        click.echo(f"ok: {line}")
    report.raise_for_problems()
    click.echo("valid")


@click.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of cluster-mgmt.yaml (for editors and CI)."""
    import json

    from cluster_mgmt.core.config import ProjectConfig

    schema = ProjectConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cluster-mgmt.yaml"
    click.echo(json.dumps(schema, indent=2))
