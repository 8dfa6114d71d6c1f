"""The waiting-decisions half of ``bench/load.py``: many decisions waiting with no process.

Starts a real local stack (``counsel up``: Prefect server and a process worker, with the
store and Prefect's own tables on PostgreSQL), files N decisions of a small class (two
experts, one round), waits until every expert's form is up, checks that no flow process of
any decision is alive, then answers the decisions one after another ``pace`` seconds apart
and measures how long after its last answer each decision continues (its round is
aggregated by a new run). Prints the figures.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.model import TaskKind, TaskStatus


def _database(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _consult_forms(engine: Any, decision_id: str) -> list[Any]:
    return [
        t
        for t in services.tasks_of(engine, decision_id)
        if t.kind is TaskKind.CONSULT and t.status is TaskStatus.OPEN and t.flow_run_id
    ]


def _continued_at(engine: Any, decision_id: str) -> float | None:
    for event in services.history(engine, decision_id):
        if event.action == "consultation.round_aggregated":
            return datetime.fromisoformat(event.recorded_at).timestamp()
    return None


def run_waiting(admin_url: str, decisions: int, paces: list[float]) -> None:
    """File ``decisions`` decisions per pace on one stack and report their continuations."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.answering import submit_answer
    from flows.demo import examples_dir, prepare_store
    from flows.runs import start_decision_run
    from flows.stack import _descendants, read_stack, start_stack, stop_stack

    suffix = uuid.uuid4().hex[:8]
    store_name, prefect_name = f"bench_store_{suffix}", f"bench_prefect_{suffix}"
    store_url = _database(admin_url, store_name)
    prefect_url = (
        make_url(_database(admin_url, prefect_name))
        .set(drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False)
    )
    folder = Path(tempfile.mkdtemp(prefix="counsel-bench-waiting-"))
    classes_file = examples_dir() / "classes-quick.yaml"
    saved = dict(os.environ)
    os.environ.update(
        COUNSEL_DATABASE_URL=store_url,
        COUNSEL_CLASSES_FILE=str(classes_file),
        COUNSEL_HOME=str(folder / "home"),
    )
    engine = make_engine(store_url)
    prepare_store(engine, by="bench")
    classes = load_classes(classes_file)
    proposal = yaml.safe_load((examples_dir() / "proposal.yaml").read_text(encoding="utf-8"))
    proposal.update({"class": "quick", "district_type": None})
    planner = services.get_actor(engine, "li-wei")
    stack = start_stack(folder / "home", port=4391, prefect_database=prefect_url)
    os.environ["PREFECT_API_URL"] = stack.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            for pace in paces:
                ids = []
                started = time.perf_counter()
                with get_client(sync_client=True) as client:
                    for n in range(decisions):
                        decision = services.submit_proposal(
                            engine,
                            services.Proposal.model_validate(
                                {**proposal, "title": f"Bench {pace} {n}"}
                            ),
                            planner=planner,
                            classes=classes,
                        )
                        start_decision_run(client, engine, decision.id)
                        ids.append(decision.id)
                while not all(len(_consult_forms(engine, d)) == 2 for d in ids):
                    time.sleep(1)
                all_waiting = time.perf_counter() - started
                time.sleep(5)  # the last runs publish their history and end
                worker = read_stack(folder / "home").worker_pid
                alive = len(_descendants(worker))
                last: dict[str, float] = {}
                for d in ids:
                    for task in _consult_forms(engine, d):
                        submit_answer(
                            engine,
                            task.id,
                            {
                                "answer_code": services.answer_code_for(engine, task.id),
                                "recommendation": "approve",
                                "rationale": "Sound.",
                                "rating_feasibility": 7,
                                "rating_cost": 7,
                            },
                            actor=services.get_actor(engine, task.assignee_id),
                            classes=classes,
                        )
                    last[d] = time.time()
                    time.sleep(pace)
                while not all(_continued_at(engine, d) for d in ids):
                    time.sleep(1)
                delays = sorted(_continued_at(engine, d) - last[d] for d in ids)  # type: ignore[operator]
                p95 = delays[int(0.95 * (len(delays) - 1))]
                print(
                    f"  {decisions} decisions, answers {pace:g} s apart: all waiting after "
                    f"{all_waiting:.0f} s with {alive} flow processes alive (sweeps included); "
                    f"continued after p50 {statistics.median(delays):.1f} s, p95 {p95:.1f} s, "
                    f"max {delays[-1]:.1f} s",
                    flush=True,
                )
    finally:
        stop_stack(folder / "home")
        engine.dispose()
        os.environ.clear()
        os.environ.update(saved)
        _drop(admin_url, store_name)
        _drop(admin_url, prefect_name)
