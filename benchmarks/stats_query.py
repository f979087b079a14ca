"""`stats --all-namespaces` over 100 namespaces × 30 days at a 1 h step, on a real Prometheus.

Backfills Hubble-like counters (a sample every 15 minutes; per namespace two forwarded
series, one dropped series with an agent restart, one drop-reason series) with promtool,
starts Prometheus on 127.0.0.1, then times the use case: queries, counter arithmetic and
JSON shaping. The per-namespace way (two queries per namespace) is timed for comparison.
Totals are checked against the generated counts. Needs Debian's `prometheus` package.

    python benchmarks/stats_query.py [--namespaces 100] [--days 30] [--runs 5]
        [--sample-seconds 900] [--step 3600s|auto]

With ``--sample-seconds 15 --days 2 --step auto``: the default step (300 s) over data
scraped every 15 s, where every restart falls inside a step and needs raw samples.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from promserver import PrometheusServer, missing_binaries  # noqa: E402

from cluster_mgmt.adapters.prometheus import PrometheusClient  # noqa: E402
from cluster_mgmt.core import stats as core  # noqa: E402
from cluster_mgmt.ops import stats as ops  # noqa: E402

SAMPLE_S = 900
STEP_S = 3600
BLOCK = "54h"


def generate(
    path: Path, namespaces: int, t0: int, samples: int, sample_s: int = SAMPLE_S
) -> dict[str, tuple[int, int]]:
    """Write the OpenMetrics file; return the expected (forwarded, dropped) per namespace."""
    names = [f"ns-{i:03d}" for i in range(namespaces)]
    expected = {name: [0, 0] for name in names}
    flows: list[str] = []
    drops: list[str] = []
    for i, name in enumerate(names):
        peer = names[(i + 1) % namespaces]
        series = [
            ((name, name, "FORWARDED"), 3 + i % 7, None),
            ((name, peer, "FORWARDED"), 1 + i % 3, None),
            # The agent restarts just after a step sample (samples on the hour are step samples).
            ((peer, name, "DROPPED"), 1 + i % 2, samples // 2 + 1),
        ]
        for (src, dst, verdict), per_sample, reset_at in series:
            labels = f'destination="{dst}",source="{src}",verdict="{verdict}",protocol="TCP"'
            value = 1000
            for k in range(samples + 1):
                if k:
                    value = per_sample if k == reset_at else value + per_sample
                flows.append(
                    f"hubble_flows_processed_total{{{labels}}} {value} {t0 + k * sample_s}"
                )
            counted = per_sample * samples
            column = 0 if verdict == "FORWARDED" else 1
            for namespace in {src, dst}:
                expected[namespace][column] += counted
        labels = f'destination="{name}",source="{peer}",reason="POLICY_DENIED",protocol="TCP"'
        drops.extend(
            f"hubble_drop_total{{{labels}}} {k * (1 + i % 2)} {t0 + k * sample_s}"
            for k in range(samples + 1)
        )
    with path.open("w") as out:
        out.write("# TYPE hubble_flows_processed_total counter\n")
        out.write("\n".join(flows))
        out.write("\n# TYPE hubble_drop_total counter\n")
        out.write("\n".join(drops))
        out.write("\n# EOF\n")
    return {name: (fwd, drp) for name, (fwd, drp) in expected.items()}


def timed(runs: int, action: object) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = action()  # type: ignore[operator]
        samples.append(time.perf_counter() - began)
    return samples, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample-seconds", type=int, default=SAMPLE_S, help="scrape interval")
    parser.add_argument(
        "--step", default=f"{STEP_S}s", help="the range query step, or 'auto' (the default one)"
    )
    args = parser.parse_args()
    missing = missing_binaries()
    if missing:
        print(f"skipped: {' and '.join(missing)} not installed (Debian package 'prometheus')")
        return 0

    end = int(time.time()) // 3600 * 3600 - 3600
    t0 = end - args.days * 86400
    samples = args.days * 86400 // args.sample_seconds
    step = None if args.step == "auto" else core.parse_duration(args.step)
    window = core.plan_window(now=time.time(), start=t0, end=end, step_s=step)
    workdir = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    server = PrometheusServer(workdir)
    try:
        began = time.perf_counter()
        expected = generate(workdir / "data.om", args.namespaces, t0, samples, args.sample_seconds)
        generated = time.perf_counter()
        # 54 h blocks: what Prometheus compacts 30+ days of data into (2 h × 3ⁿ, at most 10%
        # of the retention). promtool's default 2 h blocks would make queries ~20× slower,
        # and pinning the server's maximum keeps compaction from running mid-benchmark.
        server.backfill(workdir / "data.om", max_block_duration=BLOCK)
        backfilled = time.perf_counter()
        server.start([f"--storage.tsdb.max-block-duration={BLOCK}"])
        started = time.perf_counter()
        size = (workdir / "data.om").stat().st_size / 2**20
        series = args.namespaces * 4
        print(
            f"data: {args.namespaces} namespaces, {series} series, {args.days} days every "
            f"{args.sample_seconds} s, {series * (samples + 1):,} samples ({size:.0f} MiB "
            f"OpenMetrics); step {window.step} s"
        )
        print(
            f"setup: generate {generated - began:.1f} s, promtool backfill "
            f"{backfilled - generated:.1f} s, prometheus ready {started - backfilled:.1f} s"
        )

        client = PrometheusClient.from_url(server.url, timeout_s=60)

        def all_namespaces() -> tuple[ops.StatsReport, str]:
            report = ops.collect(client, window)
            return report, json.dumps([core.to_json(s) for s in report.namespaces])

        ops.collect(client, window)  # warm Prometheus' caches once, as a second run would
        client.queries = 0
        durations, result = timed(args.runs, all_namespaces)
        report, document = result  # type: ignore[misc]
        queries = client.queries // args.runs
        got = {s.namespace: (int(s.forwarded), int(s.dropped)) for s in report.namespaces}
        verdict = "exact" if got == expected else "MISMATCH"
        points = len(report.namespaces[0].series)
        print(
            f"stats -A: {queries} queries, {len(report.namespaces)} namespaces × {points} "
            f"points, median {statistics.median(durations):.3f} s, best {min(durations):.3f} s "
            f"over {args.runs} runs; JSON {len(document) / 2**20:.1f} MiB; totals {verdict}"
        )

        began = time.perf_counter()
        query = core.counter_query(core.flows_selectors(), window)
        flows = client.query_range(query, window.origin, window.end, window.step)
        fetched = time.perf_counter()
        counters = core.read_counters(flows, window)
        refinements = core.refine_queries(core.FLOWS_METRIC, counters, window)
        planned = time.perf_counter()
        answers = [client.raw_samples(q.expr, q.at) for q in refinements]
        core.apply_refinements(counters, window, refinements, answers)
        refined = time.perf_counter()
        core.summarize(window, counters, [])
        print(
            f"  of which the flows range query (HTTP + JSON decode) {fetched - began:.3f} s, "
            f"reading and planning {planned - fetched:.3f} s, {len(refinements)} refinement "
            f"queries {refined - planned:.3f} s, counter arithmetic "
            f"{time.perf_counter() - refined:.3f} s"
        )

        client.queries = 0
        names = sorted(expected)
        per_ns, _ = timed(1, lambda: [ops.collect(client, window, (name,)) for name in names])
        print(f"one query pair per namespace instead: {client.queries} queries, {per_ns[0]:.3f} s")

        began = time.perf_counter()
        ops.render_html(report)
        print(f"HTML report with chart: {time.perf_counter() - began:.3f} s")
        return 0 if verdict == "exact" else 1
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
