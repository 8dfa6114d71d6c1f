"""Many experts answering at once from separate processes: nothing lost, nothing twice."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import func, select

from decisions import services
from decisions.tables import AnswerRow
from tests.integration.decisions._answerer import answer_tasks
from tests.integration.decisions.conftest import World

pytestmark = pytest.mark.slow


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
