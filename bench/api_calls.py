"""Prefect API calls per step of a decision on the warm path, counted in the task worker.

Starts an embedded Prefect API (its SQLite database in a temporary folder) and a task worker
in a subprocess of this script, as ``counsel task-worker`` serves ``continue-decision``. The
worker counts every HTTP request its Prefect clients send (by method and path, ids folded to
``{id}``), every event it emits (each a message on the events websocket, which the server
stores) and every log record it ships to the API. Then decisions of the quick class
(``examples/classes-quick.yaml``: two experts, one round) are filed and answered from this
process, step after step, the way ``counsel answer`` answers; after each step, once the
worker's counts stop moving, their growth is that step's. The counts are deterministic;
the CPU seconds beside them (the worker's and the embedded server's, per step) are not, so
the load average is printed with them.

    .venv/bin/python bench/api_calls.py                  # 2 decisions, the second one's table
    .venv/bin/python bench/api_calls.py --decisions 3 --all-steps
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Answers Prefect's client sends the request again after (a busy server).
RETRIED = {429, 503}
#: How long the worker's counts must stay still before a step counts as over.
QUIET_S = 1.5

# -- counting, in the process that makes the calls ------------------------------------------


def endpoint(method: str, path: str) -> str:
    """``POST /flow_runs/{id}/set_state``: a request as the table lists it.

    >>> endpoint("post", "/api/flow_runs/0b5c3a49-2d1c-4a8c-9a7e-6e1f9d3b8d21/set_state")
    'POST /flow_runs/{id}/set_state'
    """
    path = path.split("?", 1)[0]
    path = path.removeprefix("/api")
    return f"{method.upper()} {_ID.sub('{id}', path)}"


class _Totals:
    """The sums of counted calls (for :class:`ApiCalls` and :class:`Step`)."""

    http: Counter[str]
    events: Counter[str]
    logs: int

    @property
    def requests(self) -> int:
        """HTTP requests but the log batches (how many depends on timing, not the step)."""
        return sum(n for e, n in self.http.items() if e != "POST /logs/")

    @property
    def total(self) -> int:
        """Requests, events and shipped log records: what the server has to take in."""
        return self.requests + sum(self.events.values()) + self.logs


@dataclass
class ApiCalls(_Totals):
    """What this process has asked of Prefect's API since :func:`count_api_calls` began."""

    http: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    logs: int = 0
    log_lines: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_http(self, method: str, path: str, status: int) -> None:
        """One request; one Prefect's client sends again (answered 429 or 503: the server
        was busy) counts as refused, not as a call, so the counts do not depend on load."""
        with self._lock:
            if status in RETRIED:
                self.refused[f"{endpoint(method, path)} -> {status}"] += 1
            else:
                self.http[endpoint(method, path)] += 1

    def add_event(self, name: str) -> None:
        with self._lock:
            self.events[name] += 1

    def add_log(self, item: Any = None) -> None:
        with self._lock:
            self.logs += 1
            if isinstance(item, dict):
                self.log_lines[f"{item.get('name')}: {str(item.get('message'))[:60]}"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http": dict(self.http),
                "events": dict(self.events),
                "logs": self.logs,
                "log_lines": dict(self.log_lines),
                "refused": dict(self.refused),
            }


@contextmanager
def count_api_calls() -> Iterator[ApiCalls]:
    """Count this process's requests to Prefect's API (at httpx's transports, so a retry
    counts as refused), the events it emits and the log records it ships, as each is sent
    or queued, until the block ends."""
    import httpx
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    calls = ApiCalls()
    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request
    send_event = EventsWorker.send
    send_log = APILogWorker.send

    def counted_sync(self: Any, request: httpx.Request) -> httpx.Response:
        response = sync_send(self, request)
        calls.add_http(request.method, request.url.path, response.status_code)
        return response

    async def counted_async(self: Any, request: httpx.Request) -> httpx.Response:
        response = await async_send(self, request)
        calls.add_http(request.method, request.url.path, response.status_code)
        return response

    def counted_event(self: Any, event: Any) -> None:
        calls.add_event(event.event)
        send_event(self, event)

    def counted_log(self: Any, item: Any) -> None:
        calls.add_log(item)
        send_log(self, item)

    httpx.HTTPTransport.handle_request = counted_sync  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = counted_async  # type: ignore[method-assign]
    EventsWorker.send = counted_event  # type: ignore[method-assign]
    APILogWorker.send = counted_log  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        httpx.HTTPTransport.handle_request = sync_send  # type: ignore[method-assign]
        httpx.AsyncHTTPTransport.handle_async_request = async_send  # type: ignore[method-assign]
        EventsWorker.send = send_event  # type: ignore[method-assign]
        APILogWorker.send = send_log  # type: ignore[method-assign]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve(snapshot_path: Path) -> None:
    """The task worker of the bench: serves ``continue-decision`` one step at a time and
    writes its counts and CPU seconds to ``snapshot_path`` on SIGUSR1."""
    import asyncio

    from flows.task_worker import aserve_warm

    with count_api_calls() as calls:

        def dump(*_: object) -> None:
            data = {**calls.snapshot(), "cpu_s": _cpu_s()}
            partial = snapshot_path.with_suffix(".partial")
            partial.write_text(json.dumps(data), encoding="utf-8")
            os.replace(partial, snapshot_path)

        signal.signal(signal.SIGUSR1, dump)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        dump()  # ready: the bench may ask from now on
        asyncio.run(aserve_warm(limit=1, sweep_every_s=None, notify_every_s=None))


