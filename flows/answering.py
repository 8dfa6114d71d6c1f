"""One answer path for every channel: the CLI, the demo's participants, and the UI form.

``submit_answer`` checks the form, records the answer through the store's service (which
applies the separation of powers and audits refusals), then resumes the Prefect run that is
waiting for it, so the flow moves on. The flow itself records what the UI form brings with
the same idempotency key, so one answer is recorded once whichever channel delivers it.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import Engine

from decisions import services
from decisions.audit import canonical_json
from decisions.classes import ClassBook
from decisions.exceptions import TaskError
from decisions.model import Actor, Task
from flows.forms import AnswerForm, form_for

__all__ = ["answer_key", "parse_form", "submit_answer", "resume_waiting_run", "InvalidAnswer"]


class InvalidAnswer(TaskError):
    """The answer file or options do not fit the task's form."""


def answer_key(task_id: str, answer: dict[str, Any]) -> str:
    """The idempotency key of one answer to one task, the same on every channel."""
    digest = hashlib.sha256(canonical_json(answer).encode()).hexdigest()[:16]
    return f"answer:{task_id}:{digest}"


def parse_form(task: Task, data: dict[str, Any], criteria: tuple[str, ...]) -> AnswerForm:
    """Validate ``data`` against the task's form, or raise :class:`InvalidAnswer`."""
    form_class = form_for(task.kind, criteria)
    try:
        return form_class.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidAnswer(
            f"The answer to task {task.id} is not valid: {where}: {message}.",
            decision_id=task.decision_id,
            task_id=task.id,
        ) from err


def submit_answer(
    engine: Engine,
    task_id: str,
    data: dict[str, Any],
    *,
    actor: Actor,
    classes: ClassBook,
    resume: bool = True,
) -> services.RecordedAnswer:
    """Record ``actor``'s answer to a task and wake the run waiting for it."""
    task = services.get_task(engine, task_id)
    decision = services.get_decision(engine, task.decision_id)
    criteria = classes.get(decision.class_name, decision.district_type).criteria
    form = parse_form(task, {**data, "your_id": actor.id}, criteria)
    answer = form.to_answer()
    recorded = services.record_answer(
        engine,
        task.id,
        answer,
        actor=actor,
        answer_code=form.answer_code,
        criteria=criteria,
        idempotency_key=answer_key(task.id, answer.model_dump(mode="json")),
    )
    if resume and task.flow_run_id:
        resume_waiting_run(UUID(task.flow_run_id), form.model_dump(mode="json"))
    return recorded


def resume_waiting_run(
    flow_run_id: UUID, run_input: dict[str, Any], *, wait_s: float = 20.0
) -> bool:
    """Resume the run with ``run_input`` once it is paused; False if it never needed to be.

    The answer is already in the store, so this only saves the run from waiting until its
    next check: a run that is not paused yet is retried for ``wait_s`` seconds, a finished
    run is left alone.
    """
    from prefect import get_client
    from prefect.exceptions import FlowPauseTimeout, NotPausedError
    from prefect.flow_runs import resume_flow_run

    deadline = time.monotonic() + wait_s
    while True:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
        if state is None or state.is_final():
            return False
        if state.is_paused() and state.state_details.run_input_keyset:
            try:
                resume_flow_run(flow_run_id, run_input=run_input)
                return True
            except (RuntimeError, FlowPauseTimeout, NotPausedError):
                pass  # the form's schema is not saved yet, or it just moved; try again
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
