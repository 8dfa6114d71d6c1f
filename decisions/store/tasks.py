"""Tasks in and out of the store, numbered per decision with their kind's letter.

The queries here are the ones the services and the powers policy ask inside every write
(who holds which kind of task, what is open for whom), each one indexed query.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from decisions.clock import as_utc, utcnow
from decisions.exceptions import TaskNotFound
from decisions.model.tasks import Task, TaskKind, TaskStatus
from decisions.tables import TaskRow

__all__ = ["TaskRepository"]


class TaskRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def next_id(self, decision_id: str, kind: TaskKind) -> str:
        """``D-2026-0001-C003``: the decision, the kind's letter, a number per decision."""
        count = self.session.scalar(select(func.count()).where(TaskRow.decision_id == decision_id))
        letter = {
            "consult": "C",
            "discuss": "D",
            "vote": "V",
            "execute": "E",
            "inspect": "I",
            "score": "S",
            "witness": "W",
        }
        return f"{decision_id}-{letter[kind.value]}{(count or 0) + 1:03d}"

    def add(self, task: Task) -> None:
        self.session.add(
            TaskRow(
                id=task.id,
                decision_id=task.decision_id,
                kind=task.kind.value,
                assignee_id=task.assignee_id,
                round=task.round,
                deadline=task.deadline,
                status=task.status.value,
                answer_code_hash=task.answer_code_hash,
                zone=task.zone,
                measures=list(task.measures),
                created_at=task.created_at,
                closed_at=task.closed_at,
            )
        )
        self.session.flush()

    def get(self, task_id: str) -> Task:
        row = self.session.get(TaskRow, task_id)
        if row is None:
            raise TaskNotFound(task_id)
        return self._to_model(row)

    def set_status(self, task_id: str, status: TaskStatus) -> Task:
        row = self.session.get(TaskRow, task_id)
        if row is None:
            raise TaskNotFound(task_id)
        row.status = status.value
        row.closed_at = None if status is TaskStatus.OPEN else utcnow()
        self.session.flush()
        return self._to_model(row)

    def attach_run(self, task_id: str, flow_run_id: str) -> Task:
        row = self.session.get(TaskRow, task_id)
        if row is None:
            raise TaskNotFound(task_id)
        row.flow_run_id = flow_run_id
        self.session.flush()
        return self._to_model(row)

    def for_decision(self, decision_id: str) -> list[Task]:
        rows = self.session.scalars(
            select(TaskRow).where(TaskRow.decision_id == decision_id).order_by(TaskRow.id)
        )
        return [self._to_model(r) for r in rows]

    def assignments(self, decision_id: str) -> set[tuple[TaskKind, str]]:
        """Who holds which kind of task on a decision (cancelled tasks left out): one
        indexed query, since the powers policy asks it inside every write."""
        rows = self.session.execute(
            select(TaskRow.kind, TaskRow.assignee_id)
            .where(
                TaskRow.decision_id == decision_id,
                TaskRow.status != TaskStatus.CANCELLED.value,
            )
            .distinct()
        )
        return {(TaskKind(kind), assignee) for kind, assignee in rows}

    def all_open(self) -> list[Task]:
        rows = self.session.scalars(
            select(TaskRow)
            .where(TaskRow.status == TaskStatus.OPEN.value)
            .order_by(TaskRow.deadline, TaskRow.id)
        )
        return [self._to_model(r) for r in rows]

    def open_for(self, actor_id: str) -> list[Task]:
        rows = self.session.scalars(
            select(TaskRow)
            .where(TaskRow.assignee_id == actor_id, TaskRow.status == TaskStatus.OPEN.value)
            .order_by(TaskRow.deadline, TaskRow.id)
        )
        return [self._to_model(r) for r in rows]

    @staticmethod
    def _to_model(row: TaskRow) -> Task:
        return Task(
            id=row.id,
            decision_id=row.decision_id,
            kind=TaskKind(row.kind),
            assignee_id=row.assignee_id,
            round=row.round,
            deadline=as_utc(row.deadline),
            status=TaskStatus(row.status),
            answer_code_hash=row.answer_code_hash,
            zone=row.zone,
            measures=tuple(row.measures),
            created_at=as_utc(row.created_at),
            closed_at=as_utc(row.closed_at),
            flow_run_id=row.flow_run_id,
        )
