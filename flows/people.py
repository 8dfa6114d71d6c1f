"""One person's task as its own flow run, waiting for their answer in a Prefect form.

The run is named ``<stage> · <decision id> · <person>`` and tagged ``actor:<id>``, so a
person finds their waiting run in the UI by filtering on their tag. It pauses with the
task's form; the server refuses malformed input, and the flow checks the rest through the
store (right person, task open, code valid, powers). A refused answer reopens the form with
the reason at the top and never fails the run; an answer that came by the CLI meanwhile
ends the wait. A run that reaches its ``until`` time without an answer fails with Prefect's
pause timeout, and the stage decides what follows (a reminder, an alternate, a stall).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, tags
from prefect.context import get_run_context
from prefect.flow_runs import pause_flow_run
from prefect.states import State
from pydantic import Field, create_model

from decisions import services
from decisions.exceptions import ActorNotFound, PermissionDenied, TaskError
from decisions.model import Task, utcnow
from flows.answering import answer_key
from flows.context import flow_context, off_loop
from flows.forms import AnswerForm, form_for

__all__ = ["await_answer", "ask"]


def _personal_form(form_class: type[AnswerForm], person: str) -> type[AnswerForm]:
    """The form with ``your_id`` filled in for ``person`` and its constraints kept
    (``with_initial_data`` would replace the field with a bare default)."""
    personal: type[AnswerForm] = create_model(  # type: ignore[call-overload]
        form_class.__name__,
        __base__=form_class,
        your_id=(
            str,
            Field(
                default=person,
                min_length=2,
                max_length=63,
                title="Your Counsel id",
                description="e.g. wang-fang",
            ),
        ),
    )
    return personal


def _describe(intro: str, problem: str | None) -> str:
    if problem:
        return f"**Your last answer was not recorded:** {problem}\n\n---\n\n{intro}"
    return intro


@flow(
    name="answer-task",
    flow_run_name="{stage} · {decision_id} · {person}",
    description="One person's task: waits for their answer and records it in the store.",
)
async def await_answer(
    task_id: str,
    decision_id: str,
    stage: str,
    person: str,
    until: datetime,
    intro: str = "",
) -> dict[str, Any] | None:
    """Wait for the task's answer, record it, and return it (None if the task closed)."""
    logger = get_run_logger()
    run = get_run_context()
    async with flow_context() as ctx:
        task = await off_loop(services.attach_flow_run, ctx.engine, task_id, str(run.flow_run.id))  # type: ignore[union-attr]
        decision = await off_loop(services.get_decision, ctx.engine, decision_id)
        criteria = ctx.decision_class(decision).criteria
        form_class = _personal_form(form_for(task.kind, criteria), person)
        problem: str | None = None
        attempt = 0
        while True:
            stored = await off_loop(services.answer_for, ctx.engine, task_id)
            if stored is not None:
                logger.info("The answer to %s is recorded.", task_id)
                return dict(stored["payload"])
            current = await off_loop(services.get_task, ctx.engine, task_id)
            if current.status.value != "open":
                logger.info("Task %s is %s; nothing to wait for.", task_id, current.status.value)
                return None
            remaining = int((until - utcnow()).total_seconds())
            if remaining <= 0:
                remaining = 1
            attempt += 1
            form: AnswerForm = await pause_flow_run(  # type: ignore[misc]
                wait_for_input=form_class.with_initial_data(description=_describe(intro, problem)),
                timeout=remaining,
                poll_interval=1,
                key=f"answer-{attempt}",
            )
            problem = await off_loop(_record, ctx.engine, task, form, criteria)
            if problem:
                logger.warning("Answer to %s refused: %s", task_id, problem)


def _record(engine: Any, task: Task, form: AnswerForm, criteria: tuple[str, ...]) -> str | None:
    """Record what the form brought; the refusal's sentence, or None when recorded."""
    try:
        who = services.get_actor(engine, form.your_id)
        answer = form.to_answer()
        services.record_answer(
            engine,
            task.id,
            answer,
            actor=who,
            answer_code=form.answer_code,
            criteria=criteria,
            idempotency_key=answer_key(task.id, answer.model_dump(mode="json")),
        )
    except (TaskError, PermissionDenied, ActorNotFound, ValueError) as refusal:
        return str(refusal)
    return None


async def ask(
    task: Task,
    *,
    stage: str,
    person: str,
    until: datetime,
    intro: str,
    run_tags: list[str],
) -> State[Any]:
    """Start the person's run for ``task`` under its tags and return its final state."""
    with tags(f"actor:{person}", f"task:{task.id}", *run_tags):
        state: State[Any] = await await_answer(
            task.id,
            task.decision_id,
            stage,
            person,
            until,
            intro,
            return_state=True,  # type: ignore[call-arg]
        )
    return state
