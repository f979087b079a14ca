"""Hubble's metrics and the PromQL that reads them: selectors, queries, metric states."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Protocol

from cluster_mgmt.core.stats._window import LOOKBACK_S, TimeWindow
from cluster_mgmt.errors import UserError

FLOWS_METRIC = "hubble_flows_processed_total"
DROPS_METRIC = "hubble_drop_total"
FORWARDED = "FORWARDED"
DROPPED = "DROPPED"
VERDICTS = (FORWARDED, DROPPED)
DROP_METRIC_OPTION = "drop:sourceContext=namespace;destinationContext=namespace"
MISSING_METRICS_MESSAGE = (
    "Hubble flow metrics not found: is hubble.metrics.enabled set and scraped?"
)
# Marks the auxiliary series of a counter query (baseline, reset flags) in its answer.
AUX_LABEL = "cluster_mgmt_aux"

# Kubernetes namespace names are DNS-1123 labels; anything else cannot match a Hubble label.
_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class LabelledSeries(Protocol):
    """A range-query result series: its labels and ``(unix seconds, value)`` points."""

    @property
    def labels(self) -> Mapping[str, str]:
        """The series' labels."""

    @property
    def points(self) -> Sequence[tuple[float, float]]:
        """The samples, oldest first."""


def check_namespaces(namespaces: Iterable[str]) -> tuple[str, ...]:
    """Validate namespace names and drop duplicates, keeping the order given.

    Raises:
        UserError: a name is not a Kubernetes namespace name.
    """
    seen: dict[str, None] = {}
    for name in namespaces:
        if not _NAMESPACE_RE.fullmatch(name):
            raise UserError(f"{name!r} is not a Kubernetes namespace name")
        seen.setdefault(name, None)
    return tuple(seen)


def _selectors(metric: str, matchers: Sequence[str], namespaces: Sequence[str]) -> tuple[str, ...]:
    """``metric{…}`` for all namespaces, or its destination- and source-side selectors."""
    if not namespaces:
        return (f"{metric}{{{','.join(matchers)}}}" if matchers else metric,)
    # Names are validated DNS labels: no regex metacharacters to escape. PromQL anchors =~.
    alternatives = "|".join(namespaces)
    sides = []
    for side in ("destination", "source"):
        side_matchers = ",".join([*matchers, f'{side}=~"{alternatives}"'])
        sides.append(f"{metric}{{{side_matchers}}}")
    return tuple(sides)


def flows_selectors(namespaces: Sequence[str] = ()) -> tuple[str, ...]:
    """Selectors of the forwarded and dropped flow counters (all namespaces when empty)."""
    verdicts = "|".join(VERDICTS)
    return _selectors(FLOWS_METRIC, [f'verdict=~"{verdicts}"'], namespaces)


def drops_selectors(namespaces: Sequence[str] = ()) -> tuple[str, ...]:
    """Selectors of the drop counters by reason (all namespaces when empty)."""
    return _selectors(DROPS_METRIC, [], namespaces)


def counter_query(selectors: Sequence[str], window: TimeWindow) -> str:
    """The one range query of a measure, evaluated on the window's grid.

    Per raw series (``or`` keeps a series matching several selectors once):

    - ``last_over_time(sel[lookback])``: the last sample at or before each grid point;
    - ``{cluster_mgmt_aux="base"}`` at the first grid point only: the baseline, the last
      sample in the 5 minutes up to ``start`` (``@`` evaluates it once);
    - ``{cluster_mgmt_aux="reset"}`` at the grid points whose range — the interval and the
      lookback before it, so the sample preceding the interval too — holds a reset.
      Sparse: resets are rare, so the answer stays about the size of the values alone.
    """
    reset_range = window.step + window.lookback
    parts = [
        f'label_replace(resets({sel}[{reset_range}s]) > 0, "{AUX_LABEL}", "reset", "", "")'
        for sel in selectors
    ]
    parts += [
        f"label_replace(last_over_time({sel}[{LOOKBACK_S}s] @ {window.start}) "
        f'and on() vector(time()) <= {window.origin}, "{AUX_LABEL}", "base", "", "")'
        for sel in selectors
    ]
    # The large operand last: each `or` hashes both sides at every step.
    parts += [f"last_over_time({sel}[{window.lookback}s])" for sel in selectors]
    return " or ".join(parts)


