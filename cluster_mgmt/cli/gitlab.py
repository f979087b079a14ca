"""``cluster-mgmt gitlab``: bootstrap the GitLab project, lint the pipeline, upgrade charts.

python-gitlab, pydantic and ruamel load inside each command, never at ``--help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cluster_mgmt.cli import state
from cluster_mgmt.cli.options import env_option
from cluster_mgmt.cli.output import echo_table

_URL_HELP = "GitLab URL (default: $CI_SERVER_URL in CI, else gitlab.url in cluster-mgmt.yaml)."
_PROJECT_HELP = (
    "Project path group/name (default: $CI_PROJECT_PATH in CI, else gitlab.project in "
    "cluster-mgmt.yaml)."
)


@click.group("gitlab")
def gitlab_group() -> None:
    """Set up and maintain the project in GitLab. The token comes from GITLAB_TOKEN."""


@gitlab_group.command("bootstrap")
@click.option("--gitlab-url", help=_URL_HELP)
@click.option("--project", help=_PROJECT_HELP)
@click.option("--create-project", is_flag=True, help="Create the project if it does not exist.")
@env_option("Only this environment (default: all).")
@click.option(
    "--schedule-upgrades",
    metavar="CRON",
    default="0 6 * * 1",
    show_default=True,
    help="Cron (UTC) of the scheduled pipeline with CLUSTER_MGMT_SCHEDULE=upgrade.",
)
@click.option(
    "--schedule-drift",
    metavar="CRON",
    default="0 5 * * *",
    show_default=True,
    help="Cron (UTC) of the scheduled pipeline with CLUSTER_MGMT_SCHEDULE=drift.",
)
@click.option(
    "--rotate-token",
    is_flag=True,
    help="Replace each agent token: create a new one, store it, revoke the old one.",
)
@click.option(
    "--no-alerts",
    is_flag=True,
    help="Skip the alert integration (default: set it up for the environments whose config "
    "has alerts on).",
)
@click.option("--rotate-alerts-key", is_flag=True, help="Reset the alert integration's key.")
@click.option("--show-token", is_flag=True, help="Print new agent tokens (only to a terminal).")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.pass_context
def bootstrap_cmd(
    ctx: click.Context,
    gitlab_url: str | None,
    project: str | None,
    create_project: bool,
    env: str | None,
    schedule_upgrades: str,
    schedule_drift: str,
    rotate_token: bool,
    no_alerts: bool,
    rotate_alerts_key: bool,
    show_token: bool,
    dry_run: bool,
) -> None:
    """Create or update everything the project needs in GitLab; safe to re-run.

    Pushes the project's files (one commit, changed files only), registers each
    environment's agent, stores an agent token in a masked, protected GITLAB_AGENT_TOKEN
    and the kube context in KUBE_CONTEXT (both scoped to the environment), creates the
    upgrade and drift pipeline schedules, and, for the environments whose config has alerts
    on, the Prometheus alert integration with its key in GITLAB_ALERTS_KEY. When the
    integration's URL is not what cluster-mgmt.yaml resolves, bootstrap sets the top-level
    alerts.url (comments kept), re-renders, and pushes both in the same commit. The token
    needs scope `api` and the Maintainer role.
    """
    from cluster_mgmt.ops.gitlab import BootstrapOptions, bootstrap

    if show_token and not sys.stdout.isatty():
        raise click.UsageError("--show-token prints only to a terminal (stdout is not one)")
    result = bootstrap(
        state(ctx).project_dir,
        BootstrapOptions(
            env=env,
            gitlab_url=gitlab_url,
            project=project,
            create_project=create_project,
            schedule_upgrades=schedule_upgrades,
            schedule_drift=schedule_drift,
            rotate_token=rotate_token,
            alerts=not no_alerts,
            rotate_alerts_key=rotate_alerts_key,
            dry_run=dry_run,
        ),
    )
    title = f"{'plan' if dry_run else 'bootstrap'} of {result.project}"
    rows = [(c.action, c.target, c.detail) for c in result.changes]
    echo_table(("action", "object", "detail"), rows, title=title)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.alert_url:
        click.echo(f"alert endpoint (for Alertmanager): {result.alert_url}")
    if result.config_updated:
        click.echo(
            "cluster-mgmt.yaml updated: alerts.url is the alert integration's URL; re-rendered "
            f"and pushed in the same commit: {', '.join(result.config_files)}"
        )
    if show_token:
        for env_name, token in result.new_tokens.items():
            click.echo(f"agent token of {env_name}: {token}")
    if not result.changed:
        click.echo("nothing to change: GitLab already matches the project")
    elif dry_run:
        click.echo("dry run: nothing was changed")
    else:
        count = sum(1 for c in result.changes if c.changes)
        click.echo(f"done: {count} changes")
        if result.new_tokens:
            click.echo(
                "new agent tokens are in GITLAB_AGENT_TOKEN; deploy the gitlab-agent release "
                "so the agent uses them"
            )


@gitlab_group.command("lint")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pipeline file (default: .gitlab-ci.yml of the project).",
)
@click.option("--ref", help="Branch or tag to simulate the pipeline on (default branch).")
@click.option("--gitlab-url", help=_URL_HELP)
@click.option("--project", help=_PROJECT_HELP)
@click.pass_context
def lint_cmd(
    ctx: click.Context,
    file: Path | None,
    ref: str | None,
    gitlab_url: str | None,
    project: str | None,
) -> None:
    """Check the local pipeline with GitLab's CI lint (a dry-run pipeline); exit 2 if invalid."""
    from cluster_mgmt.errors import UserError
    from cluster_mgmt.ops.gitlab import lint_pipeline

    name, result = lint_pipeline(
        state(ctx).project_dir, file=file, gitlab_url=gitlab_url, project=project, ref=ref
    )
    for message in result.messages:
        where = f"job {message.job}" if message.job else "pipeline"
        click.echo(f"{name}: {message.severity}: {where}: {message.text}")
    errors = sum(1 for m in result.messages if m.severity == "error")
    if not result.valid:
        raise UserError(f"{name} is invalid ({errors or 'unknown'} errors)")
    jobs = ", ".join(result.jobs)
    click.echo(f"{name} is valid: {len(result.jobs)} jobs ({jobs})")


