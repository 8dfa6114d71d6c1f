"""The Prefect runs a decision leaves behind while it waits, and the ones that continue it.

A decision waiting for people holds no process. Each open task has a *person run*: a run
of the ``answer-task`` deployment created directly in Prefect's Suspended state with the
task's form saved on it, so the person finds it in the UI (tag ``actor:<id>``) and answers
in its Resume dialog; nothing executes until they do. When the last open task of a step is
answered (by the form, the CLI or a deadline), :func:`continue_if_ready` starts a short run
of the ``decision`` deployment, which does the next step from what the store says and
exits when it must wait again.

Both kinds of run are created with idempotency keys derived from the store (the task id;
the decision's event count), so callers that race, retry or crash and restart create each
run once. Everything here only needs ``PREFECT_API_URL``; which machine runs the flows is
the work pool's business.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Cancelled, Completed, Running, Suspended
from sqlalchemy import Engine

from decisions import procedure, services
from decisions.model import Task, utcnow
from decisions.procedure import keys
from flows.forms import AnswerForm, personal_form

__all__ = [
    "ANSWER_DEPLOYMENT",
    "DECISION_DEPLOYMENT",
    "FIRST_PAUSE_KEY",
    "open_person_run",
    "close_person_run",
    "continue_if_ready",
    "start_decision_run",
    "is_ready",
]

ANSWER_DEPLOYMENT = "answer-task/answer-task"
DECISION_DEPLOYMENT = "decision/decision"
FIRST_PAUSE_KEY = "answer-1"
#: How long past its deadline a person's form stays open; the deadline sweep closes it first.
FORM_GRACE = timedelta(days=1)


def describe(intro: str, problem: str | None) -> str:
    """The form's description: the task, and above it why the last answer was refused."""
    if problem:
        return f"**Your last answer was not recorded:** {problem}\n\n---\n\n{intro}"
    return intro


def form_timeout_s(task: Task, now: datetime | None = None) -> int:
    until = (task.deadline or utcnow()) + FORM_GRACE
    return max(60, int((until - (now or utcnow())).total_seconds()))


async def open_person_run(
    client: PrefectClient,
    engine: Engine,
    task: Task,
    *,
    stage: str,
    intro: str,
    criteria: tuple[str, ...],
    tags: list[str],
) -> UUID:
    """Create the person's suspended run for an open task, once; returns its id."""
    if task.flow_run_id:
        return UUID(task.flow_run_id)
    deployment = await client.read_deployment_by_name(ANSWER_DEPLOYMENT)
    run = await client.create_flow_run_from_deployment(
        deployment.id,
        parameters={
            "task_id": task.id,
            "decision_id": task.decision_id,
            "stage": stage,
            "person": task.assignee_id,
            "intro": intro,
        },
        state=Running(message="Opening the task's form."),
        name=f"{stage} · {task.decision_id} · {task.assignee_id}",
        tags=[f"actor:{task.assignee_id}", f"task:{task.id}", *tags],
        idempotency_key=keys.person_run(task.id),
    )
    if run.state is not None and run.state.is_running():
        form = personal_form(task.kind, criteria, task.assignee_id)
        await suspend_for_answer(
            client,
            run.id,
            form.with_initial_data(description=intro),
            FIRST_PAUSE_KEY,
            timeout_s=form_timeout_s(task),
        )
    services.attach_flow_run(engine, task.id, str(run.id))
    return run.id


async def suspend_for_answer(
    client: PrefectClient,
    flow_run_id: UUID,
    form: type[AnswerForm],
    key: str,
    *,
    timeout_s: int,
) -> None:
    """Suspend a run that no process executes, with ``form`` as its Resume dialog.

    This is what ``suspend_flow_run`` does for the run it is called in; Prefect 3.9.1's
    version for another run forgets the run id when saving the form.
    """
    state: State[Any] = Suspended(timeout_seconds=timeout_s, pause_key=key)
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    result = await client.set_flow_run_state(flow_run_id, state)
    if result.state is None or not result.state.is_paused():
        return  # another opener suspended it first, or it already moved on
    try:
        await form.asave(keyset, flow_run_id=flow_run_id)
    except ObjectAlreadyExists:
        pass  # a racing opener saved the same form


def close_person_run(
    client: SyncPrefectClient, flow_run_id: str | None, message: str, *, answered: bool
) -> None:
    """End a person's run that no process executes (answered elsewhere, or expired)."""
    if not flow_run_id:
        return
    try:
        current = client.read_flow_run(UUID(flow_run_id)).state
    except ObjectNotFound:
        return
    if current is None or current.is_final() or current.is_running():
        return  # already over, or a worker is recording the form's answer right now
    state: State[Any] = Completed(message=message) if answered else Cancelled(message=message)
    client.set_flow_run_state(UUID(flow_run_id), state, force=True)


def is_ready(engine: Engine, decision_id: str) -> bool:
    """True when the decision's next step can be taken now
    (:func:`decisions.procedure.ready_to_continue`)."""
    return procedure.ready_to_continue(
        services.get_decision(engine, decision_id), services.tasks_of(engine, decision_id)
    )


def start_decision_run(
    client: SyncPrefectClient, engine: Engine, decision_id: str, *, key_suffix: str = ""
) -> Any:
    """Start a run of the ``decision`` deployment for the decision's next step, once per
    position of its history (``key_suffix`` lets the deadline sweep retry a lost run)."""
    decision = services.get_decision(engine, decision_id)
    position = services.event_count(engine, decision_id)
    deployment = client.read_deployment_by_name(DECISION_DEPLOYMENT)
    return client.create_flow_run_from_deployment(
        deployment.id,
        parameters={"decision_id": decision.id, "title": decision.title},
        tags=[
            f"decision:{decision.id}",
            f"class:{decision.class_name}",
            f"district:{decision.district}",
        ],
        idempotency_key=keys.continuation(decision.id, position, key_suffix),
    )


def continue_if_ready(client: SyncPrefectClient, engine: Engine, decision_id: str) -> bool:
    """Start the decision's next step if nothing is left to wait for; True if started."""
    if not is_ready(engine, decision_id):
        return False
    start_decision_run(client, engine, decision_id)
    return True
