"""The one environment -> kube context resolver, and the shared CLI options using it."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cluster_mgmt.cli.options import kube_options, kube_target
from cluster_mgmt.errors import UserError
from cluster_mgmt.ops.kube_target import environment_targets, resolve_kube_target
from cluster_mgmt.ops.project import load_project

AGENT_CONTEXT = "my-group/cluster-management:dev-agent"


@pytest.fixture
def project(run_cli, tmp_path: Path) -> Path:
    result = run_cli(
        "init", tmp_path / "p", "--provider", "kind", "--env", "dev",
        "--agent-project", "my-group/cluster-management", "--agent", "dev-agent",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return tmp_path / "p"


def test_precedence_flag_then_env_then_ambient_then_current(project: Path) -> None:
    both = resolve_kube_target(project, env="dev", kube_context="kind-dev", ambient_context="amb")
    assert (both.context, both.env, both.origin) == ("kind-dev", "dev", "--kube-context")
    by_env = resolve_kube_target(project, env="dev", ambient_context="amb", kubeconfig="/k")
    assert (by_env.context, by_env.env, by_env.kubeconfig) == (AGENT_CONTEXT, "dev", "/k")
    assert by_env.describe() == f"context {AGENT_CONTEXT!r} (environment dev)"
    ambient = resolve_kube_target(project, ambient_context="amb")
    assert (ambient.context, ambient.origin) == ("amb", "KUBE_CONTEXT")
    only = resolve_kube_target(project)
    assert (only.context, only.env, only.origin) == (AGENT_CONTEXT, "dev", "environment dev")
    current = resolve_kube_target(project / "not-a-project")
    assert current.context is None and current.describe() == "the kubeconfig's current context"


def test_several_environments_never_guess(project: Path) -> None:
    config = project / "cluster-mgmt.yaml"
    config.write_text(config.read_text() + "  prod:\n    provider: kind\n    agent: prod-agent\n")
    with pytest.raises(UserError, match=r"2 environments \(dev, prod\): say which with --env"):
        resolve_kube_target(project)
    assert resolve_kube_target(project, env="prod").env == "prod"
    assert resolve_kube_target(project, ambient_context="amb").context == "amb"


def test_unknown_environment_and_missing_project(project: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no environment 'prod'"):
        resolve_kube_target(project, env="prod")
    with pytest.raises(UserError, match="no cluster-mgmt.yaml"):
        resolve_kube_target(tmp_path / "nowhere", env="dev")
    # Without --env the project is not read at all.
    assert resolve_kube_target(tmp_path / "nowhere", kube_context="x").context == "x"


def test_environment_targets(project: Path) -> None:
    targets = environment_targets(load_project(project), None, "/kc")
    assert {n: (t.context, t.kubeconfig) for n, t in targets.items()} == {
        "dev": (AGENT_CONTEXT, "/kc")
    }


@click.command()
@kube_options
@click.pass_context
def _probe(ctx: click.Context, env: str | None, kube_context: str | None, kubeconfig: str | None):
    target = kube_target(
        ctx, env=env, kube_context=kube_context, kubeconfig=kubeconfig, project_dir=PROJECT[0]
    )
    click.echo(f"{target.context}|{target.kubeconfig}|{target.origin}")


PROJECT: list[Path] = []


def test_shared_options_read_the_same_environment_variables(project: Path) -> None:
    PROJECT[:] = [project]
    runner = CliRunner()
    env = {"KUBE_CONTEXT": "from-env", "KUBECONFIG": "/tmp/kc"}
    assert runner.invoke(_probe, [], env=env).output == "from-env|/tmp/kc|KUBE_CONTEXT\n"
    # An explicit --env beats the ambient KUBE_CONTEXT; an explicit --kube-context beats both.
    out = runner.invoke(_probe, ["--env", "dev"], env=env).output
    assert out == f"{AGENT_CONTEXT}|/tmp/kc|environment dev\n"
    out = runner.invoke(_probe, ["--env", "dev", "--kube-context", "x"], env=env).output
    assert out == "x|/tmp/kc|--kube-context\n"
