"""The Prefect runs a decision leaves behind while it waits, and the ones that continue it.

A decision waiting for people holds no process. Each open task has a *person run*: a run
of the ``answer-task`` deployment created directly in Prefect's Suspended state with the
task's form saved on it, so the person finds it in the UI (tag ``actor:<id>``) and answers
in its Resume dialog; nothing executes until they do. When the last open task of a step is
answered (by the form, the CLI or a deadline), :func:`flows.warm.continue_if_ready` queues
the decision's next step for a task worker, which does it from what the store says and
ends when it must wait again.

Both are created with keys derived from the store (the task id; the decision's event
count), so callers that race, retry or crash and restart create each run once. Everything
here only needs ``PREFECT_API_URL``; which machine runs the flows is the work pool's
business.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.client.schemas.actions import FlowRunCreate
from prefect.client.schemas.objects import FlowRun, FlowRunPolicy, State
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Cancelled, Completed, Suspended, to_state_create
from sqlalchemy import Engine

from decisions import services
from decisions.classes import Labels, load_classes
from decisions.model import Task, utcnow
from decisions.settings import load_settings
from flows.forms import AnswerForm, personal_form

__all__ = [
    "ANSWER_DEPLOYMENT",
    "AnswerDeployment",
    "answer_deployment",
    "create_suspended_run",
    "DECISION_DEPLOYMENT",
    "FIRST_PAUSE_KEY",
    "open_person_run",
    "close_person_run",
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


@lru_cache(maxsize=4)
def _labels_of(path: str | None, _changed: int) -> Labels:
    return load_classes(path).labels


def settings_labels() -> Labels:
    """The labels of the classes file the settings name, read again when the file changes
    (a step opens many forms; reading the file for each would cost more than the rest)."""
    path = load_settings().classes_file
    changed = Path(path).stat().st_mtime_ns if path and Path(path).exists() else 0
    return _labels_of(str(path) if path else None, changed)


@dataclass(frozen=True)
class AnswerDeployment:
    """What a person's run takes from the ``answer-task`` deployment: its flow, its work
    queue (where a worker finds the run once the form is submitted) and its tags."""

    id: UUID
    flow_id: UUID
    work_pool_name: str | None
    work_queue_name: str | None
    tags: tuple[str, ...]


async def answer_deployment(client: PrefectClient) -> AnswerDeployment:
    """The ``answer-task`` deployment on ``client``'s API, read once per step that opens
    forms: a person's run names it, and the server does not check that it still exists (a
    deployment deleted and made again has a new id)."""
    found = await client.read_deployment_by_name(ANSWER_DEPLOYMENT)
    return AnswerDeployment(
        id=found.id,
        flow_id=found.flow_id,
        work_pool_name=found.work_pool_name,
        work_queue_name=found.work_queue_name,
        tags=tuple(found.tags),
    )


def suspended(key: str, timeout_s: int) -> State[Any]:
    """A person's run's state while it waits for the form with pause ``key``; the state
    names the inputs the form is saved under, as ``suspend_flow_run`` would."""
    state: State[Any] = Suspended(timeout_seconds=timeout_s, pause_key=key)
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    return state


def form_timeout_s(task: Task, now: datetime | None = None) -> int:
    until = (task.deadline or utcnow()) + FORM_GRACE
    return max(60, int((until - (now or utcnow())).total_seconds()))


async def open_person_run(
    client: PrefectClient,
    engine: Engine,
    task: Task,
    *,
    deployment: AnswerDeployment,
    stage: str,
    intro: str,
    criteria: tuple[str, ...],
    tags: list[str],
    labels: Labels | None = None,
) -> UUID:
    """Create the person's suspended run of the ``answer-task`` deployment for an open
    task, once; returns its id. Several may open at once (the store calls run in threads).

    The form is in the person's language with the class's ``labels`` (by default those of
    the classes file the settings name)."""
    if task.flow_run_id:
        return UUID(task.flow_run_id)
    key = await asyncio.to_thread(services.person_run_key, engine, task.id)
    person = await asyncio.to_thread(services.get_actor, engine, task.assignee_id)
    timeout_s = form_timeout_s(task)
    run = await create_suspended_run(
        client,
        deployment,
        parameters={
            "task_id": task.id,
            "decision_id": task.decision_id,
            "stage": stage,
            "person": task.assignee_id,
            "intro": intro,
        },
        name=f"{stage} · {task.decision_id} · {task.assignee_id}",
        tags=[f"actor:{task.assignee_id}", f"task:{task.id}", *tags],
        key=key,
        timeout_s=timeout_s,
    )
    form = personal_form(
        task.kind, criteria, person.id, labels=labels or settings_labels(), lang=person.lang
    )
    await suspend_for_answer(
        client,
        run,
        form.with_initial_data(description=intro),
        FIRST_PAUSE_KEY,
        timeout_s=timeout_s,
    )
    await asyncio.to_thread(services.attach_flow_run, engine, task.id, str(run.id))
    return run.id


async def create_suspended_run(
    client: PrefectClient,
    deployment: AnswerDeployment,
    *,
    parameters: dict[str, Any],
    name: str,
    tags: list[str],
    key: str,
    timeout_s: int,
) -> FlowRun:
    """Create a run of ``deployment`` already suspended at its first pause, once per
    ``key``; returns it (the one made earlier under ``key``, if any, in whatever state).

    One request, where ``create_flow_run_from_deployment`` and a suspension took two and
    cost the server about 40 ms of CPU against 12 (one at a time, on PostgreSQL; the
    creation from a deployment validates the work pool's job variables): ``POST /flow_runs/``
    with the deployment's flow, id and work queue, the pause's state, and the pause key
    already among the run's fired ones, which is what the server's pausing rule records
    when a run suspends itself. Without that key the run, once resumed with the person's
    answer, would suspend again at its first pause instead of reading the answer."""
    create = FlowRunCreate(
        flow_id=deployment.flow_id,
        deployment_id=deployment.id,
        name=name,
        parameters=parameters,
        tags=sorted({*deployment.tags, *tags}),
        idempotency_key=key,
        state=to_state_create(suspended(FIRST_PAUSE_KEY, timeout_s)),
        empirical_policy=FlowRunPolicy(pause_keys={FIRST_PAUSE_KEY}),
        work_pool_name=deployment.work_pool_name,
        work_queue_name=deployment.work_queue_name,
    )
    response = await client.request(
        "POST", "/flow_runs/", json=create.model_dump(mode="json", exclude_unset=True)
    )
    return FlowRun.model_validate(response.json())


async def suspend_for_answer(
    client: PrefectClient,
    run: FlowRun,
    form: type[AnswerForm],
    key: str,
    *,
    timeout_s: int,
) -> None:
    """Suspend a run that no process executes, with ``form`` as its Resume dialog.

    This is what ``suspend_flow_run`` does for the run it is called in; Prefect 3.9.1's
    version for another run forgets the run id when saving the form. An opener killed
    half-way leaves the run running, or suspended with its form partly saved: the next
    opener finishes the job.
    """
    current = run.state
    if current is not None and current.is_running():
        current = (await client.set_flow_run_state(run.id, suspended(key, timeout_s))).state
    if current is None or not current.is_paused() or current.state_details.pause_key != key:
        return  # it already moved on: answered, cancelled or suspended again
    keyset = keyset_from_paused_state(current)
    try:
        await form.asave(keyset, flow_run_id=run.id)
    except (ObjectAlreadyExists, PrefectHTTPStatusError) as err:
        if isinstance(err, PrefectHTTPStatusError) and err.response.status_code != 409:
            raise
        # an earlier opener saved the form's schema; its description may be missing
        await _save_once(client, run.id, keyset["description"], form._description)


async def _save_once(client: PrefectClient, flow_run_id: UUID, key: str, value: Any) -> None:
    if not isinstance(value, str):
        return
    try:
        await client.create_flow_run_input(
            flow_run_id=flow_run_id, key=key, value=json.dumps(value)
        )
    except ObjectAlreadyExists:
        pass
    except PrefectHTTPStatusError as err:
        if err.response.status_code != 409:
            raise


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
