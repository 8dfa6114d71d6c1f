"""What a person's links need from the store: the secret that signs them, and their tasks.

Both are reads (no write lock): the answer page asks them on every request, from as many
instances as run behind a load balancer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, or_, select

from decisions.model import Decision, Task, TaskStatus
from decisions.tables import TaskRow
from decisions.uow import UnitOfWork

__all__ = ["store_secret", "tasks_of_person"]


def store_secret(engine: Engine) -> str:
    """The store's secret, which signs personal links (:mod:`decisions.links`) and derives
    answer codes. Never show it, log it or send it anywhere."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.secret()


def tasks_of_person(
    engine: Engine, actor_id: str, *, closed_since: datetime, limit: int = 50
) -> list[tuple[Task, Decision]]:
    """A person's open tasks and those closed since ``closed_since``, across decisions,
    each with its decision: open ones first by deadline, then the most recently closed.

    At most ``limit`` are returned (open ones first). Unknown ids have no tasks.
    """
    with UnitOfWork(engine, read_only=True) as uow:
        ids = uow.session.scalars(
            select(TaskRow.id)
            .where(
                TaskRow.assignee_id == actor_id,
                or_(
                    TaskRow.status == TaskStatus.OPEN.value,
                    TaskRow.closed_at >= closed_since,
                ),
            )
            .order_by(TaskRow.closed_at.desc().nulls_first(), TaskRow.deadline, TaskRow.id)
            .limit(limit)
        ).all()
        tasks = [uow.tasks.get(task_id) for task_id in ids]
        decisions = {d: uow.decisions.get(d) for d in {t.decision_id for t in tasks}}
    return [(task, decisions[task.decision_id]) for task in tasks]
