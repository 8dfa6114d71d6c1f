"""Answer page benchmark: many people answering through their personal links at once.

Builds one PostgreSQL store (fresh databases, dropped at the end): ``people / 5`` decisions
of class ``standard``, each in consultation with 5 experts routed and a consultation task
each, so every person has one open task and one link (``/t/<token>``), and one decision
more, whose experts answer one after another before each measurement (untimed: the first
requests compile templates and queries, as a running page has long done). Three copies of it
(``CREATE DATABASE … TEMPLATE``) measure three ways in, in this order:

- **the answer page**: ``counsel serve --workers N`` (N processes on one port, one per core
  by default, as ``counsel up`` starts it; ``--workers 1`` is ``counsel serve``'s default)
  in processes of its own (``COUNSEL_DATABASE_URL`` set, ``PREFECT_API_URL`` not, so the
  page records answers without a Prefect server); each
  person has connections of their own (:mod:`bench.lean_http`, or ``httpx.AsyncClient``\ s
  with ``--client httpx``): one opens their link (GET), and once every
  page is open all of them post their form at once, each on a new connection (as after the
  minutes a person takes, when the page's idle connection is long closed). The
  acknowledgement is the time from sending the POST (connecting included) to receiving the
  page its 303 redirects to (the task, saying what happens next). Then everyone posts the
  same form again, which must record nothing.
- **the CLI path, in-process**: what ``counsel answer`` does after its start-up (the token
  checked, the task's owner and answer code read, :func:`flows.answering.submit_answer`
  with ``notify_prefect=False``) from one thread per person, all released at once by a
  barrier, sharing one engine (SQLAlchemy's default pool, as the page's); then again.
- **``counsel answer`` processes**: a smaller sample of real commands (``--set`` fields,
  ``COUNSEL_TOKEN``), a few at a time, timed from start to exit: the interpreter's start-up
  is what a person waits for there.

Checks, per store: exactly one answer per task answered, one ``task.answered.opinion``
audit event per task, no refusal, every task answered, the chain verified. Prints the
latencies (p50/p95/p99/max), the CPU seconds per answer of the page's processes (from
``/proc/<pid>/stat``: uvicorn's supervisor and its workers) and of the in-process path,
PostgreSQL's CPU (all its databases: the machine may be shared), and the load average
before and after each part. The target (issue 11) is the page's p99 under 1 s. Nothing
here asserts a time.

On a stack (``counsel up``) the page also closes the person's suspended Prefect run and, for
the last answer a step waits for, queues the decision's next step; those calls are left out
here, as they are from the CLI path's figures (the load benchmark measures the steps).

    .venv/bin/python bench/answer_page.py                 # 200 people, a page worker per core
    .venv/bin/python bench/answer_page.py --workers 1     # the page in one process
    .venv/bin/python bench/answer_page.py --quick         # 20 people, 5 commands
    .venv/bin/python bench/answer_page.py [--people 200] [--commands 20] [--at-once 4]
        [--workers N] [--client lean|httpx]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from bench.cli_start import counsel_command  # noqa: E402
from bench.lean_http import Connection  # noqa: E402
from bench.waiting import (  # noqa: E402
    _database,
    _drop,
    _free_port,
    _load,
    _outside,
    _proc_table,
    _version,
)
from decisions import services  # noqa: E402
from decisions.classes import load_classes  # noqa: E402
from decisions.clock import utcnow  # noqa: E402
from decisions.db import make_engine  # noqa: E402
from decisions.links import task_token, task_url  # noqa: E402
from decisions.model import TaskKind, TaskStatus  # noqa: E402
from decisions.progress import Routing, Slot  # noqa: E402
from decisions.services.personal import store_secret  # noqa: E402
from decisions.tables import AnswerRow, TaskRow  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PANEL = 5  # experts per decision of class `standard`
CLASS = "standard"
ANSWERED = "task.answered.opinion"  # record_answer's event for a consultation answer
REFUSED = "task.answer_refused"
TARGET_P99_S = 1.0
#: How long one request or command may take before it is counted as failed.
GUARD_S = 300.0
TICK = os.sysconf("SC_CLK_TCK")
#: What each person answers, as the page's form posts it and as `--set` gives it.
RATINGS = {"feasibility": "7", "cost": "6", "social_impact": "7", "environmental_impact": "8"}
RATIONALE = "可行，但需保留人民菜场周边的夜班保洁。"
CONDITIONS = "保留夜班保洁"


def form(i: int) -> dict[str, str]:
    """Person ``i``'s answer, field by field (names from ``flows/web/fields.py``)."""
    return {
        **{f"rating_{c}": v for c, v in RATINGS.items()},
        "recommendation": "approve_with_conditions",
        "conditions": CONDITIONS,
        "rationale": f"{RATIONALE}（{i}）",
    }


