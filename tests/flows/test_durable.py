"""Durable waits on a real stack: ``counsel up`` (Prefect server, a process worker, the
deployments of ``prefect.yaml``), with the store and Prefect's server both on PostgreSQL
when it is reachable (CI requires it) and both on SQLite otherwise.

- `counsel submit` starts a decision on the worker; one stack runs at a time;
- 20 decisions wait for their experts with no flow process alive, and each one's last answer
  starts its next step (how soon is measured by ``bench/load.py --part waiting``, not asserted);
- 10 decisions run to the end while the worker is SIGKILLed at random points and the whole
  stack (server and worker) is stopped and started again mid-wait: every one closes, with
  no duplicate task, answer or audit event, and the chain verifies;
- `counsel down` stops the server and the worker.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from decisions import services
from decisions.classes import ClassBook, load_classes
from decisions.db import make_engine
from decisions.model import Actor, Decision, Task, TaskKind, TaskStatus
from flows.answering import submit_answer
from flows.demo import prepare_store
from flows.simulate import SETTLED, Participants
from tests.flows.conftest import EXAMPLES
from tests.inprocess import environment

pytestmark = [
    pytest.mark.flows,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

QUICK_CLASSES = EXAMPLES / "classes-quick.yaml"


#: The decisions' last answers come this far apart (people do not all answer in the same
#: instant); how soon each continues is bench/load.py's figure, not this test's.
ANSWER_PACE_S = 0.5
#: The stack's task workers sweep this often, so the crash drill's lost steps are queued
#: again after the shortest lost window (``flows.task_worker.sweep_windows``: 15 s).
SWEEP_EVERY_S = 5
#: How long a wait for a condition may take before the test calls it a hang: generous, since
#: the suite must hold on a busy machine (speed is bench/'s to measure, not these tests').
GUARD_S = 600
#: The crash drill's guard: ten decisions through kills and a restart.
DRILL_GUARD_S = 1800
#: How often the crash drill SIGKILLs the workers, each time while a step is running.
KILLS = 3


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealStack:
    home: Path
    api_url: str
    port: int
    engine: Engine
    classes: ClassBook
    env: dict[str, str]
    prefect_database: str | None
    page_port: int

    def counsel(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def up(self) -> None:
        args = ["up", "--port", str(self.port), "--sweep-every", str(SWEEP_EVERY_S)]
        # its own answer page port, so a stack someone runs on this machine is left alone
        args += ["--page-port", str(self.page_port)]
        if self.prefect_database:
            args += ["--prefect-database", self.prefect_database]
        done = self.counsel(*args)
        assert done.returncode == 0, done.stdout + done.stderr

    def down(self) -> None:
        done = self.counsel("down")
        assert done.returncode == 0, done.stdout + done.stderr

    def log(self, name: str) -> str:
        path = self.home / "stack" / name
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def logs(self) -> str:
        """The tails of the workers' logs, for a failure's message."""
        names = ["worker.log", *(p.name for p in (self.home / "stack").glob("task-worker-*.log"))]
        return "\n".join(f"--- {name}\n{self.log(name)}" for name in names)


def _postgres(name: str, template: str | None = None) -> str | None:
    """A new PostgreSQL database's URL, or None when the server cannot be reached."""
    from tests.conftest import POSTGRES_URL, _admin_engine

    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            extra = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{extra}'))
    except Exception as err:  # noqa: BLE001 - any failure here means "not reachable"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {err} (CI needs it)")
        return None
    finally:
        admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop(url: str | None) -> None:
    if not url:
        return
    from tests.conftest import _admin_engine

    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStack]:
    folder = tmp_path_factory.mktemp("durable")
    suffix = uuid.uuid4().hex[:8]
    store_url = _postgres(f"counsel_durable_{suffix}")
    prefect_url = _postgres(f"prefect_durable_{suffix}") if store_url else None
    if prefect_url:
        prefect_url = str(make_url(prefect_url).set(drivername="postgresql+asyncpg"))
        prefect_url = make_url(prefect_url).render_as_string(hide_password=False)
    url = store_url or f"sqlite:///{folder / 'counsel.db'}"
    classes_file = QUICK_CLASSES
    engine = make_engine(url)
    prepare_store(engine, by="durable-test")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COUNSEL_"))}
    env.update(
        COUNSEL_HOME=str(folder / "home"),
        COUNSEL_DATABASE_URL=url,
        COUNSEL_CLASSES_FILE=str(classes_file),
        COLUMNS="200",
    )
    real = RealStack(
        folder / "home",
        f"http://127.0.0.1:{port}/api",
        port,
        engine,
        load_classes(classes_file),
        env,
        prefect_url,
        free_port(),
    )
    real.up()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with (
            environment({"PREFECT_API_URL": real.api_url}),
            temporary_settings(updates={PREFECT_API_URL: real.api_url}),
        ):
            yield real
    finally:
        if (real.home / "stack" / "stack.json").exists():
            real.down()
        engine.dispose()
        _drop(store_url)
        _drop(prefect_url)


