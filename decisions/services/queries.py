"""Reads: decisions, tasks and answers as domain models, each in a read-only unit of work
that takes no lock, so the CLI, the flows and the sweep read while people answer."""

from __future__ import annotations

from sqlalchemy import Engine

from decisions.model import Answer, Decision, Task
from decisions.uow import UnitOfWork

__all__ = [
    "get_decision",
    "list_decisions",
    "get_task",
    "tasks_of",
    "open_tasks_for",
    "open_tasks",
    "answers_of",
    "answer_for",
]


def get_decision(engine: Engine, decision_id: str) -> Decision:
    """One decision; :class:`~decisions.exceptions.DecisionNotFound` if there is none."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.decisions.get(decision_id)


def list_decisions(engine: Engine) -> list[Decision]:
    """Every decision, by id."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.decisions.list()


def get_task(engine: Engine, task_id: str) -> Task:
    """One task; :class:`~decisions.exceptions.TaskNotFound` if there is none."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.tasks.get(task_id)


def tasks_of(engine: Engine, decision_id: str) -> list[Task]:
    """Every task of a decision by id, whatever its status (the decision must exist)."""
    with UnitOfWork(engine, read_only=True) as uow:
        uow.decisions.require(decision_id)
        return uow.tasks.for_decision(decision_id)


def open_tasks_for(engine: Engine, actor_id: str) -> list[Task]:
    """One person's open tasks, soonest deadline first (``counsel tasks``)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.tasks.open_for(actor_id)


def open_tasks(engine: Engine) -> list[Task]:
    """Every open task of every decision (what the deadline sweep looks at)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.tasks.all_open()


def answers_of(engine: Engine, decision_id: str) -> dict[str, Answer]:
    """The decision's recorded answers as their models, by task id, in the order recorded.

    A task has at most one answer, so the task id is the key; the answerer is the task's
    assignee (:func:`record_answer` takes no other). Narrow a value with ``isinstance``
    (``Opinion``, ``Vote`` …) rather than validating it again.
    """
    with UnitOfWork(engine, read_only=True) as uow:
        return {a.task_id: a.answer for a in uow.answers.for_decision(decision_id)}


def answer_for(engine: Engine, task_id: str) -> Answer | None:
    """The recorded answer of a task as its model, or None while it has none."""
    with UnitOfWork(engine, read_only=True) as uow:
        stored = uow.answers.for_task(task_id)
    return None if stored is None else stored.answer
