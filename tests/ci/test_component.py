"""The CI/CD component and generated pipelines: valid GitLab CI, pinned, one version file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from ci_helpers import (
    COMPONENT,
    GOLDEN,
    REPO,
    check_gitlab_ci_schema,
    component_spec,
    interpolate,
    read_versions,
    yaml,
)

from cluster_mgmt import __version__

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.yaml").is_file())
GLOBAL_KEYWORDS = {"default", "variables", "stages", "workflow", "include", "image", "services"}
INPUT_SETS = [
    {"environment": "production"},
    {
        "environment": "staging",
        "kube-context": "platform/cluster-management:staging",
        "selector": "name=cilium,namespace!=monitoring",
        "apply-when": "manual",
        "drift": "warn",
        "upgrade": "disabled",
        "kind-e2e": "enabled",
        "rollback-on-failure": "enabled",
        "image": "registry.example.com/platform/job@sha256:" + "a" * 64,
        "validate-stage": "validate",
        "plan-stage": "plan",
        "deploy-stage": "deploy",
    },
]


@pytest.mark.parametrize("given", INPUT_SETS, ids=["defaults", "every-input"])
def test_component_after_interpolation_is_valid_gitlab_ci(given, tmp_path: Path) -> None:
    inputs, body = component_spec()
    text = interpolate(body, inputs, given)
    assert "$[[" not in text
    out = tmp_path / "component.yml"
    out.write_text(text)
    check_gitlab_ci_schema([out])
    jobs = yaml.load(text)
    env = given["environment"]
    assert set(jobs) == {
        f"{name}:{env}" for name in ("validate", "plan", "apply", "verify", "drift", "upgrade")
    } | {f"kind-e2e:{env}"}
    assert not GLOBAL_KEYWORDS & set(jobs), "a component job file has no global keywords"
    for name in ("plan", "apply", "verify", "drift"):
        job = jobs[f"{name}:{env}"]
        assert job["resource_group"] == f"cluster-mgmt-{env}", name
        assert job["environment"]["name"] == env, name
    verify = jobs[f"verify:{env}"]
    assert "cluster-mgmt verify" in verify["script"][0]
    assert "--junit report.xml" in verify["script"][0]
    assert verify["artifacts"]["reports"]["junit"] == "report.xml"
    assert jobs[f"upgrade:{env}"]["script"] == ["cluster-mgmt gitlab upgrade-mr"]
    assert jobs[f"plan:{env}"]["artifacts"]["paths"] == ["plan.diff"]
    assert "--output-file plan.diff" in jobs[f"plan:{env}"]["script"][0]
    assert "--detailed-exitcode" in " ".join(jobs[f"drift:{env}"]["script"])
    assert jobs[f"drift:{env}"]["allow_failure"] == {"exit_codes": [2]}
    for job in jobs.values():
        script = " ".join(job["script"])
        assert "GITLAB_AGENT_TOKEN" not in script, "the token reaches helmfile by environment"
        assert "pip install" not in script
    if given.get("apply-when") == "manual":
        assert jobs[f"apply:{env}"]["rules"][-1]["when"] == "manual"
    apply = jobs[f"apply:{env}"]
    assert apply["variables"]["CLUSTER_MGMT_ROLLBACK"] == given.get(
        "rollback-on-failure", "disabled"
    )
    assert apply["script"][-1].endswith(" $guard")
    assert '"$CLUSTER_MGMT_ROLLBACK" = enabled' in apply["script"][1]
    assert 'guard="--rollback-on-failure --junit report.xml"' in apply["script"][1]
    assert apply["artifacts"]["reports"]["junit"] == "report.xml"
    # With rollback-on-failure apply verifies: the verify job is left out.
    rollback = given.get("rollback-on-failure", "disabled")
    assert verify["rules"][0] == {"if": f'"{rollback}" == "enabled"', "when": "never"}


def test_component_inputs_are_typed_with_defaults_and_grammar() -> None:
    inputs, _ = component_spec()
    assert "default" not in inputs["environment"], "the environment must be given"
    for name in ("apply-when", "drift", "upgrade", "kind-e2e", "rollback-on-failure"):
        assert inputs[name]["default"] in inputs[name]["options"], name
    assert inputs["kind-e2e"]["default"] == "disabled"
    assert inputs["rollback-on-failure"]["default"] == "disabled"
    for name in ("environment", "kube-context", "selector", "image"):
        assert "regex" in inputs[name], name
    assert re.search(inputs["environment"]["regex"], "prod\nx") is None
    assert re.search(inputs["selector"]["regex"], "name=cilium; rm -rf /") is None
    assert re.search(inputs["kube-context"]["regex"], "a:b $(id)") is None
    image = inputs["image"]["regex"]
    for floating in ("r.example/g/job:latest", "r.example:5000/job:latest", "r.example/job"):
        assert re.search(image, floating) is None, floating
    for pinned in (
        "r.example/g/job:0.1.0", "r.example:5000/job:v1", "r.example/job:lates",
        "r.example/job:latest-1", "r.example/job:l", f"r.example/job@sha256:{'a' * 64}",
    ):  # fmt: skip
        assert re.search(image, pinned), pinned


def test_component_image_is_pinned_to_the_package_version() -> None:
    inputs, _ = component_spec()
    image = inputs["image"]["default"]
    assert image.endswith(f":{__version__}")
    assert f"@{__version__}" in COMPONENT.read_text().split("spec:")[0]


@pytest.mark.parametrize("case", CASES)
def test_generated_pipeline_is_valid_gitlab_ci(case: str, tmp_path: Path, run_cli) -> None:
    shutil.copy(GOLDEN / case / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    pipeline = tmp_path / ".gitlab-ci.yml"
    includes = tmp_path / ".gitlab/ci/environments.yml"
    check_gitlab_ci_schema([pipeline, includes])
    assert yaml.load(pipeline.read_text())["include"] == [{"local": ".gitlab/ci/environments.yml"}]
    envs = list(yaml.load((tmp_path / "cluster-mgmt.yaml").read_text())["environments"])
    listed = yaml.load(includes.read_text())["include"]
    assert [i["inputs"]["environment"] for i in listed] == envs
    assert all(i["local"] == ".gitlab/ci/cluster-management.yml" for i in listed)
    # One upgrade merge request per project: the first environment's include runs it.
    assert [i["inputs"].get("upgrade", "enabled") for i in listed] == ["enabled"] + ["disabled"] * (
        len(envs) - 1
    )
    config = yaml.load((tmp_path / "cluster-mgmt.yaml").read_text())
    rollback = "enabled" if config.get("ci", {}).get("rollback_on_failure") else None
    assert [i["inputs"].get("rollback-on-failure") for i in listed] == [rollback] * len(envs)
    vendored = (tmp_path / ".gitlab/ci/cluster-management.yml").read_text()
    assert vendored.endswith(COMPONENT.read_text())


def test_init_project_pipeline_is_valid_in_both_include_forms(tmp_path: Path, run_cli) -> None:
    hosted = "component:$CI_SERVER_FQDN/platform/cluster-mgmt/cluster-management@1.2.3"
    for name, extra in (("vendored", ()), ("hosted", ("--ci-include", hosted))):
        target = tmp_path / name
        result = run_cli(
            "init", target, "--provider", "kind", "--env", "dev", "--agent-project", "g/cm",
            *extra,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        check_gitlab_ci_schema([target / ".gitlab-ci.yml", target / ".gitlab/ci/environments.yml"])
        [include] = yaml.load((target / ".gitlab/ci/environments.yml").read_text())["include"]
        if extra:
            assert include == {"component": hosted.removeprefix("component:"),
                               "inputs": {"environment": "dev"}}  # fmt: skip
            assert not (target / ".gitlab/ci/cluster-management.yml").exists()
        else:
            assert include["local"] == ".gitlab/ci/cluster-management.yml"


def test_switching_include_mode_and_adding_an_environment_rewrites_only_render_files(
    tmp_path: Path, run_cli
) -> None:
    shutil.copy(GOLDEN / "kind" / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(pipeline.read_text() + "\nlint:\n  script: [echo mine]\n")
    config = (tmp_path / "cluster-mgmt.yaml").read_text()
    config += (
        "  prod:\n    provider: kind\n    agent: prod\n"
        "ci:\n  include: component:gitlab.example.com/platform/cm/cluster-management@2.0.0\n"
        "  image: registry.example.com/platform/cm-job:2.0.0\n"
    )
    (tmp_path / "cluster-mgmt.yaml").write_text(config)
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 0, result.stderr
    assert "echo mine" in pipeline.read_text(), "the user's pipeline is never rewritten"
    assert not (tmp_path / ".gitlab/ci/cluster-management.yml").exists()
    listed = yaml.load((tmp_path / ".gitlab/ci/environments.yml").read_text())["include"]
    assert [i["inputs"] for i in listed] == [
        {"environment": "dev", "image": "registry.example.com/platform/cm-job:2.0.0"},
        {"environment": "prod", "image": "registry.example.com/platform/cm-job:2.0.0",
         "upgrade": "disabled"},
    ]  # fmt: skip
    assert {i["component"] for i in listed} == {
        "gitlab.example.com/platform/cm/cluster-management@2.0.0"
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("include", "component:gitlab.com/g/p/cluster-management@~latest", "exact version"),
        ("include", "remote:https://x", "must be `local`"),
        ("image", "registry.example.com/job:latest", "exact tag"),
        ("image", "registry.example.com/job", "exact tag"),
    ],
)
def test_ci_config_rejects_floating_versions(field, value, message, tmp_path: Path, run_cli):
    text = (GOLDEN / "kind" / "input.yaml").read_text() + f"ci:\n  {field}: '{value}'\n"
    (tmp_path / "cluster-mgmt.yaml").write_text(text)
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 2
    assert f"ci.{field}" in result.stderr and message in result.stderr
    assert not (tmp_path / ".gitlab-ci.yml").exists()


def test_render_advises_when_the_pipeline_does_not_include_the_jobs(tmp_path, run_cli):
    shutil.copy(GOLDEN / "kind" / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    (tmp_path / ".gitlab-ci.yml").write_text("old:\n  script: [helmfile apply]\n")
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 0
    assert "does not include .gitlab/ci/environments.yml" in result.stderr
    assert "old:" in (tmp_path / ".gitlab-ci.yml").read_text()


def test_one_version_file_feeds_scripts_dockerfile_and_docs() -> None:
    versions = read_versions()
    dockerfile = (REPO / "ci" / "Dockerfile").read_text()
    install = (REPO / "scripts" / "install-tools.sh").read_text()
    lock = yaml.load((REPO / "tools/gitlab-ci-local/package-lock.json").read_text())
    assert (
        lock["packages"]["node_modules/gitlab-ci-local"]["version"]
        == versions["GITLAB_CI_LOCAL_VERSION"]
    )
    assert versions["GITLAB_CI_LOCAL_VERSION"].startswith("4.56.")
    assert "tools/versions.env" in dockerfile and "tools/versions.env" in install
    # No version or checksum is written anywhere but the versions file.
    for text, where in ((dockerfile, "ci/Dockerfile"), (install, "install-tools.sh")):
        for key, value in versions.items():
            if key.endswith(("_VERSION", "_SHA256")):
                assert value not in text, f"{where} repeats {key}; read it from versions.env"
        assert not re.search(r"\b[0-9a-f]{64}\b", text), where
    # Every download is checked: helm and kubectl by install-tools.sh (which the image runs),
    # helmfile v1, helm-diff and kind by the Dockerfile itself.
    assert "install-tools.sh /usr/local/bin helm kubectl" in dockerfile
    for key in ("HELM", "KUBECTL", "HELMFILE_TEST"):
        assert f'"${key}_SHA256"' in install, key
    for key in ("HELMFILE", "HELM_DIFF", "KIND"):
        assert f'echo "${{{key}_SHA256}}' in dockerfile, key
    assert versions["HELMFILE_VERSION"].startswith("1."), "the job image runs helmfile v1"
    assert versions["HELM_VERSION"].startswith("3.")
    readme = (REPO / "README.md").read_text()
    for key in ("HELM_VERSION", "HELMFILE_VERSION", "HELMFILE_TEST_VERSION"):
        assert versions[key] in readme, key


def test_dockerfile_arguments_all_come_from_the_versions_file() -> None:
    versions = read_versions()
    lines = (REPO / "ci" / "Dockerfile").read_text().splitlines()
    args = [line.split()[1].split("=")[0] for line in lines if line.startswith("ARG ")]
    assert args, "the Dockerfile takes its base image as a build argument"
    assert set(args) <= set(versions), set(args) - set(versions)
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms == ["FROM ${BASE_IMAGE}"]
    build = (REPO / "ci" / "build.sh").read_text()
    for arg in args:
        assert f"--build-arg {arg}=" in build, arg


def test_this_repository_pipeline_builds_the_image_and_runs_the_tests() -> None:
    pipeline = REPO / ".gitlab-ci.yml"
    check_gitlab_ci_schema([pipeline])
    jobs = yaml.load(pipeline.read_text())
    assert jobs["test"]["script"] == ["make test"]
    build = " ".join(jobs["build-image"]["script"])
    assert "ci/build.sh" in build and "--password-stdin" in build
    assert "$CI_REGISTRY_PASSWORD\" |" in build, "the registry password never goes on argv"


PER_ENV_CONFIG = """\
version: 1
gitlab:
  project: me/cluster-management
