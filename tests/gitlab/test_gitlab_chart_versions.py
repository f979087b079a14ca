"""Which newer chart version a pin may move to."""

from __future__ import annotations

import pytest

from cluster_mgmt.core.chart_upgrades import (
    Allow,
    Upgrade,
    merge_request_description,
    newest_allowed,
)

AVAILABLE = [
    "1.19.5",
    "1.19.6",
    "1.19.7",
    "1.19.10",
    "1.20.0",
    "1.20.3-rc.1",
    "1.21.1",
    "2.0.0",
    "v2.1.0",
    "junk",
]


@pytest.mark.parametrize(
    ("allow", "expected"),
    [(Allow.PATCH, "1.19.10"), (Allow.MINOR, "1.21.1"), (Allow.MAJOR, "v2.1.0")],
)
def test_newest_within_the_range(allow: Allow, expected: str) -> None:
    assert newest_allowed("1.19.6", AVAILABLE, allow) == expected


def test_numeric_not_lexical_order_and_no_pre_releases() -> None:
    assert newest_allowed("1.19.9", ["1.19.10", "1.19.9"], Allow.PATCH) == "1.19.10"
    assert newest_allowed("1.20.2", ["1.20.3-rc.1", "1.20.2"], Allow.PATCH) is None
    assert newest_allowed("1.20.2", ["1.20.3+build.7"], Allow.PATCH) == "1.20.3+build.7"


def test_nothing_newer_or_unparsable_pin() -> None:
    assert newest_allowed("2.1.0", AVAILABLE, Allow.MAJOR) is None
    assert newest_allowed("latest", AVAILABLE, Allow.MAJOR) is None


def test_description_keeps_a_fence_around_a_diff_with_backticks() -> None:
    up = Upgrade("fluentd", "0.6.0", "0.6.1", ("fluentd",))
    text = merge_request_description([up], Allow.MINOR, "+ run: ```x```\n", ["cluster-mgmt.yaml"])
    assert "````diff\n+ run: ```x```\n````" in text
    assert "[0.6.1](https://github.com/fluent/helm-charts/releases/tag/fluentd-0.6.1)" in text
