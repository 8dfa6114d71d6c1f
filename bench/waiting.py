"""The waiting-decisions half of ``bench/load.py``: warm steps beside process-per-step.

For each path it starts a real local stack (``counsel up``: Prefect server, a process
worker and task workers, with the store and Prefect's own tables on PostgreSQL, deadline
sweeps every 60 s; every 300 s on the process path's, lest a sweep take a step that waits
minutes for its process for lost and take it warm) and files decisions of a small class
(two experts, one round). Each decision's first step is queued warm in both paths; only how
its *continuation* (the step after its last answer) is taken differs:

- ``warm``: answers go through :func:`flows.answering.submit_answer`, which closes the
  person's form and queues the ``continue-decision`` background task for a task worker
  (the product's path);
- ``process``: the old process-per-step path, done here: the answer is recorded without
  Prefect, the form is closed and a run of the ``decision/decision`` deployment is
  created, which the stack's process worker executes in a new Python process.

Waiting (phase A), idle and with one core busy (a ``while True: pass`` process): N
decisions wait for their experts, who answer decision after decision ``pace`` s apart.
Continuation latency is the time from the start of a decision's last ``submit_answer``
to its ``consultation.round_aggregated`` event. CPU per step is the CPU (user + system,
reaped children included, from ``/proc``) of the workers that take the steps (the task
workers; the process worker with its flow processes) from the first answer until every
step has ended, divided by the number of steps; the Prefect server's CPU is given
separately, and each row's note gives PostgreSQL's (all its databases) and what the rest
of the machine was busy with (the machine may be shared).

Burst (phase B): N decisions wait; all their answers are recorded, then every continuation
is queued at once (16 threads); it reports the time from the first queueing until all have
continued and the stack's peak memory (RSS of server, workers and all their descendants,
sampled every 0.2 s).

    .venv/bin/python bench/load.py --part waiting [--waiting 100] [--pace 2]
        [--paths warm,process] [--burst-paths warm] [--quick]

Each path runs in a new process (``python -m bench.waiting --path …``), which refuses to
measure if the stack's task workers were started from another ``flows/warm.py`` than its
own. Every wait has a guard (``GUARD_S``) after which it prints what is missing and goes
on; the stacks' logs stay in the temporary folder it prints (``*/home/stack/*.log``), and
what went wrong in them is summarised per path.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
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

#: How long any wait for a condition may take before it is called a hang.
GUARD_S = 900.0
SAMPLE_S = 0.2
#: How long the stack is watched doing nothing before each measurement.
IDLE_S = 10.0
QUEUE_THREADS = 16
#: Sweeps every minute (as ``counsel up``) on the warm path's stack; on the process path's,
#: every 5 minutes, so that a sweep does not take a step that waits minutes for its
#: process for lost (after 3 × the interval) and take it warm instead.
SWEEP_EVERY_S = {"warm": 60, "process": 300}
#: The process path's burst starts a process per decision: stop it above this much memory.
MEMORY_CAP = 10 * 2**30
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ANSWERED = "consultation.round_aggregated"
#: The issue's targets (warm path, one core busy; burst on 2 cores).
TARGET_CPU_S, TARGET_P95_S, TARGET_BURST_S, TARGET_MEMORY = 0.3, 2.0, 30.0, 1.5 * 2**30


# --- databases ------------------------------------------------------------------------


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- processes ------------------------------------------------------------------------


@dataclass
class Proc:
    ppid: int
    cpu_ticks: int  # utime + stime + cutime + cstime
    rss: int  # bytes


def _proc_table() -> dict[int, Proc]:
    """Every process's parent, CPU and RSS, read from /proc in one pass."""
    table: dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
        table[int(name)] = Proc(
            int(fields[1]), sum(int(x) for x in fields[11:15]), int(fields[21]) * PAGE
        )
    return table