# --- figures --------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (p99 of 200 values: the 198th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Part:
    """One way in: its latencies, CPU and what went wrong."""

    label: str
    latencies: list[float] = field(default_factory=list)
    span_s: float = float("nan")  # from the release until the last acknowledgement
    cpu_s: float = float("nan")  # of the process doing the work, over the burst
    cpu_what: str = ""
    errors: list[str] = field(default_factory=list)

    def row(self) -> str:
        lat = self.latencies
        cpu = self.cpu_s / len(lat) if lat and self.cpu_s == self.cpu_s else float("nan")
        return (
            f"  {self.label:<38} {len(lat):>4} {pct(lat, 0.5):7.3f} {pct(lat, 0.95):7.3f} "
            f"{pct(lat, 0.99):7.3f} {max(lat, default=float('nan')):7.3f} "
            f"{self.span_s:8.2f} {cpu * 1000:9.1f}  {self.cpu_what}"
        )


HEADER = (
    f"  {'path':<38} {'n':>4} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7} "
    f"{'all in s':>8} {'CPU ms/ans':>9}"
)


def _ratio(a: float, b: float) -> str:
    if not b or a != a or b != b:
        return "n/a"
    return f"{a / b:.2f}" if a / b < 10 else f"{a / b:.0f}"


def _tree_ticks(pid: int) -> int:
    """CPU ticks of a live process and every process below it (uvicorn's workers), each
    with its ended children's, from /proc."""
    table = _proc_table()
    found, frontier = 0, [pid]
    while frontier:
        current = frontier.pop()
        found += table[current].cpu_ticks if current in table else 0
        frontier += [child for child, proc in table.items() if proc.ppid == current]
    return found


