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
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, State
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Cancelled, Completed, Running, Suspended
from sqlalchemy import Engine

from decisions import services
from decisions.classes import Labels, load_classes
from decisions.model import Task, utcnow
from decisions.settings import load_settings
from flows.forms import AnswerForm, personal_form

__all__ = [
    "ANSWER_DEPLOYMENT",
    "answer_deployment_id",
    "forget_answer_deployment",
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


#: The id of the ``answer-task`` deployment per Prefect API, read once per process: a step
#: that opens forms would otherwise read it again (one API call per step). A deployment
#: deleted and made again gets a new id: :func:`forget_answer_deployment` drops the old one.
_answer_deployments: dict[str, UUID] = {}


async def answer_deployment_id(client: PrefectClient) -> UUID:
    """The id of the ``answer-task`` deployment on ``client``'s API, read once per process."""
    api = str(client.api_url)
    if api not in _answer_deployments:
        deployment = await client.read_deployment_by_name(ANSWER_DEPLOYMENT)
        _answer_deployments[api] = deployment.id
    return _answer_deployments[api]


def forget_answer_deployment(client: PrefectClient) -> None:
    """Read the ``answer-task`` deployment's id again next time (it was not found)."""
    _answer_deployments.pop(str(client.api_url), None)


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
    deployment_id: UUID,
    stage: str,
    intro: str,
    criteria: tuple[str, ...],
    tags: list[str],
    labels: Labels | None = None,
) -> UUID:
    """Create the person's suspended run of the ``answer-task`` deployment for an open
    task, once; returns its id. Several may open at once (the store calls run in threads).

    The run is created Running and then suspended, not created Suspended (which would save
    an API call per form): only a state change the server orchestrates records the pause
    key on the run, and without it the run, once resumed with the person's answer, would
    suspend again at its first pause instead of reading the answer.

    The form is in the person's language with the class's ``labels`` (by default those of
    the classes file the settings name)."""
    if task.flow_run_id:
        return UUID(task.flow_run_id)
    key = await asyncio.to_thread(services.person_run_key, engine, task.id)
    person = await asyncio.to_thread(services.get_actor, engine, task.assignee_id)
    run = await client.create_flow_run_from_deployment(
        deployment_id,
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
        idempotency_key=key,
    )
    form = personal_form(
        task.kind, criteria, person.id, labels=labels or settings_labels(), lang=person.lang
    )
    await suspend_for_answer(
        client,
        run,
        form.with_initial_data(description=intro),
        FIRST_PAUSE_KEY,
        timeout_s=form_timeout_s(task),
    )
    await asyncio.to_thread(services.attach_flow_run, engine, task.id, str(run.id))
    return run.id


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