def _tree(roots: Iterable[int], table: dict[int, Proc]) -> set[int]:
    """``roots`` (those alive) and all their live descendants."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found: set[int] = set()
    frontier = [r for r in roots if r in table]
    while frontier:
        pid = frontier.pop()
        if pid in found:
            continue
        found.add(pid)
        frontier += children.get(pid, [])
    return found


def _cpu_s(roots: Iterable[int], table: dict[int, Proc]) -> float:
    return sum(table[p].cpu_ticks for p in _tree(roots, table)) / TICK


def _backends(databases: tuple[str, ...]) -> tuple[int, int]:
    """PostgreSQL client backends (connections): on the bench's databases, and in all
    (the server allows about 100, shared with whoever else uses it)."""
    ours = every = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                line = f.read(200)
        except OSError:
            continue
        if line.startswith(b"postgres:") and (b"(" in line or b"[local]" in line):
            every += 1
            ours += any(d.encode() in line for d in databases)
    return ours, every


class Sampler(threading.Thread):
    """Samples the stack's total RSS (and connections) every SAMPLE_S; keeps the peaks.
    Above ``cap`` it calls ``over_cap`` once (the process path's burst)."""

    def __init__(
        self,
        roots: Callable[[], list[int]],
        databases: tuple[str, ...],
        *,
        cap: int | None = None,
        over_cap: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.roots, self.databases, self.cap, self.over_cap = roots, databases, cap, over_cap
        self.peak = self.first = self.connections = self.all_connections = 0
        self.capped = False
        self.done = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.done.is_set():
            table = _proc_table()
            rss = sum(table[p].rss for p in _tree(self.roots(), table))
            self.first = self.first or rss
            self.peak = max(self.peak, rss)
            if n % 5 == 0:
                ours, every = _backends(self.databases)
                self.connections = max(self.connections, ours)
                self.all_connections = max(self.all_connections, every)
            n += 1
            if self.cap and rss > self.cap and not self.capped and self.over_cap:
                self.capped = True
                self.over_cap()
            self.done.wait(SAMPLE_S)

    def stop(self) -> Sampler:
        self.done.set()
        self.join()
        return self


def _outside(hog: int | None) -> tuple[float, float, float]:
    """CPU seconds so far: the whole machine's busy time; this process's own plus the
    busy-core process's (the stack's is counted apart); PostgreSQL's, all its databases
    (its postmaster with the backends alive and ended)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    table = _proc_table()
    me = os.getpid()
    own = (table[me].cpu_ticks if me in table else 0) - _children_ticks(me)
    if hog is not None and hog in table:
        own += table[hog].cpu_ticks
    return busy / TICK, own / TICK, _cpu_s(_postmasters(table), table)


def _postmasters(table: dict[int, Proc]) -> list[int]:
    found = []
    for pid in table:  # backends rename themselves "postgres: …"; the postmaster does not
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                line = f.read(300)
        except OSError:
            continue
        if b"bin/postgres" in line.split(b"\0")[0]:
            found.append(pid)
    return found


def _children_ticks(pid: int) -> int:
    """cutime + cstime of ``pid``: its reaped children (the stack's processes, once they
    stop), left out of its own CPU."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[13]) + int(fields[14])


def _version() -> str:
    """The checkout's commit, and whether the product's code differs from it."""
    from flows.stack import project_dir

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=project_dir(), capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    edited = git("status", "--porcelain", "--", "flows", "decisions", "cli", "prefect.yaml")
    return git("rev-parse", "--short", "HEAD") + (" with edits" if edited else "")


def _busy_core() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _load() -> str:
    return "load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- figures --------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Row:
    path: str
    load: str
    n: int = 0
    steps: int = 0
    delays: list[float] = field(default_factory=list)
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    other_cpu: float = 0.0  # the workers of the other kind (idle in this path)
    peak: int = 0
    connections: int = 0
    span_s: float = 0.0
    note: str = ""

    @property
    def cpu_per_step(self) -> float:
        return self.worker_cpu / self.steps if self.steps else float("nan")

    @property
    def server_per_step(self) -> float:
        return self.server_cpu / self.steps if self.steps else float("nan")

    @property
    def p95(self) -> float:
        return _pct(self.delays, 0.95) if self.delays else float("nan")

    def line(self, *, note: bool = True) -> str:
        if not self.delays:
            return f"  {self.path:<8} {self.load:<15} no decision continued {self.note}"
        return (
            f"  {self.path:<8} {self.load:<14} {f'{self.steps}/{self.n}':>7} "
            f"{statistics.median(self.delays):7.2f} {self.p95:7.2f} {max(self.delays):7.2f} "
            f"{self.cpu_per_step:9.3f} {self.server_per_step:9.3f} "
            f"{self.peak / 2**20:8.0f} {self.connections:6}"
            + (f"  {self.note}" if self.note and note else "")
        )


HEADER = (
    f"  {'path':<8} {'load':<14} {'steps':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
    f"{'CPU/step':>9} {'server':>9} {'peak MB':>8} {'conns':>6}"
)


@dataclass
class Burst:
    path: str
    n: int
    continued: int = 0
    all_after_s: float = float("nan")
    queued_in_s: float = 0.0
    peak: int = 0
    first: int = 0
    connections: int = 0
    all_connections: int = 0
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    machine_cores: float = 0.0
    note: str = ""

    def line(self) -> str:
        steps = self.continued or float("nan")
        cpu = (
            f"CPU per step: workers {self.worker_cpu / steps:.3f} s, server "
            f"{self.server_cpu / steps:.3f} s, PostgreSQL {self.postgres_cpu / steps:.3f} s "
            f"(machine {self.machine_cores:.2f} cores busy)"
        )
        return (
            f"  burst {self.path:<8} {self.continued}/{self.n} last answers at once: all "
            f"continued {self.all_after_s:.1f} s after the first was queued (target ≤ "
            f"{TARGET_BURST_S:g} s; queueing took {self.queued_in_s:.1f} s); stack peak "
            f"memory {self.peak / 2**30:.2f} GB (target ≤ {TARGET_MEMORY / 2**30:g} GB; "
            f"{self.first / 2**30:.2f} GB at the start); {cpu}; "
            f"peak connections {self.connections} ({self.all_connections} in all)"
            + (f"; {self.note}" if self.note else "")
        )


# --- one path on one stack ------------------------------------------------------------


def _consult_forms(engine: Any, decision_id: str) -> list[Any]:
    return [
        t
        for t in services.tasks_of(engine, decision_id)
        if t.kind is TaskKind.CONSULT and t.status is TaskStatus.OPEN and t.flow_run_id
    ]


def _with_forms(engine: Any, ids: Iterable[str]) -> set[str]:
    """The decisions among ``ids`` whose two experts have their forms (one query)."""
    from sqlalchemy import func, select

    from decisions.tables import TaskRow

    query = (
        select(TaskRow.decision_id)
        .where(
            TaskRow.decision_id.in_(list(ids)),
            TaskRow.kind == TaskKind.CONSULT.value,
            TaskRow.status == TaskStatus.OPEN.value,
            TaskRow.flow_run_id.is_not(None),
        )
        .group_by(TaskRow.decision_id)
        .having(func.count() == 2)
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def _continued(engine: Any, ids: Iterable[str]) -> dict[str, float]:
    """When each of ``ids`` that has continued did (its round's aggregation), in one query:
    the bench polls while the steps run and must not load the store itself."""
    from sqlalchemy import func, select

    from decisions.tables import AuditEventRow

    query = (
        select(AuditEventRow.decision_id, func.min(AuditEventRow.recorded_at))
        .where(AuditEventRow.decision_id.in_(list(ids)), AuditEventRow.action == ANSWERED)
        .group_by(AuditEventRow.decision_id)
    )
    with engine.connect() as conn:
        return {d: datetime.fromisoformat(at).timestamp() for d, at in conn.execute(query).all()}


class PathBench:
    """One stack (own store and Prefect databases) taking continuations one way."""

    def __init__(self, path: str, admin_url: str, folder: Path) -> None:
        from flows.demo import examples_dir

        self.path, self.admin_url, self.folder = path, admin_url, folder
        self.home = folder / "home"
        suffix = uuid.uuid4().hex[:8]
        self.names = (f"bench_store_{suffix}", f"bench_prefect_{suffix}")
        self.classes_file = examples_dir() / "classes-quick.yaml"
        self.classes = load_classes(self.classes_file)
        self.criteria = self.classes.get("quick").criteria
        proposal = yaml.safe_load((examples_dir() / "proposal.yaml").read_text(encoding="utf-8"))
        proposal.update({"class": "quick", "district_type": None})
        self.proposal = proposal
        self.engine: Any = None
        self.stack: Any = None
        self.filed = 0

    # setup and teardown

    def start(self) -> None:
        from flows.demo import prepare_store
        from flows.stack import start_stack

        store_url = _database(self.admin_url, self.names[0])
        prefect_url = (
            make_url(_database(self.admin_url, self.names[1]))
            .set(drivername="postgresql+asyncpg")
            .render_as_string(hide_password=False)
        )
        os.environ.update(
            COUNSEL_DATABASE_URL=store_url,
            COUNSEL_CLASSES_FILE=str(self.classes_file),
            COUNSEL_HOME=str(self.home),
        )
        # the queueing threads of a burst share it; PostgreSQL allows about 100 in all
        self.engine = make_engine(store_url, pool_size=4, max_overflow=QUEUE_THREADS - 4)
        prepare_store(self.engine, by="bench")
        self.planner = services.get_actor(self.engine, "li-wei")
        started = time.perf_counter()
        self.stack = start_stack(
            self.home,
            port=_free_port(),
            prefect_database=prefect_url,
            sweep_every_s=SWEEP_EVERY_S[self.path],
        )
        self.check_code()
        print(
            f"  [{self.path}] code {_version()}; stack up in "
            f"{time.perf_counter() - started:.0f} s at "
            f"{self.stack.api_url}: server {self.stack.server_pid}, process worker "
            f"{self.stack.worker_pid}, task workers {self.stack.task_worker_pids}; sweeps "
            f"every {SWEEP_EVERY_S[self.path]} s; logs in "
            f"{self.home / 'stack'}",
            flush=True,
        )

    def stop(self) -> None:
        from flows.stack import stop_stack

        # the stack's processes are this process's children: reap them as they stop, or
        # they stay zombies for as long as this process lives
        stopped = threading.Event()
        reaper = threading.Thread(target=self._reap, args=(stopped,), daemon=True)
        reaper.start()
        try:
            if (self.home / "stack" / "stack.json").exists():
                stop_stack(self.home)
        finally:
            stopped.set()
            if self.engine is not None:
                self.engine.dispose()
            for name in self.names:
                try:
                    _drop(self.admin_url, name)
                except Exception as err:  # noqa: BLE001 - say so, drop the other one
                    print(f"  [{self.path}] could not drop {name}: {err}")

    def _reap(self, stopped: threading.Event) -> None:
        pending = set(self.all_pids()) if self.stack else set()
        while pending and not stopped.is_set():
            for pid in list(pending):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        pending.discard(pid)
                except ChildProcessError:
                    pending.discard(pid)
            stopped.wait(0.1)

    def all_pids(self) -> list[int]:
        return [self.stack.server_pid, self.stack.worker_pid, *self.stack.task_worker_pids]

    def step_workers(self) -> list[int]:
        if self.path == "warm":
            return list(self.stack.task_worker_pids)
        return [self.stack.worker_pid]

    def other_workers(self) -> list[int]:
        if self.path == "warm":
            return [self.stack.worker_pid]
        return list(self.stack.task_worker_pids)

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far: the step workers', the server's, the other workers'."""
        table = _proc_table()
        return (
            _cpu_s(self.step_workers(), table),
            _cpu_s([self.stack.server_pid], table),
            _cpu_s(self.other_workers(), table),
        )

    # decisions

    def file(self, label: str, n: int) -> list[str]:
        """File ``n`` decisions and queue each one's first step (warm, in both paths);
        returns those whose experts all have their forms (after a guard, says who not)."""
        from prefect import get_client

        from flows.warm import start_decision_run

        ids = []
        started = time.perf_counter()
        with get_client(sync_client=True) as client:
            for _ in range(n):
                self.filed += 1
                decision = services.submit_proposal(
                    self.engine,
                    services.Proposal.model_validate(
                        {**self.proposal, "title": f"Bench {self.path} {label} {self.filed}"}
                    ),
                    planner=self.planner,
                    classes=self.classes,
                )
                start_decision_run(client, self.engine, decision.id)
                ids.append(decision.id)
        waiting = set(ids)
        deadline = time.monotonic() + GUARD_S
        while waiting and time.monotonic() < deadline:
            waiting -= _with_forms(self.engine, waiting)
            if waiting:
                time.sleep(1)
        if waiting:
            print(
                f"  [{self.path} {label}] after {GUARD_S:.0f} s, {len(waiting)} of {n} "
                f"decisions still lack their two experts' forms, left out: "
                + ", ".join(self._where(d) for d in sorted(waiting)[:5])
            )
        print(
            f"  [{self.path} {label}] {n - len(waiting)} decisions waiting for their experts "
            f"{time.perf_counter() - started:.0f} s after filing began",
            flush=True,
        )
        return [d for d in ids if d not in waiting]

    def _where(self, decision_id: str) -> str:
        events = services.history(self.engine, decision_id)
        return f"{decision_id} (last event {events[-1].action if events else 'none'})"

    def answer(self, client: Any, decision_id: str, *, continue_now: bool = True) -> float:
        """Answer the decision's two consultation tasks; returns when the last answer's
        submission began. With ``continue_now`` false (a burst) nothing is queued."""
        from flows.answering import submit_answer
        from flows.runs import close_person_run

        tasks = _consult_forms(self.engine, decision_id)
        last_at = 0.0
        for task in tasks:
            data = {
                "answer_code": services.answer_code_for(self.engine, task.id),
                "recommendation": "approve",
                "rationale": "Sound.",
                **{f"rating_{c}": 7 for c in self.criteria},
            }
            actor = services.get_actor(self.engine, task.assignee_id)
            last_at = time.time()
            if self.path == "warm" and continue_now:
                submit_answer(self.engine, task.id, data, actor=actor, classes=self.classes)
                continue
            submit_answer(
                self.engine,
                task.id,
                data,
                actor=actor,
                classes=self.classes,
                notify_prefect=False,
            )
            close_person_run(
                client, task.flow_run_id, f"Answered by {actor.id} (bench).", answered=True
            )
        if self.path == "process" and continue_now:
            self.continue_by_process(client, decision_id)
        return last_at

    def continue_by_process(self, client: Any, decision_id: str) -> bool:
        """The old path: a run of the ``decision`` deployment, for a process worker."""
        from decisions.procedure import keys
        from flows.warm import is_ready

        if not is_ready(self.engine, decision_id):
            return False
        d = services.get_decision(self.engine, decision_id)
        deployment = client.read_deployment_by_name("decision/decision")
        client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"decision_id": d.id, "title": d.title},
            tags=[f"decision:{d.id}", f"class:{d.class_name}", f"district:{d.district}"],
            idempotency_key=keys.continuation(d.id, services.event_count(self.engine, d.id)),
        )
        return True

    def continue_now(self, client: Any, decision_id: str) -> bool:
        from flows.warm import continue_if_ready

        if self.path == "warm":
            return continue_if_ready(client, self.engine, decision_id)
        return self.continue_by_process(client, decision_id)

    def wait_continued(
        self, ids: list[str], label: str, stop: threading.Event | None = None
    ) -> dict[str, float]:
        """When each decision continued (its round aggregated); after the guard (or
        ``stop``), says which did not."""
        done: dict[str, float] = {}
        deadline = time.monotonic() + GUARD_S
        while len(done) < len(ids) and time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                break
            done.update(_continued(self.engine, [d for d in ids if d not in done]))
            if len(done) < len(ids):
                time.sleep(0.5)
        missing = [d for d in ids if d not in done]
        if missing:
            print(
                f"  [{self.path} {label}] {len(missing)} of {len(ids)} decisions did not "
                f"continue: " + ", ".join(self._where(d) for d in missing[:5]),
                flush=True,
            )
        return done

    def settle(self, client: Any, label: str) -> None:
        """Wait until no step is queued or running and no flow process is alive."""
        from prefect.client.schemas.filters import (
            FlowFilter,
            FlowFilterName,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
            TaskRunFilter,
            TaskRunFilterName,
            TaskRunFilterState,
            TaskRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        from flows.sweep import STEP_FLOWS
        from flows.warm import CONTINUE_RUN_NAME

        active = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]
        deadline = time.monotonic() + GUARD_S
        busy: list[str] = []
        while time.monotonic() < deadline:
            flows = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=list(STEP_FLOWS))),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=active))
                ),
                limit=5,
            )
            steps = client.read_task_runs(
                task_run_filter=TaskRunFilter(
                    name=TaskRunFilterName(like_=CONTINUE_RUN_NAME),
                    state=TaskRunFilterState(type=TaskRunFilterStateType(any_=active)),
                ),
                limit=5,
            )
            table = _proc_table()
            processes = _tree([self.stack.worker_pid], table) - {self.stack.worker_pid}
            busy = [
                *(f"flow run {r.name} {r.state_name}" for r in flows),
                *(f"task run {r.name} {r.state_name}" for r in steps),
                *(f"process {p}" for p in sorted(processes)),
            ]
            if not busy:
                time.sleep(1)  # the last step's worker finishes its bookkeeping
                return
            time.sleep(1)
        print(f"  [{self.path} {label}] still busy after {GUARD_S:.0f} s: {busy[:5]}")

    def warm_steps_since(self, client: Any, since: float) -> int:
        """``continue-decision`` runs started since ``since`` (none expected in the process
        path: a sweep that took over a step would show here)."""
        from prefect.client.schemas.filters import (
            TaskRunFilter,
            TaskRunFilterName,
            TaskRunFilterStartTime,
        )

        from flows.warm import CONTINUE_RUN_NAME

        found, offset = 0, 0
        while True:  # the API gives at most 200 at a time
            runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(
                    name=TaskRunFilterName(like_=CONTINUE_RUN_NAME),
                    start_time=TaskRunFilterStartTime(
                        after_=datetime.fromtimestamp(since).astimezone()
                    ),
                ),
                limit=200,
                offset=offset,
            )
            found += len(runs)
            offset += 200
            if len(runs) < 200:
                return found

    # the two phases

    def waiting(self, n: int, pace: float, busy: bool) -> Row:
        from prefect import get_client

        label = "one core busy" if busy else "idle"
        row = Row(self.path, label, n)
        ids = self.file(label, n)
        row.n = len(ids)
        time.sleep(3)  # the last first steps publish their history and end
        errors: list[str] = []
        with get_client(sync_client=True) as client:
            self.settle(client, label)
            alive = len(_tree([self.stack.worker_pid], _proc_table())) - 1
            hog = _busy_core() if busy else None
            try:
                if hog:
                    time.sleep(2)
                # what the stack burns doing nothing, for comparison (sweeps aside)
                quiet_before = self.cpu()
                time.sleep(IDLE_S)
                quiet = [(a - b) / IDLE_S for a, b in zip(self.cpu(), quiet_before, strict=True)]
                load = _load()
                sampler = Sampler(self.all_pids, self.names)
                sampler.start()
                before = self.cpu()
                outside_before = _outside(hog.pid if hog else None)
                t0 = time.time()
                last: dict[str, float] = {}
                for i, d in enumerate(ids):
                    time.sleep(max(0.0, t0 + i * pace - time.time()))
                    try:
                        last[d] = self.answer(client, d)
                    except Exception as err:  # noqa: BLE001 - counted, shown, left out
                        errors.append(f"{d}: {type(err).__name__}: {err}")
                row.span_s = time.time() - t0
                done = self.wait_continued([d for d in ids if d in last], label)
                self.settle(client, label)
                after = self.cpu()
                outside_after = _outside(hog.pid if hog else None)
                window = time.time() - t0
                sampler.stop()
                load += " → " + _load().removeprefix("load avg ")
            finally:
                if hog:
                    hog.kill()
                    hog.wait()
            warm_steps = self.warm_steps_since(client, t0)
        row.steps = len(done)
        row.delays = sorted(done[d] - last[d] for d in done)
        row.worker_cpu, row.server_cpu, row.other_cpu = (
            a - b for a, b in zip(after, before, strict=True)
        )
        row.peak, row.connections = sampler.peak, sampler.connections
        machine, own, postgres = (a - b for a, b in zip(outside_after, outside_before, strict=True))
        stack_cpu = row.worker_cpu + row.server_cpu + row.other_cpu
        rest = machine - stack_cpu - own - postgres
        notes = [
            load,
            f"machine busy {machine / window:.2f} cores over the {window:.0f} s measured, of "
            f"which the stack {stack_cpu / window:.2f}, this bench and the busy core "
            f"{own / window:.2f}, PostgreSQL {postgres / window:.2f} "
            f"({postgres / max(1, row.steps):.3f} s per step, all its databases), anyone else "
            f"{rest / window:.2f}",
            f"answered over {row.span_s:.0f} s",
            f"{alive} flow processes alive while waiting",
            f"doing nothing: workers {quiet[0]:.3f}, server {quiet[1]:.3f} CPU s/s",
            f"{warm_steps} continue-decision runs started",
            f"other workers' CPU {row.other_cpu:.1f} s",
            f"PostgreSQL connections in all (anyone's) up to {sampler.all_connections}",
        ]
        if errors:
            notes.append(f"{len(errors)} answers failed, e.g. {errors[0]}")
        row.note = "; ".join(notes)
        print(row.line(), flush=True)
        return row

    def check_code(self) -> None:
        """Refuse to measure when the stack's task workers compute another task key for
        ``continue-decision`` than this process (``flows/warm.py`` edited in between; the
        key hashes the function's code and line): the steps queued here would reach no
        task worker until a sweep queues them again."""
        from flows.stack import project_dir
        from flows.warm import continue_decision

        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from flows.warm import continue_decision as t; print(t.task_key)",
            ],
            cwd=project_dir(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        fresh = done.stdout.strip()
        if fresh != continue_decision.task_key:
            raise RuntimeError(
                f"task key {continue_decision.task_key} here, {fresh or done.stderr[-300:]} in "
                "a process started now: flows/warm.py changed while the stack started; run again"
            )

    def burst(self, n: int) -> Burst:
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.stack import _kill

        result = Burst(self.path, n)
        ids = self.file("burst", n)
        time.sleep(3)
        with get_client(sync_client=True) as client:
            self.settle(client, "burst")
            for d in ids:
                self.answer(client, d, continue_now=False)
            self.settle(client, "burst")
        stop = threading.Event()

        def over_cap() -> None:
            # the process path starts a process per step; do not take the machine down
            result.note = f"ABORTED above {MEMORY_CAP / 2**30:g} GB: flow processes killed"
            stop.set()
            for pid in _tree([self.stack.worker_pid], _proc_table()) - {self.stack.worker_pid}:
                _kill(pid)

        sampler = Sampler(self.all_pids, self.names, cap=MEMORY_CAP, over_cap=over_cap)
        sampler.start()
        before = self.cpu()
        outside_before = _outside(None)
        shares = [ids[i::QUEUE_THREADS] for i in range(QUEUE_THREADS)]
        api_url = self.stack.api_url
        gate = threading.Barrier(len(shares) + 1, timeout=300)

        def queue(share: list[str]) -> int:
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                with get_client(sync_client=True) as each:
                    gate.wait()
                    return sum(self.continue_now(each, d) for d in share)

        with ThreadPoolExecutor(len(shares)) as pool:
            futures = [pool.submit(queue, share) for share in shares]
            gate.wait()
            first = time.time()
            queued = sum(f.result() for f in futures)
        result.queued_in_s = time.time() - first
        done = self.wait_continued(ids, "burst", stop)
        with get_client(sync_client=True) as client:
            if not stop.is_set():
                self.settle(client, "burst")
        after = self.cpu()
        outside_after = _outside(None)
        window = time.time() - first
        sampler.stop()
        result.continued = len(done)
        if done:
            result.all_after_s = max(done.values()) - first
        if queued != len(ids):
            result.note += f" {queued} of {len(ids)} queued"
        result.peak, result.first = sampler.peak, sampler.first
        result.connections = sampler.connections
        result.all_connections = sampler.all_connections
        result.worker_cpu = after[0] - before[0]
        result.server_cpu = after[1] - before[1]
        machine, _, postgres = (a - b for a, b in zip(outside_after, outside_before, strict=True))
        result.postgres_cpu = postgres
        result.machine_cores = machine / window
        print(result.line() + f"; {_load()}", flush=True)
        return result

    def log_problems(self) -> None:
        """What went wrong in the stack's logs: error lines, the exception ending each
        traceback, and warnings, counted per file (the same line once)."""
        from collections import Counter

        for log in sorted((self.home / "stack").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            found: Counter[str] = Counter()
            for n, line in enumerate(lines):
                if "| ERROR" in line or "| CRITICAL" in line:
                    found[re.sub(r"^[\d:.]+ ", "", line)[:200]] += 1
                elif "Warning:" in line:
                    found[re.sub(r"^.*?(\w+Warning:)", r"\1", line)[:200]] += 1
                elif line.startswith("Traceback"):
                    ends = (x for x in lines[n + 1 :] if x[:1].strip() and x.strip("^~ "))
                    end = next(ends, "(cut off)")
                    found[f"Traceback ... {end[:180]}"] += 1
            if found:
                print(f"  [{self.path}] {log.name}:")
                for line, count in found.most_common(6):
                    print(f"      {count:>4} × {line}")


# --- the bench ------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and a == a and b == b else "n/a"


def run_waiting(
    admin_url: str,
    decisions: int,
    pace: float,
    paths: list[str] | None = None,
    burst_paths: list[str] | None = None,
    *,
    burst_only: bool = False,
) -> None:
    """Phase A for every path (idle, one core busy) and phase B for ``burst_paths``, each
    path in a new process (:func:`run_path`), so each measures the code as it is when its
    stack starts; then the table. With ``burst_only``, phase B alone on a new stack per
    burst path."""
    from flows.stack import project_dir

    paths = paths or ["warm", "process"]
    burst_paths = ["warm"] if burst_paths is None else burst_paths
    print(
        f"  started with {_load()} on {os.cpu_count()} cores; {decisions} decisions per "
        f"measurement, last answers {pace:g} s apart",
        flush=True,
    )
    rows: list[Row] = []
    bursts: list[Burst] = []
    top = Path(tempfile.mkdtemp(prefix="counsel-bench-waiting-"))
    print(f"  stacks and logs under {top}", flush=True)
    try:
        for path in burst_paths if burst_only else paths:
            out = top / f"{path}.json"
            args = [
                sys.executable,
                "-m",
                "bench.waiting",
                "--admin-url",
                admin_url,
                "--path",
                path,
                "--waiting",
                str(decisions),
                "--pace",
                str(pace),
                "--folder",
                str(top / path),
                "--out",
                str(out),
                *(["--burst"] if path in burst_paths else []),
                *(["--burst-only"] if burst_only else []),
            ]
            child = subprocess.Popen(
                args, cwd=project_dir(), env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
            try:
                child.wait()
            except KeyboardInterrupt:
                child.send_signal(signal.SIGINT)  # it stops its stack and drops its databases
                child.wait(timeout=300)
                raise
            if not out.exists():
                print(f"  [{path}] no figures (exit status {child.returncode})", flush=True)
                continue
            found = json.loads(out.read_text(encoding="utf-8"))
            rows += [Row(**r) for r in found["rows"]]
            bursts += [Burst(**b) for b in found["bursts"]]
    finally:
        _report(rows, bursts)


def run_path(
    admin_url: str,
    path: str,
    decisions: int,
    pace: float,
    burst: bool,
    folder: Path,
    *,
    waiting: bool = True,
) -> tuple[list[Row], list[Burst]]:
    """One path on its own stack: waiting idle and with one core busy (unless not
    ``waiting``), then the burst."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    rows: list[Row] = []
    bursts: list[Burst] = []
    bench = PathBench(path, admin_url, folder)
    try:
        bench.start()
        with temporary_settings(updates={PREFECT_API_URL: bench.stack.api_url}):
            for busy in (False, True) if waiting else ():
                rows.append(bench.waiting(decisions, pace, busy))
            if burst:
                bursts.append(bench.burst(decisions))
    except Exception as err:  # noqa: BLE001 - report, stop this stack
        import traceback

        print(f"  [{path}] FAILED: {type(err).__name__}: {err}")
        traceback.print_exc()
    finally:
        try:
            bench.stop()
        finally:
            bench.log_problems()
    return rows, bursts


def _report(rows: list[Row], bursts: list[Burst]) -> None:
    print()
    if rows:  # none with --part burst
        print(HEADER)
        print(
            "  (latency from the last answer's submission to the round's aggregation; CPU "
            "seconds per step of the workers taking the steps, and of the Prefect server)"
        )
        for row in rows:
            print(row.line(note=False))
        print(
            f"  targets (warm, one core busy): CPU ≤ {TARGET_CPU_S:g} s per step, "
            f"p95 ≤ {TARGET_P95_S:g} s"
        )
    by = {(r.path, r.load): r for r in rows}
    for load in ("idle", "one core busy"):
        warm, process = by.get(("warm", load)), by.get(("process", load))
        if warm:
            met = (
                "met"
                if warm.cpu_per_step <= TARGET_CPU_S and warm.p95 <= TARGET_P95_S
                else "NOT met"
            )
            print(
                f"  warm, {load}: CPU {warm.cpu_per_step:.3f} s/step, p95 {warm.p95:.2f} s"
                + (f" -> targets {met}" if load == "one core busy" else "")
            )
        if warm and process:
            print(
                f"  warm/process, {load}: CPU per step "
                f"× {_ratio(warm.cpu_per_step, process.cpu_per_step)}, "
                f"p95 × {_ratio(warm.p95, process.p95)}"
            )
    for burst in bursts:
        print(burst.line())
    for row in rows:
        print(f"  note {row.path} {row.load}: {row.note}")


def main() -> None:
    """One path, for :func:`run_waiting` (``python -m bench.waiting --path warm …``)."""
    parser = argparse.ArgumentParser(description=run_path.__doc__)
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--path", choices=["warm", "process"], required=True)
    parser.add_argument("--waiting", type=int, required=True)
    parser.add_argument("--pace", type=float, required=True)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--burst-only", action="store_true")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows, bursts = run_path(
        args.admin_url,
        args.path,
        args.waiting,
        args.pace,
        args.burst,
        args.folder,
        waiting=not args.burst_only,
    )
    args.out.write_text(
        json.dumps({"rows": [asdict(r) for r in rows], "bursts": [asdict(b) for b in bursts]}),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
