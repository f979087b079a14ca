"""Errors that cross layers.

Every error meant for the user derives from :class:`UserError`; the CLI's single error
boundary prints it (with ``file:line:col`` when known) and exits 2. Anything else is a bug
and prints a traceback only with ``--debug``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a user's file something is: 1-based line and column, and the field path."""

    file: str
    line: int | None = None
    col: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.col is not None:
                text += f":{self.col}"
        return text


class UserError(Exception):
    """A problem the user can fix: bad input, missing flag, refused operation. Exit code 2."""

    exit_code = 2

    def __init__(
        self, message: str, *, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def render(self) -> str:
        """One paragraph for the terminal: location, field, message and hint."""
        parts = []
        if self.location is not None:
            prefix = str(self.location)
            if self.location.field:
                prefix += f": {self.location.field}"
            parts.append(f"{prefix}: {self.message}")
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ConfigError(UserError):
    """The config file (or another user-written YAML file) is invalid."""


class ClusterError(UserError):
    """An external system (Kubernetes API, helm, GitLab, Prometheus) failed or refused."""


class ToolError(UserError):
    """A required external binary is missing or failed."""


class ChangesDetected(Exception):  # noqa: N818 - a signal, not a failure
    """Raised by ``--check``/``diff``-like commands to exit with a non-zero, non-error status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
