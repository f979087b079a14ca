"""Alert use cases: the rendered rules of an environment, and a test alert to GitLab."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cluster_mgmt.adapters import alert_endpoint
from cluster_mgmt.core import alerts as core
from cluster_mgmt.core.config import CONFIG_FILE
from cluster_mgmt.errors import UserError
from cluster_mgmt.ops.project import Project, load_project


def pick_env(project: Project, env: str | None) -> str:
    """The environment named, or the only one; several without ``--env`` is an error."""
    if env is None:
        names = list(project.config.environments)
        if len(names) > 1:
            raise UserError(f"several environments ({', '.join(names)}): choose one with --env")
        return names[0]
    project.env_names(env)
    return env


def rules(project_dir: Path, env: str | None) -> tuple[str, dict[str, Any]]:
    """The environment and its Prometheus rule file, as rendered into the prometheus values."""
    project = load_project(project_dir)
    env_name = pick_env(project, env)
    config = project.config
    if not config.app_enabled(env_name, "prometheus"):
        raise UserError(f"no alerts in {env_name!r}: the prometheus app is off there")
    if not config.alerting(env_name):
        raise UserError(
            f"alerts are off in {env_name!r}",
            hint=f"set alerts.enabled: true in {CONFIG_FILE}",
        )
    return env_name, core.rule_file(config, env_name)


@dataclass(frozen=True, slots=True)
class SentTestAlert:
    """Where the test alert went and what GitLab answered."""

    url: str
    env: str
    status: int
    resolved: bool


def send_test_alert(
    project_dir: Path,
    env: str | None,
    url: str | None,
    *,
    resolve: bool = False,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> SentTestAlert:
    """Post one test alert (and, with ``resolve``, its resolution) to the GitLab endpoint.

    The URL is ``url`` or the environment's ``alerts.url`` (default: the project's
    Prometheus endpoint); the key is ``GITLAB_ALERTS_KEY`` from the environment.
    """
    source = environ if environ is not None else os.environ
    key = source.get(core.KEY_ENV, "")
    if not key.strip():
        raise UserError(
            f"{core.KEY_ENV} is not set: export the alert integration's authorization key "
            "(in CI it is the environment's masked CI/CD variable)"
        )
    env_name = env or "test"
    if url is None or (project_dir / CONFIG_FILE).is_file():
        project = load_project(project_dir)
        env_name = pick_env(project, env)
        url = url or project.config.alerts_url(env_name)
    sent_at = now or datetime.now(UTC)
    delivery = alert_endpoint.post_alert(url, core.build_test_alert(env_name, sent_at), key.strip())
    if resolve:
        closing = core.build_test_alert(env_name, datetime.now(UTC), "resolved", sent_at)
        delivery = alert_endpoint.post_alert(url, closing, key.strip())
    return SentTestAlert(url=url, env=env_name, status=delivery.status, resolved=resolve)
