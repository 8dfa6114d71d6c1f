"""Many experts answering at once from separate processes, and from the threads of one
process (whose answers share transactions): nothing lost, nothing twice, every refusal
audited."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from decisions import services
from decisions.classes import load_classes
from decisions.exceptions import PermissionDenied, TaskError
from decisions.model import Actor, Opinion, Task, TaskKind
from decisions.services import answer_groups
from decisions.services.answer_groups import group_for
from decisions.tables import AnswerRow
from decisions.uow import UnitOfWork
from tests.integration.decisions._answerer import answer_tasks
from tests.integration.decisions.conftest import World

pytestmark = pytest.mark.slow
#: How long a test waits for its threads to reach the store (a bound, not a pause).
PATIENCE_S = 60.0


def test_hundred_concurrent_answers_are_each_recorded_once(world: World) -> None:
    """100 experts answering through the CLI's answer path from 8 processes, each answer
    sent twice, leave 100 answers, 100 answer events, one valid chain and no error."""
    engine = world.engine
    tasks = []
    for i in range(100):
        services.add_actor(engine, actor_id=f"panel-{i:03d}", name=f"Panel {i}", roles=["expert"])
        tasks.append(
            services.assign_task(engine, world.decision.id, "consult", f"panel-{i:03d}").task.id
        )
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    shares = [tasks[i::8] for i in range(8)]
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        problems = [
            p for share in pool.starmap(answer_tasks, [(url, s) for s in shares]) for p in share
        ]
    assert problems == []
    with engine.connect() as conn:
        answers = conn.execute(select(func.count()).select_from(AnswerRow)).scalar_one()
    assert answers == 100
    events = [
        e
        for e in services.history(engine, world.decision.id)
        if e.action == "task.answered.opinion"
    ]
    assert sorted(e.data["task_id"] for e in events) == sorted(tasks)
    assert services.verify(engine).ok


def opinion(rationale: str = "Sound plan.", rating: int = 6) -> Opinion:
    criteria = load_classes().get("major", "east").criteria
    return Opinion(
        recommendation="approve", ratings={c: rating for c in criteria}, rationale=rationale
    )


def panel(world: World, size: int) -> list[tuple[Actor, str, str]]:
    """``size`` experts with a consultation task each: (expert, task id, answer code)."""
    found = []
    for i in range(size):
        actor, _ = services.add_actor(
            world.engine, actor_id=f"panel-{i:03d}", name=f"Panel {i}", roles=["expert"]
        )
        assigned = services.assign_task(world.engine, world.decision.id, "consult", actor.id)
        found.append((actor, assigned.task.id, assigned.answer_code))
    return found


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """The store's write lock, held by this thread until the block ends."""
    with UnitOfWork(engine):
        yield


