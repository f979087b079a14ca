"""Every alerting rule through ``promtool check rules`` and ``promtool test rules``.

The rules are the ones ``render`` writes into the prometheus values (default settings). The
input series look like Hubble's: counters per agent with ``source``/``destination``
namespace labels and the scrape labels the chart's service-endpoints job adds, including
agent restarts (counter resets). Each rule fires, stays quiet, and resolves. Expected
annotations are the rule's own templates filled in with the values the series produce.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster_mgmt.core.alerts import rule_file
from cluster_mgmt.core.config import ProjectConfig

ENV = "dev"
CONFIG = ProjectConfig.model_validate(
    {
        "gitlab": {"project": "me/cluster-management"},
        "environments": {ENV: {"provider": "kind", "agent": "dev"}},
    }
)
RULES = rule_file(CONFIG, ENV)
BY_NAME = {rule["alert"]: rule for rule in RULES["groups"][0]["rules"]}
# Labels Prometheus adds when it scrapes hubble-metrics through the chart's job.
SCRAPE_A = {
    "job": "kubernetes-service-endpoints",
    "namespace": "kube-system",
    "service": "hubble-metrics",
    "node": "node-a",
    "instance": "10.0.0.11:9965",
}
SCRAPE_B = {**SCRAPE_A, "node": "node-b", "instance": "10.0.0.12:9965"}
TIMEOUT_S = 300


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {"series": f"{metric}{{{text}}}", "values": values}


def drops(source: str, destination: str, reason: str, values: str, scrape=SCRAPE_A):
    labels = {**scrape, "source": source, "destination": destination, "reason": reason}
    return series("hubble_drop_total", {**labels, "protocol": "TCP"}, values)


def verdicts(source: str, destination: str, action: str, direction: str, values: str):
    labels = {**SCRAPE_A, "source": source, "destination": destination, "action": action}
    return series(
        "hubble_policy_verdicts_total", {**labels, "direction": direction, "match": "l3-l4"}, values
    )


def flows(source: str, destination: str, verdict: str, values: str, scrape=SCRAPE_A):
    labels = {**scrape, "source": source, "destination": destination, "verdict": verdict}
    return series(
        "hubble_flows_processed_total",
        {**labels, "protocol": "TCP", "type": "Trace", "subtype": "to-endpoint"},
        values,
    )


def firing(alertname: str, namespace: str, value: str, **extra: str) -> dict[str, Any]:
    """The alert promtool must see: labels, and annotations filled in from the rule."""
    rule = BY_NAME[alertname]
    labels = {**extra, "namespace": namespace, **rule["labels"]}
    annotations = {}
    for key, template in rule["annotations"].items():
        text = template.replace("{{ $labels.namespace }}", labels["namespace"])
        text = text.replace("{{ $labels.instance }}", extra.get("instance", ""))
        text = text.replace("{{ $value | humanize }}", value)
        text = text.replace("{{ $value | humanizePercentage }}", value)
        assert "{{" not in text, f"unexpected template in {alertname}.{key}: {text}"
        annotations[key] = text
    return {"exp_labels": labels, "exp_annotations": annotations}


def check(alertname: str, minutes: int, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": f"{minutes}m", "alertname": alertname, "exp_alerts": list(alerts)}


# --- the cases ---------------------------------------------------------------------------

POLICY_DROPS = [
    {
        # shop: 0.5/s inside shop (counted once), 0.1/s from the world by a deny rule,
        # 0.05/s from web. web gets its 0.05/s: below the 0.1/s threshold. An unroutable
        # drop is not a policy drop.
        "interval": "1m",
        "input_series": [
            drops("shop", "shop", "POLICY_DENIED", "0+30x30"),
            drops("", "shop", "POLICY_DENY", "0+6x30"),
            drops("web", "shop", "POLICY_DENIED", "0+3x30"),
            drops("shop", "db", "STALE_OR_UNROUTABLE_IP", "0+600x30"),
        ],
        "alert_rule_test": [
            check("HubblePolicyDrops", 4),  # pending: not 5 minutes yet
            check("HubblePolicyDrops", 10, firing("HubblePolicyDrops", "shop", "650m")),
        ],
    },
    {
        # Climbing on two agents, then the drops stop: the alert resolves.
        "interval": "1m",
        "input_series": [
            drops("shop", "shop", "POLICY_DENIED", "0+12x15 180x30"),
            drops("shop", "shop", "POLICY_DENIED", "0+12x15 180x30", scrape=SCRAPE_B),
        ],
        "alert_rule_test": [
            check("HubblePolicyDrops", 12, firing("HubblePolicyDrops", "shop", "400m")),
            check("HubblePolicyDrops", 25),
        ],
    },
    {
        # An agent restart resets the counter: the rate is still right (0.4/s over the
        # window holding the reset) and the alert keeps firing. A restart alone (1000 → 0,
        # nothing dropped) is no drop at all.
        "interval": "1m",
        "input_series": [
            drops("shop", "shop", "POLICY_DENIED", "0+30x10 0+30x20"),
            drops("", "quiet", "POLICY_DENIED", "1000x10 0x20"),
        ],
        "alert_rule_test": [
            check("HubblePolicyDrops", 14, firing("HubblePolicyDrops", "shop", "400m")),
            check("HubblePolicyDrops", 20, firing("HubblePolicyDrops", "shop", "500m")),
        ],
    },
    {
        # Below the threshold: nothing.
        "interval": "1m",
        "input_series": [drops("shop", "shop", "POLICY_DENIED", "0+3x30")],
        "alert_rule_test": [check("HubblePolicyDrops", 20)],
    },
]

AUDIT_VERDICTS = [
    {
        # Audit mode: would-be denials into shop (ingress) and out of it (egress), 0.1/s
        # each; forwarded verdicts never count.
        "interval": "1m",
        "input_series": [
            verdicts("", "shop", "audit", "ingress", "0+6x20 120x20"),
            verdicts("shop", "", "audit", "egress", "0+6x20 120x20"),
            verdicts("web", "shop", "forwarded", "ingress", "0+600x40"),
            verdicts("web", "api", "audit", "ingress", "0+3x40"),
        ],
        "alert_rule_test": [
            check("HubblePolicyAuditDenials", 8),  # pending (for: 10m)
            check(
                "HubblePolicyAuditDenials",
                20,
                firing("HubblePolicyAuditDenials", "shop", "200m"),
            ),
            check("HubblePolicyAuditDenials", 40),  # stopped at 20m: resolved
        ],
    },
    {
        # An agent restart in the middle keeps the rate (0.2/s) right.
        "interval": "1m",
        "input_series": [verdicts("", "shop", "audit", "ingress", "0+12x12 0+12x20")],
        "alert_rule_test": [
            check(
                "HubblePolicyAuditDenials",
                25,
                firing("HubblePolicyAuditDenials", "shop", "200m"),
            ),
        ],
    },
]

DAY = 1440
SPIKE_AT = DAY + 60  # one day and an hour of history, then shop's drops jump
DROP_RATIO_SPIKE = [
    {
        "interval": "1m",
        "input_series": [
            # shop: 1/s forwarded, 0.02/s dropped (2%), then 0.5/s dropped (33%) for 100
            # minutes, then back to 0.02/s.
            flows("", "shop", "FORWARDED", f"0+60x{SPIKE_AT + 200}"),
            flows(
                "",
                "shop",
                "DROPPED",
                f"0+1.2x{SPIKE_AT} {1.2 * SPIKE_AT + 30:g}+30x99 "
                f"{1.2 * SPIKE_AT + 3000 + 1.2:g}+1.2x99",
            ),
            # api: always 33% dropped: its own baseline, no spike.
            flows("", "api", "FORWARDED", f"0+60x{SPIKE_AT + 200}"),
            flows("", "api", "DROPPED", f"0+30x{SPIKE_AT + 200}"),
            # batch: never dropped before (no DROPPED series at all), now 33%.
            flows("batch", "batch", "FORWARDED", f"0+60x{SPIKE_AT + 200}"),
            flows("batch", "batch", "DROPPED", f"_x{SPIKE_AT} 0+30x100"),
            # quiet: 50% dropped, but 0.01 drops/s: below min_rate.
            flows("", "quiet", "FORWARDED", f"0+0.6x{SPIKE_AT + 200}"),
            flows("", "quiet", "DROPPED", f"0x{SPIKE_AT} 0.6+0.6x199"),
        ],
        "alert_rule_test": [
            check("HubbleDropRatioSpike", SPIKE_AT - 5),
            check(
                "HubbleDropRatioSpike",
                SPIKE_AT + 10,
                firing("HubbleDropRatioSpike", "batch", "33.33%"),
                firing("HubbleDropRatioSpike", "shop", "33.33%"),
            ),
            # shop is back to 2% at +100; batch's drops ended (its series went stale).
            check("HubbleDropRatioSpike", SPIKE_AT + 140),
        ],
    },
    {
        # An agent restart (every counter back to 0) with a steady 2%: no spike.
        "interval": "1m",
        "input_series": [
            flows("", "shop", "FORWARDED", f"0+60x{DAY + 30} 0+60x60"),
            flows("", "shop", "DROPPED", f"0+1.2x{DAY + 30} 0+1.2x60"),
        ],
        "alert_rule_test": [check("HubbleDropRatioSpike", DAY + 40)],
    },
]

METRICS_MISSING = [
    {
        # The target is up but exports no Hubble flow metrics at all.
        "interval": "1m",
        "input_series": [series("up", SCRAPE_A, "1x40")],
        "alert_rule_test": [
            check("HubbleMetricsMissing", 5),
            check("HubbleMetricsMissing", 25, firing("HubbleMetricsMissing", "kube-system", "")),
        ],
    },
    {
        # One agent's target is down; the other still reports.
        "interval": "1m",
        "input_series": [
            series("up", SCRAPE_A, "1x40"),
            series("up", SCRAPE_B, "1x5 0x35"),
            flows("", "shop", "FORWARDED", "0+60x40"),
        ],
        "alert_rule_test": [
            check(
                "HubbleMetricsMissing",
                25,
                firing(
                    "HubbleMetricsMissing",
                    "kube-system",
                    "",
                    **{k: v for k, v in SCRAPE_B.items() if k != "namespace"},
                ),
            ),
        ],
    },
    {
        # Metrics arrive at 20m: missing before, resolved after; healthy means quiet.
        "interval": "1m",
        "input_series": [
            series("up", SCRAPE_A, "1x60"),
            flows("", "shop", "FORWARDED", "_x20 0+60x40"),
        ],
        "alert_rule_test": [
            check("HubbleMetricsMissing", 15, firing("HubbleMetricsMissing", "kube-system", "")),
            check("HubbleMetricsMissing", 45),
        ],
    },
]

CASES = {
    "HubblePolicyDrops": POLICY_DROPS,
    "HubblePolicyAuditDenials": AUDIT_VERDICTS,
    "HubbleDropRatioSpike": DROP_RATIO_SPIKE,
    "HubbleMetricsMissing": METRICS_MISSING,
}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not installed (Debian package prometheus; `make system`)")
    return found


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "alerting_rules.yml"
    path.write_text(yaml.safe_dump(RULES, sort_keys=False))
    return path


def test_every_rule_has_cases_that_fire_and_stay_quiet() -> None:
    assert set(CASES) == set(BY_NAME)
    for name, groups in CASES.items():
        checks = [c for g in groups for c in g["alert_rule_test"] if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in checks), name
        assert any(not c["exp_alerts"] for c in checks), name


def test_promtool_check_rules(promtool: str, rules_file: Path) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(BY_NAME)} rules found" in result.stdout


@pytest.mark.parametrize("alertname", list(CASES))
def test_promtool_test_rules(promtool: str, rules_file: Path, alertname: str) -> None:
    tests = {
        "rule_files": [rules_file.name],
        "evaluation_interval": "1m",
        "tests": CASES[alertname],
    }
    test_file = rules_file.parent / f"{alertname}.test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", test_file.name],
        cwd=rules_file.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
