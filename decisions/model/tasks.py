"""Tasks: one person's piece of work on a decision, of one kind, answered once.

A task's kind says which answers it takes (:data:`decisions.model.answers.ANSWER_TYPES`); its
status moves from ``open`` to ``answered``, ``reassigned`` or ``cancelled`` and never back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from decisions.clock import utcnow

__all__ = ["TaskKind", "TaskStatus", "Task"]


class TaskKind(StrEnum):
    CONSULT = "consult"
    DISCUSS = "discuss"
    VOTE = "vote"
    EXECUTE = "execute"
    INSPECT = "inspect"
    #: a tender evaluator scores the qualified bids of their lots
    SCORE = "score"
    #: a witness (a notary) enters the value mixed into a tender's draw
    WITNESS = "witness"


class TaskStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    REASSIGNED = "reassigned"
    CANCELLED = "cancelled"


class Task(BaseModel, frozen=True):
    """One person's piece of work on a decision, answered once with the task's code."""

    id: str
    decision_id: str
    kind: TaskKind
    assignee_id: str
    round: int = Field(default=1, ge=1)
    deadline: datetime | None = None
    status: TaskStatus = TaskStatus.OPEN
    answer_code_hash: str
    zone: str | None = None
    measures: tuple[str, ...] = ()
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    flow_run_id: str | None = Field(default=None, description="the Prefect run waiting for it")
