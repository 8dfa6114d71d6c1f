"""The deadline sweep reminds and reassigns once per deadline, however many sweeps overlap."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from decisions import services
from decisions.model import TaskKind, TaskStatus, utcnow
from decisions.procedure import keys
from decisions.progress import Routing, Slot
from flows.local_runner import local_runner
from flows.sweep import SweepReport, sweep
from tests.flows.conftest import Stage, proposal

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def _overlapping_sweeps(stage: Stage, count: int, **kw: object) -> list[SweepReport]:
    """``count`` sweeps started together, each with its own client, as schedules could."""
    import contextvars

    from prefect import get_client

    reports: list[SweepReport] = []
    barrier = threading.Barrier(count)

    def one() -> None:
        with get_client(sync_client=True) as client:
            barrier.wait()
            reports.append(sweep(stage.engine, stage.classes, client, **kw))  # type: ignore[arg-type]

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(one,)) for _ in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return reports


def test_overlapping_sweeps_remind_once_and_reassign_once(stage: Stage) -> None:
    engine = stage.engine
    decision = services.submit_proposal(
        engine, proposal(), planner=services.get_actor(engine, "li-wei"), classes=stage.classes
    )
    services.apply_transition(engine, decision.id, "start_consultation")
    services.record_routing(
        engine,
        decision.id,
        Routing(first_round=1, slots=(Slot(number=0, expert="e031", alternates=("e027", "e026")),)),
        key=keys.routed(decision.id, 1),  # the stage's own key: it routes once
    )
    task = services.assign_task(
        engine,
        decision.id,
        TaskKind.CONSULT,
        "e031",
        round=1,
        deadline=utcnow() + timedelta(hours=36),
        idempotency_key=keys.assignment(decision.id, TaskKind.CONSULT, 1, "e031"),
    ).task
    for alternate in ("e027", "e026"):  # routing makes actors of the experts it routes
        services.ensure_actor(
            engine, actor_id=alternate, name=alternate, roles=["expert"], affiliations=[]
        )
    durations = stage.classes.get("standard", "east").durations
    after_reminder = task.created_at + durations.reminder + timedelta(minutes=1)

    reports = _overlapping_sweeps(stage, 4, now=after_reminder, stale_after=timedelta(days=9))
    assert len(reports) == 4
    assert sum(len(r.reminded) for r in reports) == 1
    reminded = [e for e in services.history(engine, decision.id) if e.action == "task.reminded"]
    assert [e.data["task_id"] for e in reminded] == [task.id]

    past_deadline = utcnow() + timedelta(hours=38)  # before the replacement's own deadline
    # a deadline starts the decision's next run: the deployments must exist to take it
    with local_runner(sweep_every_s=None):
        reports = _overlapping_sweeps(stage, 4, now=past_deadline, stale_after=timedelta(days=9))
    assert sum(len(r.reassigned) for r in reports) == 1
    tasks = services.tasks_of(engine, decision.id)
    assert [(t.assignee_id, t.status) for t in tasks] == [
        ("e031", TaskStatus.REASSIGNED),
        ("e027", TaskStatus.OPEN),
    ]
    assert services.verify(engine).ok
