"""Project use cases: load the config, init, render, final values, audit-mode switch."""

from __future__ import annotations

import difflib
import shutil
import sys
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError

from cluster_mgmt.adapters import project_fs, yamlio
from cluster_mgmt.core import render as core_render
from cluster_mgmt.core.config import CONFIG_FILE, ProjectConfig
from cluster_mgmt.core.stack import RELEASES
from cluster_mgmt.core.syslog import check_host
from cluster_mgmt.core.values_merge import merge_values
from cluster_mgmt.errors import ChangesDetected, ConfigError, Location, UserError

COMPONENT_FILE = "cluster-management.yml"


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project: its directory, typed config and the YAML it came from."""

    root: Path
    config: ProjectConfig
    document: Any

    def env_names(self, env: str | None) -> list[str]:
        """The environments a command acts on: the one named, or all of them."""
        if env is None:
            return list(self.config.environments)
        if env not in self.config.environments:
            known = ", ".join(self.config.environments)
            raise UserError(f"no environment {env!r} in {CONFIG_FILE} (known: {known})")
        return [env]


def package_assets() -> core_render.Assets:
    """The canonical helmfile states and Jinja2 templates shipped with the package."""
    states_dir = resources.files("cluster_mgmt").joinpath("_data", "helmfile.d")
    if not states_dir.is_dir():  # running from a source checkout (editable install)
        states_dir = Path(__file__).resolve().parents[2] / "helmfile.d"
    states = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in states_dir.iterdir()
        if entry.name.endswith(".yaml.gotmpl")
    }
    templates_dir = resources.files("cluster_mgmt").joinpath("project_templates")
    templates = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in templates_dir.iterdir()
        if entry.name.endswith(".j2")
    }
    return core_render.Assets(states=states, templates=templates, ci_component=ci_component())


def ci_component() -> str:
    """The cluster-mgmt CI/CD component (templates/cluster-management.yml) as shipped."""
    packaged = resources.files("cluster_mgmt").joinpath("_data", "templates", COMPONENT_FILE)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # A source checkout (editable install).
    return (Path(__file__).resolve().parents[2] / "templates" / COMPONENT_FILE).read_text(
        encoding="utf-8"
    )


def parse_config(document: Any, file: str) -> ProjectConfig:
    """Validate a parsed config document; every error names file:line:col and the field."""
    if not isinstance(document, dict):
        raise ConfigError(
            "the config must be a mapping with gitlab: and environments:",
            location=Location(file, 1, 1),
        )
    try:
        return ProjectConfig.model_validate(yamlio.to_plain(document))
    except ValidationError as exc:
        raise _config_error(exc, document, file) from None


def _config_error(exc: Any, document: Any, file: str) -> ConfigError:
    lines: list[str] = []
    first: Location | None = None
    for err in exc.errors():
        loc = tuple(err["loc"])
        location = yamlio.locate(document, loc, file)
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}" + _did_you_mean(loc)
        elif err["type"] == "missing":
            message = "required field is missing"
        field = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"{location}: {field}: {message}")
        first = first or location
    error = ConfigError("\n".join(lines) if len(lines) > 1 else lines[0].split(": ", 2)[-1])
    if len(lines) == 1:
        error.location = first
    error.hint = f"see `cluster-mgmt schema` for every field of {CONFIG_FILE}"
    return error


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    model = _model_at(loc[:-1])
    if model is None:
        return ""
    names = list(model.model_fields) + [f.alias for f in model.model_fields.values() if f.alias]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model found at an error path (mapping keys such as env names skipped)."""
    model: type[BaseModel] | None = ProjectConfig
    parts = iter(path)
    for part in parts:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return None
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            next(parts, None)  # the key of a mapping, e.g. an environment name
        members = typing.get_args(annotation) or (annotation,)
        model = next((m for m in members if isinstance(m, type) and issubclass(m, BaseModel)), None)
    return model


def plan_render(
    project_dir: Path, config: ProjectConfig, *, force: bool = False
) -> project_fs.RenderPlan:
    """What rendering ``config`` into ``project_dir`` would write, delete and refuse."""
    rendered = core_render.render(config, package_assets())
    return project_fs.plan_render(project_dir, rendered.generated, rendered.seeds, force=force)