def file_decisions(stack: RealStack, count: int, tag: str) -> list[str]:
    """File ``count`` quick decisions and start each one's first run, as `counsel submit` does."""
    from prefect import get_client

    from flows.warm import start_decision_run

    data = yaml.safe_load((EXAMPLES / "proposal.yaml").read_text(encoding="utf-8"))
    data.update({"class": "quick", "district_type": None})
    planner = services.get_actor(stack.engine, "li-wei")
    ids = []
    with get_client(sync_client=True) as client:
        for n in range(count):
            decision = services.submit_proposal(
                stack.engine,
                services.Proposal.model_validate({**data, "title": f"{tag} {n + 1}"}),
                planner=planner,
                classes=stack.classes,
            )
            start_decision_run(client, stack.engine, decision.id)
            ids.append(decision.id)
    return ids


def answer_for(task: Task) -> dict[str, Any]:
    if task.kind is TaskKind.CONSULT:
        return {
            "recommendation": "approve",
            "rationale": "Sound.",
            "rating_feasibility": 7,
            "rating_cost": 7,
        }
    return {
        TaskKind.DISCUSS: {"stance": "support", "text": "Agreed."},
        TaskKind.VOTE: {"choice": "approve", "rationale": "As the experts advise."},
        TaskKind.EXECUTE: {"percent_complete": 100, "text": "Done.", "measures_done": ""},
        TaskKind.INSPECT: {"verdict": "accept", "findings": "Checked on site."},
    }[task.kind]


def waiting_forms(stack: RealStack, decision_id: str, kind: TaskKind) -> list[Task]:
    return [
        t
        for t in services.tasks_of(stack.engine, decision_id)
        if t.kind is kind and t.status is TaskStatus.OPEN and t.flow_run_id
    ]


def live_decision_processes(stack: RealStack) -> list[str]:
    """Flow runs of decisions or people that are executing now: Prefect's view, then the
    processes below the worker (each names its flow run in its environment)."""

    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from flows.stack import _descendants, read_stack

    busy = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
        )
    )
    found = []
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        for run in client.read_flow_runs(flow_run_filter=busy):
            if flows.get(run.flow_id) != "deadline-sweep":
                found.append(f"run {run.name} is {run.state_name}")
        for pid in _descendants(read_stack(stack.home).worker_pid):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            run_ids = [
                e.split(b"=", 1)[1] for e in environ if e.startswith(b"PREFECT__FLOW_RUN_ID=")
            ]
            if run_ids:
                run = client.read_flow_run(UUID(run_ids[0].decode()))
                if flows.get(run.flow_id) != "deadline-sweep":
                    found.append(f"process {pid} runs {run.name}")
    return found


def wait_for(what: str, check: Any, timeout: float, stack: RealStack) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s.\n{stack.logs()}")
        time.sleep(0.5)


