"""Packet statistics from Hubble metrics.

Pure: no I/O. The use case (``ops.stats``) runs the queries this package builds and hands
the answers back here. One module per job:

- ``_window``: durations, timestamps and the step grid of a window;
- ``_promql``: Hubble's metric names and labels, and the PromQL that reads them;
- ``_counters``: counter arithmetic, exact at any step (the definition of a total is there);
- ``_summary``: totals and rates per namespace and for the whole selection;
- ``_presentation``: the JSON object and the table row of a namespace.
"""

from cluster_mgmt.core.stats._counters import (
    Counter,
    CounterIncrease,
    RefineQuery,
    apply_refinements,
    counter_increase,
    read_counters,
    refine_intervals,
    refine_queries,
)
from cluster_mgmt.core.stats._presentation import TABLE_HEADERS, TableRow, table_row, to_json
from cluster_mgmt.core.stats._promql import (
    AUX_LABEL,
    DROP_METRIC_NOTES,
    DROPPED,
    DROPS_METRIC,
    FLOWS_METRIC,
    FORWARDED,
    MISSING_METRICS_MESSAGE,
    VERDICTS,
    DropMetric,
    LabelledSeries,
    check_namespaces,
    counter_query,
    drop_metric_state,
    drops_presence_query,
    drops_selectors,
    flows_selectors,
    presence_query,
)
from cluster_mgmt.core.stats._summary import FlowStats, RatePoint, Summary, summarize
from cluster_mgmt.core.stats._window import (
    LOOKBACK_S,
    MAX_POINTS,
    TimeWindow,
    auto_step,
    format_time,
    parse_duration,
    parse_time,
    plan_window,
)

__all__ = [
    "AUX_LABEL",
    "DROPPED",
    "DROPS_METRIC",
    "DROP_METRIC_NOTES",
    "FLOWS_METRIC",
    "FORWARDED",
    "LOOKBACK_S",
    "MAX_POINTS",
    "MISSING_METRICS_MESSAGE",
    "TABLE_HEADERS",
    "VERDICTS",
    "Counter",
    "CounterIncrease",
    "DropMetric",
    "FlowStats",
    "LabelledSeries",
    "RatePoint",
    "RefineQuery",
    "Summary",
    "TableRow",
    "TimeWindow",
    "apply_refinements",
    "auto_step",
    "check_namespaces",
    "counter_query",
    "counter_increase",
    "drop_metric_state",
    "drops_presence_query",
    "drops_selectors",
    "flows_selectors",
    "format_time",
    "parse_duration",
    "parse_time",
    "plan_window",
    "presence_query",
    "read_counters",
    "refine_intervals",
    "refine_queries",
    "summarize",
    "table_row",
    "to_json",
]
