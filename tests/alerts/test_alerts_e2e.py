"""End to end on 127.0.0.1: exporter → real Prometheus → real Alertmanager → fake GitLab.

A small exporter serves Hubble counters; its policy-drop counter for namespace ``shop``
climbs, then stops. Prometheus (Debian's package) scrapes it and evaluates the rules
``render`` generates; Alertmanager (Debian's package) runs the Alertmanager config
``render`` generates, reading the key from a file as it does from the mounted Secret, and
posts to a fake GitLab alert endpoint that checks the ``Authorization`` header. Only the
intervals are short here (scrape and evaluation 1s, group wait/interval 1s); every wait polls
a condition under a deadline.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from alerts_fakes import (
    HubbleExporter,
    free_port,
    gitlab_alert_endpoint,
    running,
    wait_for,
)

from cluster_mgmt.core.alerts import alertmanager_config, rule_file
from cluster_mgmt.core.config import ProjectConfig

pytestmark = pytest.mark.integration

KEY = "glalert-e2e-5f0c9a7d3b1e4f2a"
ENV = "e2e"
DEADLINE_S = 120.0


def _alertmanager_binary() -> str:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if found is None:
        pytest.skip(
            "Alertmanager not installed (Debian package prometheus-alertmanager; "
            "`make system` installs it as root)"
        )
    return found


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip("prometheus not installed (Debian package prometheus; `make system`)")
    return found


def _config(url: str) -> ProjectConfig:
    """The generated rules on a test's time scale: windows of seconds instead of minutes.

    The config refuses windows under a minute (two scrapes at the generated 30s interval);
    here Prometheus scrapes every second, so the short windows are set past validation.
    """
    config = ProjectConfig.model_validate(
        {
            "gitlab": {"project": "me/cluster-management"},
            "alerts": {"url": url},
            "environments": {ENV: {"provider": "kind", "agent": "e2e"}},
        }
    )
    rules = config.alerts.rules
    short = {
        "policy_drops": {"threshold": 1.0, "window": "6s", "for_": "3s"},
        "audit_verdicts": {"window": "15s", "for_": "5s"},
        "drop_ratio_spike": {"window": "15s", "baseline": "1m", "for_": "5s"},
        "metrics_missing": {"window": "30s", "for_": "20s"},
    }
    updated = {name: getattr(rules, name).model_copy(update=u) for name, u in short.items()}
    alerts = config.alerts.model_copy(update={"rules": rules.model_copy(update=updated)})
    return config.model_copy(update={"alerts": alerts})


def _alerts(payloads: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    return [p for p in payloads if p["status"] == status]


def test_climbing_policy_drops_reach_gitlab_once_then_resolve(tmp_path: Path) -> None:
    prometheus = _prometheus_binary()
    alertmanager = _alertmanager_binary()
    exporter = HubbleExporter(per_second=20.0)
    exporter.start()
    try:
        with gitlab_alert_endpoint(KEY) as gitlab:
            config = _config(gitlab.url)
            (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule_file(config, ENV)))
            key_file = tmp_path / "gitlab-alerts" / "key"
            key_file.parent.mkdir()
            key_file.write_text(KEY)
            am_config = alertmanager_config(config.alerts_url(ENV), str(key_file))
            am_config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
            (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
            am_port, prom_port = free_port(), free_port()
            (tmp_path / "prometheus.yml").write_text(
                yaml.safe_dump(
                    {
                        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                        "rule_files": ["rules.yml"],
                        "alerting": {
                            "alertmanagers": [
                                {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
                            ]
                        },
                        "scrape_configs": [
                            {
                                # As the chart's job labels Cilium's hubble-metrics Service.
                                "job_name": "kubernetes-service-endpoints",
                                "static_configs": [
                                    {
                                        "targets": [exporter.address],
                                        "labels": {
                                            "namespace": "kube-system",
                                            "service": "hubble-metrics",
                                            "node": "node-a",
                                        },
                                    }
                                ],
                            }
                        ],
                    }
                )
            )
            am_argv = [
                alertmanager,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",  # one instance: no gossip port
            ]
            prom_argv = [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ]
            am_log, prom_log = tmp_path / "alertmanager.log", tmp_path / "prometheus.log"
            with (
                running(am_argv, f"http://127.0.0.1:{am_port}/-/ready", am_log),
                running(prom_argv, f"http://127.0.0.1:{prom_port}/-/ready", prom_log),
            ):
                exporter.climb()
                wait_for(
                    lambda: _alerts(gitlab.snapshot(), "firing"),
                    DEADLINE_S,
                    f"a firing notification at the fake GitLab endpoint\n{am_log.read_text()}",
                )
                exporter.stop_climbing()
                wait_for(
                    lambda: _alerts(gitlab.snapshot(), "resolved"),
                    DEADLINE_S,
                    "the resolved notification",
                )
                payloads = gitlab.snapshot()
                logs = am_log.read_text() + prom_log.read_text()
    finally:
        exporter.close()

    assert gitlab.refused == []  # every post carried the integration's key
    firing = _alerts(payloads, "firing")
    resolved = _alerts(payloads, "resolved")
    assert len(firing) == 1, payloads
    assert len(resolved) == 1, payloads
    assert payloads.index(firing[0]) < payloads.index(resolved[0])
    [alert] = firing[0]["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "HubblePolicyDrops",
        "namespace": "shop",
        "severity": "high",
        "gitlab_environment_name": ENV,
    }
    assert alert["annotations"]["summary"] == (
        "Network policy is dropping traffic in namespace shop"
    )
    assert "packets/s to or from namespace shop" in alert["annotations"]["description"]
    assert firing[0]["groupLabels"] == {"alertname": "HubblePolicyDrops", "namespace": "shop"}
    [closed] = resolved[0]["alerts"]
    assert closed["status"] == "resolved"
    assert closed["labels"] == alert["labels"]
    # GitLab matches the resolution to the alert by start time, title and query.
    assert closed["startsAt"] == alert["startsAt"]
    assert closed["annotations"]["summary"] == alert["annotations"]["summary"]
    assert closed["generatorURL"] == alert["generatorURL"]
    # The key is read from its file; it is in no config and no log.
    assert KEY not in (tmp_path / "alertmanager.yml").read_text()
    assert KEY not in logs
