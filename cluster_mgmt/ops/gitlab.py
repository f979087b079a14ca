"""GitLab set-up use cases: ``gitlab bootstrap``, ``gitlab lint`` and the alert integration.

Bootstrap compares what the project needs with what GitLab has, and changes only the
difference, in this order: the project; the Prometheus alert integration (when the config
has alerts on somewhere), whose URL goes into ``alerts.url`` of cluster-mgmt.yaml (written
locally and re-rendered) when the config says otherwise; the files (one commit); agents, the
agent token in a masked, protected variable per environment and ``KUBE_CONTEXT`` per
environment; the ``upgrade`` and ``drift`` schedules; the alert key in ``GITLAB_ALERTS_KEY``
of each alerting environment. Run twice, the second run changes nothing. Secrets (agent
tokens, alert keys) stay in memory and in GitLab.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cluster_mgmt.adapters import project_files, yamlio
from cluster_mgmt.adapters.gitlab import (
    Agent,
    AgentToken,
    AlertIntegration,
    FileAction,
    GitLabClient,
    LintResult,
    Project,
    Variable,
)
from cluster_mgmt.adapters.project_fs import MANIFEST
from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.core.alerts import KEY_ENV as ALERTS_KEY_ENV
from cluster_mgmt.core.config import CONFIG_FILE
from cluster_mgmt.core.gitlab_rules import blob_id, cron_problem
from cluster_mgmt.core.render import AGENT_TOKEN_ENV
from cluster_mgmt.errors import UserError
from cluster_mgmt.ops.kube_target import environment_targets
from cluster_mgmt.ops.project import Project as LocalProject
from cluster_mgmt.ops.project import (
    apply_config_change,
    load_project,
    plan_config_change,
    plan_render,
)

KUBE_CONTEXT_VAR = "KUBE_CONTEXT"
ALERTS_KEY_VAR = ALERTS_KEY_ENV
SCHEDULE_VAR = "CLUSTER_MGMT_SCHEDULE"
ALERT_INTEGRATION_NAME = "cluster-mgmt"
DEFAULT_UPGRADE_CRON = "0 6 * * 1"  # Mondays 06:00 UTC
DEFAULT_DRIFT_CRON = "0 5 * * *"  # every day 05:00 UTC
DEFAULT_BRANCH = "main"
# GitLab allows two active tokens per agent: room for one rotation at a time.
MAX_AGENT_TOKENS = 2
_TOKEN_NOTE = re.compile(r"agent token (\d+) of agent ")
_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~%/\-]*)?")
_PROJECT_PATH = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)+")
_TOKEN = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the plan: what bootstrap does (or found already done)."""

    action: str  # create | update | rotate | revoke | unchanged
    target: str
    detail: str = ""

    @property
    def changes(self) -> bool:
        """Whether this line changes GitLab (or the local config)."""
        return self.action != "unchanged"


@dataclass(frozen=True, slots=True)
class BootstrapOptions:
    """What ``gitlab bootstrap`` was asked to do."""

    env: str | None = None
    gitlab_url: str | None = None
    project: str | None = None
    create_project: bool = False
    schedule_upgrades: str = DEFAULT_UPGRADE_CRON
    schedule_drift: str = DEFAULT_DRIFT_CRON
    rotate_token: bool = False
    alerts: bool = True
    rotate_alerts_key: bool = False
    dry_run: bool = False