ci:
  drift: warn
  plan_stage: plan
  kind_e2e: true  # the kind environments only
environments:
  dev:
    provider: kind
    agent: dev
  production:
    provider: eks
    agent: prod
    ci:
      apply_when: manual
      drift: fail
      selector: name=cilium,namespace=kube-system
      rollback_on_failure: true
"""


def test_job_inputs_come_from_the_config_per_environment(tmp_path: Path, run_cli) -> None:
    (tmp_path / "cluster-mgmt.yaml").write_text(PER_ENV_CONFIG)
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 0, result.stderr
    includes = tmp_path / ".gitlab/ci/environments.yml"
    listed = yaml.load(includes.read_text())["include"]
    assert [i["inputs"] for i in listed] == [
        {"environment": "dev", "plan-stage": "plan", "drift": "warn", "kind-e2e": "enabled"},
        {"environment": "production", "plan-stage": "plan",
         "selector": "name=cilium,namespace=kube-system", "apply-when": "manual",
         "upgrade": "disabled", "rollback-on-failure": "enabled"},
    ]  # fmt: skip
    inputs, _ = component_spec()
    for include in listed:
        for name, value in include["inputs"].items():
            spec = inputs[name]
            assert value in spec.get("options", [value]), name
            assert re.search(spec.get("regex", ""), value), name
    check_gitlab_ci_schema([tmp_path / ".gitlab-ci.yml", includes])
    # Changing the config is how the jobs change: render --check is clean again after render.
    assert run_cli("-C", tmp_path, "render", "--check").exit_code == 0


@pytest.mark.parametrize(
    ("snippet", "line", "field", "message"),
    [
        ("ci:\n  drift: sometimes\n", 5, "ci.drift", "'fail', 'warn' or 'disabled'"),
        ("ci:\n  selector: name=cilium; rm -rf /\n", 5, "ci.selector", "pattern"),
        ("ci:\n  deploy_stage: \"deploy\\nfoo\"\n", 5, "ci.deploy_stage", "pattern"),
        ("", 5, "environments.production", "ci.kind_e2e applies to provider kind only"),
    ],
)
def test_bad_ci_job_settings_name_file_line_and_field(
    snippet, line, field, message, tmp_path: Path, run_cli
) -> None:
    config = (
        "version: 1\ngitlab:\n  project: me/cm\n"
        + snippet
        + "environments:\n  production:\n    provider: eks\n    agent: prod\n"
        + ("    ci:\n      kind_e2e: true\n" if not snippet else "")
    )
    (tmp_path / "cluster-mgmt.yaml").write_text(config)
    result = run_cli("-C", tmp_path, "render")
    assert result.exit_code == 2
    assert f"cluster-mgmt.yaml:{line}:" in result.stderr
    assert field in result.stderr and message in result.stderr
    assert not (tmp_path / ".gitlab").exists(), "nothing half-written"


def test_the_image_lock_pins_every_dependency_exactly_with_hashes() -> None:
    """ci/requirements.lock: each runtime dependency (and theirs) once, ==, with sha256s."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    text = (REPO / "ci" / "requirements.lock").read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z])", text):
        head = block.split("\\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        name, _, version = head.partition("==")
        assert version and "--hash=sha256:" in block, head
        assert canonicalize_name(name) not in pins, f"{name} pinned twice"
        pins[canonicalize_name(name)] = version.split(";")[0].strip()
    assert "--index-url" not in text and "file://" not in text, "no machine-specific index"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in ci/requirements.lock"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} vs {spec}"
    dockerfile = (REPO / "ci" / "Dockerfile").read_text()
    assert "pip install --require-hashes -r /opt/cluster-mgmt/ci/requirements.lock" in dockerfile
    assert "pip install --no-deps /opt/cluster-mgmt/src" in dockerfile


def test_release_job_publishes_only_exact_version_tags_matching_the_package() -> None:
    import subprocess

    jobs = yaml.load((REPO / ".gitlab-ci.yml").read_text())
    release = jobs["release"]
    assert release["release"]["tag_name"] == "$CI_COMMIT_TAG"
    assert release["needs"] == ["build-image"], "the image of the version exists first"
    [rule] = release["rules"]
    pattern = rule["if"].split("=~", 1)[1].strip().strip("/")
    for tag, ok in (("1.2.3", True), ("v1.2.3", False), ("1.2", False), ("1.2.3-rc1", False)):
        assert bool(re.fullmatch(pattern, tag)) is ok, tag
    script = "\n".join(release["script"])
    for tag, code in ((__version__, 0), ("9.9.9", 1)):
        done = subprocess.run(
            ["sh", "-c", script], cwd=REPO, env={"CI_COMMIT_TAG": tag, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == code, done.stderr
    assert "is not the package version" in done.stderr