def presence_query(metric: str, window: TimeWindow) -> str:
    """An instant query (at ``window.end``) that is non-empty iff ``metric`` had samples."""
    return f"group(last_over_time({metric}[{window.seconds + LOOKBACK_S}s]))"


class DropMetric(Enum):
    """What Prometheus has of ``hubble_drop_total``."""

    LABELLED = "labelled"  # with source/destination: reasons per namespace
    UNLABELLED = "unlabelled"  # plain `drop` metric: reason and protocol only
    ABSENT = "absent"


DROP_METRIC_NOTES = {
    DropMetric.UNLABELLED: f"{DROPS_METRIC} has no namespace labels, so drop reasons are not "
    f"given per namespace: enable the Hubble metric {DROP_METRIC_OPTION!r}",
    DropMetric.ABSENT: f"no {DROPS_METRIC} in Prometheus, so no drop reasons: enable the "
    f"Hubble metric {DROP_METRIC_OPTION!r}",
}


def drops_presence_query(window: TimeWindow) -> str:
    """One instant query telling the three :class:`DropMetric` states apart.

    Empty when the metric is absent; an element without the ``unlabelled`` label when some
    series carry namespace labels; otherwise only ``{unlabelled="true"}``.
    """
    lookback = f"{window.seconds + LOOKBACK_S}s"
    labelled = " or ".join(
        f'group(last_over_time({DROPS_METRIC}{{{side}!=""}}[{lookback}]))'
        for side in ("source", "destination")
    )
    # `or` keeps right-hand elements whose labels differ from every left-hand one.
    anything = f"group(last_over_time({DROPS_METRIC}[{lookback}]))"
    marked = f'label_replace({anything}, "unlabelled", "true", "", "")'
    return f"{labelled} or {marked}"


def drop_metric_state(series: Iterable[LabelledSeries], *, presence: bool = False) -> DropMetric:
    """Classify a :func:`drops_query` result, or with ``presence`` a presence-query result."""
    state = DropMetric.ABSENT
    for item in series:
        labels = item.labels
        if (
            "unlabelled" not in labels
            if presence
            else (labels.get("source") or labels.get("destination"))
        ):
            return DropMetric.LABELLED
        state = DropMetric.UNLABELLED
    return state


def namespaces_of(labels: Mapping[str, str], selected: frozenset[str] | None) -> set[str]:
    """The namespaces a flow or drop series counts for: its source and destination, once each.

    Only the ``selected`` ones, unless ``selected`` is ``None`` (every namespace).
    """
    found = {labels.get("source", ""), labels.get("destination", "")}
    found.discard("")
    return found if selected is None else found & selected


def exact_selector(metric: str, label_sets: Sequence[Mapping[str, str]]) -> str:
    """A selector matching at least the series with these label sets (and few others)."""
    matchers = []
    for name in sorted({name for labels in label_sets for name in labels}):
        values = sorted({labels.get(name, "") for labels in label_sets})
        if len(values) == 1:
            matchers.append(f"{name}={_promql_string(values[0])}")
        else:
            pattern = "|".join(_RE2_SPECIAL.sub(r"\\\g<0>", value) for value in values)
            matchers.append(f"{name}=~{_promql_string(pattern)}")
    return f"{metric}{{{','.join(matchers)}}}"


_RE2_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")


def _promql_string(text: str) -> str:
    # PromQL strings take Go's escapes, a superset of what JSON writes.
    return json.dumps(text)
