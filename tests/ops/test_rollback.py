"""rollback and the deploy guarded by verify (apply --rollback-on-failure), through pyhelm3
against the recording fake helm."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_helm import FakeHelm

from cluster_mgmt.adapters.helm import HelmReleases
from cluster_mgmt.errors import ClusterError, UserError
from cluster_mgmt.ops.rollback import (
    ReleaseRef,
    StepOutcome,
    deploy_with_rollback,
    plan_rollback,
    stack_releases,
    verify_until_settled,
)


@pytest.fixture
def stack_helm(fake_helm: FakeHelm, monkeypatch: pytest.MonkeyPatch) -> FakeHelm:
    """The fake helm first on PATH, with the stack installed (two revisions each)."""
    monkeypatch.setenv("PATH", f"{fake_helm.binary.parent}{os.pathsep}{os.environ['PATH']}")
    for name, ns, chart, old, new in (
        ("cilium", "kube-system", "cilium", "1.19.5", "1.19.6"),
        ("ingress", "ingress", "traefik", "41.2.0", "41.3.0"),
        ("prometheus", "monitoring", "prometheus", "29.26.0", "29.27.0"),
        ("fluentd", "logging", "fluentd", "0.5.3", "0.6.0"),
    ):
        fake_helm.set_release(
            ns, name, (f"{chart}-{old}", "superseded", "Install complete"),
            (f"{chart}-{new}", "deployed", "Upgrade complete"),
        )  # fmt: skip
    return fake_helm


def _rollbacks(fake: FakeHelm) -> list[list[str]]:
    return [argv for argv in fake.calls() if argv[0] == "rollback"]


def test_rollback_one_release_to_the_previous_revision(run_cli, stack_helm: FakeHelm):
    result = run_cli("rollback", "cilium", "--kube-context", "prod", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"release": "cilium", "namespace": "kube-system", "from_revision": 2, "to_revision": 1,
         "from_chart": "cilium-1.19.6", "to_chart": "cilium-1.19.5", "outcome": "rolled-back",
         "message": ""},
    ]  # fmt: skip
    [argv] = _rollbacks(stack_helm)
    assert argv[:3] == ["rollback", "cilium", "1"]
    assert argv[argv.index("--namespace") + 1] == "kube-system"
    assert argv[argv.index("--kube-context") + 1] == "prod"
    assert "--wait" in argv and argv[argv.index("--timeout") + 1] == "300s"
    assert stack_helm.revisions("kube-system", "cilium")[-1]["chart"] == "cilium-1.19.5"


def test_rollback_to_a_revision_and_dry_run(run_cli, stack_helm: FakeHelm):
    dry = run_cli("rollback", "prometheus", "--to", "1", "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)[0]["outcome"] == "planned"
    assert _rollbacks(stack_helm) == []
    missing = run_cli("rollback", "prometheus", "--to", "7")
    assert missing.exit_code == 2
    assert "prometheus has no revision 7 (revisions: 1, 2)" in missing.stderr
    same = run_cli("rollback", "prometheus", "--to", "2")
    assert same.exit_code == 2 and "at revision 2 already" in same.stderr
    unknown = run_cli("rollback", "ciliumm")
    assert unknown.exit_code == 2 and "unknown release 'ciliumm'" in unknown.stderr
    assert run_cli("rollback", "--to", "1").exit_code == 2  # --to needs a release


def test_rollback_every_installed_release(run_cli, stack_helm: FakeHelm):
    result = run_cli("rollback", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert [s["release"] for s in json.loads(result.stdout)] == [
        "cilium", "ingress", "prometheus", "fluentd",
    ]  # fmt: skip
    # Later releases first; releases that are not installed are left alone with a note.
    assert [argv[1] for argv in _rollbacks(stack_helm)] == [
        "fluentd", "prometheus", "ingress", "cilium",
    ]  # fmt: skip
    assert "note: gitlab-agent: not installed in namespace gitlab-agent" in result.stderr


def test_a_failed_rollback_is_reported_and_the_others_still_run(run_cli, stack_helm: FakeHelm):
    stack_helm.fail_on("rollback ingress", "timed out waiting for the condition")
    result = run_cli("rollback", "-o", "json")
    assert result.exit_code == 2
    outcomes = {s["release"]: s["outcome"] for s in json.loads(result.stdout)}
    assert outcomes == {"cilium": "rolled-back", "ingress": "failed", "prometheus": "rolled-back",
                        "fluentd": "rolled-back"}  # fmt: skip
    failure = "1 rollback(s) failed: ingress: helm rollback ingress 1 failed: timed out"
    assert failure in result.stderr


@dataclass
class Verdict:
    ok: bool


def _upgrade(fake: FakeHelm, name: str, ns: str, chart: str, version: str) -> None:
    subprocess.run(
        [str(fake.binary), "upgrade", name, f"repo/{chart}", "--version", version,
         "--namespace", ns, "--install"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_failed_verify_after_deploy_rolls_back_every_changed_release(stack_helm: FakeHelm):
    helm = HelmReleases(binary=str(stack_helm.binary))
    releases = stack_releases()
    verdicts: list[bool] = []

    def deploy() -> None:  # an upgrade of two releases and a first install of a third
        _upgrade(stack_helm, "cilium", "kube-system", "cilium", "1.20.0")
        _upgrade(stack_helm, "prometheus", "monitoring", "prometheus", "29.28.0")
        _upgrade(stack_helm, "gitlab-agent", "gitlab-agent", "gitlab-agent", "2.29.0")

    def verify() -> Verdict:  # Cilium 1.20.0 breaks the cluster in this story
        current = helm.release("cilium", "kube-system")
        verdicts.append(current is not None and current.chart_version != "1.20.0")
        return Verdict(verdicts[-1])

    outcome = deploy_with_rollback(helm, releases, deploy, verify)
    assert verdicts == [False, True]
    assert not outcome.ok and outcome.first and not outcome.first.ok
    assert outcome.second is not None and outcome.second.ok
    assert [(s.release.name, s.from_revision, s.to_revision, s.outcome)
            for s in outcome.rolled_back] == [
        ("cilium", 3, 2, StepOutcome.ROLLED_BACK),
        ("prometheus", 3, 2, StepOutcome.ROLLED_BACK),
    ]  # fmt: skip
    assert [r.name for r in outcome.new_releases] == ["gitlab-agent"]
    # The recorded helm calls: exactly the changed releases, each to its previous revision.
    assert [argv[:3] for argv in _rollbacks(stack_helm)] == [
        ["rollback", "prometheus", "2"],
        ["rollback", "cilium", "2"],
    ]
    assert stack_helm.revisions("kube-system", "cilium")[-1]["chart"] == "cilium-1.19.6"
    assert stack_helm.revisions("monitoring", "prometheus")[-1]["chart"] == "prometheus-29.27.0"
    assert stack_helm.revisions("ingress", "ingress")[-1]["chart"] == "traefik-41.3.0"  # untouched
    assert outcome.summary() == [
        "verify after deploy: failed",
        "rollback cilium: revision 3 -> 2 (cilium-1.20.0 -> cilium-1.19.6): rolled-back",
        "rollback prometheus: revision 3 -> 2 (prometheus-29.28.0 -> prometheus-29.27.0): "
        "rolled-back",
        "gitlab-agent: installed by this deploy, no earlier revision; left as is",
        "verify after rollback: passed",
    ]


def test_passing_verify_rolls_nothing_back(stack_helm: FakeHelm):
    helm = HelmReleases(binary=str(stack_helm.binary))

    def deploy() -> None:
        _upgrade(stack_helm, "cilium", "kube-system", "cilium", "1.19.7")

    outcome = deploy_with_rollback(helm, stack_releases(), deploy, lambda: Verdict(True))
    assert outcome.ok and outcome.second is None and _rollbacks(stack_helm) == []
    assert outcome.summary() == ["verify after deploy: passed"]


def test_a_failed_deploy_rolls_back_what_it_changed(stack_helm: FakeHelm):
    helm = HelmReleases(binary=str(stack_helm.binary))

    def deploy() -> None:
        _upgrade(stack_helm, "fluentd", "logging", "fluentd", "0.7.0")
        raise ClusterError("helmfile apply failed: release prometheus: timed out")

    outcome = deploy_with_rollback(helm, stack_releases(), deploy, lambda: Verdict(True))
    assert outcome.deploy_error == "helmfile apply failed: release prometheus: timed out"
    assert outcome.first is None and outcome.second is not None and outcome.second.ok
    assert [argv[:3] for argv in _rollbacks(stack_helm)] == [["rollback", "fluentd", "2"]]
    assert outcome.summary()[0] == (
        "deploy failed: helmfile apply failed: release prometheus: timed out"
    )


def test_plan_rollback_refuses_a_single_revision(fake_helm: FakeHelm):
    fake_helm.set_release("kube-system", "cilium", ("cilium-1.19.6", "deployed", "Install"))
    helm = HelmReleases(binary=str(fake_helm.binary))
    with pytest.raises(UserError, match="only revision 1: nothing to roll back to"):
        plan_rollback(helm, [ReleaseRef("cilium", "kube-system")])
    assert Path(fake_helm.binary).is_file()


def test_guarded_deploy_with_the_real_helm_and_verify_release_checks(tmp_path, helm_bin):
    """The real helm reads and rolls back release records on the API fake; the verify step is
    verify's own release check for the pinned versions."""
    from kube_builders import helm_release_secret, namespace
    from kube_fake import KubeFake

    from cluster_mgmt.core.verify import CheckStatus, ExpectedRelease
    from cluster_mgmt.ops.verify import VerifyReport

    fake = KubeFake(tmp_path, token=None)
    try:
        fake.add(namespace("kube-system"), namespace("logging"))
        for name, ns, chart, version in (("cilium", "kube-system", "cilium", "1.19.6"),
                                         ("fluentd", "logging", "fluentd", "0.6.0")):  # fmt: skip
            fake.add(helm_release_secret(name, ns, 1, chart=chart, version=version))
        helm = HelmReleases(binary=helm_bin, kubeconfig=str(fake.kubeconfig), timeout_s=60)
        pinned = [ExpectedRelease("cilium", "kube-system", "cilium", "1.19.6"),
                  ExpectedRelease("fluentd", "logging", "fluentd", "0.6.0")]  # fmt: skip

        def deploy() -> None:  # what helmfile leaves behind: a new revision of cilium
            fake.add(
                helm_release_secret("cilium", "kube-system", 1, chart="cilium", version="1.19.6",
                                    status="superseded"),
                helm_release_secret("cilium", "kube-system", 2, chart="cilium", version="1.20.0"),
            )  # fmt: skip

        def verify() -> VerifyReport:
            from cluster_mgmt.core.verify import judge_release

            results = []
            for expected in pinned:
                found = helm.release(expected.name, expected.namespace)
                assert found is not None
                state = (found.revision, found.status, found.chart, found.chart_version)
                results.append(judge_release(expected, state))
            return VerifyReport("production", "fake", tuple(results))

        outcome = deploy_with_rollback(
            helm, [ReleaseRef("cilium", "kube-system"), ReleaseRef("fluentd", "logging")],
            deploy, verify,
        )  # fmt: skip
        assert isinstance(outcome.first, VerifyReport) and isinstance(outcome.second, VerifyReport)
        [failure] = outcome.first.failures
        assert failure.message == (
            "cilium revision 2 (cilium-1.20.0): chart version 1.20.0 deployed, 1.19.6 pinned"
        )
        assert {r.status for r in outcome.second.results} == {CheckStatus.PASS}
        assert [(s.release.name, s.from_revision, s.to_revision) for s in outcome.rolled_back] == [
            ("cilium", 2, 1)
        ]
        history = helm.history("cilium", "kube-system")
        assert [(h.revision, h.chart_version, h.description) for h in history][-1] == (
            3, "1.19.6", "Rollback to 1",
        )  # fmt: skip
        assert len(helm.history("fluentd", "logging")) == 1  # unchanged, not rolled back
    finally:
        fake.close()


