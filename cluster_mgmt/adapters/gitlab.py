"""GitLab API adapter: the only module that imports python-gitlab.

Every call goes through :meth:`GitLabClient._call`, which retries transient failures (5xx,
connection resets) a bounded number of times and translates python-gitlab's exceptions
into one-line :class:`~cluster_mgmt.errors.ClusterError` messages: 401 names the token,
403 the missing scope or role, 404 the project path. "Already exists" answers are adopted
by the ``ensure_*``/``create_*`` methods instead of failing. Every text taken from an
answer passes through :func:`~cluster_mgmt.adapters.secrets.redact`.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import gitlab
import requests
from gitlab import exceptions as gl_exc

from cluster_mgmt.adapters.gitlab_records import (
    Agent,
    AgentToken,
    AlertIntegration,
    FileAction,
    LintMessage,
    LintResult,
    MergeRequest,
    Project,
    Schedule,
    Variable,
    job_of,
    merge_request_from,
    project_from,
    schedule_from,
    variable_from,
)
from cluster_mgmt.adapters.secrets import redact, register_secret
from cluster_mgmt.core.gitlab_rules import masked_value_problem, variable_key_problem
from cluster_mgmt.errors import ClusterError, UserError

__all__ = [
    "Agent",
    "AgentToken",
    "AlertIntegration",
    "FileAction",
    "GitLabApiError",
    "GitLabClient",
    "LintMessage",
    "LintResult",
    "MergeRequest",
    "Project",
    "Schedule",
    "Variable",
]

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 0.5
# What a token needs for the commands that write (variables, agents, commits, schedules).
WRITE_SCOPE = "api"
TOKEN_HINT = (
    "use a project access token (or personal access token) with scope `api` and the "
    "Maintainer role in GITLAB_TOKEN"
)


class GitLabApiError(ClusterError):
    """A GitLab answer translated for the user; ``status`` is the HTTP code (0: none)."""

    def __init__(self, message: str, *, status: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class GitLabClient:
    """A small client for the GitLab endpoints cluster-mgmt uses.

    Args:
        url: the GitLab base URL (``https://gitlab.example.com``).
        token: a personal/project access token (``PRIVATE-TOKEN``).
        job_token: a CI job token instead (``JOB-TOKEN``); only some endpoints accept it.
        timeout_s: per-request timeout.
        attempts: tries per call on 5xx answers or dropped connections.
        backoff_s: first pause between tries; doubled each time.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        job_token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_s: float = DEFAULT_BACKOFF_S,
    ) -> None:
        if not token and not job_token:
            raise UserError(
                "no GitLab token: set GITLAB_TOKEN",
                hint=TOKEN_HINT,
            )
        for secret, label in ((token, "GITLAB_TOKEN"), (job_token, "CI_JOB_TOKEN")):
            if secret:
                register_secret(secret, label)
        self.url = url.rstrip("/")
        self.uses_job_token = not token
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._gl = gitlab.Gitlab(
            self.url,
            private_token=token or None,
            job_token=None if token else job_token,
            timeout=timeout_s,
            retry_transient_errors=False,  # retried here, a bounded number of times
            keep_base_url=True,
            per_page=100,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, project: str | None = None) -> T:
        """Run one API call with bounded retries; translate every failure."""
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except gl_exc.GitlabError as exc:
                code = exc.response_code or 0
                if code >= 500 and attempt < self.attempts:
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise self._translate(exc, what, project, attempt) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt < self.attempts:
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise GitLabApiError(
                    redact(f"GitLab unreachable at {self.url} ({what}): {_short(exc)}"),
                    hint="check --gitlab-url (or gitlab.url in cluster-mgmt.yaml)",
                ) from None
            except requests.RequestException as exc:
                raise GitLabApiError(
                    redact(f"GitLab request failed ({what}): {_short(exc)}")
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(
        self, exc: gl_exc.GitlabError, what: str, project: str | None, attempts: int
    ) -> GitLabApiError:
        code = exc.response_code or 0
        body = _json_body(exc.response_body)
        message = redact(_message_text(body, exc))
        if code == 401:
            who = "CI_JOB_TOKEN" if self.uses_job_token else "GITLAB_TOKEN"
            return GitLabApiError(
                f"GitLab at {self.url} rejected the token in {who} (401 Unauthorized) "
                f"while trying to {what}: it is invalid, expired or revoked",
                status=code,
                hint=TOKEN_HINT,
            )
        if code == 403:
            if self.uses_job_token:
                return GitLabApiError(
                    f"CI_JOB_TOKEN is not allowed to {what} (403 Forbidden)",
                    status=code,
                    hint="set GITLAB_TOKEN to a project access token with scope `api`",
                )
            if isinstance(body, dict) and body.get("error") == "insufficient_scope":
                scope = str(body.get("scope") or WRITE_SCOPE)
                return GitLabApiError(
                    f"the GitLab token lacks the `{scope}` scope needed to {what} "
                    "(403 insufficient_scope)",
                    status=code,
                    hint=f"create a token with scope `{scope}` and put it in GITLAB_TOKEN",
                )
            where = f" in project {project}" if project else ""
            return GitLabApiError(
                f"GitLab refused to {what}{where} (403 Forbidden): the token's role is too "
                "low (variables, agents and schedules need Maintainer)",
                status=code,
                hint=TOKEN_HINT,
            )
        if code == 404:
            if project is not None:
                return GitLabApiError(
                    f"GitLab project {project!r} not found at {self.url} (404), or the token "
                    "cannot see it",
                    status=code,
                    hint="check --project (or gitlab.project in cluster-mgmt.yaml)",
                )
            return GitLabApiError(f"GitLab: not found (404) while trying to {what}", status=404)
        if code >= 500:
            return GitLabApiError(
                f"GitLab at {self.url} failed to {what}: HTTP {code} after {attempts} "
                f"attempts: {message}",
                status=code,
            )
        detail = f"HTTP {code}: {message}" if code else message
        return GitLabApiError(f"GitLab refused to {what}: {detail}", status=code)

    def _get(self, what: str, path: str, project: str | None = None, **query: Any) -> Any:
        return self._call(what, lambda: self._gl.http_get(path, query_data=query), project=project)

    def _list(self, what: str, path: str, project: str | None = None, **query: Any) -> list[Any]:
        def fetch() -> list[Any]:
            return list(self._gl.http_list(path, query_data=query, get_all=True))

        return self._call(what, fetch, project=project)

    def _post(
        self, what: str, path: str, data: Mapping[str, Any], project: str | None = None
    ) -> Any:
        return self._call(
            what, lambda: self._gl.http_post(path, post_data=dict(data)), project=project
        )

    def _put(
        self,
        what: str,
        path: str,
        data: Mapping[str, Any],
        project: str | None = None,
        **query: Any,
    ) -> Any:
        return self._call(
            what,
            lambda: self._gl.http_put(path, query_data=query, post_data=dict(data)),
            project=project,
        )

    def _delete(self, what: str, path: str, project: str | None = None) -> None:
        self._call(what, lambda: self._gl.http_delete(path), project=project)

    # -- projects and repository ------------------------------------------------------------

    def project(self, path: str) -> Project:
        """The project at ``path`` (``group/name``); a missing one names the path."""
        data = self._get(f"read project {path}", f"/projects/{_enc(path)}", project=path)
        return project_from(data)

    def find_project(self, path: str) -> Project | None:
        """The project at ``path``, or None when it does not exist."""
        try:
            return self.project(path)
        except GitLabApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create_project(self, path: str) -> Project:
        """Create ``group/name`` in its (existing) group; an existing project is adopted."""
        namespace, _, name = path.rpartition("/")
        ns = self._get(
            f"read group {namespace}", f"/namespaces/{_enc(namespace)}", project=namespace
        )
        try:
            data = self._post(
                f"create project {path}",
                "/projects",
                {"name": name, "path": name, "namespace_id": ns["id"]},
            )
        except GitLabApiError as exc:
            if _already_exists(exc):
                return self.project(path)
            raise
        return project_from(data)

    def tree(self, project: Project, ref: str) -> dict[str, str]:
        """Files of ``ref`` (recursive) as path → git blob id; {} for an empty repository."""
        if project.default_branch is None:
            return {}
        try:
            items = self._list(
                f"list files of {ref}",
                f"/projects/{project.id}/repository/tree",
                project=project.path,
                recursive=True,
                ref=ref,
            )
        except GitLabApiError as exc:
            # An empty repository already names its default branch, but has no tree yet.
            if exc.status == 404:
                return {}
            raise
        return {item["path"]: item["id"] for item in items if item.get("type") == "blob"}

    def branch_exists(self, project: Project, branch: str) -> bool:
        """Whether ``branch`` exists."""
        try:
            self._get(
                f"read branch {branch}",
                f"/projects/{project.id}/repository/branches/{_enc(branch)}",
            )
        except GitLabApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def file_text(self, project: Project, path: str, ref: str) -> str | None:
        """The text of ``path`` at ``ref``, or None when absent."""
        try:
            data = self._get(
                f"read {path}", f"/projects/{project.id}/repository/files/{_enc(path)}", ref=ref
            )
        except GitLabApiError as exc:
            if exc.status == 404:
                return None
            raise
        return base64.b64decode(data["content"]).decode("utf-8")

    def commit(
        self,
        project: Project,
        *,
        branch: str,
        message: str,
        actions: Sequence[FileAction],
        start_branch: str | None = None,
        force: bool = False,
    ) -> str:
        """One commit with ``actions`` on ``branch``; returns its id."""
        data: dict[str, Any] = {
            "branch": branch,
            "commit_message": message,
            "actions": [a.payload() for a in actions],
        }
        if start_branch is not None and start_branch != branch:
            data["start_branch"] = start_branch
        if force:
            data["force"] = True
        result = self._post(
            f"commit to {branch}",
            f"/projects/{project.id}/repository/commits",
            data,
            project=project.path,
        )
        return str(result["id"])

    # -- agents -------------------------------------------------------------------------------

    def agents(self, project: Project) -> list[Agent]:
        """Agents registered in the project."""
        items = self._list(
            "list cluster agents", f"/projects/{project.id}/cluster_agents", project.path
        )
        return [Agent(int(i["id"]), str(i["name"])) for i in items]

    def create_agent(self, project: Project, name: str) -> Agent:
        """Register agent ``name``; one registered meanwhile is adopted."""
        try:
            data = self._post(
                f"register agent {name}",
                f"/projects/{project.id}/cluster_agents",
                {"name": name},
                project.path,
            )
        except GitLabApiError as exc:
            if _already_exists(exc):
                found = [a for a in self.agents(project) if a.name == name]
                if found:
                    return found[0]
            raise
        return Agent(int(data["id"]), str(data["name"]))

    def agent_tokens(self, project: Project, agent: Agent) -> list[AgentToken]:
        """The agent's active tokens."""
        items = self._list(
            f"list tokens of agent {agent.name}",
            f"/projects/{project.id}/cluster_agents/{agent.id}/tokens",
            project.path,
        )
        return [
            AgentToken(
                int(i["id"]),
                str(i.get("name") or ""),
                str(i.get("status") or "active"),
                str(i.get("description") or ""),
            )
            for i in items
            if str(i.get("status") or "active") == "active"
        ]

    def create_agent_token(
        self, project: Project, agent: Agent, name: str, description: str
    ) -> tuple[AgentToken, str]:
        """A new token for ``agent``: its record and the secret (shown only this once).

        The secret is registered for redaction before this returns.
        """
        data = self._post(
            f"create a token for agent {agent.name}",
            f"/projects/{project.id}/cluster_agents/{agent.id}/tokens",
            {"name": name, "description": description},
            project.path,
        )
        secret = str(data.pop("token"))
        register_secret(secret, "agent token")
        return AgentToken(int(data["id"]), str(data.get("name") or name), "active"), secret

    def revoke_agent_token(self, project: Project, agent: Agent, token_id: int) -> None:
        """Revoke one token of ``agent``."""
        self._delete(
            f"revoke token {token_id} of agent {agent.name}",
            f"/projects/{project.id}/cluster_agents/{agent.id}/tokens/{token_id}",
            project.path,
        )

    # -- variables ----------------------------------------------------------------------------

    def variable(self, project: Project, key: str, scope: str) -> Variable | None:
        """The variable ``key`` in environment ``scope``, or None."""
        for item in self._list(
            "list CI/CD variables", f"/projects/{project.id}/variables", project.path
        ):
            if item["key"] == key and item.get("environment_scope", "*") == scope:
                return variable_from(item)
        return None

    def set_variable(self, project: Project, var: Variable, *, exists: bool) -> None:
        """Create or update ``var`` in its scope; masked values are checked first."""
        problem = variable_key_problem(var.key)
        if problem is None and var.masked:
            problem = masked_value_problem(var.value, raw=var.raw)
        if problem is not None:
            raise UserError(f"variable {var.key} ({var.environment_scope}): {problem}")
        data = {
            "key": var.key,
            "value": var.value,
            "environment_scope": var.environment_scope,
            "masked": var.masked,
            "protected": var.protected,
            "raw": var.raw,
            "description": var.description,
        }
        what = f"set variable {var.key} for scope {var.environment_scope}"
        path = f"/projects/{project.id}/variables"
        if not exists:
            try:
                self._post(what, path, data, project.path)
                return
            except GitLabApiError as exc:
                if not _already_exists(exc):
                    raise
        self._put(
            what,
            f"{path}/{_enc(var.key)}",
            data,
            project.path,
            **{"filter[environment_scope]": var.environment_scope},
        )

    # -- pipeline schedules -------------------------------------------------------------------

    def schedules(self, project: Project) -> list[Schedule]:
        """Pipeline schedules with their variables."""
        base = f"/projects/{project.id}/pipeline_schedules"
        found = []
        for item in self._list("list pipeline schedules", base, project.path):
            detail = self._get("read a pipeline schedule", f"{base}/{item['id']}", project.path)
            found.append(schedule_from(detail))
        return found

    def save_schedule(
        self,
        project: Project,
        *,
        schedule_id: int | None,
        description: str,
        ref: str,
        cron: str,
        cron_timezone: str,
        variables: Mapping[str, str],
        old_variables: Mapping[str, str] | None = None,
    ) -> int:
        """Create (``schedule_id`` None) or update a schedule and set its variables."""
        base = f"/projects/{project.id}/pipeline_schedules"
        data = {
            "description": description,
            "ref": ref,
            "cron": cron,
            "cron_timezone": cron_timezone,
            "active": True,
        }
        what = f"save pipeline schedule {description!r}"
        if schedule_id is None:
            schedule_id = int(self._post(what, base, data, project.path)["id"])
        else:
            self._put(what, f"{base}/{schedule_id}", data, project.path)
        old = old_variables or {}
        for key, value in variables.items():
            if old.get(key) == value:
                continue
            body = {"key": key, "value": value, "variable_type": "env_var"}
            vpath = f"{base}/{schedule_id}/variables"
            if key in old:
                self._put(what, f"{vpath}/{_enc(key)}", body, project.path)
            else:
                self._post(what, vpath, body, project.path)
        return schedule_id

    # -- merge requests -----------------------------------------------------------------------

    def open_merge_requests(self, project: Project, source: str, target: str) -> list[MergeRequest]:
        """Open merge requests from ``source`` into ``target``."""
        items = self._list(
            "list merge requests",
            f"/projects/{project.id}/merge_requests",
            project.path,
            state="opened",
            source_branch=source,
            target_branch=target,
        )
        return [merge_request_from(i) for i in items]

    def create_merge_request(
        self, project: Project, *, source: str, target: str, title: str, description: str
    ) -> MergeRequest:
        """Open a merge request."""
        data = self._post(
            f"open a merge request from {source}",
            f"/projects/{project.id}/merge_requests",
            {
                "source_branch": source,
                "target_branch": target,
                "title": title,
                "description": description,
                "remove_source_branch": True,
            },
            project.path,
        )
        return merge_request_from(data)

    def update_merge_request(
        self, project: Project, iid: int, *, title: str, description: str
    ) -> MergeRequest:
        """Change a merge request's title and description."""
        data = self._put(
            f"update merge request !{iid}",
            f"/projects/{project.id}/merge_requests/{iid}",
            {"title": title, "description": description},
            project.path,
        )
        return merge_request_from(data)

    # -- CI lint ------------------------------------------------------------------------------

    def ci_lint(self, project: Project, content: str, ref: str | None = None) -> LintResult:
        """``POST /projects/:id/ci/lint`` with ``dry_run``: a simulated pipeline creation."""
        data: dict[str, Any] = {"content": content, "dry_run": True, "include_jobs": True}
        if ref:
            data["ref"] = ref
        result = self._post(
            "lint the pipeline", f"/projects/{project.id}/ci/lint", data, project.path
        )
        messages = [
            LintMessage("error", str(text), job_of(str(text)))
            for text in result.get("errors") or []
        ]
        messages += [
            LintMessage("warning", str(text), job_of(str(text)))
            for text in result.get("warnings") or []
        ]
        jobs = tuple(str(j.get("name")) for j in result.get("jobs") or [] if isinstance(j, dict))
        return LintResult(bool(result.get("valid")), tuple(messages), jobs)

    # -- GraphQL: alert integrations -------------------------------------------------------

    def graphql(self, what: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """POST a GraphQL document; GraphQL-level errors become ClusterError."""
        data = self._post(
            what, f"{self.url}/api/graphql", {"query": query, "variables": dict(variables)}
        )
        if not isinstance(data, dict):
            raise ClusterError(f"GitLab GraphQL: unexpected answer while trying to {what}")
        errors = data.get("errors") or []
        if errors:
            text = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            raise ClusterError(redact(f"GitLab refused to {what}: {text or errors}"))
        payload = data.get("data") or {}
        return dict(payload)

    def alert_integrations(self, project: Project) -> list[AlertIntegration]:
        """The project's Prometheus-type alert integrations (registered as secrets)."""
        data = self.graphql(
            "list alert integrations",
            _LIST_INTEGRATIONS,
            {"fullPath": project.path, "types": ["PROMETHEUS"]},
        )
        if not data.get("project"):
            raise ClusterError(
                f"GitLab project {project.path!r} not visible through GraphQL (404)",
                hint="the token needs scope `api` (or `read_api` for reading)",
            )
        node = data["project"].get("alertManagementHttpIntegrations")
        if node is None:
            # GraphQL answers null, not an error, for a field the role may not read.
            raise ClusterError(
                f"GitLab refused to list the alert integrations in project {project.path} "
                "(403 Forbidden): the token's role is too low (alert integrations, variables, "
                "agents and schedules need Maintainer)",
                hint=TOKEN_HINT,
            )
        return [_integration(n) for n in node.get("nodes") or []]

    def create_alert_integration(self, project: Project, name: str) -> AlertIntegration:
        """Create an active Prometheus-type alert integration."""
        data = self.graphql(
            "create a Prometheus alert integration",
            _CREATE_INTEGRATION,
            {
                "input": {
                    "projectPath": project.path,
                    "name": name,
                    "active": True,
                    "type": "PROMETHEUS",
                }
            },
        )
        return _integration_payload(data, "httpIntegrationCreate", "create an alert integration")

    def reset_alert_integration_token(self, integration: AlertIntegration) -> AlertIntegration:
        """A new authorization key for ``integration`` (the old one stops working)."""
        data = self.graphql(
            "reset the alert integration key",
            _RESET_INTEGRATION,
            {"input": {"id": integration.id}},
        )
        return _integration_payload(data, "httpIntegrationResetToken", "reset the alert key")


_INTEGRATION_FIELDS = "id name type active url token"
_LIST_INTEGRATIONS = (
    "query($fullPath: ID!, $types: [AlertManagementIntegrationType!]) {"
    " project(fullPath: $fullPath) {"
    f" alertManagementHttpIntegrations(types: $types) {{ nodes {{ {_INTEGRATION_FIELDS} }} }}"
    " } }"
)
_CREATE_INTEGRATION = (
    "mutation($input: HttpIntegrationCreateInput!) {"
    f" httpIntegrationCreate(input: $input) {{ integration {{ {_INTEGRATION_FIELDS} }} errors }}"
    " }"
)
_RESET_INTEGRATION = (
    "mutation($input: HttpIntegrationResetTokenInput!) {"
    " httpIntegrationResetToken(input: $input) {"
    f" integration {{ {_INTEGRATION_FIELDS} }} errors }}"
    " }"
)


def _integration(node: Mapping[str, Any]) -> AlertIntegration:
    token = str(node.get("token") or "")
    if token:
        register_secret(token, "GITLAB_ALERTS_KEY")
    return AlertIntegration(
        id=str(node["id"]),
        name=str(node.get("name") or ""),
        type=str(node.get("type") or ""),
        active=bool(node.get("active")),
        url=str(node.get("url") or ""),
        token=token,
    )


def _integration_payload(data: Mapping[str, Any], field_name: str, what: str) -> AlertIntegration:
    payload = data.get(field_name) or {}
    errors = payload.get("errors") or []
    if errors:
        raise ClusterError(redact(f"GitLab refused to {what}: {'; '.join(map(str, errors))}"))
    node = payload.get("integration")
    if not node:
        raise ClusterError(f"GitLab did not return the integration when asked to {what}")
    return _integration(node)


def _enc(path: str) -> str:
    return urllib.parse.quote(path, safe="")


def _json_body(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _message_text(body: Any, exc: gl_exc.GitlabError) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            if key in body:
                value = body[key]
                if isinstance(value, dict):
                    return "; ".join(
                        f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                        for k, v in value.items()
                    )
                if isinstance(value, list):
                    return "; ".join(map(str, value))
                return str(value)
    return str(exc.error_message or exc)[:300]


def _already_exists(exc: GitLabApiError) -> bool:
    text = exc.message.lower()
    return exc.status == 409 or (
        exc.status in (400, 422) and ("has already been taken" in text or "already exists" in text)
    )


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"
