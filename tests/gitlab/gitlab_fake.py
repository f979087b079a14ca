"""A stateful fake of the GitLab REST API (and the GraphQL bits cluster-mgmt uses).

It listens on 127.0.0.1 and python-gitlab talks to it over real HTTP. It keeps projects,
repository files and commits (with the commits API's actions, ``start_branch`` and
``force``), branches, cluster agents and their tokens (at most two active, as GitLab
enforces), project variables with ``environment_scope`` and GitLab's masking rules,
pipeline schedules and their variables, merge requests, CI lint (``dry_run``) and
Prometheus-type alert integrations. Tokens carry scopes and a role, so 401/403 answers
are the ones GitLab gives. ``snapshot()`` returns the whole state for comparisons.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

# The group/project and the Maintainer `api` token the test fixtures set up.
PROJECT = "my-group/clusters"
TOKEN = "glpat-maintainer-0123456789"
MAINTAINER = 40
DEVELOPER = 30
MASKABLE = re.compile(r"\A[a-zA-Z0-9_+=/@:.~-]{8,}\Z")
MASKABLE_RAW = re.compile(r"\A\S{8,}\Z")
VARIABLE_KEY = re.compile(r"\A[a-zA-Z0-9_]{1,255}\Z")
MAX_ACTIVE_AGENT_TOKENS = 2
DEFAULT_STAGES = [".pre", "build", "test", "deploy", ".post"]
GLOBAL_KEYS = {
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "spec",
}
JOB_KEYS = {
    "script",
    "stage",
    "image",
    "extends",
    "rules",
    "when",
    "variables",
    "environment",
    "parallel",
    "needs",
    "dependencies",
    "artifacts",
    "cache",
    "before_script",
    "after_script",
    "only",
    "except",
    "tags",
    "allow_failure",
    "trigger",
    "services",
    "retry",
    "timeout",
    "interruptible",
    "resource_group",
    "coverage",
    "release",
    "inherit",
    "id_tokens",
    "secrets",
    "pages",
    "hooks",
    "identity",
    "manual_confirmation",
}


def blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class FakeToken:
    scopes: set[str]
    role: int = MAINTAINER
    kind: str = "private"  # private | job


@dataclass
class FakeProject:
    id: int
    path: str
    default_branch: str | None = None
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit id
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[int, dict[str, Any]] = field(default_factory=dict)
    agent_tokens: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    variables: list[dict[str, Any]] = field(default_factory=list)
    schedules: dict[int, dict[str, Any]] = field(default_factory=dict)
    merge_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    integrations: list[dict[str, Any]] = field(default_factory=list)

    def files(self, ref: str) -> dict[str, bytes] | None:
        commit = self.branches.get(ref) or (ref if ref in self.commits else None)
        if commit is None:
            return None
        return self.commits[commit]["files"]


class FakeGitLab:
    """The state and the server. Use as a context manager or call ``start``/``stop``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, FakeToken] = {}
        self.namespaces: dict[str, int] = {}
        self.projects: dict[int, FakeProject] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[tuple[str, re.Pattern[str], list[int]]] = []
        self.free_tier = True
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up helpers -----------------------------------------------------------------------

    def add_token(
        self,
        value: str,
        scopes: tuple[str, ...] = ("api",),
        role: int = MAINTAINER,
        kind: str = "private",
    ) -> str:
        self.tokens[value] = FakeToken(set(scopes), role, kind)
        return value

    def add_group(self, path: str) -> int:
        self.namespaces[path] = self._next_id()
        return self.namespaces[path]

    def add_project(self, path: str) -> FakeProject:
        namespace = path.rpartition("/")[0]
        if namespace not in self.namespaces:
            self.add_group(namespace)
        project = FakeProject(self._next_id(), path)
        self.projects[project.id] = project
        return project

    def project(self, path: str) -> FakeProject:
        return next(p for p in self.projects.values() if p.path == path)

    def fail_next(self, method: str, path_regex: str, *statuses: int) -> None:
        """Answer the next matching requests with these statuses (then behave normally)."""
        self.faults.append((method.upper(), re.compile(path_regex), list(statuses)))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(
                {
                    "namespaces": self.namespaces,
                    "projects": {
                        p.path: {k: v for k, v in vars(p).items()} for p in self.projects.values()
                    },
                }
            )

    def _next_id(self) -> int:
        return next(self._ids)

    # -- server -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitLab:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -----------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        path = parsed.path
        with self.lock:
            self.requests.append((method, path))
            for index, (fmethod, pattern, statuses) in enumerate(self.faults):
                if fmethod == method and pattern.search(path) and statuses:
                    status = statuses.pop(0)
                    if not statuses:
                        self.faults.pop(index)
                    return status, {"message": f"{status} injected failure"}, {}
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                data = dict(urllib.parse.parse_qsl(body.decode()))
            try:
                token = self._authenticate(headers)
                if path == "/api/graphql":
                    return 200, self._graphql(token, data), {}
                if not path.startswith("/api/v4/"):
                    raise ApiError(404, {"message": "404 Not Found"})
                self._check_scope(token, method)
                parts = [urllib.parse.unquote(p) for p in path[len("/api/v4/") :].split("/")]
                result = self._route(token, method, parts, query, data)
                status = 201 if method == "POST" and result is not None else 200
                if result is None:
                    return 204, None, {}
                if isinstance(result, list):
                    return self._paginate(path, query, result)
                return status, result, {}
            except ApiError as exc:
                return exc.status, exc.body, {}

    def _authenticate(self, headers: dict[str, str]) -> FakeToken:
        value = headers.get("private-token") or headers.get("job-token")
        auth = headers.get("authorization", "")
        if not value and auth.lower().startswith("bearer "):
            value = auth[7:]
        token = self.tokens.get(value or "")
        if token is None:
            raise ApiError(401, {"message": "401 Unauthorized"})
        return token

    def _check_scope(self, token: FakeToken, method: str) -> None:
        if token.kind == "job":
            return
        needed = {"read_api", "api"} if method == "GET" else {"api"}
        if not token.scopes & needed:
            raise ApiError(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than "
                    "provided by the access token.",
                    "scope": "api",
                },
            )

    def _paginate(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = int(query.get("per_page", 20))
        page = int(query.get("page", 1))
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
        }
        if page < pages:
            next_query = dict(query, page=str(page + 1), per_page=str(per_page))
            next_url = f"{self.url}{path}?{urllib.parse.urlencode(next_query)}"
            headers["X-Next-Page"] = str(page + 1)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return 200, chunk, headers

    def _need_role(self, token: FakeToken, role: int) -> None:
        if token.kind == "job" or token.role < role:
            raise ApiError(403, {"message": "403 Forbidden"})

    def _find_project(self, ident: str) -> FakeProject:
        for project in self.projects.values():
            if str(project.id) == ident or project.path == ident:
                return project
        raise ApiError(404, {"message": "404 Project Not Found"})

    def _route(
        self,
        token: FakeToken,
        method: str,
        parts: list[str],
        query: dict[str, str],
        data: dict[str, Any],
    ) -> Any:
        if parts[0] == "namespaces" and len(parts) == 2 and method == "GET":
            if parts[1] not in self.namespaces:
                raise ApiError(404, {"message": "404 Namespace Not Found"})
            return {"id": self.namespaces[parts[1]], "full_path": parts[1], "kind": "group"}
        if parts == ["projects"] and method == "POST":
            self._need_role(token, DEVELOPER)
            return self._create_project(data)
        if parts[0] != "projects" or len(parts) < 2:
            raise ApiError(404, {"message": "404 Not Found"})
        project = self._find_project(parts[1])
        rest = parts[2:]
        if not rest and method == "GET":
            return self._project_json(project)
        if token.kind == "job":
            raise ApiError(403, {"message": "403 Forbidden"})
        area = rest[0] if rest else ""
        if area == "repository":
            return self._repository(token, project, method, rest[1:], query, data)
        if area == "cluster_agents":
            self._need_role(token, MAINTAINER)
            return self._agents(project, method, rest[1:], data)
        if area == "variables":
            self._need_role(token, MAINTAINER)
            return self._variables(project, method, rest[1:], query, data)
        if area == "pipeline_schedules":
            self._need_role(token, DEVELOPER)
            return self._schedules(project, method, rest[1:], data)
        if area == "merge_requests":
            self._need_role(token, DEVELOPER)
            return self._merge_requests(project, method, rest[1:], query, data)
        if rest == ["ci", "lint"] and method == "POST":
            self._need_role(token, DEVELOPER)
            files = project.files(str(data.get("ref") or project.default_branch or "")) or {}
            return lint(str(data.get("content", "")), bool(data.get("include_jobs")), files)
        raise ApiError(404, {"message": "404 Not Found"})

    # -- projects and repository ---------------------------------------------------------------

    def _project_json(self, project: FakeProject) -> dict[str, Any]:
        return {
            "id": project.id,
            "path_with_namespace": project.path,
            "name": project.path.rpartition("/")[2],
            # An empty repository reports the instance's default branch name already.
            "default_branch": project.default_branch or "main",
            "web_url": f"{self.url}/{project.path}",
        }

    def _create_project(self, data: dict[str, Any]) -> dict[str, Any]:
        namespace = next(
            (p for p, i in self.namespaces.items() if i == int(data.get("namespace_id", 0))), None
        )
        if namespace is None:
            raise ApiError(404, {"message": "404 Namespace Not Found"})
        path = f"{namespace}/{data['path']}"
        if any(p.path == path for p in self.projects.values()):
            raise ApiError(
                400,
                {
                    "message": {
                        "name": ["has already been taken"],
                        "path": ["has already been taken"],
                    }
                },
            )
        return self._project_json(self.add_project(path))

    def _repository(
        self,
        token: FakeToken,
        project: FakeProject,
        method: str,
        rest: list[str],
        query: dict[str, str],
        data: dict[str, Any],
    ) -> Any:
        if rest == ["tree"] and method == "GET":
            files = project.files(query.get("ref") or project.default_branch or "")
            if files is None:
                raise ApiError(404, {"message": "404 Tree Not Found"})
            entries = []
            dirs = sorted({str(p) for f in files for p in _parents(f)})
            entries += [
                {"id": "0" * 40, "name": d.rpartition("/")[2], "type": "tree", "path": d}
                for d in dirs
            ]
            entries += [
                {"id": blob_sha(c), "name": f.rpartition("/")[2], "type": "blob", "path": f}
                for f, c in sorted(files.items())
            ]
            return entries
        if rest[:1] == ["branches"] and len(rest) == 2 and method == "GET":
            if rest[1] not in project.branches:
                raise ApiError(404, {"message": "404 Branch Not Found"})
            return {"name": rest[1], "commit": {"id": project.branches[rest[1]]}}
        if rest[:1] == ["files"] and len(rest) == 2 and method == "GET":
            files = project.files(query.get("ref", ""))
            if files is None or rest[1] not in files:
                raise ApiError(404, {"message": "404 File Not Found"})
            content = files[rest[1]]
            return {
                "file_path": rest[1],
                "encoding": "base64",
                "content": base64.b64encode(content).decode(),
                "blob_id": blob_sha(content),
            }
        if rest == ["commits"] and method == "POST":
            self._need_role(token, DEVELOPER)
            return self._commit(project, data)
        raise ApiError(404, {"message": "404 Not Found"})

    def _commit(self, project: FakeProject, data: dict[str, Any]) -> dict[str, Any]:
        branch = data["branch"]
        start = data.get("start_branch")
        force = bool(data.get("force"))
        if branch in project.branches and not force:
            parent: str | None = project.branches[branch]
        elif start is not None:
            if start not in project.branches:
                raise ApiError(400, {"message": f"Invalid start branch name {start}"})
            parent = project.branches[start]
        elif not project.branches:
            parent = None
        else:
            raise ApiError(
                400, {"message": "You can only create or edit files when you are on a branch"}
            )
        files = dict(project.commits[parent]["files"]) if parent else {}
        for action in data.get("actions") or []:
            path = action["file_path"]
            content = action.get("content", "")
            raw = (
                base64.b64decode(content)
                if action.get("encoding") == "base64"
                else content.encode()
            )
            kind = action["action"]
            if kind == "create":
                if path in files:
                    raise ApiError(400, {"message": "A file with this name already exists"})
                files[path] = raw
            elif kind == "update":
                if path not in files:
                    raise ApiError(400, {"message": "A file with this name doesn't exist"})
                files[path] = raw
            elif kind == "delete":
                if path not in files:
                    raise ApiError(400, {"message": "A file with this name doesn't exist"})
                del files[path]
            else:
                raise ApiError(400, {"message": f"Unknown action {kind}"})
        commit_id = hashlib.sha1(
            json.dumps(
                [parent, data["commit_message"], sorted((k, blob_sha(v)) for k, v in files.items())]
            ).encode()
        ).hexdigest()
        project.commits[commit_id] = {
            "parent": parent,
            "message": data["commit_message"],
            "files": files,
        }
        project.branches[branch] = commit_id
        if project.default_branch is None:
            project.default_branch = branch
        return {"id": commit_id, "short_id": commit_id[:8], "title": data["commit_message"]}

    # -- agents -------------------------------------------------------------------------------

    def _agents(
        self, project: FakeProject, method: str, rest: list[str], data: dict[str, Any]
    ) -> Any:
        if not rest:
            if method == "GET":
                return [dict(a) for a in project.agents.values()]
            if method == "POST":
                name = data.get("name", "")
                if any(a["name"] == name for a in project.agents.values()):
                    raise ApiError(400, {"message": {"name": ["has already been taken"]}})
                agent = {"id": self._next_id(), "name": name}
                project.agents[agent["id"]] = agent
                project.agent_tokens[agent["id"]] = []
                return dict(agent)
        agent_id = int(rest[0])
        if agent_id not in project.agents:
            raise ApiError(404, {"message": "404 Not found"})
        if len(rest) == 1 and method == "GET":
            return dict(project.agents[agent_id])
        tokens = project.agent_tokens[agent_id]
        if rest[1:] == ["tokens"]:
            if method == "GET":
                return [
                    {k: v for k, v in t.items() if k != "token"}
                    for t in tokens
                    if t["status"] == "active"
                ]
            if method == "POST":
                if sum(t["status"] == "active" for t in tokens) >= MAX_ACTIVE_AGENT_TOKENS:
                    raise ApiError(
                        400,
                        {
                            "message": "400 Bad request - An agent can have only two "
                            "active tokens at a time"
                        },
                    )
                token = {
                    "id": self._next_id(),
                    "name": data.get("name", ""),
                    "description": data.get("description", ""),
                    "agent_id": agent_id,
                    "status": "active",
                    "token": "glagent-" + secrets.token_urlsafe(36),
                }
                tokens.append(token)
                return dict(token)
        if rest[1:2] == ["tokens"] and len(rest) == 3 and method == "DELETE":
            for token in tokens:
                if token["id"] == int(rest[2]) and token["status"] == "active":
                    token["status"] = "revoked"
                    return None
            raise ApiError(404, {"message": "404 Not found"})
        raise ApiError(404, {"message": "404 Not Found"})

    # -- variables ----------------------------------------------------------------------------

    def _variables(
        self,
        project: FakeProject,
        method: str,
        rest: list[str],
        query: dict[str, str],
        data: dict[str, Any],
    ) -> Any:
        if not rest and method == "GET":
            return [dict(v) for v in project.variables]
        if not rest and method == "POST":
            var = {
                "key": data.get("key", ""),
                "value": data.get("value", ""),
                "environment_scope": data.get("environment_scope") or "*",
                "masked": bool(data.get("masked", False)),
                "protected": bool(data.get("protected", False)),
                "raw": bool(data.get("raw", False)),
                "description": data.get("description"),
                "variable_type": data.get("variable_type", "env_var"),
            }
            _validate_variable(var)
            if any(
                v["key"] == var["key"] and v["environment_scope"] == var["environment_scope"]
                for v in project.variables
            ):
                raise ApiError(
                    400, {"message": {"key": [f"({var['key']}) has already been taken"]}}
                )
            project.variables.append(var)
            return dict(var)
        key = rest[0]
        scope = query.get("filter[environment_scope]")
        matches = [
            v
            for v in project.variables
            if v["key"] == key and (scope is None or v["environment_scope"] == scope)
        ]
        if not matches:
            raise ApiError(404, {"message": "404 Variable Not Found"})
        if len(matches) > 1:
            raise ApiError(
                409,
                {
                    "message": "There are multiple variables with provided parameters. "
                    "Please use 'filter[environment_scope]'"
                },
            )
        var = matches[0]
        if method == "GET":
            return dict(var)
        if method == "PUT":
            updated = dict(var)
            for name in ("value", "masked", "protected", "raw", "description", "variable_type"):
                if name in data:
                    updated[name] = data[name]
            _validate_variable(updated)
            var.update(updated)
            return dict(var)
        if method == "DELETE":
            project.variables.remove(var)
            return None
        raise ApiError(404, {"message": "404 Not Found"})

    # -- schedules ----------------------------------------------------------------------------

    def _schedules(
        self, project: FakeProject, method: str, rest: list[str], data: dict[str, Any]
    ) -> Any:
        fields = ("description", "ref", "cron", "cron_timezone", "active")
        if not rest:
            if method == "GET":
                return [
                    {k: v for k, v in s.items() if k != "variables"}
                    for s in project.schedules.values()
                ]
            if method == "POST":
                schedule = {
                    "id": self._next_id(),
                    "cron_timezone": "UTC",
                    "active": True,
                    "variables": [],
                }
                schedule.update({k: data[k] for k in fields if k in data})
                _check_cron(schedule["cron"])
                project.schedules[schedule["id"]] = schedule
                return copy.deepcopy(schedule)
        schedule = project.schedules.get(int(rest[0]))
        if schedule is None:
            raise ApiError(404, {"message": "404 Pipeline Schedule Not Found"})
        if len(rest) == 1:
            if method == "GET":
                return copy.deepcopy(schedule)
            if method == "PUT":
                schedule.update({k: data[k] for k in fields if k in data})
                _check_cron(schedule["cron"])
                return copy.deepcopy(schedule)
        if rest[1:2] == ["variables"]:
            variables = schedule["variables"]
            if len(rest) == 2 and method == "POST":
                if any(v["key"] == data["key"] for v in variables):
                    raise ApiError(400, {"message": {"key": ["has already been taken"]}})
                var = {
                    "key": data["key"],
                    "value": data["value"],
                    "variable_type": data.get("variable_type", "env_var"),
                }
                variables.append(var)
                return dict(var)
            if len(rest) == 3 and method == "PUT":
                for var in variables:
                    if var["key"] == rest[2]:
                        var["value"] = data["value"]
                        return dict(var)
                raise ApiError(404, {"message": "404 Variable Not Found"})
        raise ApiError(404, {"message": "404 Not Found"})

    # -- merge requests -----------------------------------------------------------------------

    def _merge_requests(
        self,
        project: FakeProject,
        method: str,
        rest: list[str],
        query: dict[str, str],
        data: dict[str, Any],
    ) -> Any:
        if not rest and method == "GET":
            found = list(project.merge_requests.values())
            for name in ("state", "source_branch", "target_branch"):
                if name in query:
                    found = [m for m in found if m[name] == query[name]]
            return [dict(m) for m in found]
        if not rest and method == "POST":
            source, target = data["source_branch"], data["target_branch"]
            if source not in project.branches or target not in project.branches:
                raise ApiError(400, {"message": ["Source branch or target branch does not exist"]})
            for m in project.merge_requests.values():
                if m["state"] == "opened" and (m["source_branch"], m["target_branch"]) == (
                    source,
                    target,
                ):
                    raise ApiError(
                        409,
                        {
                            "message": [
                                "Another open merge request already exists for this "
                                f"source branch: !{m['iid']}"
                            ]
                        },
                    )
            iid = len(project.merge_requests) + 1
            mr = {
                "iid": iid,
                "state": "opened",
                "source_branch": source,
                "target_branch": target,
                "title": data.get("title", ""),
                "description": data.get("description", ""),
                "web_url": f"{self.url}/{project.path}/-/merge_requests/{iid}",
            }
            project.merge_requests[iid] = mr
            return dict(mr)
        mr = project.merge_requests.get(int(rest[0]))
        if mr is None:
            raise ApiError(404, {"message": "404 Not found"})
        if method == "PUT":
            for name in ("title", "description", "state_event"):
                if name in data:
                    if name == "state_event":
                        mr["state"] = "closed" if data[name] == "close" else "opened"
                    else:
                        mr[name] = data[name]
            return dict(mr)
        if method == "GET":
            return dict(mr)
        raise ApiError(404, {"message": "404 Not Found"})

    # -- GraphQL: alert integrations --------------------------------------------------------

    def _graphql(self, token: FakeToken, data: dict[str, Any]) -> dict[str, Any]:
        query = str(data.get("query", ""))
        variables = data.get("variables") or {}
        mutation = query.lstrip().startswith("mutation")
        needed = {"api"} if mutation else {"api", "read_api"}
        if token.kind == "job" or not token.scopes & needed:
            raise ApiError(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than "
                    "provided by the access token.",
                    "scope": "api",
                },
            )
        denied = {
            "errors": [
                {
                    "message": "The resource that you are attempting to access does not exist "
                    "or you don't have permission to perform this action"
                }
            ],
            "data": None,
        }
        if "alertManagementHttpIntegrations" in query and not mutation:
            try:
                project = self._find_project(str(variables.get("fullPath", "")))
            except ApiError:
                return {"data": {"project": None}}
            if token.role < MAINTAINER:
                return {"data": {"project": {"alertManagementHttpIntegrations": None}}}
            types = variables.get("types") or ["HTTP", "PROMETHEUS"]
            nodes = [dict(i) for i in project.integrations if i["type"] in types]
            return {"data": {"project": {"alertManagementHttpIntegrations": {"nodes": nodes}}}}
        if "httpIntegrationCreate" in query:
            args = variables.get("input") or {}
            try:
                project = self._find_project(str(args.get("projectPath", "")))
            except ApiError:
                return denied
            if token.role < MAINTAINER:
                return denied
            kind = args.get("type") or "HTTP"
            if self.free_tier and any(
                i["type"] == kind and i["active"] for i in project.integrations
            ):
                name = "Prometheus" if kind == "PROMETHEUS" else "HTTP"
                return {
                    "data": {
                        "httpIntegrationCreate": {
                            "integration": None,
                            "errors": [
                                f"Multiple {name} integrations are not supported for this project"
                            ],
                        }
                    }
                }
            ident = self._next_id()
            integration = {
                "id": f"gid://gitlab/AlertManagement::HttpIntegration/{ident}",
                "name": args.get("name", ""),
                "type": kind,
                "active": bool(args.get("active", False)),
                # GitLab gives every new integration, Prometheus ones too, its own endpoint;
                # only a legacy integration answers at <project>/prometheus/alerts/notify.json.
                "url": f"{self.url}/{project.path}/alerts/notify/{_slug(args.get('name', ''))}/"
                f"{secrets.token_hex(8)}.json",
                "token": secrets.token_hex(16),
            }
            project.integrations.append(integration)
            return {
                "data": {"httpIntegrationCreate": {"integration": dict(integration), "errors": []}}
            }
        if "httpIntegrationResetToken" in query:
            ident = (variables.get("input") or {}).get("id")
            for project in self.projects.values():
                for integration in project.integrations:
                    if integration["id"] == ident:
                        if token.role < MAINTAINER:
                            return denied
                        integration["token"] = secrets.token_hex(16)
                        return {
                            "data": {
                                "httpIntegrationResetToken": {
                                    "integration": dict(integration),
                                    "errors": [],
                                }
                            }
                        }
            return denied
        return {"errors": [{"message": "unsupported query in the fake"}], "data": None}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _validate_variable(var: dict[str, Any]) -> None:
    if not VARIABLE_KEY.match(var["key"]):
        raise ApiError(400, {"message": {"key": ["can contain only letters, digits and '_'."]}})
    if var["masked"]:
        pattern = MASKABLE_RAW if var["raw"] else MASKABLE
        if not pattern.match(var["value"]):
            raise ApiError(400, {"message": {"value": ["is invalid"]}})


