"""Recorded answers in and out of the store as the :data:`~decisions.model.Answer` models.

A row keeps the answer's JSON and its ``kind``; reading it back validates it into the model
that kind names, so no caller handles a payload dict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from decisions.clock import utcnow
from decisions.model.answers import Answer
from decisions.model.tasks import Task
from decisions.tables import AnswerRow

__all__ = ["StoredAnswer", "AnswerRepository"]

#: Reads a stored answer payload back into its model, chosen by its ``kind``.
_ANSWER: TypeAdapter[Answer] = TypeAdapter(Annotated[Answer, Field(discriminator="kind")])


@dataclass(frozen=True)
class StoredAnswer:
    """One recorded answer as the store holds it: whose, to which task, and its audit event."""

    task_id: str
    actor_id: str
    answer: Answer
    audit_seq: int


class AnswerRepository:
    """Answers in and out as the :data:`~decisions.model.Answer` models, never as dicts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, task: Task, actor_id: str, answer: Answer, audit_seq: int) -> None:
        self.add_many([(task, actor_id, answer, audit_seq)])

    def add_many(self, entries: Iterable[tuple[Task, str, Answer, int]]) -> None:
        """Add answers, each ``(task, actor_id, answer, audit_seq)``, in one flush (one
        statement for them all where the database allows it)."""
        now = utcnow()
        self.session.add_all(
            AnswerRow(
                task_id=task.id,
                decision_id=task.decision_id,
                actor_id=actor_id,
                kind=answer.kind,
                payload=answer.model_dump(mode="json"),
                audit_seq=audit_seq,
                created_at=now,
            )
            for task, actor_id, answer, audit_seq in entries
        )
        self.session.flush()

    def answered_among(self, task_ids: Iterable[str]) -> set[str]:
        """Which of ``task_ids`` have an answer (one query)."""
        ids = sorted(set(task_ids))
        if not ids:
            return set()
        return set(
            self.session.scalars(select(AnswerRow.task_id).where(AnswerRow.task_id.in_(ids)))
        )

    def for_task(self, task_id: str) -> StoredAnswer | None:
        row = self.session.scalars(select(AnswerRow).where(AnswerRow.task_id == task_id)).first()
        return None if row is None else self._to_model(row)

    def for_decision(self, decision_id: str) -> list[StoredAnswer]:
        """The decision's answers in the order they were recorded."""
        rows = self.session.scalars(
            select(AnswerRow).where(AnswerRow.decision_id == decision_id).order_by(AnswerRow.id)
        )
        return [self._to_model(r) for r in rows]

    @staticmethod
    def _to_model(row: AnswerRow) -> StoredAnswer:
        return StoredAnswer(
            task_id=row.task_id,
            actor_id=row.actor_id,
            answer=_ANSWER.validate_python(row.payload),
            audit_seq=row.audit_seq,
        )