@gitlab_group.command("upgrade-mr")
@click.option(
    "--allow",
    type=click.Choice(("patch", "minor", "major")),
    default="minor",
    show_default=True,
    help="How far a chart may move from its pin.",
)
@click.option("--dry-run", is_flag=True, help="Print the upgrade table; change nothing.")
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Local chart indexes (<repo>/index.yaml or <repo>-index.yaml, as in helm's cache).",
)
@click.option(
    "--index-url",
    "index_urls",
    multiple=True,
    metavar="REPO=URL",
    help="Read repository REPO's index.yaml from URL (a mirror). Repeatable.",
)
@click.option("--gitlab-url", help=_URL_HELP)
@click.option("--project", help=_PROJECT_HELP)
@click.pass_context
def upgrade_mr_cmd(
    ctx: click.Context,
    allow: str,
    dry_run: bool,
    index_dir: Path | None,
    index_urls: tuple[str, ...],
    gitlab_url: str | None,
    project: str | None,
) -> None:
    """Open or update one merge request moving chart pins to newer versions.

    Runs in CI with a project access token in GITLAB_TOKEN (scope `api`, role Developer
    or more); with nothing newer it changes nothing and exits 0.
    """
    from cluster_mgmt.core.chart_upgrades import Allow
    from cluster_mgmt.ops.upgrade_mr import UpgradeOptions, upgrade_mr

    urls: dict[str, str] = {}
    for item in index_urls:
        repo, sep, url = item.partition("=")
        if not sep or not repo or not url:
            raise click.BadParameter(f"{item!r} is not REPO=URL", param_hint="--index-url")
        urls[repo] = url
    result = upgrade_mr(
        state(ctx).project_dir,
        UpgradeOptions(
            allow=Allow(allow),
            dry_run=dry_run,
            index_dir=index_dir,
            index_urls=urls,
            gitlab_url=gitlab_url,
            project=project,
        ),
    )
    if not result.upgrades:
        click.echo(f"all charts are current (allowed: {allow} upgrades): nothing to do")
        return
    rows = [
        (u.chart, ", ".join(u.releases), u.old, u.new, u.release_notes or "")
        for u in result.upgrades
    ]
    echo_table(("chart", "releases", "old", "new", "release notes"), rows)
    click.echo(f"{len(result.files)} files change: {', '.join(result.files)}")
    mr = result.merge_request
    if result.outcome == "dry-run":
        click.echo("dry run: no branch or merge request was changed")
    elif mr is not None:
        verb = {"created": "opened", "updated": "updated", "unchanged": "already up to date:"}
        click.echo(
            f"{verb.get(result.outcome, result.outcome)} merge request !{mr.iid} {mr.web_url}"
        )
