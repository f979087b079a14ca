"""Options shared by several commands, declared once, with the same environment variables.

kubectl's habits: ``--kube-context`` (env ``KUBE_CONTEXT``), ``--kubeconfig`` (env
``KUBECONFIG``), ``--env`` for an environment of the project, ``-o`` for the output format.
Only click is imported here, so ``cluster-mgmt --help`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from cluster_mgmt.ops.kube_target import KubeTarget
    from cluster_mgmt.ops.project import Project

F = TypeVar("F", bound=Callable[..., Any])

KUBE_CONTEXT_ENV = "KUBE_CONTEXT"
KUBECONFIG_ENV = "KUBECONFIG"


def env_option(help_text: str = "Environment of the project (cluster).") -> Callable[[F], F]:
    """``--env ENV``: an environment named in cluster-mgmt.yaml."""
    return click.option("--env", "env", metavar="ENV", help=help_text)


def kube_context_option(
    help_text: str = "Kube context (default: the environment's, else $KUBE_CONTEXT, else the "
    "kubeconfig's current one).",
) -> Callable[[F], F]:
    """``--kube-context CONTEXT``, also read from ``KUBE_CONTEXT``."""
    return click.option(
        "--kube-context",
        "kube_context",
        envvar=KUBE_CONTEXT_ENV,
        metavar="CONTEXT",
        help=f"{help_text} [env: {KUBE_CONTEXT_ENV}]",
    )


def kubeconfig_option(f: F) -> F:
    """``--kubeconfig FILE``, also read from ``KUBECONFIG``."""
    return click.option(
        "--kubeconfig",
        "kubeconfig",
        envvar=KUBECONFIG_ENV,
        metavar="FILE",
        type=click.Path(dir_okay=False, path_type=str),
        help=f"Kubeconfig file (default: ~/.kube/config). [env: {KUBECONFIG_ENV}]",
    )(f)


def kube_options(f: F) -> F:
    """``--env``, ``--kube-context`` and ``--kubeconfig`` together, for live commands."""
    f = kubeconfig_option(f)
    f = kube_context_option()(f)
    return env_option("Environment of the project: its kube context is used.")(f)


def manifests_dir_option(help_text: str) -> Callable[[F], F]:
    """``--dir DIR``: manifests standing in for a live cluster."""
    return click.option(
        "--dir",
        "directory",
        type=click.Path(exists=True, path_type=Path),
        help=help_text,
    )


def output_option(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """``-o/--output FORMAT`` with the given formats (the first is the default)."""
    return click.option(
        "-o",
        "--output",
        "fmt",
        type=click.Choice(list(choices)),
        default=default or choices[0],
        show_default=True,
        help="Output format.",
    )


def timeout_option(
    default: str,
    help_text: str,
    *,
    minimum: float = 0.1,
    maximum: float = 86400.0,
    flag: str = "--timeout",
) -> Callable[[F], F]:
    """``--timeout DURATION`` (``90s``, ``5m``, ``1h`` or seconds), bounded, passed in seconds.

    The bounds make sure no command can wait forever (or give up before it started).
    ``flag`` names another duration option the same way (e.g. ``--verify-timeout``).
    """

    def seconds(ctx: click.Context, param: click.Parameter, value: Any) -> float:
        try:
            result = float(value)
        except (TypeError, ValueError):
            from cluster_mgmt.core.stats import parse_duration  # pure; not needed for --help
            from cluster_mgmt.errors import UserError

            try:
                result = float(parse_duration(str(value)))
            except UserError as exc:
                raise click.BadParameter(exc.message, ctx, param) from exc
        if not minimum <= result <= maximum:
            raise click.BadParameter(
                f"{value} is not between {minimum:g}s and {maximum:g}s", ctx, param
            )
        return result

    return click.option(
        flag,
        callback=seconds,
        default=default,
        show_default=True,
        metavar="DURATION",
        help=help_text,
    )


def context_from_flag(
    ctx: click.Context, kube_context: str | None
) -> tuple[str | None, str | None]:
    """Split ``--kube-context`` into (given on the command line, taken from ``KUBE_CONTEXT``)."""
    if not kube_context:
        return None, None
    if ctx.get_parameter_source("kube_context") == click.core.ParameterSource.ENVIRONMENT:
        return None, kube_context
    return kube_context, None


def kube_target(
    ctx: click.Context,
    *,
    env: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    project_dir: Path,
    project: Project | None = None,
) -> KubeTarget:
    """The cluster a live command talks to, resolved by the one resolver in ``ops``.

    ``project``: the project at ``project_dir`` when the command has loaded it already.
    """
    from cluster_mgmt.ops.kube_target import resolve_kube_target

    explicit, ambient = context_from_flag(ctx, kube_context)
    return resolve_kube_target(
        project_dir,
        env=env,
        kube_context=explicit,
        ambient_context=ambient,
        kubeconfig=kubeconfig,
        project=project,
    )


def junit_option(help_text: str) -> Callable[[F], F]:
    """``--junit FILE``, refused up front when the file could not be written at the end.

    A report written after minutes of checks must not fail on a missing directory: the
    directory must exist and be writable, and FILE must not be a directory.
    """

    def writable(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is None:
            return None
        parent = value.parent
        if value.is_dir():
            raise click.BadParameter(f"{value} is a directory", ctx, param)
        if not parent.is_dir():
            raise click.BadParameter(f"directory {parent} does not exist (for {value})", ctx, param)
        if not os.access(parent, os.W_OK | os.X_OK) or (
            value.exists() and not os.access(value, os.W_OK)
        ):
            raise click.BadParameter(f"{value} is not writable", ctx, param)
        return value

    return click.option(
        "--junit",
        type=click.Path(path_type=Path),
        metavar="FILE",
        callback=writable,
        help=help_text,
    )
