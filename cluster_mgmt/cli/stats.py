"""``cluster-mgmt stats``: packet statistics from Hubble metrics."""

import click


@click.command("stats")
def stats_cmd() -> None:
    """Forwarded vs dropped flows per namespace."""
    raise click.UsageError("not implemented yet")