def at_once(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[threading.Thread]]:
    """Start each call in a thread of its own; the list fills with each one's result or
    exception, in order, as they end."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as err:  # noqa: BLE001 - the test looks at each outcome
            results[index] = err

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return results, threads


def answered_events(world: World) -> list[Any]:
    return [
        e
        for e in services.history(world.engine, world.decision.id)
        if e.action == "task.answered.opinion"
    ]


def seen(world: World, task_id: str) -> services.Seen:
    """The task and its decision as the answer page reads them when it opens a link."""
    task = services.get_task(world.engine, task_id)
    return services.Seen(task, services.get_decision(world.engine, task.decision_id))


@pytest.mark.parametrize("as_seen", [False, True], ids=["read", "seen"])
def test_answers_brought_at_once_by_one_process_share_one_transaction(
    world: World, as_seen: bool
) -> None:
    """Twenty answers that wait together for the store's write lock are written once each,
    in at most two transactions (the first thread's, and one for all that queued behind
    it), and the chain stays valid; whether the store reads each task first or its caller
    passes the task and decision it has just read, and each comes back with its decision's
    tasks as they stood after it."""
    engine = world.engine
    people = panel(world, 20)
    sights = {task: seen(world, task) if as_seen else None for _, task, _ in people}
    with write_lock_held(engine):
        results, threads = at_once(
            [
                lambda actor=actor, task=task, code=code: services.record_answer(
                    engine,
                    task,
                    opinion(f"Answer of {actor.id}"),
                    actor=actor,
                    answer_code=code,
                    seen=sights[task],
                )
                for actor, task, code in people
            ]
        )
        assert group_for(engine).wait_for(len(people), PATIENCE_S)
    for thread in threads:
        thread.join(PATIENCE_S)
    assert all(isinstance(r, services.RecordedAnswer) and r.created for r in results), results
    events = answered_events(world)
    assert sorted(e.data["task_id"] for e in events) == sorted(t for _, t, _ in people)
    assert len({e.recorded_at for e in events}) <= 2
    assert [r.event for r in results] == [
        next(e for e in events if e.data["task_id"] == t) for _, t, _ in people
    ]
    assert all(r.task.status.value == "answered" and r.task.closed_at for r in results)
    for result in results:
        tasks = {t.id: t for t in result.decision_tasks}
        assert tasks[result.task.id] == result.task
        assert set(tasks) == {t.id for t in services.tasks_of(engine, world.decision.id)}
    assert services.verify(engine).ok


def test_an_answer_judged_from_what_was_seen_meets_the_powers_under_the_lock(
    world: World,
) -> None:
    """An answer judged from the task and decision its caller read is still refused, and
    the refusal audited, when the separation of powers forbids it by the time it is
    written: here its expert came to hold a vote on the decision meanwhile."""
    engine = world.engine
    ((actor, task_id, code),) = panel(world, 1)
    sight = seen(world, task_id)
    with UnitOfWork(engine) as uow:  # straight to the store: the services would refuse it
        uow.tasks.add(
            Task(
                id=uow.tasks.next_id(world.decision.id, TaskKind.VOTE),
                decision_id=world.decision.id,
                kind=TaskKind.VOTE,
                assignee_id=actor.id,
                answer_code_hash="-",
            )
        )
        uow.commit()
    with pytest.raises(PermissionDenied, match="kept apart"):
        services.record_answer(
            engine, task_id, opinion(), actor=actor, answer_code=code, seen=sight
        )
    assert services.answer_for(engine, task_id) is None
    refusals = [
        e.data
        for e in services.history(engine, world.decision.id)
        if e.action == "task.answer_refused"
    ]
    assert [(r["task_id"], r["rule"]) for r in refusals] == [(task_id, "powers")]


def test_answers_in_one_group_keep_their_own_checks(world: World) -> None:
    """In one group, the same answer sent twice is recorded once and returned as recorded,
    another answer to the same task is refused as the task is closed, a wrong code is
    refused: each refusal is audited on its own, and the task keeps one answer."""
    engine = world.engine
    (actor, task, code), (other, other_task, other_code) = panel(world, 2)
    first, second = opinion("First thoughts.", 6), opinion("Second thoughts.", 7)
    calls = [
        lambda: services.record_answer(engine, task, first, actor=actor, answer_code=code),
        lambda: services.record_answer(engine, task, first, actor=actor, answer_code=code),
        lambda: services.record_answer(engine, task, second, actor=actor, answer_code=code),
        lambda: services.record_answer(
            engine, other_task, first, actor=other, answer_code="WRONG-CODE"
        ),
        lambda: services.record_answer(
            engine, other_task, second, actor=other, answer_code=other_code
        ),
    ]
    with write_lock_held(engine):
        results, threads = at_once(calls)
        # the wrong code is refused before the group: it waits for the lock on its own
        assert group_for(engine).wait_for(4, PATIENCE_S)
    for thread in threads:
        thread.join(PATIENCE_S)
    stored = services.answer_for(engine, task)
    assert stored in (first, second)
    kept = [r for r in results[:3] if isinstance(r, services.RecordedAnswer)]
    refused = [r for r in results[:3] if isinstance(r, TaskError)]
    assert [r.created for r in kept].count(True) == 1 and all(r.answer == stored for r in kept)
    assert all("takes no more answers" in str(r) for r in refused)
    assert len(kept) == (2 if stored == first else 1) and len(kept) + len(refused) == 3
    assert isinstance(results[3], TaskError) and "answer code" in str(results[3])
    assert isinstance(results[4], services.RecordedAnswer) and results[4].created
    events = services.history(engine, world.decision.id)
    assert sorted(e.data["task_id"] for e in events if e.action == "task.answered.opinion") == (
        sorted([task, other_task])
    )
    refusals = [e.data for e in events if e.action == "task.answer_refused"]
    # each call here is an attempt of its own (no idempotency key): every refused one is
    # audited, so the first answer sent twice is refused twice when the second one won
    closed = ["closed"] * len(refused)
    assert sorted(r["rule"] for r in refusals) == ["answer-code", *closed]
    assert services.verify(engine).ok


def test_a_group_that_fails_leaves_each_answer_to_be_recorded_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When writing a group fails, nothing of it is written and each answer is recorded in
    a transaction of its own, once."""

    def broken(uow: UnitOfWork, pending: Any) -> Any:
        uow.log.append_many([p.event for p in pending])  # written, then rolled back
        raise RuntimeError("the group failed")

    monkeypatch.setattr(answer_groups, "write_group", broken)
    engine = world.engine
    people = panel(world, 3)
    results, threads = at_once(
        [
            lambda actor=actor, task=task, code=code: services.record_answer(
                engine, task, opinion(), actor=actor, answer_code=code
            )
            for actor, task, code in people
        ]
    )
    for thread in threads:
        thread.join(PATIENCE_S)
    assert all(isinstance(r, services.RecordedAnswer) and r.created for r in results), results
    assert sorted(e.data["task_id"] for e in answered_events(world)) == sorted(
        t for _, t, _ in people
    )
    assert services.verify(engine).ok