class Machine:
    """The machine's busy CPU and PostgreSQL's (all its databases) between two moments."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.busy, _, self.postgres = _outside(None)

    def since(self) -> tuple[float, float]:
        """(cores busy on average, PostgreSQL CPU seconds) since this was made."""
        busy, _, postgres = _outside(None)
        return (busy - self.busy) / (time.perf_counter() - self.start), postgres - self.postgres


# --- the store ------------------------------------------------------------------------


@dataclass
class Person:
    actor_id: str
    token: str  # their COUNSEL_TOKEN, for the CLI
    task_id: str
    link: str  # path of their personal link, /t/<token>


def build(url: str, people: int) -> list[Person]:
    """``people / PANEL`` decisions in consultation, each with its panel routed and
    assigned: one open consultation task and link per person."""
    engine = make_engine(url)
    services.init_store(engine)
    classes = load_classes()
    planner, _ = services.add_actor(
        engine, actor_id="li-wei", name="李伟", roles=["planner"], affiliations=["east-bureau"]
    )
    tokens = {}
    for i in range(people):
        actor, token = services.add_actor(
            engine,
            actor_id=f"x{i:03d}",
            name=f"专家 {i}",
            roles=["expert"],
            affiliations=[f"institute-{i}"],
        )
        tokens[actor.id] = token
    deadline = utcnow() + timedelta(hours=48)
    found: list[Person] = []
    secret = store_secret(engine)
    for d in range(math.ceil(people / PANEL)):
        proposal = services.Proposal.model_validate(
            {
                "title": f"道路保洁市场化：第 {d + 1} 片区",
                "description": "道路保洁服务通过公开招标委托专业公司承担，合同期三年。",
                "class": CLASS,
                "district": "east-district",
                "district_type": "east",
                "topics": ["street-cleaning", "market-based-contracting"],
            }
        )
        decision = services.submit_proposal(engine, proposal, planner=planner, classes=classes)
        services.apply_transition(engine, decision.id, "start_consultation")
        panel = [f"x{i:03d}" for i in range(d * PANEL, min(people, (d + 1) * PANEL))]
        slots = tuple(Slot(number=n, expert=e) for n, e in enumerate(panel))
        services.record_routing(
            engine, decision.id, Routing(first_round=1, slots=slots), key=f"{decision.id}:route"
        )
        for expert in panel:
            task = services.assign_task(
                engine, decision.id, TaskKind.CONSULT, expert, round=1, deadline=deadline
            ).task
            assert task.deadline is not None
            link = task_url("", task_token(secret, task.id, expert, task.deadline))
            found.append(Person(expert, tokens[expert], task.id, link))
    engine.dispose()
    return found


def _clone(admin_url: str, template: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return _database_url(admin_url, name)


def _database_url(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def check_store(url: str, task_ids: Sequence[str]) -> tuple[bool, str]:
    """Whether each of ``task_ids`` has exactly one answer and one answered event, no
    refusal was audited, every one is answered, nothing else was answered and the chain
    verifies; and the sentence that says so."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            answers = Counter(conn.execute(select(AnswerRow.task_id)).scalars())
            statuses = Counter(
                conn.execute(select(TaskRow.status).where(TaskRow.id.in_(list(task_ids)))).scalars()
            )
            decisions = list(
                conn.execute(
                    select(TaskRow.decision_id).where(TaskRow.id.in_(list(task_ids))).distinct()
                ).scalars()
            )
        events: Counter[str] = Counter()
        refused = 0
        for decision_id in decisions:
            for event in services.history(engine, decision_id):
                if event.action == ANSWERED:
                    events[event.data["task_id"]] += 1
                refused += event.action == REFUSED
        chain = services.verify(engine)
    finally:
        engine.dispose()
    wanted = set(task_ids)
    answered = statuses.get(TaskStatus.ANSWERED.value, 0)
    ok = (
        sum(answers.values()) == len(wanted)
        and set(answers) == wanted
        and all(n == 1 for n in answers.values())
        and set(events) == wanted
        and all(n == 1 for n in events.values())
        and refused == 0
        and answered == len(wanted)
        and chain.ok
    )
    twice = sum(1 for n in events.values() if n > 1)
    return ok, (
        f"{'ok' if ok else 'NOT OK'}: {sum(answers.values())} answers stored for "
        f"{len(wanted)} tasks "
        f"({len(wanted - set(answers))} missing, {sum(n - 1 for n in answers.values())} extra, "
        f"{len(set(answers) - wanted)} on other tasks); {sum(events.values())} {ANSWERED} "
        f"events ({twice} tasks with more than one); {refused} refusals; "
        f"{answered} tasks answered; chain {'verified' if chain.ok else 'BROKEN'}"
    )


# --- the answer page ------------------------------------------------------------------


def _environment(url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of `counsel` processes: this store, no Prefect server named."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_API") and k not in {"COUNSEL_TOKEN", "COUNSEL_DATABASE_URL"}
    }
    return {**env, "COUNSEL_DATABASE_URL": url, "COUNSEL_HOME": str(home), **extra}


class Page:
    """`counsel serve --workers N` on a free port, its output in ``folder``."""

    def __init__(self, url: str, folder: Path, workers: int) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.out = folder / "serve.out"
        self.err = folder / "serve.err"
        self.workers = workers
        argv = [*counsel_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [*argv, "--workers", str(workers)],
                env=_environment(url, folder / "home", COUNSEL_PUBLIC_URL=self.base),
                stdout=out,
                stderr=err,
            )
        started = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"counsel serve ended ({self.proc.returncode}); see {self.err}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"counsel serve did not answer in 120 s; see {self.err}")
            time.sleep(0.2)
        self.start_s = time.perf_counter() - started

    def said(self) -> str:
        return " ".join(self.out.read_text(errors="replace").split())

    def cpu_s(self) -> float:
        return _tree_ticks(self.proc.pid) / TICK

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Visit:
    """What one person saw: the page opened, the answer acknowledged, the answer again."""

    opened_s: float = float("nan")
    acked_s: float = float("nan")
    acked_at: float = float("nan")  # perf_counter() when the task page came
    again_s: float = float("nan")
    errors: list[str] = field(default_factory=list)  # opening and answering
    again_errors: list[str] = field(default_factory=list)


