"""``cluster-mgmt alerts``: the Hubble alerting rules and a test alert to GitLab."""

from __future__ import annotations

import click

from cluster_mgmt.cli import state
from cluster_mgmt.cli.options import env_option


@click.group("alerts")
def alerts() -> None:
    """Alerts on Hubble metrics, delivered to the project's GitLab alerts."""


@alerts.command("rules")
@env_option()
@click.pass_context
def rules_cmd(ctx: click.Context, env: str | None) -> None:
    """Print the alerting rules rendered into an environment's Prometheus."""
    from cluster_mgmt.core.render import dump_yaml
    from cluster_mgmt.ops.alerts import rules

    env_name, rule_file = rules(state(ctx).project_dir, env)
    click.echo(f"# alerting_rules.yml of the prometheus release in {env_name}")
    click.echo(dump_yaml(rule_file), nl=False)


@alerts.command("test")
@env_option()
@click.option(
    "--url",
    metavar="URL",
    help="The GitLab alert endpoint (default: the environment's alerts.url).",
)
@click.option(
    "--resolve", is_flag=True, help="Then send its resolution, so GitLab closes the test alert."
)
@click.pass_context
def test_cmd(ctx: click.Context, env: str | None, url: str | None, resolve: bool) -> None:
    """Post one test alert (Alertmanager's format) with the key in $GITLAB_ALERTS_KEY."""
    from cluster_mgmt.ops.alerts import send_test_alert

    result = send_test_alert(state(ctx).project_dir, env, url, resolve=resolve)
    closed = " and resolved" if result.resolved else ""
    click.echo(
        f"ok: test alert for {result.env} sent{closed}; GitLab answered HTTP {result.status} "
        f"({result.url}); see Monitor > Alerts"
    )