def test_rollback_timeout_is_a_duration(run_cli, stack_helm: FakeHelm):
    result = run_cli("rollback", "cilium", "--timeout", "2m")
    assert result.exit_code == 0, result.stderr
    [argv] = _rollbacks(stack_helm)
    assert argv[argv.index("--timeout") + 1] == "120s"
    bad = run_cli("rollback", "cilium", "--timeout", "soon")
    assert bad.exit_code == 2 and "Invalid value for '--timeout'" in bad.stderr


@dataclass
class Checks:
    """A verdict over named checks, as verify's report is."""

    failing: frozenset[str]

    @property
    def ok(self) -> bool:
        return not self.failing


class ManualClock:
    """Time that moves only when slept: the loop is followed without waiting."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def test_failed_checks_run_again_with_backoff_until_they_pass():
    clock = ManualClock()
    ready_at = {"cilium-rollout": 6.0, "hubble-metrics": 1.0}  # settle at these times
    runs: list[tuple[float, frozenset[str] | None, float]] = []

    def attempt(previous: Checks | None, left: float) -> Checks:
        names = None if previous is None else previous.failing
        runs.append((clock.t, names, left))
        todo = {"release/cilium", *ready_at} if names is None else names
        return Checks(frozenset(n for n in todo if clock.t < ready_at.get(n, 0.0)))

    verdict = verify_until_settled(attempt, 60, now=clock.now, sleep=clock.sleep)
    assert verdict.ok
    assert clock.sleeps == [1, 2, 4]
    # All checks first; then only those that failed (passed ones stay passed).
    assert runs == [
        (0.0, None, 60),
        (1.0, frozenset({"cilium-rollout", "hubble-metrics"}), 59.0),
        (3.0, frozenset({"cilium-rollout"}), 57.0),
        (7.0, frozenset({"cilium-rollout"}), 53.0),
    ]


def test_checks_still_failing_at_the_deadline_fail():
    clock = ManualClock()
    seen: list[float] = []

    def attempt(previous: Checks | None, left: float) -> Checks:
        return Checks(frozenset({"cilium-rollout"}))

    verdict = verify_until_settled(
        attempt, 30, now=clock.now, sleep=clock.sleep,
        waiting=lambda _verdict, delay: seen.append(delay),
    )  # fmt: skip
    assert not verdict.ok
    # 1, 2, 4, 8 then 10 s at most; no wait that would end past the deadline (t=30).
    assert clock.sleeps == [1, 2, 4, 8, 10] and seen == clock.sleeps
    assert clock.t == 25