async def _warm_up(base: str, people: list[Person]) -> list[str]:
    """One person after another opens their link, answers and answers again (untimed):
    the page's first requests compile its templates and queries."""
    problems = []
    async with httpx.AsyncClient(base_url=base, timeout=GUARD_S, follow_redirects=True) as c:
        for i, person in enumerate(people):
            await c.get(person.link)
            for _ in range(2):
                done = await c.post(person.link, data=form(-1 - i))
                if done.status_code != 200:
                    problems.append(f"{person.task_id}: warm-up answer got {done.status_code}")
    return problems


class HttpxBrowser:
    """A person's browser as httpx: a client of its own for each visit."""

    def __init__(self, base: str, tls: ssl.SSLContext) -> None:
        self.client = httpx.AsyncClient(
            base_url=base, timeout=GUARD_S, follow_redirects=True, verify=tls
        )

    async def follow(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[list[int], str, str]:
        headers = {"content-type": "application/x-www-form-urlencoded"} if body else None
        done = await self.client.request(method, path, content=body, headers=headers)
        return [r.status_code for r in (*done.history, done)], done.url.path, done.text

    async def close(self) -> None:
        await self.client.aclose()


#: What a failed visit raises, by client.
FAILURES = (httpx.HTTPError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError)


async def _visits(
    base: str, people: list[Person], mark: Callable[[str], None], client: str
) -> list[Visit]:
    """Every person opens their link; once all pages are open, all post their answer at
    once; once all are acknowledged, all post it again at once. ``client`` is ``lean``
    (:mod:`bench.lean_http`) or ``httpx``."""
    n = len(people)
    visits = [Visit() for _ in people]
    arrived = [0, 0]
    go = [asyncio.Event(), asyncio.Event()]
    host, _, port = base.removeprefix("http://").partition(":")

    async def gather_at(stage: int) -> None:
        arrived[stage] += 1
        if arrived[stage] == n:
            mark(f"release{stage}")
            go[stage].set()
        await go[stage].wait()

    tls = ssl.create_default_context()  # one for all: each costs ~20 ms of CPU to make

    def browser() -> HttpxBrowser | Connection:
        if client == "httpx":
            return HttpxBrowser(base, tls)
        return Connection(host, int(port), GUARD_S)

    async def one(i: int, person: Person) -> None:
        visit = visits[i]
        sent = urlencode(form(i)).encode()
        # made now, before any release
        opening, answering, again_ = browser(), browser(), browser()
        try:
            start = time.perf_counter()
            statuses, _, text = await opening.follow("GET", person.link)
            visit.opened_s = time.perf_counter() - start
            if statuses != [200] or 'name="rationale"' not in text:
                visit.errors.append(f"{person.task_id}: opened with {statuses}")
        except FAILURES as err:
            visit.errors.append(f"{person.task_id}: open: {type(err).__name__}: {err}")
        finally:
            await opening.close()
        # A new connection for the answer, as a browser opens after the minutes a person
        # spends on the form (uvicorn closes a connection idle for 5 s; one kept across the
        # wait for everyone raced that close, and a few POSTs failed with ReadError).
        await gather_at(0)
        try:
            start = time.perf_counter()
            statuses, path, text = await answering.follow("POST", person.link, sent)
            visit.acked_at = time.perf_counter()
            visit.acked_s = visit.acked_at - start
            if not (
                statuses == [303, 200]
                and path == person.link
                and "提交答复，谢谢！" in text
                and "<form" not in text
            ):
                visit.errors.append(f"{person.task_id}: answer acknowledged with {statuses}")
        except FAILURES as err:
            visit.errors.append(f"{person.task_id}: answer: {type(err).__name__}: {err}")
        finally:
            await answering.close()
        await gather_at(1)
        try:
            start = time.perf_counter()
            statuses, _, text = await again_.follow("POST", person.link, sent)
            visit.again_s = time.perf_counter() - start
            if statuses != [200] or "提交答复，谢谢！" not in text:
                visit.again_errors.append(f"{person.task_id}: sent again, got {statuses}")
        except FAILURES as err:
            visit.again_errors.append(f"{person.task_id}: {type(err).__name__}: {err}")
        finally:
            await again_.close()

    await asyncio.gather(*(one(i, p) for i, p in enumerate(people)))
    return visits


def run_page(
    url: str, warm: list[Person], people: list[Person], folder: Path, workers: int, client: str
) -> tuple[Part, Part, str]:
    """The answer page: (first answers, the same answers again, the check of the store)."""
    page = Page(url, folder, workers)
    print(
        f"  page: `counsel serve --workers {workers}` on {page.base} (pid {page.proc.pid}) "
        f"answered in "
        f"{page.start_s:.1f} s; it said: {page.said()!r}",
        flush=True,
    )
    first, again = Part("answer page: POST -> 303 -> task page"), Part("  the same form again")
    marks: dict[str, tuple[float, float, float]] = {}
    machine: list[Any] = []

    def mark(name: str) -> None:
        if machine:  # the end of the first burst: the machine's and PostgreSQL's CPU in it
            machine.append(machine.pop().since())
        marks[name] = (time.perf_counter(), page.cpu_s(), time.process_time())
        if not machine:
            machine.append(Machine())

    try:
        warm_problems = asyncio.run(_warm_up(page.base, warm))
        opened_at = time.perf_counter()
        visits = asyncio.run(_visits(page.base, people, mark, client))
        done = time.perf_counter(), page.cpu_s(), time.process_time()
    finally:
        page.stop()
    opened = [v.opened_s for v in visits if v.opened_s == v.opened_s]
    t0, cpu0, own0 = marks["release0"]
    t1, cpu1, own1 = marks["release1"]
    cores, postgres = machine[0]
    first.latencies = [v.acked_s for v in visits if v.acked_s == v.acked_s]
    first.span_s = max((v.acked_at for v in visits if v.acked_at == v.acked_at), default=t0) - t0
    first.cpu_s = cpu1 - cpu0
    first.cpu_what = (
        f"page processes (POST + the GET it redirects to); the clients ({client}, this "
        f"process) {(own1 - own0) * 1000 / max(1, len(first.latencies)):.1f} ms/answer"
    )
    again.latencies = [v.again_s for v in visits if v.again_s == v.again_s]
    again.span_s = done[0] - t1
    again.cpu_s = done[1] - cpu1
    again.cpu_what = "page processes (one POST, answered with the task page, nothing written)"
    first.errors += warm_problems
    for v in visits:
        first.errors += v.errors
        again.errors += v.again_errors
    print(
        f"  page: {len(opened)} links opened at once (GET) in {t0 - opened_at:.1f} s: "
        f"p50 {pct(opened, 0.5):.3f} s, p99 {pct(opened, 0.99):.3f} s; then the POSTs "
        f"released together; while they were answered the machine had {cores:.2f} cores "
        f"busy and PostgreSQL (all its databases) spent "
        f"{postgres * 1000 / max(1, len(first.latencies)):.1f} ms CPU per answer; {_load()}",
        flush=True,
    )
    _, said = check_store(url, [p.task_id for p in warm + people])
    return first, again, said


# --- the CLI path ---------------------------------------------------------------------


def run_in_process(url: str, warm: list[Person], people: list[Person]) -> tuple[Part, Part, str]:
    """What `counsel answer` does after its start-up, one thread per person, all at once;
    then all again (after the ``warm`` people answered one after another, untimed)."""
    from flows.answering import submit_answer

    engine = make_engine(url)  # the default pool, as the page's engine
    classes = load_classes()
    n = len(people)
    starts = [threading.Barrier(n + 1), threading.Barrier(n + 1)]
    took: list[list[float]] = [[float("nan")] * n, [float("nan")] * n]
    created: list[list[bool | None]] = [[None] * n, [None] * n]
    errors: list[list[str]] = [[], []]

    def cli(i: int, person: Person) -> bool:
        """`counsel answer`'s work after its start-up; whether it wrote the answer."""
        data: dict[str, Any] = dict(form(i))  # strings, as `--set name=value` gives them
        me = services.authenticate(engine, person.token)
        owns = services.get_task(engine, person.task_id).assignee_id == me.id
        code = services.answer_code_for(engine, person.task_id) if owns else "XXXXX-XXXXX"
        done = submit_answer(
            engine,
            person.task_id,
            {**data, "answer_code": code},
            actor=me,
            classes=classes,
            notify_prefect=False,
        )
        return done.recorded.created

    def answer(i: int, person: Person, stage: int) -> None:
        starts[stage].wait()
        start = time.perf_counter()
        try:
            created[stage][i] = cli(i, person)
        except Exception as err:  # noqa: BLE001 - counted and printed
            errors[stage].append(f"{person.task_id}: {type(err).__name__}: {err}")
        took[stage][i] = time.perf_counter() - start

    for i, person in enumerate(warm):  # untimed: the first calls compile the queries
        cli(-1 - i, person)
        cli(-1 - i, person)

    parts = [Part("CLI path in-process, a thread each"), Part("  the same answer again")]
    for stage, part in enumerate(parts):
        threads = [
            threading.Thread(target=answer, args=(i, p, stage), daemon=True)
            for i, p in enumerate(people)
        ]
        for thread in threads:
            thread.start()
        starts[stage].wait()
        t0, cpu0 = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.join(GUARD_S)
        part.span_s = time.perf_counter() - t0
        part.cpu_s = time.process_time() - cpu0
        part.latencies = [t for t in took[stage] if t == t]
        part.errors = errors[stage]
    parts[0].cpu_what = "this process (all threads)"
    parts[1].cpu_what = "this process (nothing written)"
    wrong = [c for c in created[0] if c is not True] + [c for c in created[1] if c is not False]
    if wrong:
        parts[1].errors.append(f"{len(wrong)} answers not created once then found recorded")
    engine.dispose()
    _, said = check_store(url, [p.task_id for p in warm + people])
    print(f"  CLI path in-process done; {_load()}", flush=True)
    return parts[0], parts[1], said


def run_commands(url: str, people: list[Person], at_once: int, folder: Path) -> tuple[Part, str]:
    """Real `counsel answer` processes, ``at_once`` at a time (one untimed first)."""
    home = folder / "cli-home"

    def command(i: int, person: Person) -> tuple[float, str | None]:
        argv = [*counsel_command(), "answer", person.task_id]
        for name, value in form(i).items():
            argv += ["--set", f"{name}={value}"]
        env = _environment(url, home, COUNSEL_TOKEN=person.token)
        start = time.perf_counter()
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=GUARD_S, check=False
        )
        took = time.perf_counter() - start
        said = " ".join(done.stdout.split())
        if done.returncode != 0 or not said.startswith("Recorded:"):
            return took, f"{person.task_id}: exit {done.returncode}: {said} {done.stderr[-300:]}"
        return took, None

    warm, problem = command(0, people[0])  # fills the file cache; not counted
    part = Part(f"`counsel answer` processes, {at_once} at a time")
    part.errors += [problem] if problem else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        results = list(pool.map(command, range(1, len(people)), people[1:]))
    part.span_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    part.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    part.cpu_what = (
        f"the processes (start-up included); wall per command from start to exit "
        f"(the untimed first one, alone: {warm:.2f} s)"
    )
    part.latencies = [t for t, _ in results]
    part.errors += [p for _, p in results if p]
    _, said = check_store(url, [p.task_id for p in people])
    print(f"  `counsel answer` processes done; {_load()}", flush=True)
    return part, said


