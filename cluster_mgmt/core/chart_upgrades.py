"""Chart upgrades: which newer versions a pin may move to, and the merge request text.

Pure: the chart repository indexes are read by ``adapters/chart_index.py``; this module
only compares versions and writes Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

UPGRADE_BRANCH = "cluster-mgmt/upgrade"
# A merge request description is limited to 1,048,576 characters; the diff gets what is left.
MAX_DIFF_CHARS = 200_000

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.+-]*)?")

# Where each chart publishes its release notes ({version} is the new version).
RELEASE_NOTES = {
    "cilium": "https://github.com/cilium/cilium/releases/tag/v{version}",
    "traefik": "https://github.com/traefik/traefik-helm-chart/releases/tag/v{version}",
    "ingress-nginx": "https://github.com/kubernetes/ingress-nginx/releases/tag/helm-chart-{version}",
    "prometheus": "https://github.com/prometheus-community/helm-charts/releases/tag/prometheus-{version}",
    "fluentd": "https://github.com/fluent/helm-charts/releases/tag/fluentd-{version}",
    "gitlab-agent": "https://gitlab.com/gitlab-org/charts/gitlab-agent/-/releases/v{version}",
}


class Allow(StrEnum):
    """How far an upgrade may go from the pinned version."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"


@dataclass(frozen=True, slots=True, order=True)
class Version:
    """A release version (``major.minor.patch``); pre-releases are never upgrade targets."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> tuple[Version, bool] | None:
    """``(version, is_release)`` for a chart version string, None if it is not semver."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    suffix = match.group(4) or ""
    version = Version(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    # Build metadata (+…) is still a release; a hyphen suffix is a pre-release.
    return version, not suffix.startswith("-")


def within(current: Version, candidate: Version, allow: Allow) -> bool:
    """Whether ``candidate`` is newer than ``current`` and inside the allowed range."""
    if candidate <= current:
        return False
    if allow == Allow.PATCH:
        return (candidate.major, candidate.minor) == (current.major, current.minor)
    if allow == Allow.MINOR:
        return candidate.major == current.major
    return True


def newest_allowed(current: str, available: Iterable[str], allow: Allow) -> str | None:
    """The newest release in ``available`` that ``current`` may move to, or None."""
    parsed = parse_version(current)
    if parsed is None:
        return None
    best: tuple[Version, str] | None = None
    for text in available:
        candidate = parse_version(text)
        if candidate is None or not candidate[1]:
            continue
        if within(parsed[0], candidate[0], allow) and (best is None or candidate[0] > best[0]):
            best = (candidate[0], text)
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class Upgrade:
    """One pin to move: chart key (as in ``charts:``), old and new version, where used."""

    chart: str
    old: str
    new: str
    releases: tuple[str, ...]

    @property
    def release_notes(self) -> str | None:
        """The release notes URL of the new version, when the chart publishes one."""
        template = RELEASE_NOTES.get(self.chart)
        return template.format(version=self.new) if template else None


def merge_request_title(upgrades: Sequence[Upgrade]) -> str:
    """``Chart upgrades: cilium 1.19.6 → 1.19.8, …``."""
    parts = ", ".join(f"{u.chart} {u.old} → {u.new}" for u in upgrades)
    return f"Chart upgrades: {parts}"


def merge_request_description(
    upgrades: Sequence[Upgrade], allow: Allow, diff: str, files: Sequence[str]
) -> str:
    """The Markdown description: a table old → new with release notes, then the diff."""
    lines = [
        f"Chart versions newer than the pins in `cluster-mgmt.yaml` (allowed: {allow.value} "
        "upgrades), found by `cluster-mgmt gitlab upgrade-mr`.",
        "",
        "| chart | releases | old | new | release notes |",
        "|---|---|---|---|---|",
    ]
    for up in upgrades:
        notes = f"[{up.new}]({up.release_notes})" if up.release_notes else "—"
        where = ", ".join(f"{r}" for r in up.releases) or "—"
        lines.append(f"| {up.chart} | {where} | {up.old} | {up.new} | {notes} |")
    lines += ["", f"Files changed ({len(files)}; generated ones by `cluster-mgmt render`):", ""]
    lines += [f"- `{name}`" for name in files]
    shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n… (truncated)\n"
    fence = "````" if "```" in shown else "```"
    lines += [
        "",
        "<details><summary>Render diff</summary>",
        "",
        f"{fence}diff",
        shown.rstrip("\n"),
        fence,
        "",
        "</details>",
        "",
        "Review the diff and the release notes, let the pipeline plan it, then merge. "
        "This merge request is updated in place by the next scheduled run.",
    ]
    return "\n".join(lines) + "\n"


def plan_upgrades(
    pins: Mapping[str, str],
    available: Mapping[str, Sequence[str]],
    allow: Allow,
    releases: Mapping[str, Sequence[str]],
) -> list[Upgrade]:
    """The upgrades to make: for each pinned chart with a newer allowed version."""
    found = []
    for chart, current in pins.items():
        new = newest_allowed(current, available.get(chart, ()), allow)
        if new is not None:
            found.append(Upgrade(chart, current, new, tuple(releases.get(chart, ()))))
    return found
