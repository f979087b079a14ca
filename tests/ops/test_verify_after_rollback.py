"""After a rollback, verify expects the rolled-back releases at the versions they went to."""

from __future__ import annotations

from cluster_mgmt.core.config import Provider
from cluster_mgmt.core.verify import (
    Expectations,
    ExpectedRelease,
    after_rollback,
    judge_release,
)


def _expectations() -> Expectations:
    return Expectations(
        env="production",
        provider=Provider.EKS,
        releases=(
            ExpectedRelease("cilium", "kube-system", "cilium", "1.19.6"),
            ExpectedRelease("ingress", "ingress", "traefik", "41.3.0"),
        ),
        audit_mode=True,
        hubble_metrics=(),
        ingress=None,
        base_domain=None,
        prometheus=False,
        fluentd=False,
        gitlab_agent=False,
    )


def test_only_rolled_back_releases_change_and_remember_the_pin() -> None:
    adjusted = after_rollback(_expectations(), {"cilium": "1.19.5"})
    cilium, ingress = adjusted.releases
    assert (cilium.version, cilium.pinned) == ("1.19.5", "1.19.6")
    assert ingress == _expectations().releases[1]
    assert after_rollback(_expectations(), {}) == _expectations()


def test_judged_at_the_rolled_back_version_and_said_so() -> None:
    [cilium, _] = after_rollback(_expectations(), {"cilium": "1.19.5"}).releases
    ok = judge_release(cilium, (4, "deployed", "cilium", "1.19.5"))
    assert ok.status == "pass", ok
    assert ok.message == (
        "cilium revision 4 (cilium-1.19.5) deployed (rolled back; the repository pins 1.19.6)"
    )
    still_new = judge_release(cilium, (3, "deployed", "cilium", "1.19.6"))
    assert still_new.status == "fail"
    assert "chart version 1.19.6 deployed, 1.19.5 rolled back to" in still_new.message
    plain = judge_release(_expectations().releases[0], (3, "deployed", "cilium", "1.19.6"))
    assert (plain.status, plain.message) == ("pass", "cilium revision 3 (cilium-1.19.6) deployed")
