"""What a person's links need from the store: the secret that signs them, the task a link
opens, and their tasks.

All are reads (no write lock): the answer page asks them on every request, from as many
instances as run behind a load balancer, so each is one short read-only transaction that
reads what the page shows and no more (never every actor of the store).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Engine, bindparam, or_, select

from decisions.classes import ClassBook
from decisions.exceptions import ActorNotFound, TaskNotFound
from decisions.model import Actor, Answer, Decision, Task, TaskKind, TaskStatus
from decisions.procedure import DecisionView
from decisions.services.answers import RecordedAnswer
from decisions.tables import ActorRow, DecisionRow, TaskRow
from decisions.uow import UnitOfWork

__all__ = [
    "PersonalTask",
    "after_answer",
    "open_personal_task",
    "store_secret",
    "tasks_of_person",
]


def store_secret(engine: Engine) -> str:
    """The store's secret, which signs personal links (:mod:`decisions.links`) and derives
    answer codes. Never show it, log it or send it anywhere."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.secret()


@dataclass(frozen=True)
class PersonalTask:
    """What a person's task link opens: the task, the person, and the decision as far as
    the task's page shows it (:func:`open_personal_task` says how far)."""

    task: Task
    actor: Actor
    view: DecisionView


#: A task with its assignee's and its decision's rows (built once: a statement costs more to
#: build than to run).
_TASK_ACTOR_DECISION = (
    select(TaskRow, ActorRow, DecisionRow)
    .join(ActorRow, ActorRow.id == TaskRow.assignee_id)
    .join(DecisionRow, DecisionRow.id == TaskRow.decision_id)
    .where(TaskRow.id == bindparam("task_id"))
)


def open_personal_task(
    engine: Engine, task_id: str, actor_id: str, classes: ClassBook
) -> PersonalTask | None:
    """The task ``task_id`` if it exists and is ``actor_id``'s, with that person and its
    decision, in one read; None otherwise (a link never opens another person's task).

    The task, its person and its decision's row come in one query; the view holds the
    decision, its class and, of the rest, only what the task's page reads; its ``actors``
    is the person alone:

    - the decision's tasks, when the page counts or shows others' (an answered or closed
      task's next steps, a vote, an inspection, a consultation round after the first);
    - the decision's answers, when it shows others' (the experts' advice beside a vote,
      the progress reports beside an inspection, the previous round beside an open
      consultation task), otherwise the task's own answer once it is closed;
    - the Delphi rounds, for the advice's conditions beside a vote and the previous round;
      the routings, for the previous round (which consultation a round belongs to).
    """
    with UnitOfWork(engine, read_only=True) as uow:
        # one query loads the three rows into the session, where the lookups by id below
        # find them and ask the database nothing more (the session holds them weakly: keep
        # them until then)
        rows = uow.session.execute(_TASK_ACTOR_DECISION, {"task_id": task_id}).one_or_none()
        try:
            task = uow.tasks.get(task_id)
            if task.assignee_id != actor_id:
                return None
            actor = uow.actors.get(actor_id)
        except (TaskNotFound, ActorNotFound):
            return None
        decision = uow.decisions.get(task.decision_id)
        del rows
        is_open = task.status is TaskStatus.OPEN
        later_round = task.kind is TaskKind.CONSULT and is_open and task.round > 1
        others = task.kind in {TaskKind.VOTE, TaskKind.INSPECT} or later_round
        answers: dict[str, Answer] = {}
        if others:
            answers = {a.task_id: a.answer for a in uow.answers.for_decision(decision.id)}
        elif not is_open and (own := uow.answers.for_task(task.id)) is not None:
            answers = {task.id: own.answer}
        view = DecisionView(
            decision=decision,
            decision_class=classes.get(decision.class_name, decision.district_type),
            tasks=tuple(uow.tasks.for_decision(decision.id)) if others or not is_open else (),
            answers=answers,
            actors=(actor,),
            routings=uow.progress.routings(decision.id) if later_round else (),
            rounds=(
                uow.progress.rounds(decision.id)
                if later_round or task.kind is TaskKind.VOTE
                else ()
            ),
        )
    return PersonalTask(task, actor, view)


def after_answer(opened: PersonalTask, recorded: RecordedAnswer) -> PersonalTask | None:
    """What the link of ``opened`` opens right after ``recorded``, its person's answer, made
    from what the answer's write read (its decision's tasks) without reading the store
    again: as :func:`open_personal_task` would read it then, for a task whose page shows
    only its own answer; None when the page shows others' answers too (a vote, an
    inspection) or the write read nothing, and the store must be read.
    """
    task = recorded.task
    if (
        recorded.decision_tasks is None
        or task.id != opened.task.id
        or task.status is TaskStatus.OPEN
        or task.kind in {TaskKind.VOTE, TaskKind.INSPECT}
    ):
        return None
    view = replace(
        opened.view,
        tasks=recorded.decision_tasks,
        answers={task.id: recorded.answer},
        routings=(),
        rounds=(),
    )
    return PersonalTask(task, opened.actor, view)


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
