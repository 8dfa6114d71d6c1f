"""Tasks: giving one to a person, closing one unanswered, and the codes that answer them.

An answer code is derived from the store's secret and the task id, so a retried assignment
hands out the same code and only its hash is stored with the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from decisions.credentials import answer_code, hash_secret
from decisions.exceptions import TaskError
from decisions.model import Task, TaskKind, TaskStatus
from decisions.powers import ACTION_FOR_TASK, may
from decisions.services.common import SYSTEM, parties, refuse
from decisions.store import NewEvent
from decisions.uow import UnitOfWork, new_key

__all__ = [
    "AssignedTask",
    "assign_task",
    "set_task_status",
    "close_task_once",
    "attach_flow_run",
    "answer_code_for",
]


@dataclass(frozen=True)
class AssignedTask:
    """A task as assigned, its answer code for its assignee, and whether this call made it."""

    task: Task
    answer_code: str
    created: bool


def assign_task(
    engine: Engine,
    decision_id: str,
    kind: TaskKind | str,
    assignee_id: str,
    *,
    round: int | None = None,
    deadline: datetime | None = None,
    zone: str | None = None,
    measures: list[str] | tuple[str, ...] = (),
    idempotency_key: str | None = None,
    by: str = SYSTEM,
) -> AssignedTask:
    """Give ``assignee_id`` a task on the decision, if the separation of powers allows it.

    Returns the task with its answer code (derived from the store's secret, so a retried
    assignment returns the same code). Raises :class:`PermissionDenied`, after auditing the
    refusal, when the assignee may not act on this decision.
    """
    kind = TaskKind(kind)
    key = new_key(idempotency_key)
    with UnitOfWork(engine) as uow:
        secret = uow.secret()
        if done := uow.recorded(key):
            task = uow.tasks.get(done.data["task_id"])
            return AssignedTask(task, answer_code(secret, task.id), created=False)
        decision = uow.decisions.get(decision_id)
        assignee = uow.actors.get(assignee_id)
        involved = parties(uow, decision)
        action = ACTION_FOR_TASK[kind]
        ruling = may(assignee, action, involved)
        if not ruling:
            denial = refuse(
                uow,
                assignee,
                action,
                involved,
                ruling.reason,
                ruling.rule,
                key,
                stage="assignment",
            )
            uow.commit()
            raise denial
        task_id = uow.tasks.next_id(decision.id, kind)
        code = answer_code(secret, task_id)
        task = Task(
            id=task_id,
            decision_id=decision.id,
            kind=kind,
            assignee_id=assignee.id,
            round=round or max(decision.round, 1),
            deadline=deadline,
            answer_code_hash=hash_secret(code),
            zone=zone,
            measures=tuple(measures),
        )
        uow.tasks.add(task)
        uow.record(
            NewEvent(
                actor=by,
                action="task.assigned",
                decision_id=decision.id,
                payload={
                    "task_id": task.id,
                    "kind": kind.value,
                    "assignee": assignee.id,
                    "round": task.round,
                    "deadline": deadline,
                    "zone": zone,
                    "measures": list(measures),
                },
                idempotency_key=key,
            )
        )
    return AssignedTask(task, code, created=True)


def set_task_status(
    engine: Engine,
    task_id: str,
    status: TaskStatus,
    *,
    reason: str,
    idempotency_key: str | None = None,
    by: str = SYSTEM,
) -> Task:
    """Close a task without an answer (reassigned to an alternate, cancelled)."""
    task, _changed = _close_task(engine, task_id, status, reason, new_key(idempotency_key), by)
    return task


def close_task_once(
    engine: Engine, task_id: str, status: TaskStatus, *, reason: str, idempotency_key: str
) -> bool:
    """Close a task without an answer under ``idempotency_key``; True for the one caller (of
    any number racing) that closed it, so only that caller does what follows."""
    _task, changed = _close_task(engine, task_id, status, reason, idempotency_key, SYSTEM)
    return changed


def _close_task(
    engine: Engine, task_id: str, status: TaskStatus, reason: str, key: str, by: str
) -> tuple[Task, bool]:
    with UnitOfWork(engine) as uow:
        if uow.recorded(key):
            return uow.tasks.get(task_id), False
        task = uow.tasks.get(task_id)
        if task.status is not TaskStatus.OPEN:
            raise TaskError(
                f"Task {task.id} is {task.status.value}; only an open task can become "
                f"{status.value}.",
                decision_id=task.decision_id,
                task_id=task.id,
            )
        task = uow.tasks.set_status(task.id, status)
        uow.record(
            NewEvent(
                actor=by,
                action=f"task.{status.value}",
                decision_id=task.decision_id,
                payload={"task_id": task.id, "reason": reason},
                idempotency_key=key,
            )
        )
        return task, True


def attach_flow_run(engine: Engine, task_id: str, flow_run_id: str) -> Task:
    """Remember which Prefect run waits for this task's answer (so the CLI can resume it)."""
    with UnitOfWork(engine) as uow:
        return uow.tasks.attach_run(task_id, flow_run_id)


def answer_code_for(engine: Engine, task_id: str) -> str:
    """The task's answer code, for delivering it to its assignee (never shown to others)."""
    with UnitOfWork(engine, read_only=True) as uow:
        uow.tasks.get(task_id)
        return answer_code(uow.secret(), task_id)
