"""Queueing a decision's next step for the task workers: once per position of its history
and per store, and again when the step was lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
from prefect.client.schemas.objects import StateType

from decisions import services
from decisions.db import make_engine
from decisions.model import utcnow
from flows.demo import prepare_store
from flows.sweep import _step_task_alive, sweep
from flows.warm import continue_run_name, start_decision_run
from tests.flows.conftest import Stage, proposal

pytestmark = [
    pytest.mark.flows,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def _file(stage: Stage) -> str:
    planner = services.get_actor(stage.engine, "li-wei")
    decision = services.submit_proposal(
        stage.engine, proposal(), planner=planner, classes=stage.classes
    )
    return decision.id


def _steps(client: object, decision_id: str) -> list[object]:
    return list(
        client.read_task_runs(  # type: ignore[attr-defined]
            task_run_filter=TaskRunFilter(
                name=TaskRunFilterName(any_=[continue_run_name(decision_id)])
            )
        )
    )


def test_callers_that_race_queue_one_step_per_position_and_store(
    stage: Stage, tmp_path: Path
) -> None:
    from prefect import get_client

    decision_id = _file(stage)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    prepare_store(other, by="flow-test")
    planner = services.get_actor(other, "li-wei")
    twin = services.submit_proposal(other, proposal(), planner=planner, classes=stage.classes)
    assert twin.id == decision_id  # the same id in another store
    with get_client(sync_client=True) as client:
        first = start_decision_run(client, stage.engine, decision_id)
        again = start_decision_run(client, stage.engine, decision_id)
        assert again.id == first.id
        assert first.state is not None and first.state.type is StateType.SCHEDULED
        assert first.name == continue_run_name(decision_id)
        assert not first.tags  # the decision's flow run carries them (flows.publishing.untagged)
        # the other store's decision of the same id gets a step of its own
        elsewhere = start_decision_run(client, other, decision_id)
        assert elsewhere.id != first.id
        # once the history moves on, the next step is a new one
        services.apply_transition(stage.engine, decision_id, "start_consultation")
        later = start_decision_run(client, stage.engine, decision_id)
        assert later.id != first.id
    other.dispose()


def test_the_sweep_queues_again_a_step_lost_from_the_queue(stage: Stage) -> None:
    """A step still queued after the lost window, while the workers start nothing, was lost
    (a server restart empties its queue): the sweep marks it Crashed and queues it again."""
    from prefect import get_client

    decision_id = _file(stage)
    with get_client(sync_client=True) as client:
        lost = start_decision_run(client, stage.engine, decision_id)  # nobody serves it
        later = utcnow() + timedelta(minutes=10)
        report = sweep(
            stage.engine,
            stage.classes,
            client,
            now=later,
            stale_after=timedelta(seconds=60),
            lost_after=timedelta(seconds=90),
        )
        assert decision_id in report.continued
        crashed = client.read_task_run(lost.id)
        assert crashed.state is not None and crashed.state.type is StateType.CRASHED
        # this store's steps of the decision (other tests' stores reuse its id)
        ours = lost.dynamic_key.rsplit(":", 1)[0] + ":"
        steps = [s for s in _steps(client, decision_id) if s.dynamic_key.startswith(ours)]  # type: ignore[attr-defined]
        assert len(steps) == 2
        (again,) = [s for s in steps if s.id != lost.id]  # type: ignore[attr-defined]
        assert ":sweep:" in again.dynamic_key  # type: ignore[attr-defined]
        # a sweep now, with the decision quiet, finds the new step on its way
        report = sweep(
            stage.engine,
            stage.classes,
            client,
            stale_after=timedelta(0),
            lost_after=timedelta(seconds=90),
        )
        assert decision_id not in report.continued


def test_a_queued_step_waits_its_turn_while_the_workers_work_through_a_backlog(
    stage: Stage,
) -> None:
    from prefect import get_client

    decision_id = _file(stage)
    with get_client(sync_client=True) as client:
        queued = start_decision_run(client, stage.engine, decision_id)
        long_ago = utcnow() + timedelta(minutes=10)  # queued "long" before this moment
        assert _step_task_alive(client, decision_id, long_ago, backlog_moving=True)
        state = client.read_task_run(queued.id).state
        assert state is not None and state.type is StateType.SCHEDULED
        assert not _step_task_alive(client, decision_id, long_ago, backlog_moving=False)
        state = client.read_task_run(queued.id).state
        assert state is not None and state.type is StateType.CRASHED
