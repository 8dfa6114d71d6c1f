"""Group commit of answers: what the threads of one process record at once, written in one
transaction.

Many people answering at once through the answer page reach
:func:`~decisions.services.answers.record_answer` from the threads of a few processes.
Each answer is judged on its own without the write lock; what is left is to see, under the
lock, that its task is still open and unanswered, and to write it. Done in a transaction of
its own, each answer holds the store's write lock for several round trips to the database,
and in a busy process for each thread's wait to run again after every one of them: with 200
answers at once the lock was held 84–87 % of the burst, and the answers queued behind it
(``bench/answer_page.py``).

So the first thread to arrive leads: it takes the answers waiting in its process (at most
:data:`MAX_GROUP`) and, in one transaction under the lock, reads their decisions' tasks and
which of their own have an answer (a query each), asks the separation of powers for those
whose caller left it to the lock (with the decisions' tasks as they stand under it), appends
their events to the chain, inserts the answers and marks the tasks answered (a statement
each, however many answers), and commits once. Each answer written comes back with its
decision's tasks as they stood right after it (what a page after the answer shows).
Threads that arrive meanwhile queue for the next group, which one of them leads once the
leader's own answer is written. An answer whose task is no longer open, has an answer, or
was taken by an earlier answer of the same group is not written here: its thread records
it alone, as before (judged again under the lock, a refusal audited on its own, the same
answer sent again returned as recorded); so does one the separation of powers refuses under
the lock, to be refused and audited there. A group that fails writes nothing, and each of its
answers goes on alone. Across processes, the store's write lock orders the groups.

>>> from decisions.db import make_engine
>>> engine = make_engine("sqlite://")
>>> group_for(engine) is group_for(engine), group_for(engine).waiting()
(True, 0)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from decisions.audit import AuditEvent
from decisions.clock import utcnow
from decisions.model import Actor, Answer, Decision, Task, TaskKind, TaskStatus
from decisions.powers import ACTION_FOR_TASK, may
from decisions.services.common import parties_of
from decisions.store import NewEvent
from decisions.tables import TaskRow
from decisions.uow import UnitOfWork

__all__ = ["MAX_GROUP", "PendingAnswer", "Written", "AnswerGroup", "group_for", "write_group"]

#: The most answers one transaction writes.
MAX_GROUP = 64


@dataclass(frozen=True)
class PendingAnswer:
    """An answer judged acceptable without the lock, waiting to be written: its task as
    judged, who answers, the answer and its audit event; and, when the separation of
    powers is left to the lock, the decision as its caller read it (the powers are then
    asked with the decision's tasks as they stand under the lock)."""

    task: Task
    actor: Actor
    answer: Answer
    event: NewEvent
    decision: Decision | None = None


@dataclass(frozen=True)
class Written:
    """An answer written by a group: its task after it, its audit event, and its
    decision's tasks as they stood right after the group's write."""

    task: Task
    event: AuditEvent
    decision_tasks: tuple[Task, ...]


class _Slot:
    __slots__ = ("pending", "written", "done")

    def __init__(self, pending: PendingAnswer) -> None:
        self.pending = pending
        self.written: Written | None = None
        self.done = False


class AnswerGroup:
    """The answers one process is writing to one store; share it between its threads
    (:func:`group_for` keeps one per engine)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._queue: list[_Slot] = []
        self._in_flight = 0
        self._leading = False

    def write(self, engine: Engine, pending: PendingAnswer) -> Written | None:
        """Write ``pending`` with the others waiting now; what was written, or None when it
        was not written here (its caller goes on alone).

        Returns once the answer's group is committed (or has failed).
        """
        slot = _Slot(pending)
        with self._changed:
            self._queue.append(slot)
            self._changed.notify_all()
            while self._leading and not slot.done:
                self._changed.wait()
            if slot.done:
                return slot.written
            self._leading = True
        try:
            while not slot.done:  # the leader's own answer is in its first group
                with self._changed:
                    group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                    self._in_flight = len(group)
                self._write(engine, group)
        finally:
            with self._changed:
                self._leading = False
                self._changed.notify_all()
        return slot.written

    def _write(self, engine: Engine, group: list[_Slot]) -> None:
        written: dict[int, Written] = {}
        try:
            with UnitOfWork(engine) as uow:
                written = write_group(uow, [slot.pending for slot in group])
        except Exception:  # noqa: BLE001 - each answer goes on alone and meets the error itself
            written = {}
        finally:
            with self._changed:
                for index, slot in enumerate(group):
                    slot.written = written.get(index)
                    slot.done = True
                self._in_flight = 0
                self._changed.notify_all()

    def waiting(self) -> int:
        """How many answers are queued or being written now."""
        with self._changed:
            return len(self._queue) + self._in_flight

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` answers are queued or being written (for tests);
        False if ``timeout`` seconds passed first."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self._queue) + self._in_flight >= count, timeout
            )


_GROUPS: weakref.WeakKeyDictionary[Engine, AnswerGroup] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def group_for(engine: Engine) -> AnswerGroup:
    """The group of this process's answers to ``engine``'s store."""
    with _GROUPS_LOCK:
        group = _GROUPS.get(engine)
        if group is None:
            group = _GROUPS[engine] = AnswerGroup()
        return group


def write_group(uow: UnitOfWork, pending: Sequence[PendingAnswer]) -> dict[int, Written]:
    """Write those of ``pending`` whose task is open and has no answer (the first one per
    task) and, where a pending answer carries its decision, whom the separation of powers
    allows, in the unit's transaction, which holds the write lock; by position in
    ``pending``, what was written."""
    decision_ids = sorted({p.task.decision_id for p in pending})
    rows = uow.session.scalars(
        select(TaskRow).where(TaskRow.decision_id.in_(decision_ids)).order_by(TaskRow.id)
    ).all()
    by_decision: dict[str, list[TaskRow]] = {d: [] for d in decision_ids}
    for row in rows:
        by_decision[row.decision_id].append(row)
    wanted = {p.task.id for p in pending}
    free = {row.id for row in rows if row.id in wanted and row.status == TaskStatus.OPEN.value}
    free -= uow.answers.answered_among(free)
    chosen: list[int] = []
    for index, each in enumerate(pending):
        if each.task.id in free and _allowed(each, by_decision[each.task.decision_id]):
            free.discard(each.task.id)
            chosen.append(index)
    if not chosen:
        return {}
    events = uow.log.append_many([pending[i].event for i in chosen])
    uow.answers.add_many(
        (pending[i].task, pending[i].actor.id, pending[i].answer, event.seq)
        for i, event in zip(chosen, events, strict=True)
    )
    uow.session.execute(
        update(TaskRow)
        .where(TaskRow.id.in_([pending[i].task.id for i in chosen]))
        .values(status=TaskStatus.ANSWERED.value, closed_at=utcnow())
    )
    # the rows read above are updated in the session: no more queries
    after = {
        decision_id: tuple(uow.tasks.get(row.id) for row in decision_rows)
        for decision_id, decision_rows in by_decision.items()
    }
    written = {}
    for i, event in zip(chosen, events, strict=True):
        task = pending[i].task
        tasks = after[task.decision_id]
        written[i] = Written(next(t for t in tasks if t.id == task.id), event, tasks)
    return written


def _allowed(pending: PendingAnswer, tasks: Sequence[TaskRow]) -> bool:
    """Whether the separation of powers lets the answer through, asked here when its caller
    left it to the lock (with the decision's tasks under it), else already asked."""
    if pending.decision is None:
        return True
    held = {
        (TaskKind(row.kind), row.assignee_id)
        for row in tasks
        if row.status != TaskStatus.CANCELLED.value
    }
    action = ACTION_FOR_TASK[pending.task.kind]
    return bool(may(pending.actor, action, parties_of(pending.decision, held)))
