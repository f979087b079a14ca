"""Alerting on Hubble metrics: the rules, Alertmanager's route to GitLab, the test alert.

Pure: no I/O. ``values`` puts the rules and the Alertmanager config into the prometheus
release; ``cluster-mgmt alerts rules`` prints the rules; ``cluster-mgmt alerts test`` posts
the payload built here.

Which namespace a Hubble counter belongs to. With ``sourceContext=namespace;
destinationContext=namespace`` every series carries ``source`` and ``destination`` (empty
outside pods, e.g. the world). A flow counts for its destination namespace and for its
source namespace, once when they are the same: the two sides are joined with ``or``, which
keeps one of two elements whose labels are equal (source = destination = namespace). This
is the rule ``cluster-mgmt stats`` uses.

Titles must not change between notifications: GitLab identifies an alert by its start
time, title (``summary``) and query, and closes it when the resolved notification matches.
So numbers go into ``description`` only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from cluster_mgmt.core.config import (
    Alerts,
    AuditVerdictsRule,
    DropRatioSpikeRule,
    MetricsMissingRule,
    PolicyDropsRule,
    ProjectConfig,
    Severity,
)
from cluster_mgmt.core.stack import HUBBLE_METRICS_SERVICE, PROMETHEUS_NAMESPACE, RELEASES

FLOWS_METRIC = "hubble_flows_processed_total"
DROPS_METRIC = "hubble_drop_total"
VERDICTS_METRIC = "hubble_policy_verdicts_total"
# Drop reasons of network policy: no rule allowed the packet / a deny rule matched.
POLICY_DROP_REASONS = ("POLICY_DENIED", "POLICY_DENY")
# Cilium's verdict for traffic a policy would deny while policy audit mode is on.
AUDIT_ACTION = "audit"

RULE_GROUP = "cluster-mgmt-hubble"
ALERT_POLICY_DROPS = "HubblePolicyDrops"
ALERT_AUDIT_VERDICTS = "HubblePolicyAuditDenials"
ALERT_DROP_RATIO_SPIKE = "HubbleDropRatioSpike"
ALERT_METRICS_MISSING = "HubbleMetricsMissing"
ALERT_TEST = "ClusterMgmtTestAlert"

# Where Alertmanager reads the GitLab authorization key: a Secret made at deploy time from
# GITLAB_ALERTS_KEY, mounted into the Alertmanager pod. Never in its ConfigMap.
KEY_ENV = "GITLAB_ALERTS_KEY"
KEY_SECRET = "gitlab-alerts-key"
KEY_SECRET_ITEM = "key"
KEY_MOUNT_DIR = "/etc/gitlab-alerts"
KEY_FILE = f"{KEY_MOUNT_DIR}/{KEY_SECRET_ITEM}"
RECEIVER = "gitlab"
GROUP_BY = ("namespace", "alertname")
ENVIRONMENT_LABEL = "gitlab_environment_name"  # GitLab links the alert to this environment


def _number(value: float) -> str:
    """A PromQL/human number: ``0.1``, ``3``, ``1e-05``."""
    return f"{value:g}"


def per_namespace_rate(metric: str, matchers: str, window: str, offset: str | None = None) -> str:
    """``sum by (namespace)`` of the per-second rate of ``metric``, attributed to namespaces.

    Args:
        metric: a Hubble counter with namespace context (``source``/``destination``).
        matchers: extra label matchers, e.g. ``reason=~"POLICY_DENIED|POLICY_DENY"``.
        window: the rate window, a Prometheus duration.
        offset: how far back the window ends (none: now).
    """
    extra = f"{matchers}, " if matchers else ""
    span = f"[{window}]" + (f" offset {offset}" if offset else "")
    sides = [
        f'label_replace(rate({metric}{{{extra}{side}!=""}}{span}), '
        f'"namespace", "$1", "{side}", "(.+)")'
        for side in ("destination", "source")
    ]
    return f"sum by (namespace) ({sides[0]} or {sides[1]})"


def _reasons_matcher() -> str:
    return f'reason=~"{"|".join(POLICY_DROP_REASONS)}"'


def _labels(severity: Severity | str, env_name: str) -> dict[str, str]:
    return {"severity": Severity(severity).value, ENVIRONMENT_LABEL: env_name}


def _policy_drops(rule: PolicyDropsRule, env_name: str) -> dict[str, Any]:
    rate = per_namespace_rate(DROPS_METRIC, _reasons_matcher(), rule.window)
    return {
        "alert": ALERT_POLICY_DROPS,
        "expr": f"{rate} > {_number(rule.threshold)}",
        "for": rule.for_,
        "labels": _labels(rule.severity, env_name),
        "annotations": {
            "summary": "Network policy is dropping traffic in namespace {{ $labels.namespace }}",
            "description": (
                "{{ $value | humanize }} packets/s to or from namespace "
                "{{ $labels.namespace }} were dropped by network policy (Hubble drop reasons "
                f"{', '.join(POLICY_DROP_REASONS)}) over the last {rule.window}, for at least "
                f"{rule.for_}. Threshold: {_number(rule.threshold)}/s "
                f"(environment {env_name})."
            ),
            "runbook": (
                f"Which flows: `cluster-mgmt stats --env {env_name} -n {{{{ $labels.namespace }}}}"
                " --since 1h` and `hubble observe --namespace {{ $labels.namespace }} "
                "--verdict DROPPED`. Why: `cluster-mgmt policy explain --src NS/WORKLOAD "
                "--dst NS/WORKLOAD --port PORT/TCP`. Expected traffic? Allow it with "
                "`cluster-mgmt policy new`; expected drops? Raise "
                "alerts.rules.policy_drops.threshold in cluster-mgmt.yaml."
            ),
        },
    }


def _audit_verdicts(rule: AuditVerdictsRule, env_name: str) -> dict[str, Any]:
    rate = per_namespace_rate(VERDICTS_METRIC, f'action="{AUDIT_ACTION}"', rule.window)
    return {
        "alert": ALERT_AUDIT_VERDICTS,
        "expr": f"{rate} > {_number(rule.threshold)}",
        "for": rule.for_,
        "labels": _labels(rule.severity, env_name),
        "annotations": {
            "summary": (
                "Traffic in namespace {{ $labels.namespace }} would be blocked by network "
                "policy (audit mode)"
            ),
            "description": (
                "{{ $value | humanize }} policy verdicts/s to or from namespace "
                "{{ $labels.namespace }} were AUDIT over the last "
                f"{rule.window}, for at least {rule.for_}: policy audit mode let this "
                "traffic through; in blocking mode it would be dropped. Threshold: "
                f"{_number(rule.threshold)}/s (environment {env_name})."
            ),
            "runbook": (
                "Which flows: `hubble observe --namespace {{ $labels.namespace }} --verdict "
                "AUDIT`. Allow what is legitimate (`cluster-mgmt policy new`, then "
                "`cluster-mgmt policy explain`) before `cluster-mgmt policy mode block`. "
                "Tune alerts.rules.audit_verdicts in cluster-mgmt.yaml."
            ),
        },
    }


def _drop_ratio(window: str, offset: str | None = None) -> str:
    """Per namespace: dropped flows / (forwarded + dropped), over ``window``."""
    dropped = per_namespace_rate(FLOWS_METRIC, 'verdict="DROPPED"', window, offset)
    total = per_namespace_rate(FLOWS_METRIC, 'verdict=~"FORWARDED|DROPPED"', window, offset)
    # A namespace that never dropped has no DROPPED series: its ratio is 0, not absent.
    return f"(({dropped}) or (0 * {total})) / {total}"


def _drop_ratio_spike(rule: DropRatioSpikeRule, env_name: str) -> dict[str, Any]:
    now = _drop_ratio(rule.window)
    baseline = _drop_ratio(rule.baseline, offset=rule.window)
    drops = per_namespace_rate(FLOWS_METRIC, 'verdict="DROPPED"', rule.window)
    expr = (
        f"(\n  ({now}) > {_number(rule.min_ratio)}\n)\n"
        f"> {_number(rule.factor)} * ({baseline})\n"
        f"and ({drops}) > {_number(rule.min_rate)}"
    )
    return {
        "alert": ALERT_DROP_RATIO_SPIKE,
        "expr": expr,
        "for": rule.for_,
        "labels": _labels(rule.severity, env_name),
        "annotations": {
            "summary": "Dropped traffic spikes in namespace {{ $labels.namespace }}",
            "description": (
                "{{ $value | humanizePercentage }} of the flows to or from namespace "
                f"{{{{ $labels.namespace }}}} were dropped over the last {rule.window}, more "
                f"than {_number(rule.factor)} times its share over the {rule.baseline} "
                f"before (and at least {_number(rule.min_ratio * 100)}% and "
                f"{_number(rule.min_rate)} drops/s), for at least {rule.for_} "
                f"(environment {env_name})."
            ),
            "runbook": (
                f"Drop reasons: `cluster-mgmt stats --env {env_name} -n "
                "{{ $labels.namespace }} --since 1h` (policy denials, unroutable or stale "
                "addresses, ...). A new policy or deployment is the usual cause. Tune "
                "alerts.rules.drop_ratio_spike in cluster-mgmt.yaml."
            ),
        },
    }


def _metrics_missing(rule: MetricsMissingRule, env_name: str) -> dict[str, Any]:
    cilium_ns = RELEASES["cilium"].namespace
    expr = (
        f"absent_over_time({FLOWS_METRIC}[{rule.window}])\n"
        f'or up{{service="{HUBBLE_METRICS_SERVICE}"}} == 0'
    )
    return {
        "alert": ALERT_METRICS_MISSING,
        "expr": expr,
        "for": rule.for_,
        # The problem is Cilium's (in its namespace), whichever way it shows.
        "labels": {**_labels(rule.severity, env_name), "namespace": cilium_ns},
        "annotations": {
            "summary": "Hubble metrics are missing",
            "description": (
                f"Prometheus has had no {FLOWS_METRIC} for {rule.window}, or the "
                f"{HUBBLE_METRICS_SERVICE} target {{{{ $labels.instance }}}} is down, for "
                f"at least {rule.for_} (environment {env_name}). Drops and policy verdicts "
                "are not observed, so the other Hubble alerts cannot fire: silence is not "
                "health."
            ),
            "runbook": (
                f"Check the Cilium agents (`kubectl -n {cilium_ns} get pods -l "
                "k8s-app=cilium`), that hubble.metrics.enabled is set (`cluster-mgmt values "
                f"cilium --env {env_name}`) and the {HUBBLE_METRICS_SERVICE} Service has "
                "endpoints, and Prometheus' targets page."
            ),
        },
    }


def alert_rules(alerts: Alerts, env_name: str) -> list[dict[str, Any]]:
    """The enabled alerting rules of an environment, in a stable order."""
    rules = alerts.rules
    built: list[dict[str, Any]] = []
    if rules.policy_drops.enabled:
        built.append(_policy_drops(rules.policy_drops, env_name))
    if rules.audit_verdicts.enabled:
        built.append(_audit_verdicts(rules.audit_verdicts, env_name))
    if rules.drop_ratio_spike.enabled:
        built.append(_drop_ratio_spike(rules.drop_ratio_spike, env_name))
    if rules.metrics_missing.enabled:
        built.append(_metrics_missing(rules.metrics_missing, env_name))
    return built


def rule_file(config: ProjectConfig, env_name: str) -> dict[str, Any]:
    """The Prometheus rule file (``alerting_rules.yml``) of an environment."""
    rules = alert_rules(config.alerts_for(env_name), env_name)
    return {"groups": [{"name": RULE_GROUP, "rules": rules}]} if rules else {"groups": []}


def alertmanager_config(url: str, credentials_file: str = KEY_FILE) -> dict[str, Any]:
    """Alertmanager's config: every alert to the GitLab integration, grouped per namespace.

    Args:
        url: the GitLab alert integration's webhook URL.
        credentials_file: where Alertmanager reads the authorization key.
    """
    return {
        "receivers": [
            {
                "name": RECEIVER,
                "webhook_configs": [
                    {
                        "url": url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {
                                "type": "Bearer",
                                "credentials_file": credentials_file,
                            }
                        },
                    }
                ],
            }
        ],
        "route": {
            "receiver": RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
    }


def alertmanager_values(config: ProjectConfig, env_name: str, persistent: bool) -> dict[str, Any]:
    """The ``alertmanager`` values of the prometheus release when alerts are on."""
    return {
        "enabled": True,
        "persistence": {"enabled": persistent},
        "extraSecretMounts": [
            {
                "name": KEY_SECRET,
                "mountPath": KEY_MOUNT_DIR,
                "subPath": "",
                "secretName": KEY_SECRET,
                "readOnly": True,
            }
        ],
        "config": alertmanager_config(config.alerts_url(env_name)),
    }


def key_secret_values_template() -> str:
    """The helmfile values template that turns ``GITLAB_ALERTS_KEY`` into a Secret.

    helmfile fills in the key when helm runs (``requiredEnv``); the chart's
    ``extraManifests`` creates the Secret. Base64 keeps the key out of the chart's ``tpl``.
    """
    return (
        "# Generated by cluster-mgmt. The GitLab alert integration's key comes from the\n"
        f"# {KEY_ENV} variable (masked and protected in CI/CD settings) when helm runs and\n"
        f"# becomes the Secret {PROMETHEUS_NAMESPACE}/{KEY_SECRET}, which Alertmanager mounts."
        " Never commit the key.\n"
        "extraManifests:\n"
        "  - |\n"
        "    apiVersion: v1\n"
        "    kind: Secret\n"
        "    metadata:\n"
        f"      name: {KEY_SECRET}\n"
        f"      namespace: {PROMETHEUS_NAMESPACE}\n"
        "    type: Opaque\n"
        "    data:\n"
        f'      {KEY_SECRET_ITEM}: {{{{ requiredEnv "{KEY_ENV}" | b64enc }}}}\n'
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_test_alert(
    env_name: str, now: datetime, status: str = "firing", starts_at: datetime | None = None
) -> dict[str, Any]:
    """One clearly marked test alert in Alertmanager's webhook format (version 4).

    Args:
        env_name: the environment it claims to come from.
        now: the time of sending.
        status: ``firing``, or ``resolved`` to close a test alert sent before.
        starts_at: when the alert started (the firing one's ``now``; GitLab matches on it).
    """
    started = starts_at or now
    labels = {
        "alertname": ALERT_TEST,
        "severity": Severity.INFO.value,
        "namespace": "cluster-mgmt-test",
        ENVIRONMENT_LABEL: env_name,
    }
    annotations = {
        "summary": f"cluster-mgmt test alert ({env_name})",
        "description": (
            "A test sent by `cluster-mgmt alerts test` to check that alerts reach this "
            f"project. Not a real problem. Sent {_rfc3339(now)}."
        ),
        "runbook": "Nothing to do: close this alert.",
    }
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode("utf-8")).hexdigest()[
        :16
    ]
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _rfc3339(started),
        "endsAt": _rfc3339(now) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{ALERT_TEST}", namespace="cluster-mgmt-test"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": {"alertname": ALERT_TEST, "namespace": "cluster-mgmt-test"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [alert],
    }
