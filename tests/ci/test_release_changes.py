"""Reading helmfile/helm-diff output into release changes; the selector grammar."""

from __future__ import annotations

import pytest

from cluster_mgmt.core.release_changes import (
    Action,
    ReleaseChange,
    changes_from_apply,
    changes_from_diff,
    parse_selector,
    selects,
)

DIFF = """\
Adding repo cilium https://helm.cilium.io
Comparing release=cilium, chart=cilium/cilium, namespace=kube-system
Comparing release=prometheus, chart=prometheus-community/prometheus, namespace=monitoring
monitoring, prometheus-server, Deployment (apps) has changed:
  # Source: prometheus/templates/deploy.yaml
-         image: quay.io/prometheus/prometheus:v3.1.0
+         image: quay.io/prometheus/prometheus:v3.2.0
monitoring, prometheus-server-old, ConfigMap (v1) has been removed:
Comparing release=fluentd, chart=fluent/fluentd, namespace=logging
********************

\tRelease was not present in Helm.  Diff will show entire contents as new.

********************
logging, fluentd, DaemonSet (apps) has been added:
+ kind: DaemonSet
"""


def test_diff_names_only_releases_with_changes_in_order() -> None:
    assert changes_from_diff(DIFF.splitlines()) == [
        ReleaseChange("prometheus", "monitoring", Action.UPGRADE),
        ReleaseChange("fluentd", "logging", Action.INSTALL),
    ]


def test_diff_without_changes_is_empty() -> None:
    lines = [line for line in DIFF.splitlines() if line.startswith("Comparing")]
    assert changes_from_diff(lines) == []


def test_apply_reads_the_summary_tables() -> None:
    out = (
        DIFF
        + """
UPDATED RELEASES:
NAME         NAMESPACE    CHART                             VERSION   DURATION
prometheus   monitoring   prometheus-community/prometheus   29.27.0        14s
fluentd      logging      fluent/fluentd                    0.6.0           9s

DELETED RELEASES:
NAME              NAMESPACE   DURATION
network-policies  kube-system       1s
"""
    )
    assert changes_from_apply(out.splitlines()) == [
        ReleaseChange("prometheus", "monitoring", Action.UPGRADE),
        ReleaseChange("fluentd", "logging", Action.INSTALL),
        ReleaseChange("network-policies", "kube-system", Action.DELETE),
    ]


def test_apply_with_nothing_to_do_changes_nothing() -> None:
    assert (
        changes_from_apply(["Comparing release=cilium, chart=cilium/cilium, namespace=kube-system"])
        == []
    )


@pytest.mark.parametrize("good", ["name=cilium", "tier!=frontend", "a=b,c!=d", "app.k8s.io/name=x"])
def test_selector_grammar_accepts(good: str) -> None:
    assert parse_selector(good) == good


@pytest.mark.parametrize("bad", ["", "name", "name==x", "name=a b", "a=b,", "x=$(id)", "a=b\nc=d"])
def test_selector_grammar_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid selector"):
        parse_selector(bad)


CILIUM_LABELS = {"name": "cilium", "namespace": "kube-system", "chart": "cilium"}


@pytest.mark.parametrize(
    ("selectors", "picked"),
    [
        ((), True),
        (("name=cilium",), True),
        (("name=ingress",), False),
        (("name=ingress", "namespace=kube-system"), True),  # OR-ed
        (("namespace=kube-system,name!=cilium",), False),  # AND-ed terms
        (("name!=ingress",), True),
        (("tier!=edge",), True),  # a missing label is not equal
        (("tier=edge",), False),
        (("chart=cilium,namespace=kube-system",), True),
    ],
)
def test_selects_matches_releases_as_helmfile_does(selectors, picked) -> None:
    assert selects(selectors, CILIUM_LABELS) is picked
