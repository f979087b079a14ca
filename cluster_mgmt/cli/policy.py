"""``cluster-mgmt policy``: the network-policy toolkit."""

import click


@click.group("policy")
def policy() -> None:
    """Build, analyze, explain, lint and diff network policies."""
