"""Where the slowest answer acknowledgements of ``bench/load.py`` spend their time.

Runs the answers half of the load benchmark (100 experts × 10 tasks, 4 processes × 25
threads, every answer sent twice) on one database, timing each phase of every submission:
waiting for a pooled connection (the first query of the answer's pre-check), waiting for the
store's write lock (SQLite's ``BEGIN IMMEDIATE`` or PostgreSQL's advisory lock), the checks
and the write. It prints the mean of each phase over the slowest 1% and over all.

The phases are timed by wrapping the store's functions in the worker processes of this
benchmark only; nothing in the product is changed.

    .venv/bin/python bench/answer_phases.py [sqlite|postgresql] [--pool 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import POSTGRES, PROCESSES, THREADS, consult_answer, prepare  # noqa: E402

Phases = dict[str, float]
#: the phases, in the order they are printed
PHASES = (
    "record_answer, in all",
    "audit key lookups (the check's first query waits for a pooled connection)",
    "write transaction begun (pool, BEGIN, lock)",
    "  of which PostgreSQL's advisory lock",
)


def _instrument(phases: threading.local) -> None:
    """Wrap the store's functions so each thread adds its time to ``phases.now``."""
    from decisions import services, store, uow

    def add(name: str, seconds: float) -> None:
        now: Phases = phases.__dict__.setdefault("now", {})
        now[name] = now.get(name, 0.0) + seconds

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                add(name, time.perf_counter() - start)

        return wrapper

    plain_enter = uow.UnitOfWork.__enter__

    def enter(self: uow.UnitOfWork) -> uow.UnitOfWork:
        start = time.perf_counter()
        entered = plain_enter(self)
        if not self.read_only:  # pool checkout, BEGIN (IMMEDIATE on SQLite) and the lock
            add("write transaction begun (pool, BEGIN, lock)", time.perf_counter() - start)
        return entered

    uow.UnitOfWork.__enter__ = enter  # type: ignore[method-assign]
    uow.take_write_lock = timed(  # type: ignore[assignment]
        "  of which PostgreSQL's advisory lock", uow.take_write_lock
    )
    # the pre-check's first query checks a connection out of the pool
    store.AuditLog.by_key = timed(  # type: ignore[method-assign]
        "audit key lookups (the check's first query waits for a pooled connection)",
        store.AuditLog.by_key,
    )
    services.record_answer = timed("record_answer, in all", services.record_answer)


def answer_share(url: str, pool: int, task_ids: list[str]) -> list[tuple[float, Phases]]:
    """One process: answer its share of tasks from THREADS threads, with phase timings."""
    phases = threading.local()
    _instrument(phases)
    from decisions import services
    from decisions.classes import load_classes
    from decisions.db import make_engine
    from flows.answering import submit_answer

    engine = make_engine(url, pool_size=pool, max_overflow=0, pool_timeout=120)
    classes = load_classes()
    criteria = classes.get("standard").criteria

    def one(task_id: str) -> list[tuple[float, Phases]]:
        task = services.get_task(engine, task_id)
        actor = services.get_actor(engine, task.assignee_id)
        data = consult_answer(engine, task_id, criteria)
        timed = []
        for _ in range(2):
            phases.now = {}
            start = time.perf_counter()
            submit_answer(engine, task_id, data, actor=actor, classes=classes, notify_prefect=False)
            timed.append((time.perf_counter() - start, dict(phases.now)))
        return timed

    found: list[tuple[float, Phases]] = []
    with ThreadPoolExecutor(THREADS) as threads:
        for timed in threads.map(one, task_ids):
            found += timed
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", choices=["sqlite", "postgresql"], nargs="?", default="sqlite")
    parser.add_argument("--pool", type=int, default=10, help="connections per process")
    args = parser.parse_args()
    admin = None
    if args.database == "postgresql":
        name = f"bench_phases_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='counsel-bench-phases-')) / 'c.db'}"
    try:
        tasks = prepare(url, 100, 10)
        shares = [tasks[i::PROCESSES] for i in range(PROCESSES)]
        with multiprocessing.get_context("spawn").Pool(PROCESSES) as processes:
            results = processes.starmap(answer_share, [(url, args.pool, s) for s in shares])
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    found = sorted((t for share in results for t in share), key=lambda t: -t[0])
    slowest = found[: max(1, len(found) // 100)]
    seen = {n for _, p in found for n in p if any(q.get(n) for _, q in found)}
    names = [n for n in PHASES if n in seen]
    print(
        f"{args.database}: {len(found)} submissions, {PROCESSES} processes × {THREADS} threads, "
        f"{args.pool} connections per process; acknowledgement p50 "
        f"{statistics.median(t for t, _ in found) * 1000:.0f} ms"
    )
    for label, rows in (("slowest 1%", slowest), ("all", found)):
        mean = sum(t for t, _ in rows) / len(rows)
        print(f"  {label:<10} acknowledgement {mean * 1000:7.0f} ms; mean per submission:")
        for n in names:
            share = sum(p.get(n, 0.0) for _, p in rows) / len(rows)
            print(f"    {n:<75} {share * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
