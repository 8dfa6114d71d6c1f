"""Benchmark expert routing and batch assignment on seeded synthetic data.

Run from the repository root::

    .venv/bin/python bench/routing.py            # full run (about 2 minutes on 2 cores)
    .venv/bin/python bench/routing.py --quick    # smaller, for a smoke test

Prints, from one run:

1. precision@5 of :func:`experts.ranking.rank_experts` against the planted true experts,
   beside the plain topic-keyword baseline :func:`experts.ranking.keyword_rank`;
2. ranking latency p50/p95 over 1,000 queries on 50,000 experts (the whole
   ``rank_experts`` call: PageRank, conflicts, coverage, alternates, explanations), beside
   ``networkx.pagerank(personalization=...)`` on the same graph (timed on fewer queries);
3. batch assignment time and peak memory (RSS of a fresh worker process) for 2,000 items x
   3,000 experts and 5,000 x 7,500, with 100 scored candidates and 5 conflicts per item,
   3 experts per item and a cap of 3.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experts.assignment import AffinityTable, assign_experts  # noqa: E402
from experts.graph import build_graph  # noqa: E402
from experts.index import expertise_index  # noqa: E402
from experts.ranking import keyword_rank, rank_experts  # noqa: E402
from experts.synthetic import synthetic_expertise  # noqa: E402

__all__ = ["main"]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def bench_ranking(
    n_experts: int, n_topics: int, n_orgs: int, n_queries: int, nx_queries: int, seed: int
) -> None:
    t0 = time.perf_counter()
    synthetic = synthetic_expertise(n_experts, n_topics, n_orgs, n_queries=200, seed=seed)
    t1 = time.perf_counter()
    G = build_graph(synthetic.data, as_of=2025)
    t2 = time.perf_counter()
    expertise_index(G)
    t3 = time.perf_counter()
    print(
        f"synthetic data: {n_experts:,} experts, {n_topics:,} topics, {n_orgs:,} "
        f"organisations; graph {G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges"
    )
    print(
        f"  generate {t1 - t0:.1f} s, build graph {t2 - t1:.1f} s, "
        f"build sparse index {t3 - t2:.1f} s (once per graph, cached)"
    )

    ours = base = 0.0
    for q in synthetic.queries:
        truth = set(q.experts)
        routing = rank_experts(G, q.topics, district=q.district, k=5)
        ours += len(truth & {p.expert for p in routing.picks}) / 5
        base += len(truth & set(keyword_rank(G, q.topics, district=q.district, k=5))) / 5
    n = len(synthetic.queries)
    print(
        f"precision@5 over {n} planted queries: rank_experts {ours / n:.3f}, "
        f"keyword baseline {base / n:.3f}"
    )

    rng = np.random.default_rng(seed + 1)
    topic_ids = [t.id for t in synthetic.data.topics if t.id.startswith("T")]
    district_ids = [d.id for d in synthetic.data.districts]
    queries: list[tuple[list[str], str]] = [(list(q.topics), q.district) for q in synthetic.queries]
    while len(queries) < n_queries:
        k = int(rng.integers(1, 4))
        queries.append(
            (
                [str(t) for t in rng.choice(topic_ids, k, replace=False)],
                str(rng.choice(district_ids)),
            )
        )
    queries = queries[:n_queries]
    for topics, district in queries[:20]:  # warm-up
        rank_experts(G, topics, district=district, k=5)
    times: list[float] = []
    for topics, district in queries:
        a = time.perf_counter()
        rank_experts(G, topics, district=district, k=5)
        times.append(time.perf_counter() - a)
    p50, p95 = _percentiles(times)
    print(
        f"rank_experts, {len(queries):,} queries, k=5 with 2 alternates each: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )

    nx_times: list[float] = []
    for topics, district in queries[:nx_queries]:
        pers = {f"topic:{t}": 0.5 / len(topics) for t in topics}
        pers[f"district:{district}"] = 0.5
        a = time.perf_counter()
        nx.pagerank(G, alpha=0.7, personalization=pers)
        nx_times.append(time.perf_counter() - a)
    p50, p95 = _percentiles(nx_times)
    print(
        f"networkx.pagerank(personalization=...), same graph, {nx_queries} queries only: "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"
    )


def _rss_peak_mb() -> float:
    """This process's peak resident set (VmHWM), in MB; fresh in a spawned process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _assignment_worker(args: tuple[int, int, int, int, int]) -> tuple[float, float, float, int]:
    n_items, n_experts, candidates, n_conflicts, seed = args
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(n_items), candidates)
    expert = np.concatenate(
        [rng.choice(n_experts, candidates, replace=False) for _ in range(n_items)]
    )
    score = rng.random(item.size)
    table = AffinityTable(
        tuple(f"item-{i}" for i in range(n_items)),
        tuple(f"expert-{e}" for e in range(n_experts)),
        item.astype(np.int64),
        expert.astype(np.int64),
        score,
    )
    picks = np.concatenate(
        [
            i * candidates + rng.choice(candidates, n_conflicts, replace=False)
            for i in range(n_items)
        ]
    )
    conflicts = {(table.items[item[c]], table.experts[expert[c]]) for c in picks}
    before = _rss_peak_mb()
    a = time.perf_counter()
    result = assign_experts(table, per_item=3, max_load=3, conflicts=conflicts)
    elapsed = time.perf_counter() - a
    peak = _rss_peak_mb()
    return elapsed, before, peak, sum(len(v) for v in result.by_item.values())


def bench_assignment(sizes: list[tuple[int, int]], seed: int) -> None:
    ctx = mp.get_context("spawn")
    for n_items, n_experts in sizes:
        with ctx.Pool(1) as pool:
            elapsed, before, peak, pairs = pool.apply(
                _assignment_worker, ((n_items, n_experts, 100, 5, seed),)
            )
        print(
            f"assign_experts {n_items:,} items x {n_experts:,} experts (100 scored, 5 "
            f"conflicts per item; 3 per item, cap 3): {elapsed:.2f} s, {pairs:,} pairs; "
            f"peak RSS {peak:.0f} MB (of which {before:.0f} MB before solving: Python, "
            f"libraries and the instance)"
        )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"numpy {np.__version__}, networkx {nx.__version__}, python {sys.version.split()[0]}")
    if args.quick:
        bench_ranking(5_000, 500, 500, 200, 5, args.seed)
        bench_assignment([(200, 300)], args.seed)
    else:
        bench_ranking(50_000, 2_000, 5_000, 1_000, 20, args.seed)
        bench_assignment([(2_000, 3_000), (5_000, 7_500)], args.seed)


if __name__ == "__main__":
    main()
