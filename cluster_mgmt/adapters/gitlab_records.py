"""What the GitLab adapter returns: plain records parsed from API answers.

No python-gitlab import here: ops and tests use these without the client.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Project:
    """A GitLab project."""

    id: int
    path: str
    default_branch: str | None
    web_url: str


@dataclass(frozen=True, slots=True)
class Agent:
    """A registered GitLab agent for Kubernetes."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class AgentToken:
    """An agent token as listed (the secret itself is only returned at creation)."""

    id: int
    name: str
    status: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Variable:
    """A project CI/CD variable in one environment scope."""

    key: str
    value: str
    environment_scope: str = "*"
    masked: bool = False
    protected: bool = False
    raw: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A pipeline schedule and its variables."""

    id: int
    description: str
    ref: str
    cron: str
    cron_timezone: str
    active: bool
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MergeRequest:
    """A merge request."""

    iid: int
    title: str
    description: str
    web_url: str
    source_branch: str
    target_branch: str


@dataclass(frozen=True, slots=True)
class LintMessage:
    """One CI lint error or warning, with the job it is about when GitLab names one."""

    severity: str  # "error" | "warning"
    text: str
    job: str | None


@dataclass(frozen=True, slots=True)
class LintResult:
    """What ``POST /projects/:id/ci/lint`` said."""

    valid: bool
    messages: tuple[LintMessage, ...]
    jobs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlertIntegration:
    """A project alert integration (HTTP endpoint + authorization key)."""

    id: str
    name: str
    type: str
    active: bool
    url: str
    token: str


@dataclass(frozen=True, slots=True)
class FileAction:
    """One action of a commit: create, update or delete a file."""

    action: str
    path: str
    content: bytes = b""

    def payload(self) -> dict[str, str]:
        """The commits API form: text files as text, anything else base64."""
        body: dict[str, str] = {"action": self.action, "file_path": self.path}
        if self.action == "delete":
            return body
        try:
            body["content"] = self.content.decode("utf-8")
        except UnicodeDecodeError:
            body["content"] = base64.b64encode(self.content).decode("ascii")
            body["encoding"] = "base64"
        return body


def project_from(data: Mapping[str, Any]) -> Project:
    """A project from ``GET /projects/:id``."""
    return Project(
        id=int(data["id"]),
        path=str(data["path_with_namespace"]),
        default_branch=data.get("default_branch") or None,
        web_url=str(data.get("web_url") or ""),
    )


def variable_from(item: Mapping[str, Any]) -> Variable:
    """A variable from ``GET /projects/:id/variables``."""
    return Variable(
        key=str(item["key"]),
        value=str(item.get("value") or ""),
        environment_scope=str(item.get("environment_scope") or "*"),
        masked=bool(item.get("masked")),
        protected=bool(item.get("protected")),
        raw=bool(item.get("raw")),
        description=str(item.get("description") or ""),
    )


def schedule_from(item: Mapping[str, Any]) -> Schedule:
    """A schedule (with its variables) from ``GET /projects/:id/pipeline_schedules/:id``."""
    return Schedule(
        id=int(item["id"]),
        description=str(item.get("description") or ""),
        ref=str(item.get("ref") or ""),
        cron=str(item.get("cron") or ""),
        cron_timezone=str(item.get("cron_timezone") or "UTC"),
        active=bool(item.get("active")),
        variables={str(v["key"]): str(v.get("value") or "") for v in item.get("variables") or []},
    )


def merge_request_from(item: Mapping[str, Any]) -> MergeRequest:
    """A merge request from the merge requests API."""
    return MergeRequest(
        iid=int(item["iid"]),
        title=str(item.get("title") or ""),
        description=str(item.get("description") or ""),
        web_url=str(item.get("web_url") or ""),
        source_branch=str(item.get("source_branch") or ""),
        target_branch=str(item.get("target_branch") or ""),
    )


# Job keywords GitLab appends to a job name in messages (``jobs:apply:rules config ...``).
_JOB_KEYWORDS = frozenset(
    "script stage image extends rules when variables environment parallel needs dependencies "
    "artifacts cache before_script after_script only except tags allow_failure trigger "
    "services retry timeout interruptible resource_group coverage release inherit".split()
)


def job_of(text: str) -> str | None:
    """The job a lint message is about: GitLab writes ``jobs:NAME ...`` or ``NAME job: ...``.

    Job names may hold colons (``plan:production``); a trailing ``:keyword`` is dropped.
    """
    if text.startswith("jobs:"):
        name = text[len("jobs:") :].split(" ", 1)[0]
        while ":" in name and name.rpartition(":")[2] in _JOB_KEYWORDS:
            name = name.rpartition(":")[0]
        return name or None
    head, sep, _ = text.partition(" job: ")
    if sep and head and " " not in head:
        return head
    return None