def test_submit_queues_the_first_step_for_a_task_worker_and_one_stack_runs_at_a_time(
    stack: RealStack,
) -> None:
    """`counsel submit` files the proposal and queues its first step; a task worker runs
    it as the decision's own flow run (its name, its tags), which routes the experts and
    leaves each a suspended form; a second `counsel up` is refused."""
    again = stack.counsel("up", "--port", str(stack.port))
    assert again.returncode == 1 and "already up" in again.stdout + again.stderr
    _planner, token = services.add_actor(
        stack.engine, actor_id="wang-li", name="王立", roles=["planner"]
    )
    proposal = yaml.safe_load((EXAMPLES / "proposal.yaml").read_text(encoding="utf-8"))
    proposal.update({"class": "quick", "district_type": None, "title": "Filed by the CLI"})
    path = stack.home.parent / "cli-proposal.yaml"
    path.write_text(yaml.safe_dump(proposal, allow_unicode=True), encoding="utf-8")
    submitted = subprocess.run(
        [sys.executable, "-m", "cli", "submit", str(path)],
        env={**stack.env, "COUNSEL_TOKEN": token, "PREFECT_API_URL": stack.api_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    link = f"http://127.0.0.1:{stack.port}/v2/runs/task-run/"
    assert link in submitted.stdout, submitted.stdout
    task_run_id = submitted.stdout.split(link)[1].split()[0]
    decision_id = submitted.stdout.split()[1].rstrip(":")
    dossier = f"http://127.0.0.1:{stack.port}/v2/artifacts/key/decision-{decision_id.lower()}"
    assert dossier in submitted.stdout, submitted.stdout
    forms = wait_for(
        "the routed experts have their forms",
        lambda: len(waiting_forms(stack, decision_id, TaskKind.CONSULT)) == 2,
        GUARD_S,
        stack,
    )
    assert forms
    assert services.get_decision(stack.engine, decision_id).state.value == "consulting"
    from prefect import get_client

    with get_client(sync_client=True) as client:
        queued = wait_for(
            "the queued step completes (its history published)",
            lambda: (
                (run := client.read_task_run(UUID(task_run_id))).state_name == "Completed" and run
            ),
            GUARD_S,
            stack,
        )
        (step,) = step_runs(client, decision_id)
    # the step ran warm inside the queued task run, not as a deployment's run of a process
    assert step.deployment_id is None
    assert queued.start_time and queued.end_time and step.start_time
    assert queued.start_time <= step.start_time <= queued.end_time
    assert step.name == f"{decision_id} · Filed by the CLI"
    assert {f"decision:{decision_id}", "class:quick", "counsel"} <= set(step.tags)


def step_runs(client: Any, decision_id: str) -> list[Any]:
    """The decision's runs of the ``decision`` flow, oldest first."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    return list(
        client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["decision"])),
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"decision:{decision_id}"])),
            sort=FlowRunSort.START_TIME_ASC,
        )
    )


def test_twenty_decisions_wait_with_no_process_and_each_last_answer_starts_the_next_step(
    stack: RealStack,
) -> None:
    ids = file_decisions(stack, 20, "Waiting")
    wait_for(
        "every decision's experts have their forms",
        lambda: all(len(waiting_forms(stack, d, TaskKind.CONSULT)) == 2 for d in ids),
        GUARD_S,
        stack,
    )
    # nothing of these decisions runs now: their runs ended, their people's runs are suspended
    live = wait_for(
        "no flow process of a decision is alive",
        lambda: not live_decision_processes(stack) or None,
        GUARD_S,
        stack,
    )
    assert live is True
    from prefect import get_client

    with get_client(sync_client=True) as client:
        for d in ids:
            for task in waiting_forms(stack, d, TaskKind.CONSULT):
                state = client.read_flow_run(task.flow_run_id).state  # type: ignore[arg-type]
                assert state is not None and state.name == "Suspended"

    last_answer: dict[str, float] = {}
    answering_from: dict[str, float] = {}
    for d in ids:
        answering_from[d] = time.time()
        for task in waiting_forms(stack, d, TaskKind.CONSULT):
            actor = services.get_actor(stack.engine, task.assignee_id)
            data = {"answer_code": services.answer_code_for(stack.engine, task.id)}
            submit_answer(
                stack.engine,
                task.id,
                {**data, **answer_for(task)},
                actor=actor,
                classes=stack.classes,
            )
        last_answer[d] = time.time()
        time.sleep(ANSWER_PACE_S)

    def resumed_at(d: str) -> float | None:
        for event in services.history(stack.engine, d):
            if event.action == "consultation.round_aggregated":
                return datetime.fromisoformat(event.recorded_at).timestamp()
        return None

    wait_for("every decision continued", lambda: all(resumed_at(d) for d in ids), GUARD_S, stack)
    delays = {d: resumed_at(d) - last_answer[d] for d in ids}  # type: ignore[operator]
    print("continued after (s):", sorted(round(s, 1) for s in delays.values()))
    # The last answer started each step, not the deadline sweep: the decision's step queued
    # since its answers began carries the answer's key, not the sweep's.
    started = continuations(answering_from)
    by_sweep = {d: keys for d, keys in started.items() if any(":sweep:" in k for k in keys)}
    assert not by_sweep, f"continued by the deadline sweep, not by the last answer: {by_sweep}"
    assert all(started[d] for d in ids), f"no continuation run after the last answer: {started}"
    wait_for(
        "every decision waits in discussion",
        lambda: all(waiting_forms(stack, d, TaskKind.DISCUSS) for d in ids),
        GUARD_S,
        stack,
    )


def continuations(after: dict[str, float]) -> dict[str, list[str]]:
    """The keys of each decision's ``continue-decision`` runs queued after the moment
    ``after`` gives for it."""
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    from flows.warm import continue_run_name

    found: dict[str, list[str]] = {}
    with get_client(sync_client=True) as client:
        for d, moment in after.items():
            runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[continue_run_name(d)])),
            )
            found[d] = [
                r.dynamic_key
                for r in runs
                if r.created is not None and r.created.timestamp() >= moment
            ]
    return found


def test_decisions_complete_through_worker_kills_and_a_stack_restart(stack: RealStack) -> None:
    ids = file_decisions(stack, 10, "Crash drill")
    from flows.stack import kill_worker, start_worker

    def script(task: Task, decision: Decision, actor: Actor) -> dict[str, Any] | None:
        return answer_for(task) if decision.id in ids else None

    rng = random.Random(5)
    kills = restarts = 0
    deadline = time.monotonic() + DRILL_GUARD_S

    def settled() -> bool:
        return all(services.get_decision(stack.engine, d).state.value in SETTLED for d in ids)

    mid_step = 0
    with Participants(stack.engine, stack.classes, script, poll_s=0.5) as people:
        while not settled() and time.monotonic() < deadline:
            time.sleep(rng.uniform(2, 6))
            if kills < KILLS:
                # SIGKILL the task workers (and the process worker) while a step runs
                mid_step += step_running(timeout_s=60)
                kill_worker(stack.home)
                kills += 1
                time.sleep(rng.uniform(0.5, 2))
                start_worker(stack.home)
            elif restarts == 0:
                stack.down()  # server and worker stop while decisions wait
                time.sleep(3)
                stack.up()
                restarts += 1
    assert settled(), (
        {d: services.get_decision(stack.engine, d).state.value for d in ids},
        stack.logs(),
    )
    assert (kills, restarts) == (KILLS, 1)
    assert mid_step >= 1, "no kill landed while a step was running"
    for d in ids:
        decision = services.get_decision(stack.engine, d)
        assert decision.state.value == "closed", (d, decision.state_reason)
        tasks = services.tasks_of(stack.engine, d)
        slots = Counter((t.kind, t.round, t.assignee_id) for t in tasks)
        assert max(slots.values()) == 1, f"{d} has a task twice: {slots}"
        events = services.history(stack.engine, d)
        answered = Counter(
            e.data["task_id"] for e in events if e.action.startswith("task.answered")
        )
        assert max(answered.values()) == 1
        assert {t.id for t in tasks if t.status is TaskStatus.ANSWERED} == set(answered)
        keys = [e.idempotency_key for e in events if e.idempotency_key]
        assert len(keys) == len(set(keys))
        transitions = [e.action for e in events if e.action.startswith("decision.")]
        assert len(transitions) == len(set(transitions)), transitions
    assert services.verify(stack.engine).ok
    assert all(a.outcome == "recorded" for a in people.attempts), people.attempts


def step_running(*, timeout_s: float) -> bool:
    """Wait until a task worker is running a decision's step; False if none ran meanwhile."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterName,
        TaskRunFilterStartTime,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from flows.warm import CONTINUE_RUN_NAME

    running = TaskRunFilter(
        name=TaskRunFilterName(like_=CONTINUE_RUN_NAME),
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.RUNNING])),
        # not one an earlier kill left Running until the sweep marks it Crashed
        start_time=TaskRunFilterStartTime(after_=datetime.now(UTC) - timedelta(seconds=1)),
    )
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if client.read_task_runs(task_run_filter=running, limit=1):
                return True
            time.sleep(0.05)
    return False


def test_down_stops_the_server_and_the_workers_each_on_sigterm(stack: RealStack) -> None:
    """`counsel down` stops every process it started on SIGTERM (none has to be killed),
    and the task workers stop without a traceback in their logs."""
    import socket

    done = stack.counsel("down")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Killed" not in done.stdout, done.stdout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", stack.port), timeout=2).close()
    assert not (stack.home / "stack" / "stack.json").exists()
    for log in (stack.home / "stack").glob("task-worker-*.log"):
        # the crash drill's kills leave no trace in a log; a SIGTERM must not either
        assert "Traceback" not in log.read_text(errors="replace"), stack.log(log.name)
