"""GitLab's own rules, checked before anything is sent: masked values, variable keys, cron.

Pure: no I/O. GitLab answers a bad masked value with an opaque "Variables value is
invalid"; checking first lets the message say what is wrong without echoing the secret.
"""

from __future__ import annotations

import hashlib
import re

# GitLab's Ci::Maskable rules: an expanded masked value must be 8+ characters of the
# Base64 alphabet plus `@ : . ~ - _ = + /`; a raw (not expanded) one 8+ non-space characters.
MASKED_MIN_LENGTH = 8
_MASKED_EXPANDED = re.compile(r"[a-zA-Z0-9_+=/@:.~-]+")
_MASKED_RAW = re.compile(r"\S+")
_VARIABLE_KEY = re.compile(r"[a-zA-Z0-9_]{1,255}")
_CRON_FIELD = re.compile(r"[0-9*/,\-A-Za-z?LW#]+")


def masked_value_problem(value: str, *, raw: bool = False) -> str | None:
    """Why GitLab would refuse ``value`` for a masked variable, or None if it is fine.

    The answer never contains the value itself (it is a secret); it names the offending
    characters only by class.
    """
    problems: list[str] = []
    if len(value) < MASKED_MIN_LENGTH:
        problems.append(f"it is shorter than {MASKED_MIN_LENGTH} characters")
    pattern = _MASKED_RAW if raw else _MASKED_EXPANDED
    bad = sorted({ch for ch in value if not pattern.fullmatch(ch)})
    if bad:
        names = ", ".join(_describe_char(ch) for ch in bad)
        allowed = (
            "non-space characters"
            if raw
            else "letters, digits and @ : . ~ - _ = + / (Base64 and four more)"
        )
        problems.append(f"it contains {names} (only {allowed} can be masked)")
    if not problems:
        return None
    return "GitLab cannot mask this value: " + "; ".join(problems)


def _describe_char(ch: str) -> str:
    if ch == " ":
        return "a space"
    if ch in "\n\r":
        return "a line break"
    if ch.isspace():
        return "whitespace"
    return repr(ch)


def variable_key_problem(key: str) -> str | None:
    """Why GitLab would refuse ``key`` as a CI/CD variable name, or None."""
    if _VARIABLE_KEY.fullmatch(key):
        return None
    return f"invalid variable name {key!r}: only letters, digits and _ (at most 255)"


def cron_problem(cron: str) -> str | None:
    """Why ``cron`` is not a five-field cron expression as pipeline schedules take, or None."""
    fields = cron.split()
    if len(fields) != 5:
        return f"cron {cron!r} must have 5 fields (minute hour day month weekday)"
    bad = [f for f in fields if not _CRON_FIELD.fullmatch(f)]
    if bad:
        return f"cron {cron!r}: invalid field {bad[0]!r}"
    return None


def blob_id(content: bytes) -> str:
    """The git blob id GitLab shows for a file with this content (tree ``id``)."""
    return hashlib.sha1(  # noqa: S324 - git's object id, not a security digest
        b"blob %d\0" % len(content) + content, usedforsecurity=False
    ).hexdigest()
