"""The shipped helmfile states agree with core/stack.py: repositories, releases, namespaces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster_mgmt.core.stack import CHARTS, RELEASES

STATES = Path(__file__).resolve().parents[2] / "helmfile.d"
_TEMPLATE = re.compile(r"\{\{[^}]*\}\}")
# A line holding only a control action (`{{- if ... }}`, `{{- end }}`): no YAML of its own.
_CONTROL_LINE = re.compile(r"^\s*\{\{-?\s*(if|else|end|range|with)\b[^}]*-?\}\}\s*$", re.M)


def camel(name: str) -> str:
    head, *rest = name.replace("-", "_").split("_")
    return head + "".join(part.title() for part in rest)


def state_releases() -> dict[str, tuple[str, dict[str, Any], dict[str, str]]]:
    """``{release: (state file, release entry, {repository: url} of its state)}``."""
    out: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {}
    for path in sorted(STATES.glob("*.yaml.gotmpl")):
        # Template expressions become strings holding them, so the state reads as YAML.
        text = _CONTROL_LINE.sub("", path.read_text())
        text = _TEMPLATE.sub(lambda m: repr(m.group(0)), text)
        for doc in yaml.safe_load_all(text):
            if not doc or "releases" not in doc:
                continue
            repos = {r["name"]: r["url"] for r in doc.get("repositories", [])}
            for release in doc["releases"]:
                assert release["name"] not in out, f"{path.name}: {release['name']} twice"
                out[release["name"]] = (path.name, release, repos)
    return out


def test_every_release_of_the_stack_has_one_state_and_no_other() -> None:
    assert set(state_releases()) == set(RELEASES)


@pytest.mark.parametrize("name", list(RELEASES))
def test_state_matches_the_stack(name: str) -> None:
    file, entry, repos = state_releases()[name]
    release = RELEASES[name]
    assert entry["namespace"] == release.namespace, file
    assert entry["installed"] == f"{{{{ .Values.apps.{camel(release.app)} }}}}", file
    assert repos == {CHARTS[key].repo_name: CHARTS[key].repo_url for key in release.charts}, file
    if len(release.charts) == 1:
        (key,) = release.charts
        assert entry["chart"] == CHARTS[key].ref, file
        assert entry["version"] == f"{{{{ .Values.charts.{camel(key)} }}}}", file
    elif release.charts:  # chosen per environment: environments/<env>.yaml names it
        assert entry["chart"] == f"{{{{ .Values.{camel(name)}.chart }}}}", file
        assert entry["version"] == f"{{{{ .Values.{camel(name)}.version }}}}", file
    else:  # a local chart of the project
        assert entry["chart"].startswith("../"), file
        assert "version" not in entry, file


def test_every_pinned_chart_is_installed_by_a_release() -> None:
    used = {key for release in RELEASES.values() for key in release.charts}
    assert used == set(CHARTS)