# --- the bench ------------------------------------------------------------------------


def run(
    admin_url: str, people: int, commands: int, at_once: int, workers: int, client: str
) -> None:
    print(
        f"answer page benchmark: {people} people answering at once, the page in {workers} "
        f"process{'es' if workers > 1 else ''}, store on PostgreSQL "
        f"({admin_url.rsplit('@', 1)[-1].rsplit('/', 1)[0]}), {os.cpu_count()} cores, "
        f"code {_version()}; PYTHONDONTWRITEBYTECODE="
        f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')}",
        flush=True,
    )
    print(f"  started with {_load()}", flush=True)
    stem = f"counsel_bench_page_{uuid.uuid4().hex[:8]}"
    names = {k: f"{stem}_{k}" for k in ("world", "page", "cli", "cmd")}
    folder = Path(tempfile.mkdtemp(prefix="counsel-bench-page-"))
    created: list[str] = []
    try:
        world = _database(admin_url, names["world"])
        created.append(names["world"])
        start = time.perf_counter()
        persons = build(world, people + PANEL)
        warm, persons = persons[:PANEL], persons[PANEL:]
        print(
            f"  setup: {math.ceil(len(persons) / PANEL)} decisions of class `{CLASS}` in "
            f"consultation × {PANEL} experts routed and assigned = {len(persons)} consultation "
            f"tasks, one per person, and one more decision whose {len(warm)} experts answer "
            f"one after another first, untimed (warm-up); {time.perf_counter() - start:.1f} s; "
            f"a copy of the store per path ({stem}_*); the page's log in {folder}",
            flush=True,
        )
        urls = {}
        for key in ("page", "cli", "cmd"):
            urls[key] = _clone(admin_url, names["world"], names[key])
            created.append(names[key])

        print(f"  [1/3] the answer page; {_load()}", flush=True)
        page, page_again, page_said = run_page(urls["page"], warm, persons, folder, workers, client)
        print(f"  [2/3] the CLI path in-process; {_load()}", flush=True)
        cli, cli_again, cli_said = run_in_process(urls["cli"], warm, persons)
        n_cmd = min(commands, len(persons) - 1)
        print(f"  [3/3] {n_cmd} `counsel answer` processes; {_load()}", flush=True)
        cmd, cmd_said = run_commands(urls["cmd"], persons[: n_cmd + 1], at_once, folder)
        report(people, page, page_again, page_said, cli, cli_again, cli_said, cmd, cmd_said)
    finally:
        for name in created:
            _drop(admin_url, name)
        print(f"  dropped {', '.join(created)}; ended with {_load()}", flush=True)