def load_project(project_dir: Path) -> Project:
    """Load and validate ``cluster-mgmt.yaml`` in ``project_dir``."""
    path = project_dir / CONFIG_FILE
    if not path.is_file():
        raise UserError(
            f"no {CONFIG_FILE} in {project_dir}",
            hint="run this in a project made by `cluster-mgmt init`, or pass -C DIR",
        )
    document = yamlio.load_file(path, display=str(path))
    return Project(project_dir, parse_config(document, str(path)), document)


@dataclass(frozen=True, slots=True)
class InitOptions:
    """Everything `init` needs; the CLI fills it from flags and prompts."""

    provider: str
    env: str
    agent: str
    project: str
    gitlab_url: str
    ingress: str
    base_domain: str | None = None
    native_routing_cidr: str | None = None
    siem_host: str | None = None
    siem_port: int | None = None
    siem_protocol: str | None = None
    siem_tls_secret: str | None = None
    ci_include: str | None = None


def init_project(target: Path, options: InitOptions) -> list[PurePosixPath]:
    """Create a new project in ``target`` (absent or empty). Nothing is left half-written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(
            f"{target} is not empty; init creates a new project",
            hint="choose a new directory; to change an existing project edit its "
            f"{CONFIG_FILE} and run `cluster-mgmt render`",
        )
    if options.siem_host is not None:
        # Checked before it is written into YAML: a newline must not become a key.
        try:
            check_host(options.siem_host)
        except ValueError as exc:
            raise UserError(f"--siem-host: {exc}") from None
    if options.ci_include is not None:
        _check_ci_include(options.ci_include)
    assets = package_assets()
    text = assets.template(
        "cluster-mgmt.yaml.j2",
        gitlab_url=options.gitlab_url,
        project=options.project,
        env=options.env,
        provider=options.provider,
        agent=options.agent,
        base_domain=options.base_domain,
        native_routing_cidr=options.native_routing_cidr,
        ingress=options.ingress,
        siem_host=options.siem_host,
        siem_port=options.siem_port or 514,
        siem_protocol=options.siem_protocol or "udp",
        siem_tls_secret=options.siem_tls_secret or "siem-tls",
        ci_include=options.ci_include,
    )
    # Validate before touching the disk: a bad flag leaves nothing behind.
    display = str(target / CONFIG_FILE)
    config = parse_config(yamlio.load_text(text, display), display)
    if options.ingress == "ingress-nginx":
        warn_ingress_nginx()
    rendered = core_render.render(config, assets)
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        project_fs.write_atomic(target / CONFIG_FILE, text)
        plan = project_fs.plan_render(target, rendered.generated, rendered.seeds)
        return [PurePosixPath(CONFIG_FILE), *project_fs.apply_plan(target, plan)]
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise


def _check_ci_include(value: str) -> None:
    """``--ci-include`` is checked before it is written into the config text."""
    from cluster_mgmt.core.config import CI

    try:
        CI(include=value)
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise UserError(f"--ci-include {value!r}: {message}") from None


def warn_ingress_nginx() -> None:
    """Say once that the ingress-nginx project is retired."""
    print(
        "warning: ingress-nginx was retired upstream in March 2026 (no more releases or "
        "security fixes); prefer `ingress.controller: traefik` or `cilium`",
        file=sys.stderr,
    )


def render_project(project_dir: Path, *, check: bool = False, force: bool = False) -> list[str]:
    """Regenerate the generated files; with ``check``, only report stale ones (exit 1)."""
    project = load_project(project_dir)
    if any(
        env.ingress.controller == "ingress-nginx" for env in project.config.environments.values()
    ):
        warn_ingress_nginx()
    plan = plan_render(project_dir, project.config, force=force)
    if check:
        if plan.stale:
            names = "\n".join(f"  {p}" for p in plan.stale)
            raise ChangesDetected(
                f"generated files are stale (run `cluster-mgmt render` and commit):\n{names}"
            )
        return []
    written = [str(p) for p in project_fs.apply_plan(project_dir, plan)]
    note = pipeline_note(project_dir)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return written


def pipeline_note(project_dir: Path) -> str | None:
    """Advice when the user's .gitlab-ci.yml does not include the generated CI jobs."""
    text = project_fs.read_text(project_dir, core_render.PIPELINE)
    if text is None or core_render.pipeline_includes_ci(text):
        return None
    return (
        f"{core_render.PIPELINE} does not include {core_render.CI_INCLUDES}, so the "
        "cluster-mgmt jobs do not run; add to it:\n"
        f"include:\n  - local: {core_render.CI_INCLUDES}"
    )


