"""Load benchmark: many experts answering at once, and many decisions waiting at once.

Answers: 100 experts × 10 consultation tasks each; the experts answer concurrently (25
threads in each of 4 processes) through the same path as ``counsel answer`` (form check,
the store's service with its powers checks and audit event, one transaction each), every
answer sent twice. Prints the acknowledgement latency (p50/p99 ms) and throughput per
database, and checks that every answer was recorded exactly once and the chain verifies.

Waiting (``bench/waiting.py``): on a real local stack per path (Prefect server, process
worker and task workers; store and Prefect on PostgreSQL), 100 decisions wait for their
experts with no flow process alive; the experts answer decision after decision 2 s apart,
with the machine idle and with one core busy. For the warm path (each step a background
task on a long-lived task worker) beside the process-per-step path (a run of the
``decision`` deployment in a new process), it prints continuation latency p50/p95/max, the
workers' and the Prefect server's CPU seconds per step, and the ratios; targets (warm, one
core busy): CPU ≤ 0.3 s per step, p95 ≤ 2 s. Then 100 decisions whose last answers arrive at
once: the time until all have continued (target ≤ 30 s on 2 cores) and the stack's peak
memory (target ≤ 1.5 GB). What a step asks of the Prefect server, which bounds the burst,
is counted by endpoint in ``bench/api_calls.py``.

    .venv/bin/python bench/load.py --part waiting            # the issue's figures
    .venv/bin/python bench/load.py --part waiting --quick    # 20 decisions, a fast check
    .venv/bin/python bench/load.py --part burst              # the burst alone, a new stack
    .venv/bin/python bench/load.py [--experts 100] [--answers 10] [--waiting 100]
        [--pace 2] [--paths warm,process] [--burst-paths warm]
        [--part answers|waiting|burst|all]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine, normalise_url
from decisions.tables import AnswerRow

POSTGRES = normalise_url("postgresql://postgres@127.0.0.1:5432/test")
PROCESSES, THREADS = 4, 25


def consult_answer(engine: Any, task_id: str, criteria: tuple[str, ...]) -> dict[str, Any]:
    """What each simulated expert sends for a consultation task (as `counsel answer` would)."""
    return {
        "answer_code": services.answer_code_for(engine, task_id),
        "recommendation": "approve",
        "rationale": f"Answer to {task_id}",
        **{f"rating_{c}": 6 for c in criteria},
    }


def answer_share(url: str, task_ids: list[str]) -> tuple[list[float], list[str]]:
    """One process: answer its share of tasks from THREADS threads; latencies in ms."""
    from flows.answering import submit_answer

    # threads beyond the pool wait for a connection: PostgreSQL allows about 100 in all
    engine = make_engine(url, pool_size=10, max_overflow=0, pool_timeout=120)
    classes = load_classes()
    criteria = classes.get("standard").criteria

    def one(task_id: str) -> tuple[list[float], list[str]]:
        task = services.get_task(engine, task_id)
        actor = services.get_actor(engine, task.assignee_id)
        data = consult_answer(engine, task_id, criteria)
        took, errors = [], []
        for _ in range(2):
            start = time.perf_counter()
            try:
                submit_answer(
                    engine, task_id, data, actor=actor, classes=classes, notify_prefect=False
                )
            except Exception as err:  # noqa: BLE001 - counted and printed
                errors.append(f"{task_id}: {type(err).__name__}: {err}")
            took.append((time.perf_counter() - start) * 1000)
        return took, errors

    latencies: list[float] = []
    problems: list[str] = []
    with ThreadPoolExecutor(THREADS) as pool:
        for took, errors in pool.map(one, task_ids):
            latencies += took
            problems += errors
    engine.dispose()
    return latencies, problems


def prepare(url: str, experts: int, answers: int) -> list[str]:
    engine = make_engine(url)
    services.init_store(engine)
    planner, _ = services.add_actor(engine, actor_id="li-wei", name="Li Wei", roles=["planner"])
    proposal = services.Proposal.model_validate(
        {
            "title": "Load",
            "description": "Load test.",
            "class": "standard",
            "district": "east-district",
            "topics": ["street-cleaning"],
        }
    )
    tasks: list[str] = []
    decision = services.submit_proposal(engine, proposal, planner=planner, classes=load_classes())
    services.apply_transition(engine, decision.id, "start_consultation")
    for e in range(experts):
        services.add_actor(engine, actor_id=f"x{e:03d}", name=f"Expert {e}", roles=["expert"])
    for r in range(answers):
        for e in range(experts):
            tasks.append(
                services.assign_task(
                    engine, decision.id, "consult", f"x{e:03d}", round=r + 1
                ).task.id
            )
    engine.dispose()
    return tasks


def run(label: str, url: str, experts: int, answers: int) -> None:
    tasks = prepare(url, experts, answers)
    shares = [tasks[i::PROCESSES] for i in range(PROCESSES)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.starmap(answer_share, [(url, share) for share in shares])
    wall = time.perf_counter() - start
    latencies = [ms for took, _ in results for ms in took]
    problems = [p for _, errors in results for p in errors]
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(AnswerRow)).scalar_one()
    report = services.verify(engine)
    engine.dispose()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"  {label:<10} {len(tasks):>5} answers (each sent twice) in {wall:5.1f} s: "
        f"{len(latencies) / wall:6.0f} submissions/s; "
        f"ack p50 {q[49]:6.1f} ms, p99 {q[98]:6.1f} ms; "
        f"recorded {stored} (lost {len(tasks) - stored}, extra {max(0, stored - len(tasks))}); "
        f"errors {len(problems)}; chain {'verified' if report.ok else 'BROKEN'}"
    )
    for problem in problems[:5]:
        print(f"    {problem}")


def _paths(value: str) -> list[str]:
    paths = [p.strip() for p in value.split(",") if p.strip()]
    unknown = set(paths) - {"warm", "process"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown paths {sorted(unknown)}: warm, process")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=100)
    parser.add_argument("--answers", type=int, default=10, help="answers per expert")
    parser.add_argument(
        "--waiting", type=int, help="decisions waiting at once (100; 20 with --quick)"
    )
    parser.add_argument(
        "--pace", type=float, default=2.0, help="seconds between decisions' last answers"
    )
    parser.add_argument(
        "--paths", type=_paths, default=["warm", "process"], help="warm,process (both)"
    )
    parser.add_argument(
        "--burst-paths",
        type=_paths,
        default=["warm"],
        help="paths whose last answers also arrive all at once (warm)",
    )
    parser.add_argument("--quick", action="store_true", help="20 decisions: a fast check")
    parser.add_argument(
        "--part",
        choices=["answers", "waiting", "burst", "all"],
        default="all",
        help="burst: only the burst, on a new stack per burst path",
    )
    args = parser.parse_args()
    waiting = args.waiting or (20 if args.quick else 100)
    if args.part in {"answers", "all"}:
        answers(args)
    if args.part in {"waiting", "burst", "all"}:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.waiting import run_waiting

        what = "decisions in the burst" if args.part == "burst" else "waiting decisions"
        print(f"{waiting} {what} per measurement on a local stack per path (PostgreSQL)")
        run_waiting(
            POSTGRES,
            waiting,
            args.pace,
            [p for p in ("warm", "process") if p in args.paths],
            [p for p in args.burst_paths if p in args.paths],
            burst_only=args.part == "burst",
        )


def answers(args: argparse.Namespace) -> None:
    print(
        f"{args.experts} experts × {args.answers} answers, "
        f"{PROCESSES} processes × {THREADS} threads"
    )
    folder = Path(tempfile.mkdtemp(prefix="counsel-load-"))
    run("SQLite", f"sqlite:///{folder / 'counsel.db'}", args.experts, args.answers)
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"counsel_load_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # noqa: BLE001 - say why PostgreSQL was left out
        print(f"  PostgreSQL not reachable at {POSTGRES} ({type(err).__name__}); skipped")
        return
    try:
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        run("PostgreSQL", url, args.experts, args.answers)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
