"""One person's task as its own flow run: the ``answer-task`` deployment.

The run is created suspended by the stage that assigned the task (:mod:`flows.runs`), named
``<stage> · <decision id> · <person>`` and tagged ``actor:<id>``, with the task's form as
its Resume dialog, in the person's language. Prefect's server refuses malformed input;
valid input reschedules the run, and a worker executes this flow, which checks the rest
through the store (task open, code valid, powers); who answers is the run's person, never
asked. A refused answer suspends the run again with the reason above the form and what was
typed in it, and never fails it; a recorded one continues the decision if it was the last
one its step waited for. The flow runs only for the moments it takes to record: before and
after, no process holds it.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.flow_runs import suspend_flow_run
from pydantic import ValidationError

from decisions import services
from decisions.classes import load_classes
from decisions.db import make_engine
from decisions.exceptions import ActorNotFound, PermissionDenied, TaskError, validation_sentence
from decisions.model import Task, TaskKind, TaskStatus
from decisions.settings import load_settings
from flows.answering import answer_key
from flows.forms import AnswerForm, personal_form, with_typed
from flows.runs import describe, form_timeout_s
from flows.warm import continue_if_ready

__all__ = ["answer_task"]

MAX_ATTEMPTS = 50


@flow(
    name="answer-task",
    flow_run_name="{stage} · {decision_id} · {person}",
    description="One person's task: its form waits, suspended, for their answer.",
)
def answer_task(
    task_id: str, decision_id: str, stage: str, person: str, intro: str = ""
) -> dict[str, Any] | None:
    """Record the answer the form brought; ask again with the reason if it is refused."""
    logger = get_run_logger()
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        decision = services.get_decision(engine, decision_id)
        book = load_classes(settings.classes_file)
        criteria = book.get(decision.class_name, decision.district_type).criteria
        first = services.get_task(engine, task_id)
        if first.kind is TaskKind.SCORE:
            from flows.tender import score_fields  # a tender evaluator's own cells

            criteria = score_fields(engine, first)
        lang = services.get_actor(engine, person).lang
        problem: str | None = None
        typed: dict[str, Any] = {}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            stored = services.answer_for(engine, task_id)
            if stored is not None:
                logger.info("The answer to %s is recorded.", task_id)
                _continue(engine, decision_id)
                return stored.model_dump(mode="json")
            task = services.get_task(engine, task_id)
            if task.status is not TaskStatus.OPEN:
                logger.info("Task %s is %s; nothing to wait for.", task_id, task.status.value)
                return None
            form_class = with_typed(
                personal_form(task.kind, criteria, person, labels=book.labels, lang=lang), typed
            )
            # The first suspension was made when the task was assigned; on every run this
            # returns the inputs already given, in order, and suspends at the first new one.
            form: AnswerForm = suspend_flow_run(
                wait_for_input=form_class.with_initial_data(description=describe(intro, problem)),
                key=f"answer-{attempt}",
                timeout=form_timeout_s(task),
            )
            problem = _record(engine, task, form, criteria)
            if problem:
                logger.warning("Answer to %s refused: %s", task_id, problem)
                typed = {name: getattr(form, name) for name in type(form).model_fields}
        return None
    finally:
        engine.dispose()


def _continue(engine: Any, decision_id: str) -> None:
    with get_client(sync_client=True) as client:
        if continue_if_ready(client, engine, decision_id):
            get_run_logger().info("%s: every task of the step is done; continuing.", decision_id)


def _record(engine: Any, task: Task, form: AnswerForm, criteria: tuple[str, ...]) -> str | None:
    """Record what the form brought, as the task's person; the refusal's sentence, or None
    when recorded."""
    try:
        who = services.get_actor(engine, task.assignee_id)
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
    except ValidationError as refusal:
        return f"The answer is not valid: {validation_sentence(refusal)}"
    except (TaskError, PermissionDenied, ActorNotFound, ValueError) as refusal:
        return str(refusal)
    return None
