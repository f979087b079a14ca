"""Command-line entry point: a lazy click group and the single error boundary.

Subcommands live in their own modules and are imported only when invoked, so
``cluster-mgmt --help`` stays fast (no pydantic, kubernetes, gitlab or pyhelm3 import).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cluster_mgmt import __version__
from cluster_mgmt.errors import ChangesDetected, UserError

# name -> (module, attribute, one-line help shown by --help without importing the module)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("cluster_mgmt.cli.project", "init_cmd", "Scaffold a new cluster-management project."),
    "render": ("cluster_mgmt.cli.project", "render_cmd", "Regenerate generated files."),
    "values": ("cluster_mgmt.cli.project", "values_cmd", "Print the final values of a release."),
    "validate": ("cluster_mgmt.cli.project", "validate_cmd", "Check config, values and states."),
    "schema": ("cluster_mgmt.cli.project", "schema_cmd", "Print the config JSON Schema."),
    "policy": ("cluster_mgmt.cli.policy", "policy", "Network-policy toolkit."),
    "plan": (
        "cluster_mgmt.cli.deploy",
        "plan_cmd",
        "Show what apply would change (helmfile diff).",
    ),
    "apply": ("cluster_mgmt.cli.deploy", "apply_cmd", "Deploy an environment (helmfile apply)."),
    "stats": ("cluster_mgmt.cli.stats", "stats_cmd", "Packet statistics from Hubble metrics."),
    "gitlab": (
        "cluster_mgmt.cli.gitlab",
        "gitlab_group",
        "GitLab set-up: bootstrap, lint, upgrade-mr.",
    ),
    "alerts": (
        "cluster_mgmt.cli.alerts",
        "alerts",
        "Hubble alerting rules; a test alert to GitLab.",
    ),
    "verify": ("cluster_mgmt.cli.verify", "verify_cmd", "Check the live stack (JUnit report)."),
    "restart-unmanaged-pods": (
        "cluster_mgmt.cli.restart",
        "restart_cmd",
        "Restart the pods Cilium does not manage yet.",
    ),
    "prepare": ("cluster_mgmt.cli.cluster", "prepare_cmd", "Prepare EKS/GKE for Cilium."),
    "rollback": ("cluster_mgmt.cli.cluster", "rollback_cmd", "Roll releases back a revision."),
    "siem": ("cluster_mgmt.cli.siem", "siem", "Check the syslog path to the SIEM (siem test)."),
}


@dataclass(slots=True)
class CliState:
    """Options shared by every command."""

    project_dir: Path
    debug: bool


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Run as if started in this project directory.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(__version__, prog_name="cluster-mgmt")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path, debug: bool) -> None:
    """Kubernetes network security (Cilium, Hubble, SIEM export, policies) managed from GitLab."""
    ctx.obj = CliState(project_dir=project_dir, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI with one error boundary: user errors exit 2 with a one-paragraph message."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="cluster-mgmt", standalone_mode=False)
    except UserError as exc:
        _print_error(exc.render())
        sys.exit(exc.exit_code)
    except ChangesDetected as exc:
        click.echo(exc.message, err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _print_error("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        _print_error(
            f"unexpected error: {type(exc).__name__}: {exc}\n(re-run with --debug for a traceback)"
        )
        sys.exit(1)
    sys.exit(0)


def _print_error(text: str) -> None:
    style: dict[str, Any] = {"fg": "red"} if sys.stderr.isatty() else {}
    click.echo(click.style(f"error: {text}", **style), err=True)


def state(ctx: click.Context) -> CliState:
    """The shared options of the running command."""
    obj = ctx.find_object(CliState)
    if obj is None:  # invoked directly in a test without the group
        obj = CliState(project_dir=Path(), debug=False)
    return obj
