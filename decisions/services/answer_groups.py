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
:data:`MAX_GROUP`) and, in one transaction under the lock, reads their tasks and which of
them have an answer (a query each), appends their events to the chain, inserts the answers
and marks the tasks answered (a statement each, however many answers), and commits once.
Threads that arrive meanwhile queue for the next group, which one of them leads once the
leader's own answer is written. An answer whose task is no longer open, has an answer, or
was taken by an earlier answer of the same group is not written here: its thread records
it alone, as before (judged again under the lock, a refusal audited on its own, the same
answer sent again returned as recorded). A group that fails writes nothing, and each of its
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
from decisions.model import Answer, Task, TaskStatus
from decisions.store import NewEvent
from decisions.tables import TaskRow
from decisions.uow import UnitOfWork

__all__ = ["MAX_GROUP", "PendingAnswer", "AnswerGroup", "group_for", "write_group"]

#: The most answers one transaction writes.
MAX_GROUP = 64


@dataclass(frozen=True)
class PendingAnswer:
    """An answer judged acceptable without the lock, waiting to be written: its task as
    judged, who answers, the answer and its audit event."""

    task: Task
    actor_id: str
    answer: Answer
    event: NewEvent


class _Slot:
    __slots__ = ("pending", "written", "done")

    def __init__(self, pending: PendingAnswer) -> None:
        self.pending = pending
        self.written: tuple[Task, AuditEvent] | None = None
        self.done = False


class AnswerGroup:
    """The answers one process is writing to one store; share it between its threads
    (:func:`group_for` keeps one per engine)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._queue: list[_Slot] = []
        self._in_flight = 0
        self._leading = False

    def write(self, engine: Engine, pending: PendingAnswer) -> tuple[Task, AuditEvent] | None:
        """Write ``pending`` with the others waiting now; the task after it and the
        answer's event, or None when it was not written here (its caller goes on alone).

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
        written: dict[int, tuple[Task, AuditEvent]] = {}
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


def write_group(
    uow: UnitOfWork, pending: Sequence[PendingAnswer]
) -> dict[int, tuple[Task, AuditEvent]]:
    """Write those of ``pending`` whose task is open and has no answer (the first one per
    task), in the unit's transaction, which holds the write lock; by position in
    ``pending``, the task after each answer written and the answer's event."""
    ids = sorted({p.task.id for p in pending})
    rows = uow.session.scalars(select(TaskRow).where(TaskRow.id.in_(ids))).all()
    free = {row.id for row in rows if row.status == TaskStatus.OPEN.value}
    free -= uow.answers.answered_among(free)
    chosen: list[int] = []
    for index, each in enumerate(pending):
        if each.task.id in free:
            free.discard(each.task.id)
            chosen.append(index)
    if not chosen:
        return {}
    events = uow.log.append_many([pending[i].event for i in chosen])
    uow.answers.add_many(
        (pending[i].task, pending[i].actor_id, pending[i].answer, event.seq)
        for i, event in zip(chosen, events, strict=True)
    )
    uow.session.execute(
        update(TaskRow)
        .where(TaskRow.id.in_([pending[i].task.id for i in chosen]))
        .values(status=TaskStatus.ANSWERED.value, closed_at=utcnow())
    )
    # the rows read above are updated in the session: no more queries
    return {
        i: (uow.tasks.get(pending[i].task.id), event)
        for i, event in zip(chosen, events, strict=True)
    }