def final_values(project: Project, release: str, env: str) -> tuple[dict[str, Any], list[str]]:
    """The values helm receives for a release: generated, then the user's override file.

    Returns the merged values and the files they came from.
    """
    if release not in RELEASES:
        known = ", ".join(RELEASES)
        raise UserError(f"no release {release!r} (releases: {known})")
    if release == "network-policies":
        raise UserError("network-policies deploys the manifests in policies/; it has no values")
    if release not in core_render.enabled_releases(project.config, env):
        raise UserError(f"release {release!r} is not installed in environment {env!r}")
    generated = core_render.release_values(project.config, env, release)
    sources = [str(core_render.values_path(env, release))]
    override_rel = core_render.override_path(env, release)
    override_file = project.root / override_rel
    override: Any = {}
    if override_file.is_file():
        override = yamlio.to_plain(yamlio.load_file(override_file, str(override_rel))) or {}
        if not isinstance(override, dict):
            raise ConfigError("values must be a mapping", location=Location(str(override_rel), 1))
        sources.append(str(override_rel))
    return merge_values(generated, override), sources


def set_policy_audit_mode(project_dir: Path, audit: bool, env: str | None) -> list[str]:
    """Set ``cilium.policy_audit_mode`` (one environment or all), keep comments, render.

    Returns the environments whose mode changed.
    """
    project = load_project(project_dir)
    path = project_dir / CONFIG_FILE
    document = yamlio.load_roundtrip(path)  # edited in place, comments kept
    changed: list[str] = []
    for name in project.env_names(env):
        env_doc = document["environments"][name]
        if "cilium" not in env_doc or env_doc["cilium"] is None:
            env_doc["cilium"] = {}
        if project.config.environments[name].cilium.policy_audit_mode != audit:
            changed.append(name)
        env_doc["cilium"]["policy_audit_mode"] = audit
    if changed:
        apply_config_change(project_dir, plan_config_change(project_dir, document))
    return changed


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A new ``cluster-mgmt.yaml`` and the render it brings, checked but not yet written."""

    text: str
    config: ProjectConfig
    plan: project_fs.RenderPlan

    def files(self) -> dict[PurePosixPath, str | None]:
        """Every file the change writes (its new text) or deletes (None)."""
        changed: dict[PurePosixPath, str | None] = {PurePosixPath(CONFIG_FILE): self.text}
        changed.update({**self.plan.seed, **self.plan.write})
        changed.update(dict.fromkeys(self.plan.delete))
        changed[project_fs.MANIFEST] = self.plan.manifest.dump()
        return changed


def plan_config_change(project_dir: Path, document: Any) -> ConfigChange:
    """Validate an edited config document and plan its render; refuse hand-edited files."""
    path = project_dir / CONFIG_FILE
    text = yamlio.dump_roundtrip(document)
    # Render first against the new config so an edited generated file stops us early.
    config = parse_config(yamlio.load_text(text, str(path)), str(path))
    plan = plan_render(project_dir, config)
    if plan.edited:
        raise project_fs.edited_error(plan.edited)
    return ConfigChange(text, config, plan)


def apply_config_change(project_dir: Path, change: ConfigChange) -> list[PurePosixPath]:
    """Write the config (atomically), then the generated files and the manifest."""
    project_fs.write_atomic(project_dir / CONFIG_FILE, change.text)
    return [PurePosixPath(CONFIG_FILE), *project_fs.apply_plan(project_dir, change.plan)]