# -- the bench ------------------------------------------------------------------------------


@dataclass
class Step(_Totals):
    label: str
    http: Counter[str]
    events: Counter[str]
    logs: int
    log_batches: int
    log_lines: Counter[str]
    refused: Counter[str]
    worker_cpu_s: float
    server_cpu_s: float


class Worker:
    """The counting task worker, a subprocess of the bench."""

    def __init__(self, folder: Path) -> None:
        self.snapshot_path = folder / "worker-counts.json"
        log = (folder / "worker.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.snapshot_path)],
            env=dict(os.environ),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 120
        while not self.snapshot_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("The bench's task worker did not start; see worker.log.")
            time.sleep(0.05)

    def counts(self, timeout_s: float = 30) -> dict[str, Any]:
        self.snapshot_path.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while not self.snapshot_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("The bench's task worker stopped; see worker.log.")
            time.sleep(0.02)
        data: dict[str, Any] = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
        return data

    def settled_counts(self) -> dict[str, Any]:
        """The counts once they have not moved for :data:`QUIET_S` (logs shipped, events
        sent, the task run's last state set)."""
        last = self.counts()
        while True:
            time.sleep(QUIET_S)
            now = self.counts()
            if {k: v for k, v in now.items() if k != "cpu_s"} == {
                k: v for k, v in last.items() if k != "cpu_s"
            }:
                return now
            last = now

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answer_for(task: Any, criteria: tuple[str, ...]) -> dict[str, Any]:
    """What each person answers: agreement everywhere, so a quick decision closes in one
    round, one discussion, one vote and one execution cycle."""
    from decisions.model import TaskKind

    if task.kind is TaskKind.CONSULT:
        return {
            "recommendation": "approve",
            "rationale": "Feasible.",
            **{f"rating_{c}": 7 for c in criteria},
        }
    if task.kind is TaskKind.DISCUSS:
        return {"stance": "support", "text": "Agreed."}
    if task.kind is TaskKind.VOTE:
        return {"choice": "approve", "rationale": "As the experts advise."}
    if task.kind is TaskKind.EXECUTE:
        return {"percent_complete": 100, "text": "Done.", "measures_done": ""}
    return {"verdict": "accept", "findings": "Checked."}


def _steps_done(client: Any, decision_id: str) -> bool:
    """Every queued step of the decision has finished."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    from flows.warm import continue_run_name

    runs = client.read_task_runs(
        task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[continue_run_name(decision_id)]))
    )
    return bool(runs) and all(r.state is not None and r.state.is_final() for r in runs)


def run_decision(
    engine: Any, classes: Any, worker: Worker, server_pid: int, title: str
) -> list[Step]:
    """File one quick decision and take it to the end, one counted step at a time."""
    import yaml
    from prefect import get_client

    from decisions import services
    from decisions.model import TaskStatus
    from flows.answering import submit_answer
    from flows.demo import examples_dir
    from flows.warm import start_decision_run

    proposal = yaml.safe_load((examples_dir() / "proposal.yaml").read_text(encoding="utf-8"))
    proposal.update({"class": "quick", "district_type": None, "title": title})
    planner = services.get_actor(engine, "li-wei")
    decision = services.submit_proposal(
        engine, services.Proposal.model_validate(proposal), planner=planner, classes=classes
    )
    criteria = classes.get("quick").criteria
    steps: list[Step] = []
    before = worker.settled_counts()
    server_before = _proc_cpu_s(server_pid)
    state = decision.state.value
    with get_client(sync_client=True) as client:
        start_decision_run(client, engine, decision.id)
        for _ in range(20):
            deadline = time.monotonic() + 120
            while not _steps_done(client, decision.id):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"A step of {decision.id} did not finish in 120 s.")
                time.sleep(0.1)
            after = worker.settled_counts()
            server_after = _proc_cpu_s(server_pid)
            now = services.get_decision(engine, decision.id)
            open_tasks = [
                t for t in services.tasks_of(engine, decision.id) if t.status is TaskStatus.OPEN
            ]
            kinds = sorted({t.kind.value for t in open_tasks})
            label = f"{state} → {now.state.value}" + (
                f" ({len(open_tasks)} {'/'.join(kinds)} forms)" if open_tasks else ""
            )
            http = Counter(after["http"]) - Counter(before["http"])
            steps.append(
                Step(
                    label=label,
                    http=Counter({k: v for k, v in http.items() if k != "POST /logs/"}),
                    events=Counter(after["events"]) - Counter(before["events"]),
                    logs=after["logs"] - before["logs"],
                    log_batches=http.get("POST /logs/", 0),
                    log_lines=Counter(after["log_lines"]) - Counter(before["log_lines"]),
                    refused=Counter(after["refused"]) - Counter(before["refused"]),
                    worker_cpu_s=after["cpu_s"] - before["cpu_s"],
                    server_cpu_s=server_after - server_before,
                )
            )
            before, server_before, state = after, server_after, now.state.value
            if not open_tasks:
                break
            for task in open_tasks:
                actor = services.get_actor(engine, task.assignee_id)
                data = {
                    "answer_code": services.answer_code_for(engine, task.id),
                    **answer_for(task, criteria),
                }
                submit_answer(engine, task.id, data, actor=actor, classes=classes)
            # the answers' own calls are this process's, not the worker's; the server's CPU
            # for them is left out of the next step's
            time.sleep(0.5)
            server_before = _proc_cpu_s(server_pid)
    return steps


def _table(steps: list[Step], *, per_endpoint: bool = True) -> str:
    endpoints = sorted({e for s in steps for e in s.http})
    events = sorted({e for s in steps for e in s.events})
    width = max([len(e) for e in (*endpoints, *events)] + [60])
    header = f"{'':<{width}} " + " ".join(f"{'step ' + str(i + 1):>8}" for i in range(len(steps)))
    lines = ["Steps:"]
    lines += [f"  {i + 1}. {s.label}" for i, s in enumerate(steps)]
    lines += ["", header, "-" * len(header)]

    def row(name: str, values: list[Any], fmt: str = "{:>8}") -> None:
        lines.append(f"{name:<{width}} " + " ".join(fmt.format(v) for v in values))

    if per_endpoint:
        for e in endpoints:
            row(e, [s.http.get(e, 0) for s in steps])
    row("HTTP requests (without log batches)", [s.requests for s in steps])
    if per_endpoint:
        for e in events:
            row(f"event {e}", [s.events.get(e, 0) for s in steps])
    row("events emitted", [sum(s.events.values()) for s in steps])
    row("log records shipped", [s.logs for s in steps])
    if per_endpoint:
        for line in sorted({e for s in steps for e in s.log_lines}):
            row(f"log {line[: width - 4]}", [s.log_lines.get(line, 0) for s in steps])
    row("total: requests + events + log records", [s.total for s in steps])
    for refusal in sorted({e for s in steps for e in s.refused}):
        row(
            f"(retried after {refusal.split(' -> ')[1]}) {refusal.split(' -> ')[0]}",
            [s.refused.get(refusal, 0) for s in steps],
        )
    row("(log batches POST /logs/, timing-dependent)", [s.log_batches for s in steps])
    row("worker CPU s", [s.worker_cpu_s for s in steps], "{:>8.2f}")
    row("embedded server CPU s (SQLite)", [s.server_cpu_s for s in steps], "{:>8.2f}")
    return "\n".join(lines)


def _version() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "flows"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes in flows/" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2, help="decisions, one after another")
    parser.add_argument(
        "--all-steps", action="store_true", help="print every decision's table, not the last"
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    folder = Path(tempfile.mkdtemp(prefix="counsel-api-calls-"))
    os.environ["COUNSEL_DATABASE_URL"] = f"sqlite:///{folder / 'counsel.db'}"
    os.environ["COUNSEL_CLASSES_FILE"] = str(ROOT / "examples" / "classes-quick.yaml")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")  # what a stack's workers ship

    from decisions.settings import load_settings
    from flows.local_prefect import EmbeddedServer, embedded_prefect, template_path

    server = EmbeddedServer(
        folder / "prefect", template=template_path(load_settings().home / "cache")
    ).spawn()
    with embedded_prefect(folder / "prefect", server=server):
        from decisions.classes import load_classes
        from decisions.db import make_engine
        from flows.demo import prepare_store
        from flows.people import answer_task

        engine = make_engine(os.environ["COUNSEL_DATABASE_URL"])
        prepare_store(engine, by="bench")
        classes = load_classes(load_settings().classes_file)
        answer_task.to_deployment(name="answer-task").apply()
        assert server.process is not None
        worker = Worker(folder)
        try:
            print(
                f"code {_version()}; load average {os.getloadavg()[0]:.2f} at the start; "
                f"folder {folder}"
            )
            tables = []
            for n in range(args.decisions):
                steps = run_decision(engine, classes, worker, server.process.pid, f"Bench {n + 1}")
                tables.append((n + 1, steps))
            for n, steps in tables if args.all_steps else tables[-1:]:
                print(f"\nDecision {n} of {args.decisions} (quick class):")
                print(_table(steps))
            last = tables[-1][1]
            print(
                f"\nPer step, decision {len(tables)}: "
                f"{sum(s.total for s in last) / len(last):.1f} API calls "
                f"({sum(s.requests for s in last) / len(last):.1f} requests, "
                f"{sum(sum(s.events.values()) for s in last) / len(last):.1f} events, "
                f"{sum(s.logs for s in last) / len(last):.1f} log records); "
                f"worker CPU {sum(s.worker_cpu_s for s in last) / len(last):.2f} s; "
                f"load average {os.getloadavg()[0]:.2f} at the end"
            )
        finally:
            worker.stop()
            engine.dispose()


if __name__ == "__main__":
    main()
