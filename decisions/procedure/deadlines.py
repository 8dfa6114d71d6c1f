"""Deadlines: when a task's assignee is reminded, and what happens when nobody answers.

A task is reminded once, ``durations.reminder`` after it was given; at its deadline (its
own, or ``durations.answer`` after it was given if it has none) a consultation task passes
to the next of its slot's routed alternates the separation of powers allows, and any other
task, or one whose slot has no alternate left, is cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from decisions.classes import DecisionClass
from decisions.model import Task, TaskKind
from decisions.procedure import keys
from decisions.procedure.commands import Expire, Remind
from decisions.progress import Routing

__all__ = ["deadline_of", "due", "expiry_reason"]


def deadline_of(task: Task, decision_class: DecisionClass) -> datetime:
    """When ``task`` is due."""
    return task.deadline or task.created_at + decision_class.durations.answer


def due(
    task: Task, decision_class: DecisionClass, routing: Routing | None, now: datetime
) -> Remind | Expire | None:
    """What an open task's deadline calls for at ``now``: nothing, a reminder, or expiry.

    ``routing`` is the routing of the consultation the task belongs to (None for other
    stages); a late expert's replacements are the alternates after them in their slot.
    """
    deadline = deadline_of(task, decision_class)
    if now >= deadline:
        candidates: tuple[str, ...] = ()
        if task.kind is TaskKind.CONSULT and routing is not None:
            slot = routing.slot_of(task.assignee_id)
            if slot is not None:
                chain = slot.candidates
                candidates = chain[chain.index(task.assignee_id) + 1 :]
        return Expire(
            task,
            deadline,
            candidates,
            tuple(
                keys.assignment(task.decision_id, TaskKind.CONSULT, task.round, c)
                for c in candidates
            ),
            _answer_time(task, decision_class),
            keys.expired(task.id),
        )
    if now >= task.created_at + decision_class.durations.reminder:
        return Remind(task, deadline, keys.reminded(task.id))
    return None


def _answer_time(task: Task, decision_class: DecisionClass) -> timedelta:
    """How long a replacement has to answer: as long as the task's stage gives anyone."""
    durations = decision_class.durations
    if task.kind is TaskKind.CONSULT:
        return min(durations.answer, durations.consult)
    return durations.answer


def expiry_reason(deadline: datetime, replacement: str | None) -> str:
    """What a task closed at its deadline says (and its person's form, when closed)."""
    when = f"No answer by the deadline {deadline:%Y-%m-%d %H:%M} UTC"
    return f"{when}; passed to {replacement}." if replacement else f"{when}."
