"""Audit-chain benchmark: the store against raw sqlite3 doing the same work, in one process.

Prints durable single-event appends/s, batched appends/s, the verify rate over the whole
chain, and p50/p99 of one decision's history, each beside a raw sqlite3 baseline on an
identically migrated file with the same pragmas (WAL, synchronous=FULL).

    .venv/bin/python bench/audit.py                 # 1,000,000 events (about 2 minutes)
    .venv/bin/python bench/audit.py --events 100000 # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from decisions import services
from decisions.audit import GENESIS_HASH
from decisions.db import make_engine, migrate
from decisions.ledger import GroupCommit, NewEvent
from decisions.tables import ActorRow, DecisionRow

TARGETS = {"single": 4_000, "batched": 20_000, "verify_s_per_1m": 4.0, "history_p99_ms": 5.0}


def fresh_store(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


INSERT = (
    "INSERT INTO audit_events (seq, recorded_at, actor, action, decision_id, idempotency_key, "
    "payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def raw_rows(head: tuple[int, str], events: list[tuple[str, dict[str, object]]], key: str) -> list:
    seq, previous = head
    at = datetime.now(UTC).isoformat()
    rows = []
    for decision_id, payload in events:
        seq += 1
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(
            "\x1f".join(
                (previous, str(seq), at, "bench", "bench.event", decision_id, f"{key}{seq}", text)
            ).encode()
        ).hexdigest()
        rows.append(
            (seq, at, "bench", "bench.event", decision_id, f"{key}{seq}", text, previous, digest)
        )
        previous = digest
    return rows


def raw_append(
    conn: sqlite3.Connection, events: list[tuple[str, dict[str, object]]], key: str
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    head = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    conn.executemany(INSERT, raw_rows(head or (0, GENESIS_HASH), events, key))
    conn.execute("COMMIT")


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="chain length for verify/history"
    )
    parser.add_argument("--single", type=int, default=5_000, help="durable single appends to time")
    parser.add_argument(
        "--decisions", type=int, default=10_000, help="decisions the events spread over"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="counsel-bench-"))
    store_path, raw_path = work / "store.db", work / "raw.db"
    fresh_store(store_path)
    fresh_store(raw_path)
    engine = make_engine(f"sqlite:///{store_path}")
    raw = raw_connection(raw_path)
    decision_ids = [f"D-2026-{n:05d}" for n in range(1, args.decisions + 1)]
    print(f"Counsel audit benchmark, SQLite (WAL, synchronous=FULL), files in {work}")

    # 1. durable single-event appends, interleaved in rounds so disk noise hits both alike
    store_s = raw_s = 0.0
    rounds, per_round = 5, args.single // 5
    for r in range(rounds):
        start = time.perf_counter()
        for i in range(per_round):
            raw_append(raw, [(decision_ids[i % len(decision_ids)], {"i": i})], f"s{r}-")
        raw_s += time.perf_counter() - start
        start = time.perf_counter()
        for i in range(per_round):
            services.append_event(
                engine,
                actor="bench",
                action="bench.event",
                decision_id=decision_ids[i % len(decision_ids)],
                payload={"i": i},
                idempotency_key=f"single-{r}-{i}",
            )
        store_s += time.perf_counter() - start
    n = rounds * per_round
    single, single_raw = rate(n, store_s), rate(n, raw_s)

    # 1b. the same durable appends from 8 threads sharing a GroupCommit (a busy worker)
    group = GroupCommit(engine)
    threads = 8

    def one_caller(worker: int) -> None:
        for i in range(n // threads):
            services.append_event(
                engine,
                actor="bench",
                action="bench.event",
                decision_id=decision_ids[i % len(decision_ids)],
                payload={"i": i},
                idempotency_key=f"group-{worker}-{i}",
                group=group,
            )

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one_caller, range(threads)))
    grouped = rate(n // threads * threads, time.perf_counter() - start)

    # 2. batched appends: 1,000 events per transaction
    batch, batches = 1_000, 50
    start = time.perf_counter()
    for b in range(batches):
        raw_append(
            raw,
            [(decision_ids[(b * batch + i) % len(decision_ids)], {"i": i}) for i in range(batch)],
            f"b{b}-",
        )
    batched_raw = rate(batch * batches, time.perf_counter() - start)
    start = time.perf_counter()
    for b in range(batches):
        services.append_events(
            engine,
            [
                NewEvent(
                    actor="bench",
                    action="bench.event",
                    decision_id=decision_ids[(b * batch + i) % len(decision_ids)],
                    payload={
                        "i": i,
                        "answer": {"recommendation": "approve", "ratings": {"cost": 5}},
                    },
                    idempotency_key=f"batch-{b}-{i}",
                )
                for i in range(batch)
            ],
        )
    batched = rate(batch * batches, time.perf_counter() - start)

    # 3. grow the store's chain to --events, spread over the decisions, then verify it all
    with engine.begin() as conn:
        conn.execute(
            insert(ActorRow),
            [
                {
                    "id": "bench",
                    "name": "Bench",
                    "roles": ["planner"],
                    "affiliations": [],
                    "bodies": [],
                    "token_hash": "0" * 64,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        now = datetime.now(UTC)
        conn.execute(
            insert(DecisionRow),
            [
                {
                    "id": d,
                    "title": d,
                    "description": d,
                    "class_name": "standard",
                    "district": "east",
                    "district_type": None,
                    "topics": [],
                    "stakeholder_orgs": [],
                    "bidder_orgs": [],
                    "executor_orgs": [],
                    "planner_id": "bench",
                    "state": "consulting",
                    "round": 1,
                    "state_reason": None,
                    "stalled_from": None,
                    "created_at": now,
                    "updated_at": now,
                }
                for d in decision_ids
            ],
        )
    have = filled_from = services.verify(engine).count
    rng = random.Random(7)
    fill_start = time.perf_counter()
    while have < args.events:
        size = min(20_000, args.events - have)
        services.append_events(
            engine,
            [
                NewEvent(
                    actor="bench",
                    action="bench.event",
                    decision_id=rng.choice(decision_ids),
                    payload={"n": have + i, "text": "意见：同意，附条件"},
                    idempotency_key=f"fill-{have + i}",
                )
                for i in range(size)
            ],
        )
        have += size
    fill_s = time.perf_counter() - fill_start
    start = time.perf_counter()
    report = services.verify(engine)
    verify_s = time.perf_counter() - start
    assert report.ok and report.count == have, report
    raw_verify = raw_connection(store_path)
    start = time.perf_counter()
    scanned = sum(1 for _ in raw_verify.execute("SELECT * FROM audit_events ORDER BY seq"))
    scan_s = time.perf_counter() - start

    # 4. one decision's history, through the service (checks the decision exists, reads its events)
    samples = [rng.choice(decision_ids) for _ in range(1_000)]
    timings, raw_timings = [], []
    for d in samples:
        start = time.perf_counter()
        services.history(engine, d)
        timings.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        raw_verify.execute(
            "SELECT * FROM audit_events WHERE decision_id = ? ORDER BY seq", (d,)
        ).fetchall()
        raw_timings.append((time.perf_counter() - start) * 1000)
    p = statistics.quantiles(timings, n=100)
    rp = statistics.quantiles(raw_timings, n=100)
    per_decision = have / len(decision_ids)

    def line(label: str, value: str, baseline: str, ratio: float, target: str, ok: bool) -> None:
        print(
            f"  {label:<34} {value:>14}   raw sqlite3 {baseline:>14}   ratio {ratio:5.2f}   "
            f"target {target:<12} {'MET' if ok else 'NOT MET'}"
        )

    print(
        f"Results ({n} durable single appends, {batch * batches} batched, "
        f"chain of {have:,} events, "
        f"~{per_decision:.0f} events per decision):"
    )
    line(
        "durable single-event appends/s",
        f"{single:,.0f}",
        f"{single_raw:,.0f}",
        single / single_raw,
        f">= {TARGETS['single']:,}",
        single >= TARGETS["single"],
    )
    line(
        f"  … {threads} concurrent callers, group commit",
        f"{grouped:,.0f}",
        f"{single_raw:,.0f}",
        grouped / single_raw,
        f">= {TARGETS['single']:,}",
        grouped >= TARGETS["single"],
    )
    line(
        "batched appends/s (1,000 per txn)",
        f"{batched:,.0f}",
        f"{batched_raw:,.0f}",
        batched / batched_raw,
        f">= {TARGETS['batched']:,}",
        batched >= TARGETS["batched"],
    )
    scaled = verify_s * 1_000_000 / have
    line(
        f"verify {have:,} events (s)",
        f"{verify_s:.2f}",
        f"{scan_s:.2f} scan",
        verify_s / scan_s,
        "<= 4 s / 1M",
        scaled <= TARGETS["verify_s_per_1m"],
    )
    print(f"  {'verify rate (events/s)':<34} {have / verify_s:>14,.0f}")
    line("history p50 ms", f"{p[49]:.2f}", f"{rp[49]:.2f}", p[49] / rp[49], "", True)
    line(
        "history p99 ms",
        f"{p[98]:.2f}",
        f"{rp[98]:.2f}",
        p[98] / rp[98],
        "<= 5 ms",
        p[98] <= TARGETS["history_p99_ms"],
    )
    if fill_s > 0.5:
        print(
            f"  (filling the chain through append_events took {fill_s:.1f} s, "
            f"{(have - filled_from) / fill_s:,.0f} events/s; raw scan read {scanned:,} rows)"
        )


if __name__ == "__main__":
    main()
