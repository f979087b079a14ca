"""``cluster-mgmt stats`` end to end against a real Prometheus holding the known data set.

Expected figures come from the data set's definition (conftest docstring), by hand: six
hours (21,600 s) of one-minute steps.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from stats_hubble import AGENT_CONTEXT, INTERVALS, STEP, FakeKubeApi, HubbleData

from cluster_mgmt.adapters.prometheus import PrometheusClient
from cluster_mgmt.cli import main
from cluster_mgmt.core import stats as core
from cluster_mgmt.ops import stats as ops
from cluster_mgmt.ops.kube_target import resolve_kube_target

pytestmark = pytest.mark.integration

SECONDS = INTERVALS * STEP  # 21,600


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


def window_args(data: HubbleData) -> list[str]:
    return ["--start", str(data.t0), "--end", str(data.end), "--step", "60s"]


def stats_json(
    capsys: pytest.CaptureFixture[str], *args: str, project: Path | None = None
) -> dict[str, dict[str, Any]]:
    group = ["-C", str(project)] if project else []
    code, out, err = run(capsys, *group, "stats", "-o", "json", *args)
    assert code == 0, err
    return {doc["namespace"]: doc for doc in json.loads(out)}


def test_one_namespace_exact_totals_ratio_and_rates(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData
) -> None:
    docs = stats_json(
        capsys,
        "--prometheus-url",
        hubble_prometheus.url,
        "-n",
        "shop",
        *window_args(hubble_prometheus),
    )
    shop = docs["shop"]
    assert list(docs) == ["shop"]
    assert shop["start"] == core.format_time(hubble_prometheus.t0)
    assert shop["end"] == core.format_time(hubble_prometheus.end)
    # S1 3600 (shop→shop, once) + S2 1800; S3 540 (across its reset) + S4 720 (across its gap)
    assert (shop["forwarded"], shop["dropped"]) == (5400, 1260)
    assert shop["drop_ratio"] == round(1260 / 6660, 4) == 0.1892
    assert shop["forwarded_per_s"] == 0.25
    assert shop["dropped_per_s"] == round(1260 / SECONDS, 6)
    assert shop["drop_reasons"] == {"STALE_OR_UNROUTABLE_IP": 720, "POLICY_DENIED": 540}
    assert list(shop["drop_reasons"]) == ["STALE_OR_UNROUTABLE_IP", "POLICY_DENIED"]


def test_rate_series_through_a_reset_and_a_gap(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData
) -> None:
    docs = stats_json(
        capsys,
        "--prometheus-url",
        hubble_prometheus.url,
        "-n",
        "shop",
        "-n",
        "batch",
        *window_args(hubble_prometheus),
    )
    shop = docs["shop"]["series"]
    assert len(shop) == INTERVALS
    assert shop[0]["t"] == core.format_time(hubble_prometheus.t0 + STEP)

    def s3(k: int) -> int:
        return 1 if k % 2 else 2

    for k in range(1, INTERVALS + 1):
        point = shop[k - 1]
        assert point["forwarded_per_s"] == 0.25, k
        # S4's gap (k=100..159): Prometheus repeats its last sample for 5 minutes, then
        # the series has no samples until k=160, whose interval has no start sample.
        s4 = 0 if 100 <= k <= 104 else None if 105 <= k <= 160 else 2
        assert point["dropped_per_s"] == round((s3(k) + (s4 or 0)) / 60, 6), k
    assert shop[180]["dropped_per_s"] == round((1 + 2) / 60, 6)  # k=181, S3's reset

    batch = docs["batch"]
    assert (batch["forwarded"], batch["dropped"], batch["drop_ratio"]) == (1080, 0, 0.0)
    assert batch["drop_reasons"] == {}
    gap = [p for p in batch["series"] if p["forwarded_per_s"] is None]
    assert [p["t"] for p in gap] == [
        core.format_time(hubble_prometheus.t0 + STEP * k) for k in range(205, 241)
    ]
    assert all(p["dropped_per_s"] is None for p in gap)
    assert batch["series"][0] == {
        "t": core.format_time(hubble_prometheus.t0 + STEP),
        "forwarded_per_s": 0.05,
        "dropped_per_s": 0,
    }


def test_all_namespaces_through_the_service_proxy_one_range_query_per_measure(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData, fake_kube_api: FakeKubeApi
) -> None:
    docs = stats_json(
        capsys,
        "--kube-context",
        fake_kube_api.context,
        "--kubeconfig",
        str(fake_kube_api.kubeconfig),
        "--all-namespaces",
        *window_args(hubble_prometheus),
    )
    assert list(docs) == ["batch", "kube-system", "payments", "shop"]  # not "old": before
    figures = {ns: (d["forwarded"], d["dropped"], d["drop_ratio"]) for ns, d in docs.items()}
    assert figures == {
        "batch": (1080, 0, 0.0),
        "kube-system": (360, 0, 0.0),
        # S2 1800 + S9 60 (born at k=300 with 50: its first value is a baseline); S3 540
        "payments": (1860, 540, 0.225),
        "shop": (5400, 1260, 0.1892),
    }
    assert docs["payments"]["drop_reasons"] == {"POLICY_DENIED": 540, "CT_MAP_INSERTION_FAILED": 36}
    assert docs["kube-system"]["forwarded_per_s"] == round(360 / SECONDS, 6)
    # One range query per measure (flows, drop reasons), none per namespace. The data set's
    # reset, gaps and late-born series need raw samples: one instant query per measure
    # fetches them for every series and interval concerned.
    assert len(fake_kube_api.proxied("/api/v1/query_range")) == 2
    refinements = [
        urllib.parse.parse_qs(urllib.parse.urlsplit(r).query)["query"][0]
        for r in fake_kube_api.proxied("/api/v1/query")
    ]
    assert sorted(q.split("{")[0] for q in refinements) == [
        "hubble_drop_total",
        "hubble_flows_processed_total",
    ]
    assert all(re.search(r"\}\[\d+s\]$", q) for q in refinements)  # raw samples of a span


def test_query_count_does_not_grow_with_namespaces(hubble_prometheus: HubbleData) -> None:
    for step in (STEP, 300, 3600):
        window = core.TimeWindow(hubble_prometheus.t0, hubble_prometheus.end, step)
        for selection in ((), ("shop",), ("shop", "payments", "batch", "kube-system")):
            client = PrometheusClient.from_url(hubble_prometheus.url, timeout_s=10)
            report = ops.collect(client, window, selection)
            # 2 range queries + 1 refinement per measure (see above), at any step.
            assert client.queries == report.queries == 4, (step, selection)
            if len(selection) != 1:
                assert (report.selection.forwarded, report.selection.dropped) == (6900, 1260)


def test_selected_namespace_without_flows(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData
) -> None:
    code, out, err = run(
        capsys,
        "stats",
        "--prometheus-url",
        hubble_prometheus.url,
        "-n",
        "quiet",
        "-o",
        "json",
        *window_args(hubble_prometheus),
    )
    assert code == 0, err
    [quiet] = json.loads(out)
    assert (quiet["forwarded"], quiet["dropped"], quiet["drop_ratio"]) == (0, 0, None)
    assert quiet["drop_reasons"] == {}
    assert "no flows recorded in this window for: quiet" in err


def test_default_window_is_the_last_24h(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData
) -> None:
    docs = stats_json(capsys, "--prometheus-url", hubble_prometheus.url, "-n", "shop")
    shop = docs["shop"]
    # Auto step 120 s: samples on whole minutes, the reset right after a step sample.
    assert (shop["forwarded"], shop["dropped"]) == (5400, 1260)
    assert shop["forwarded_per_s"] == round(5400 / 86400, 6)
    assert len(shop["series"]) == 720


def test_table_output(capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData) -> None:
    code, out, err = run(
        capsys,
        "stats",
        "--prometheus-url",
        hubble_prometheus.url,
        "-A",
        *window_args(hubble_prometheus),
    )
    assert code == 0, err
    assert "NAMESPACE" in out and "DROP %" in out and "TOP DROP REASONS" in out
    [shop] = [line for line in out.splitlines() if line.strip().startswith("shop")]
    assert shop.split()[:6] == ["shop", "5,400", "1,260", "18.92", "0.250", "0.058"]
    assert "STALE_OR_UNROUTABLE_IP (720), POLICY_DENIED (540)" in shop


def test_prometheus_without_hubble_metrics_says_so(
    capsys: pytest.CaptureFixture[str], plain_prometheus: str
) -> None:
    for selection in (["-A"], ["-n", "shop"]):
        code, out, err = run(capsys, "stats", "--prometheus-url", plain_prometheus, *selection)
        assert code == 2
        assert out == ""
        assert err.startswith(
            "error: Hubble flow metrics not found: is hubble.metrics.enabled set and scraped?\n"
        )
        assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "a", "-A"], "not both"),
        (["--since", "1h", "--start", "0"], "either --since or --start"),
        (["--since", "soon"], "invalid duration"),
        (["-n", "Not_A_Namespace"], "not a Kubernetes namespace"),
        (["--prometheus-service", "prometheus"], "invalid service"),
    ],
)
def test_bad_options_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "stats", "--prometheus-url", "http://127.0.0.1:9", *args)
    assert code == 2
    assert message in err


def test_unreachable_prometheus_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "stats", "--prometheus-url", "http://127.0.0.1:9", "--timeout", "5")
    assert code == 2
    assert "Prometheus unreachable at http://127.0.0.1:9" in err


def test_env_resolves_the_kube_context_of_a_project(
    capsys: pytest.CaptureFixture[str],
    hubble_prometheus: HubbleData,
    fake_kube_api: FakeKubeApi,
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    code, _, err = run(
        capsys, "init", str(project), "--provider", "kind", "--env", "dev",
        "--agent-project", "my-group/cluster-management", "--agent", "dev-agent",
    )  # fmt: skip
    assert code == 0, err
    kubeconfig = ["--kubeconfig", str(fake_kube_api.kubeconfig)]
    docs = stats_json(
        capsys, "--env", "dev", *kubeconfig, "-n", "shop", *window_args(hubble_prometheus),
        project=project,
    )  # fmt: skip
    assert (docs["shop"]["forwarded"], docs["shop"]["dropped"]) == (5400, 1260)
    assert len(fake_kube_api.proxied("/api/v1/query_range")) == 2
    assert resolve_kube_target(project, env="dev").context == AGENT_CONTEXT
    assert resolve_kube_target(project, env="dev", kube_context="explicit").context == "explicit"
    code, _, err = run(capsys, "-C", str(project), "stats", "--env", "prod", *kubeconfig)
    assert code == 2 and "no environment 'prod'" in err


def test_plain_drop_metric_gives_no_reasons_and_says_what_to_enable(
    capsys: pytest.CaptureFixture[str], stack_default_prometheus: HubbleData
) -> None:
    for selection, queries in ((["-A"], 2), (["-n", "shop"], 3)):
        client = PrometheusClient.from_url(stack_default_prometheus.url, timeout_s=10)
        window = core.TimeWindow(stack_default_prometheus.t0, stack_default_prometheus.end, STEP)
        report = ops.collect(client, window, selection[1:])
        assert client.queries == queries  # -n: one instant query tells "plain" from "none"
        [shop] = report.namespaces
        assert (shop.dropped, shop.drop_reasons) == (360, None)
        code, out, err = run(
            capsys, "stats", "--prometheus-url", stack_default_prometheus.url, "-o", "json",
            *selection, *window_args(stack_default_prometheus),
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)[0]["drop_reasons"] is None
        assert (
            "note: hubble_drop_total has no namespace labels, so drop reasons are not given per "
            "namespace: enable the Hubble metric "
            "'drop:sourceContext=namespace;destinationContext=namespace'"
        ) in err


def test_json_output_matches_the_schema_in_the_docs(
    capsys: pytest.CaptureFixture[str], hubble_prometheus: HubbleData
) -> None:
    import jsonschema

    docs = (Path(__file__).resolve().parents[2] / "docs" / "stats.md").read_text()
    schema_text = docs.split("As a JSON Schema (draft 2020-12):\n\n```json\n")[1].split("```")[0]
    schema = json.loads(schema_text)
    code, out, err = run(
        capsys, "stats", "--prometheus-url", hubble_prometheus.url, "-A", "-o", "json",
        *window_args(hubble_prometheus),
    )  # fmt: skip
    assert code == 0, err
    jsonschema.validate(json.loads(out), schema, format_checker=jsonschema.FormatChecker())