def report(
    people: int,
    page: Part,
    page_again: Part,
    page_said: str,
    cli: Part,
    cli_again: Part,
    cli_said: str,
    cmd: Part,
    cmd_said: str,
) -> None:
    print()
    print(f"acknowledgement latency, {people} people at once (seconds; CPU per answer)")
    print(HEADER)
    for part in (page, page_again, cli, cli_again, cmd):
        print(part.row())
    p99 = pct(page.latencies, 0.99)
    met = "met" if p99 < TARGET_P99_S and not page.errors else "NOT met"
    print(f"  target: the answer page's p99 under {TARGET_P99_S:g} s -> {met} ({p99:.3f} s)")
    p50 = pct(page.latencies, 0.5)
    print(
        f"  page / CLI path in-process: p50 × {_ratio(p50, pct(cli.latencies, 0.5))}, "
        f"p99 × {_ratio(p99, pct(cli.latencies, 0.99))}; page p99 / a `counsel answer` "
        f"command's median wall time × {_ratio(p99, pct(cmd.latencies, 0.5))}"
    )
    print(
        "  the page ran without PREFECT_API_URL: it recorded the answers only; on a stack "
        "(`counsel up`) it also closes the person's Prefect run and, after a step's last "
        "answer, queues the decision's next step (not measured here, nor in the CLI rows)"
    )
    print(f"  store (page): {page_said}")
    print(f"  store (CLI in-process): {cli_said}")
    print(f"  store (commands): {cmd_said}")
    for part in (page, page_again, cli, cli_again, cmd):
        if part.errors:
            print(f"  {part.label.strip()}: {len(part.errors)} errors, e.g.")
            for error in part.errors[:5]:
                print(f"      {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=None, help="people answering (200)")
    parser.add_argument("--quick", action="store_true", help="20 people, 5 commands")
    parser.add_argument("--commands", type=int, default=None, help="`counsel answer` runs (20)")
    parser.add_argument("--at-once", type=int, default=4, help="commands running together")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes serving the page (default one per core, as `counsel up` starts it)",
    )
    parser.add_argument(
        "--client",
        choices=["lean", "httpx"],
        default="lean",
        help="the simulated browsers: a minimal HTTP/1.1 client (bench/lean_http.py), or "
        "httpx as before 2026-11-30's second run (each takes its CPU from the page's cores)",
    )
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    people = args.people or (20 if args.quick else 200)
    commands = args.commands or (5 if args.quick else 20)
    run(args.admin_url, people, commands, args.at_once, max(1, args.workers), args.client)


if __name__ == "__main__":
    main()