@dataclass(slots=True)
class BootstrapResult:
    """The plan that was carried out (or only shown, with ``dry_run``)."""

    project: str
    web_url: str
    changes: list[Change] = field(default_factory=list)
    # New agent tokens by environment: kept in memory for --show-token, never written.
    new_tokens: dict[str, str] = field(default_factory=dict)
    alert_url: str | None = None
    # cluster-mgmt.yaml got the integration's URL: the files that change with it, and
    # whether they were written (not in a dry run).
    config_files: list[str] = field(default_factory=list)
    config_updated: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) changed."""
        return any(c.changes for c in self.changes)


@dataclass(frozen=True, slots=True)
class Target:
    """The GitLab instance and project a command acts on, and where each came from."""

    url: str
    project: str


def resolve_target(
    local: LocalProject | None, gitlab_url: str | None, project: str | None
) -> Target:
    """URL and project path: the flag, else the CI job's, else the config's.

    In CI the job's ``CI_SERVER_URL`` and ``CI_PROJECT_PATH`` are the truth; elsewhere
    ``gitlab.url`` and ``gitlab.project`` of cluster-mgmt.yaml.
    """
    config = local.config.gitlab if local is not None else None
    url = gitlab_url or os.environ.get("CI_SERVER_URL") or (config.url if config else None)
    path = project or os.environ.get("CI_PROJECT_PATH") or (config.project if config else None)
    if not url or not path:
        raise UserError(
            "no GitLab project: pass --gitlab-url and --project",
            hint=f"or run in a project whose {CONFIG_FILE} has gitlab.url and gitlab.project",
        )
    if not _URL.fullmatch(url):
        raise UserError(f"GitLab URL {url!r} must be http(s)://host[:port][/path]")
    path = path.strip("/")
    if not _PROJECT_PATH.fullmatch(path):
        raise UserError(f"GitLab project path {path!r} must look like group/name")
    return Target(url.rstrip("/"), path)


def connect(url: str, environ: Mapping[str, str] | None = None) -> GitLabClient:
    """A client authenticated by ``GITLAB_TOKEN`` (or ``CI_JOB_TOKEN`` where GitLab allows)."""
    source = environ if environ is not None else os.environ
    tokens: dict[str, str | None] = {}
    for name in ("GITLAB_TOKEN", "CI_JOB_TOKEN"):
        value = (source.get(name) or "").strip()
        # A pasted token with a space or a line break inside would end up in an HTTP error.
        if value and not _TOKEN.fullmatch(value):
            raise UserError(f"{name} contains whitespace or control characters")
        tokens[name] = value or None
    return GitLabClient(url, token=tokens["GITLAB_TOKEN"], job_token=tokens["CI_JOB_TOKEN"])


# -- bootstrap --------------------------------------------------------------------------------


def bootstrap(project_dir: Path, options: BootstrapOptions) -> BootstrapResult:
    """Bring GitLab in line with the project (see the module docstring)."""
    for cron in (options.schedule_upgrades, options.schedule_drift):
        problem = cron_problem(cron)
        if problem is not None:
            raise UserError(problem)
    local = load_project(project_dir)
    envs = local.env_names(options.env)
    files = _files_to_push(local)
    target = resolve_target(local, options.gitlab_url, options.project)
    client = connect(target.url)
    remote = client.find_project(target.project)
    result = BootstrapResult(target.project, remote.web_url if remote else "")
    if remote is None:
        if not options.create_project:
            client.project(target.project)  # raises the translated 404
        result.changes.append(Change("create", f"project {target.project}"))
        if not options.dry_run:
            remote = client.create_project(target.project)
            result.web_url = remote.web_url
    config = local.config
    # Alerts go where the config has them on; the integration comes before the push so
    # that its URL is in cluster-mgmt.yaml (and the rendered values) of that one commit.
    alerting = [env for env in envs if config.alerting(env)] if options.alerts else []
    integration: AlertIntegration | None = None
    if alerting:
        integration, change = _ensure_integration(
            client, remote, dry_run=options.dry_run, rotate=options.rotate_alerts_key
        )
        result.changes.append(change)
        result.alert_url = integration.url if integration else None
        files = _keep_alert_url(local, alerting, integration, files, options.dry_run, result)
    branch = (remote.default_branch if remote else None) or DEFAULT_BRANCH
    result.changes.extend(_push_files(client, remote, branch, files, options.dry_run))
    if remote is not None and remote.default_branch is None and not options.dry_run:
        remote = client.project(target.project)  # the first commit made the default branch
    contexts = environment_targets(local, options.env)
    for env in envs:
        agent_name = config.environments[env].agent
        agent, change = _ensure_agent(client, remote, agent_name, options.dry_run)
        result.changes.append(change)
        changes, secret = _ensure_agent_token(client, remote, agent, env, agent_name, options)
        result.changes.extend(changes)
        if secret is not None:
            result.new_tokens[env] = secret
        result.changes.append(
            _ensure_variable(
                client,
                remote,
                Variable(
                    KUBE_CONTEXT_VAR,
                    contexts[env].context or config.kube_context(env),
                    environment_scope=env,
                    description="Kube context of this environment (cluster-mgmt bootstrap)",
                ),
                options.dry_run,
            )
        )
    result.changes.extend(
        _ensure_schedules(
            client,
            remote,
            branch,
            {"upgrade": options.schedule_upgrades, "drift": options.schedule_drift},
            options.dry_run,
        )
    )
    if alerting:
        result.changes.extend(
            _ensure_alert_keys(client, remote, integration, alerting, options.dry_run)
        )
    return result


def _keep_alert_url(
    local: LocalProject,
    alerting: Sequence[str],
    integration: AlertIntegration | None,
    files: dict[PurePosixPath, bytes],
    dry_run: bool,
    result: BootstrapResult,
) -> dict[PurePosixPath, bytes]:
    """Set the top-level ``alerts.url`` to the integration's URL where the config differs.

    Environments with their own ``alerts.url`` are left alone (a warning when it differs).
    The config is written with its comments kept and the project re-rendered, unless
    ``dry_run``. Returns the files to push, with the change.
    """
    config = local.config
    # A dry run before the integration exists cannot know the URL GitLab will give it; any
    # URL re-renders the same files, so a stand-in one shows which files change.
    url = integration.url if integration is not None else None
    planned = url or f"{config.gitlab.url}/{config.gitlab.project}/alerts/notify/new/0.json"
    follow_top = []
    for env in alerting:
        own = config.environments[env].alerts
        if "url" in own.model_fields_set:
            if url is not None and config.alerts_url(env) != url:
                result.warnings.append(
                    f"environment {env} sets its own alerts.url ({config.alerts_url(env)}), "
                    f"not the alert integration's ({url}): left as it is"
                )
        else:
            follow_top.append(env)
    if not follow_top or all(config.alerts_url(env) == url for env in follow_top):
        return files
    document = yamlio.load_roundtrip(local.root / CONFIG_FILE)  # edited in place, comments kept
    alerts = yamlio.child_mapping(document, "alerts", before="environments")
    yamlio.set_scalar(alerts, "url", planned, after="enabled")
    change = plan_config_change(local.root, document)
    written = change.files()
    result.changes.append(
        Change(
            "update",
            f"{CONFIG_FILE} alerts.url",
            url or "the new alert integration's URL",
        )
    )
    result.config_files = sorted(str(p) for p in written if p != MANIFEST)
    if not dry_run:
        apply_config_change(local.root, change)
        result.config_updated = True
    merged = dict(files)
    for rel, text in written.items():
        if text is None:
            merged.pop(rel, None)
        else:
            merged[rel] = text.encode("utf-8")
    return dict(sorted(merged.items()))


def _files_to_push(local: LocalProject) -> dict[PurePosixPath, bytes]:
    plan = plan_render(local.root, local.config)
    if plan.stale:
        names = ", ".join(str(p) for p in plan.stale[:5])
        raise UserError(
            f"generated files are not current ({names}): nothing was sent to GitLab",
            hint="run `cluster-mgmt render` first (and commit)",
        )
    files = project_files.read_project_files(local.root)
    for rel, content in files.items():
        text = content.decode("utf-8", errors="replace")
        if redact(text) != text:
            raise UserError(
                f"{rel} contains a secret value (a token from the environment): refusing to "
                "push it",
                hint="secrets belong in masked CI/CD variables, never in the repository",
            )
    return files


def _push_files(
    client: GitLabClient,
    remote: Project | None,
    branch: str,
    files: Mapping[PurePosixPath, bytes],
    dry_run: bool,
) -> list[Change]:
    current = client.tree(remote, branch) if remote is not None else {}
    actions = []
    for rel, content in files.items():
        path = str(rel)
        if path not in current:
            actions.append(FileAction("create", path, content))
        elif current[path] != blob_id(content):
            actions.append(FileAction("update", path, content))
    if not actions:
        return [Change("unchanged", f"files on {branch}", f"{len(files)} files")]
    created = sum(1 for a in actions if a.action == "create")
    detail = f"{created} new, {len(actions) - created} changed: " + ", ".join(
        a.path for a in actions[:4]
    )
    if len(actions) > 4:
        detail += f", … ({len(actions) - 4} more)"
    if not dry_run and remote is not None:
        client.commit(
            remote,
            branch=branch,
            message=f"cluster-mgmt bootstrap: {len(actions)} project files",
            actions=actions,
        )
    return [Change("update" if current else "create", f"files on {branch} (one commit)", detail)]


def _ensure_agent(
    client: GitLabClient, remote: Project | None, name: str, dry_run: bool
) -> tuple[Agent | None, Change]:
    existing = [a for a in client.agents(remote) if a.name == name] if remote else []
    if existing:
        return existing[0], Change("unchanged", f"agent {name}", f"id {existing[0].id}")
    if dry_run or remote is None:
        return None, Change("create", f"agent {name}")
    agent = client.create_agent(remote, name)
    return agent, Change("create", f"agent {name}", f"id {agent.id}")


def _ensure_agent_token(
    client: GitLabClient,
    remote: Project | None,
    agent: Agent | None,
    env: str,
    agent_name: str,
    options: BootstrapOptions,
) -> tuple[list[Change], str | None]:
    """The agent token in a masked, protected ``GITLAB_AGENT_TOKEN`` scoped to ``env``.

    A token cannot be read back from GitLab, so the variable's description records which
    token it holds; the variable is current when that token is still active. Rotation
    creates the new token, stores it, then revokes the old one (GitLab allows two active).
    """
    label = f"variable {AGENT_TOKEN_ENV} ({env})"
    var = client.variable(remote, AGENT_TOKEN_ENV, env) if remote else None
    tokens = client.agent_tokens(remote, agent) if remote and agent else []
    active = {t.id: t for t in tokens}
    held = _held_token(var)
    if var is not None and not options.rotate_token:
        current = held in active if held is not None else bool(tokens)
        if current:
            if var.masked and var.protected:
                return [Change("unchanged", label, "masked, protected")], None
            if options.dry_run or remote is None:
                return [Change("update", label, "make masked and protected")], None
            client.set_variable(
                remote,
                Variable(
                    var.key,
                    var.value,
                    env,
                    masked=True,
                    protected=True,
                    raw=var.raw,
                    description=var.description,
                ),
                exists=True,
            )
            return [Change("update", label, "made masked and protected")], None
    action = "rotate" if var is not None else "create"
    changes: list[Change] = []
    # Make room: GitLab refuses a third active token. Spare tokens cluster-mgmt made go first.
    old = active.get(held) if held is not None else None
    spare = sorted((t for t in tokens if t.id != held), key=lambda t: t.id)
    room_needed = len(tokens) - (MAX_AGENT_TOKENS - 1)
    to_free: list[AgentToken] = []
    for token in spare:
        if len(to_free) >= room_needed:
            break
        if not token.name.startswith("cluster-mgmt"):
            continue
        to_free.append(token)
    if len(to_free) < room_needed:
        raise UserError(
            f"agent {agent_name} already has {len(tokens)} active tokens (GitLab allows "
            f"{MAX_AGENT_TOKENS}) and none of the spare ones was made by cluster-mgmt",
            hint="revoke an unused token in GitLab (Operate > Kubernetes clusters > the "
            "agent > Access tokens), then run bootstrap again",
        )
    changes.extend(
        Change("revoke", f"agent {agent_name} token {token.id}", "unused") for token in to_free
    )
    changes.append(Change(action, f"agent {agent_name} token", "new token"))
    changes.append(Change(action, label, "masked, protected"))
    if old is not None:
        changes.append(Change("revoke", f"agent {agent_name} token {old.id}", "replaced"))
    # Tokens an interrupted earlier run made for this environment are held by nothing.
    leftovers = [t for t in spare if t not in to_free and t.name == f"cluster-mgmt-{env}"]
    changes.extend(
        Change("revoke", f"agent {agent_name} token {token.id}", "unused") for token in leftovers
    )
    if options.dry_run or remote is None or agent is None:
        return changes, None
    for token in to_free:
        client.revoke_agent_token(remote, agent, token.id)
    record, secret = client.create_agent_token(
        remote,
        agent,
        f"cluster-mgmt-{env}",
        f"created by cluster-mgmt bootstrap for environment {env}",
    )
    client.set_variable(
        remote,
        Variable(
            AGENT_TOKEN_ENV,
            secret,
            env,
            masked=True,
            protected=True,
            description=f"GitLab agent token {record.id} of agent {agent_name} "
            "(cluster-mgmt bootstrap)",
        ),
        exists=var is not None,
    )
    for token in [old, *leftovers] if old is not None else leftovers:
        client.revoke_agent_token(remote, agent, token.id)
    return changes, secret


def _held_token(var: Variable | None) -> int | None:
    if var is None:
        return None
    match = _TOKEN_NOTE.search(var.description.lower())
    return int(match.group(1)) if match else None


def _ensure_variable(
    client: GitLabClient, remote: Project | None, wanted: Variable, dry_run: bool
) -> Change:
    label = f"variable {wanted.key} ({wanted.environment_scope})"
    shown = "(masked)" if wanted.masked else wanted.value
    current = client.variable(remote, wanted.key, wanted.environment_scope) if remote else None
    if current is not None and (
        current.value,
        current.masked,
        current.protected,
        current.raw,
    ) == (wanted.value, wanted.masked, wanted.protected, wanted.raw):
        return Change("unchanged", label, shown)
    action = "update" if current is not None else "create"
    if not dry_run and remote is not None:
        client.set_variable(remote, wanted, exists=current is not None)
    return Change(action, label, shown)


def _ensure_schedules(
    client: GitLabClient,
    remote: Project | None,
    branch: str,
    crons: Mapping[str, str],
    dry_run: bool,
) -> list[Change]:
    existing = {s.description: s for s in client.schedules(remote)} if remote else {}
    changes = []
    for kind, cron in crons.items():
        description = f"cluster-mgmt {kind}"
        label = f"schedule {description!r}"
        wanted_vars = {SCHEDULE_VAR: kind}
        found = existing.get(description)
        detail = f"{cron} UTC on {branch}, {SCHEDULE_VAR}={kind}"
        if found is not None and (
            found.ref == branch
            and found.cron == cron
            and found.cron_timezone == "UTC"
            and found.active
            and all(found.variables.get(k) == v for k, v in wanted_vars.items())
        ):
            changes.append(Change("unchanged", label, detail))
            continue
        changes.append(Change("update" if found else "create", label, detail))
        if dry_run or remote is None:
            continue
        client.save_schedule(
            remote,
            schedule_id=found.id if found else None,
            description=description,
            ref=branch,
            cron=cron,
            cron_timezone="UTC",
            variables=wanted_vars,
            old_variables=found.variables if found else None,
        )
    return changes


# -- alert integration ------------------------------------------------------------------------


def ensure_alert_integration(
    client: GitLabClient,
    remote: Project | None,
    envs: Sequence[str],
    *,
    dry_run: bool = False,
    rotate: bool = False,
) -> tuple[AlertIntegration | None, list[Change]]:
    """The project's Prometheus alert integration, and its key in ``GITLAB_ALERTS_KEY``.

    An active Prometheus-type integration is reused (the one named ``cluster-mgmt`` first);
    otherwise one is created. Its authorization key is stored as a masked, protected
    variable in each environment's scope. ``rotate`` resets the key first.

    Returns the integration (None in a dry run that would create it) and the plan lines.
    """
    integration, change = _ensure_integration(client, remote, dry_run=dry_run, rotate=rotate)
    return integration, [change, *_ensure_alert_keys(client, remote, integration, envs, dry_run)]


def _ensure_integration(
    client: GitLabClient, remote: Project | None, *, dry_run: bool, rotate: bool
) -> tuple[AlertIntegration | None, Change]:
    found = client.alert_integrations(remote) if remote is not None else []
    active = sorted(
        (i for i in found if i.active and i.type == "PROMETHEUS"),
        key=lambda i: (i.name != ALERT_INTEGRATION_NAME, i.id),
    )
    integration: AlertIntegration | None = active[0] if active else None
    if integration is None:
        change = Change("create", f"alert integration {ALERT_INTEGRATION_NAME!r} (Prometheus)")
        if not dry_run and remote is not None:
            integration = client.create_alert_integration(remote, ALERT_INTEGRATION_NAME)
        return integration, change
    if rotate:
        if not dry_run:
            integration = client.reset_alert_integration_token(integration)
        return integration, Change("rotate", f"alert integration {integration.name!r}", "new key")
    return integration, Change("unchanged", f"alert integration {integration.name!r}")


def _ensure_alert_keys(
    client: GitLabClient,
    remote: Project | None,
    integration: AlertIntegration | None,
    envs: Sequence[str],
    dry_run: bool,
) -> list[Change]:
    changes: list[Change] = []
    for env in envs:
        if integration is None:
            changes.append(Change("create", f"variable {ALERTS_KEY_VAR} ({env})", "(masked)"))
            continue
        changes.append(
            _ensure_variable(
                client,
                remote,
                Variable(
                    ALERTS_KEY_VAR,
                    integration.token,
                    env,
                    masked=True,
                    protected=True,
                    description=f"Authorization key of the alert integration "
                    f"{integration.name!r} (cluster-mgmt bootstrap)",
                ),
                dry_run,
            )
        )
    return changes


def setup_alert_integration(
    project_dir: Path,
    *,
    env: str | None = None,
    gitlab_url: str | None = None,
    project: str | None = None,
    dry_run: bool = False,
    rotate: bool = False,
) -> tuple[AlertIntegration | None, list[Change]]:
    """:func:`ensure_alert_integration` for a project directory, on its own.

    The alerting commands use it to (re)create the integration and its
    ``GITLAB_ALERTS_KEY`` variables without the rest of bootstrap, for the environments
    whose config has alerts on (none: nothing is done). It does not write the config.
    """
    local = load_project(project_dir)
    envs = [name for name in local.env_names(env) if local.config.alerting(name)]
    if not envs:
        return None, []
    target = resolve_target(local, gitlab_url, project)
    client = connect(target.url)
    remote = client.project(target.project)
    return ensure_alert_integration(client, remote, envs, dry_run=dry_run, rotate=rotate)


# -- lint -------------------------------------------------------------------------------------


def lint_pipeline(
    project_dir: Path,
    *,
    file: Path | None = None,
    gitlab_url: str | None = None,
    project: str | None = None,
    ref: str | None = None,
) -> tuple[str, LintResult]:
    """Lint the local pipeline file through GitLab (``ci/lint`` with ``dry_run``).

    Returns the file name and GitLab's verdict.
    """
    path = file if file is not None else project_dir / ".gitlab-ci.yml"
    content = project_files.read_text(path)
    if content is None:
        raise UserError(f"{path}: file not found")
    local = load_project(project_dir) if (project_dir / CONFIG_FILE).is_file() else None
    target = resolve_target(local, gitlab_url, project)
    client = connect(target.url)
    remote = client.project(target.project)
    return str(path), client.ci_lint(remote, content, ref or remote.default_branch)