def _check_cron(cron: str) -> None:
    if len(str(cron).split()) != 5:
        raise ApiError(400, {"message": {"cron": [" is invalid syntax"]}})


def _interpolate(text: str, given: dict[str, Any]) -> Any:
    """A component file (``spec:``, ``---``, jobs) with its ``$[[ inputs.x ]]`` filled in."""
    header, _, body = text.partition("\n---\n")
    spec = (yaml.safe_load(header) or {}).get("spec", {}).get("inputs", {}) or {}

    def value(match: re.Match[str]) -> str:
        name = match[1]
        return str(given[name] if name in given else (spec.get(name) or {}).get("default", ""))

    return yaml.safe_load(re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", value, body))


def _expand(doc: dict[str, Any], files: dict[str, bytes], errors: list[str], depth=0) -> dict:
    """``include: local`` resolved from the repository at the linted ref, as GitLab does."""
    items = doc.pop("include", None) or []
    items = items if isinstance(items, list) else [items]
    merged: dict[str, Any] = {}
    for item in items:
        path = str(item.get("local") if isinstance(item, dict) else item).lstrip("/")
        if depth > 10 or path not in files:
            errors.append(f"Local file `{path}` does not exist!")
            continue
        text = files[path].decode()
        inputs = item.get("inputs", {}) if isinstance(item, dict) else {}
        inner = _interpolate(text, inputs) if "\n---\n" in text else yaml.safe_load(text)
        for key, value in _expand(inner or {}, files, errors, depth + 1).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    for key, value in doc.items():  # the including file wins, job by job
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def lint(content: str, include_jobs: bool, files: dict[str, bytes] | None = None) -> dict[str, Any]:
    """GitLab's CI lint, for the subset of keywords generated pipelines use."""
    errors: list[str] = []
    warnings: list[str] = []
    try:
        doc = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        return {
            "valid": False,
            "errors": [f"(<unknown>): {problem}{where}"],
            "warnings": [],
            "merged_yaml": None,
            "jobs": [],
        }
    if not isinstance(doc, dict):
        return {
            "valid": False,
            "errors": ["Invalid configuration format"],
            "warnings": [],
            "merged_yaml": None,
            "jobs": [],
        }
    doc = _expand(doc, files or {}, errors)
    stages = doc.get("stages") or DEFAULT_STAGES[1:4]
    stages = [".pre", *stages, ".post"]
    jobs = {k: v for k, v in doc.items() if k not in GLOBAL_KEYS}
    visible = []
    for name, job in jobs.items():
        if not isinstance(job, dict):
            errors.append(f"jobs:{name} config should be a hash")
            continue
        unknown = sorted(set(job) - JOB_KEYS)
        if unknown:
            errors.append(f"jobs:{name} config contains unknown keys: {', '.join(unknown)}")
        if name.startswith("."):
            continue
        resolved = _extends(name, jobs, errors)
        if not any(k in resolved for k in ("script", "trigger", "run")):
            errors.append(
                f"jobs:{name} config should implement the script:, run:, or trigger: keyword"
            )
        stage = resolved.get("stage", "test")
        if stage not in stages:
            errors.append(
                f"jobs:{name} chosen stage {stage} does not exist; available stages are "
                + ", ".join(stages)
            )
        rules = resolved.get("rules") or []
        if "workflow" not in doc and any(isinstance(r, dict) and "when" in r for r in rules):
            warnings.append(
                f"jobs:{name} may allow multiple pipelines to run for a single action due to "
                "`rules:when` clause with no `workflow:rules` - read more: "
                "https://docs.gitlab.com/ee/ci/troubleshooting.html#pipeline-warnings"
            )
        visible.append({"name": name, "stage": stage})
    if not visible and not errors:
        errors.append("jobs config should contain at least one visible job")
    return {
        "valid": not errors,
        "errors": errors,
        "warnings": warnings,
        "merged_yaml": content if not errors else None,
        "jobs": visible if include_jobs else [],
    }


def _extends(name: str, jobs: dict[str, Any], errors: list[str], depth: int = 0) -> dict[str, Any]:
    job = jobs.get(name)
    if not isinstance(job, dict) or depth > 10:
        return {}
    parents = job.get("extends") or []
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        if parent not in jobs:
            errors.append(f"{name}: unknown keys in `extends` ({parent})")
            continue
        merged.update(_extends(parent, jobs, errors, depth + 1))
    merged.update({k: v for k, v in job.items() if k != "extends"})
    return merged


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitLab
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.fake.handle(self.command, self.path, headers, body)
        raw = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names
