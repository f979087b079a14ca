"""The real helmfile and helm binaries on generated projects.

`helmfile build` runs offline on every golden project. Rendering the stack with the real
charts needs the chart archives, which come from chart repositories: point
CLUSTER_MGMT_CHART_CACHE at a directory holding them (`helm pull … --untar`), e.g.
cilium-1.19.6/ (or cilium/), traefik/, prometheus/ (with charts/), fluentd/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cluster_mgmt.adapters.helm import Helm
from cluster_mgmt.adapters.helmfile import Helmfile
from cluster_mgmt.adapters.process import Completed
from cluster_mgmt.ops.validate import validate_project

pytestmark = pytest.mark.integration
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input.yaml").is_file())
yaml = YAML(typ="safe", pure=True)


def _project(tmp_path: Path, run_cli, case: str) -> Path:
    shutil.copy(GOLDEN / case / "input.yaml", tmp_path / "cluster-mgmt.yaml")
    assert run_cli("-C", tmp_path, "render").exit_code == 0
    return tmp_path


@pytest.mark.parametrize("case", CASES)
def test_helmfile_build_on_generated_project(
    case: str, tmp_path: Path, run_cli, helmfile_bin: str, helm_bin: str
) -> None:
    project = _project(tmp_path, run_cli, case)
    tool = Helmfile(helmfile_bin, helm_bin)
    config = yaml.load((project / "cluster-mgmt.yaml").read_text())
    for env in config["environments"]:
        states = list(yaml.load_all(tool.build(project, env)))
        releases = {r["name"]: r for s in states if s for r in s.get("releases", [])}
        assert set(releases) == {
            "cilium", "ingress", "prometheus", "fluentd", "gitlab-agent", "network-policies",
        }  # fmt: skip
        cilium = releases["cilium"]
        assert cilium["version"] == "1.19.6"
        assert cilium["values"][0] == f"../values/{env}/cilium.yaml"
        assert states[0]["environments"][env]["kubeContext"]
        env_values = yaml.load((project / "environments" / f"{env}.yaml").read_text())
        for name, release in releases.items():
            key = {"gitlab-agent": "gitlabAgent", "network-policies": "networkPolicies"}
            assert release["installed"] == env_values["apps"][key.get(name, name)], name


def test_helmfile_build_does_not_need_the_agent_token(
    tmp_path: Path, run_cli, helmfile_bin: str, helm_bin: str, monkeypatch
) -> None:
    monkeypatch.delenv("GITLAB_AGENT_TOKEN", raising=False)
    project = _project(tmp_path, run_cli, "kind")
    out = Helmfile(helmfile_bin, helm_bin).build(project, "dev")
    releases = {r["name"]: r for s in yaml.load_all(out) if s for r in s.get("releases", [])}
    agent = releases["gitlab-agent"]
    assert agent["installed"] is True
    # The token file is only named here; helm evaluates its requiredEnv at deploy time.
    assert "../values/agent-token.yaml.gotmpl" in agent["values"]
    assert "requiredEnv" not in out


def test_validate_runs_helmfile_build(
    tmp_path: Path, run_cli, helmfile_bin, helm_bin, bundled_charts
) -> None:
    project = _project(tmp_path, run_cli, "kind")
    report = validate_project(project, charts_dir=None, helmfile=Helmfile(helmfile_bin, helm_bin))
    assert "helmfile build: dev" in report.checked
    (project / "helmfile.d/00-cilium.yaml.gotmpl").write_text("releases: [{{ .Values.nope }]\n")
    broken = validate_project(project, charts_dir=None, helmfile=Helmfile(helmfile_bin, helm_bin))
    assert any("helmfile build failed for environment 'dev'" in p for p in broken.problems)


def test_helm_argv_never_carries_values_inline(tmp_path: Path) -> None:
    seen: list[tuple[str, ...]] = []

    def recorder(argv, cwd, env, timeout):
        seen.append(tuple(argv))
        return Completed(tuple(argv), 0, "kind: ConfigMap\n", "")

    Helm("helm", runner=recorder).template(
        "cilium", tmp_path / "chart", "kube-system", [tmp_path / "v.yaml"], kube_version="1.31"
    )
    argv = seen[0]
    assert argv[:3] == ("helm", "template", "cilium")
    assert "--set" not in argv
    assert argv[argv.index("--values") + 1] == str(tmp_path / "v.yaml")


@pytest.mark.parametrize("case", ["eks", "gke", "kind"])
def test_cilium_values_render_with_the_real_chart(
    case: str, tmp_path: Path, run_cli, helm_bin: str, real_chart
) -> None:
    project = _project(tmp_path, run_cli, case)
    chart = real_chart("cilium", "1.19.6")
    env = next(iter(yaml.load((project / "cluster-mgmt.yaml").read_text())["environments"]))
    out = Helm(helm_bin).template(
        "cilium", chart, "kube-system", [project / f"values/{env}/cilium.yaml"],
        kube_version="1.31",
    )  # fmt: skip
    docs = [d for d in yaml.load_all(out) if d]
    config = next(
        d["data"] for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "cilium-config"
    )  # fmt: skip
    assert "flow:sourceContext=namespace;destinationContext=namespace" in config["hubble-metrics"]
    assert config["policy-audit-mode"] == "true"
    assert config["hubble-export-file-path"] == "/var/run/cilium/hubble/events.log"
    assert "DROPPED" in config["hubble-export-allowlist"]
    metrics_svc = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "hubble-metrics"
    )
    assert metrics_svc["metadata"]["annotations"]["prometheus.io/port"] == "9965"


@pytest.mark.parametrize(
    ("release", "chart", "version", "namespace"),
    [
        ("ingress", "traefik", "41.3.0", "ingress"),
        ("prometheus", "prometheus", "29.27.0", "monitoring"),
        ("fluentd", "fluentd", "0.6.0", "logging"),
    ],
)
def test_other_values_render_with_the_real_charts(
    release, chart, version, namespace, tmp_path: Path, run_cli, helm_bin, real_chart
) -> None:
    for case in ("eks", "kind"):
        (tmp_path / case).mkdir()
        project = _project(tmp_path / case, run_cli, case)
        env = next(iter(yaml.load((project / "cluster-mgmt.yaml").read_text())["environments"]))
        out = Helm(helm_bin).template(
            release, real_chart(chart, version), namespace,
            [project / f"values/{env}/{release}.yaml"], kube_version="1.31",
        )  # fmt: skip
        kinds = {d["kind"] for d in yaml.load_all(out) if d}
        assert {"Deployment", "DaemonSet"} & kinds


def test_helm_binary_version(helm_bin: str) -> None:
    out = subprocess.run([helm_bin, "version", "--short"], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    assert out.startswith("v3.")


def test_network_policies_release_renders_offline(
    tmp_path: Path, run_cli, helmfile_bin: str, helm_bin: str
) -> None:
    project = _project(tmp_path, run_cli, "gke")  # apps.network_policies: true
    result = subprocess.run(
        [helmfile_bin, "--helm-binary", helm_bin, "--environment", "production",
         "--selector", "name=network-policies", "template", "--skip-deps"],
        cwd=project, env={**os.environ, "HELMFILE_V1MODE": "true"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.load_all(result.stdout) if d]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("NetworkPolicy", "default-deny-ingress") in names
    assert ("CiliumNetworkPolicy", "allow-dns-egress") in names
    assert len(docs) == 4
