"""The unit of work: one transaction over the store, and the repositories that work in it.

Every service opens one :class:`UnitOfWork` per change it makes, so that the state change
and its audit event commit together or not at all. A writer takes the store's write lock
before it reads anything (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL),
because decision ids, task numbers and the audit chain are handed out by one writer at a
time; a reader (``read_only=True``) takes no lock and waits for nobody.

The repositories of :mod:`decisions.store` are built on the unit's session and handed out as
attributes; none of them opens a session or commits. The unit commits when its block ends
without an exception and rolls back when one escapes it, so a refused or failed write leaves
nothing behind. :meth:`UnitOfWork.commit` commits earlier, for the one case that keeps what
it wrote and still raises: an audited refusal.

Writes carry an idempotency key; :meth:`UnitOfWork.recorded` is the one place that asks
whether a key is already in the chain, so a retried call returns what it recorded then.

Every event the unit appends queues the messages it causes in the outbox, in the same
transaction (:mod:`decisions.notifications`): a task given to someone, a reminder, a
decision moving on. The message commits with its cause or not at all, and a re-run step,
whose events are never written twice, queues nothing twice. Sending is the notifier's.

>>> from decisions.db import make_engine, migrate
>>> engine = make_engine("sqlite://")
>>> migrate(engine)
>>> with UnitOfWork(engine) as uow:
...     event = uow.log.append(NewEvent(actor="system", action="note", idempotency_key="k"))
>>> with UnitOfWork(engine, read_only=True) as uow:
...     uow.recorded("k") == event, uow.recorded("other")
(True, None)
>>> engine.dispose()
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, SessionTransaction

from decisions.audit import AuditEvent
from decisions.db import READ_ONLY, take_write_lock
from decisions.exceptions import ActorNotFound, DecisionNotFound, StoreNotReady, TaskNotFound
from decisions.model import Decision, Task
from decisions.notifications import CAUSES, notices_for
from decisions.store import (
    ActorRepository,
    AnswerRepository,
    AuditLog,
    DecisionRepository,
    NewEvent,
    NotificationRepository,
    ProgressRepository,
    TaskRepository,
    store_secret,
)

__all__ = ["UnitOfWork", "unit_of_work", "new_key", "missing_schema", "NOT_READY"]

#: What a user reads when the store has no tables yet.
NOT_READY = "The Counsel database has no tables yet: run `counsel init` first."


def missing_schema(err: BaseException) -> bool:
    """Whether a database error means the tables were never created (SQLite or PostgreSQL)."""
    text = str(err).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def new_key(idempotency_key: str | None) -> str:
    """The caller's idempotency key, or a fresh one for a write that is never retried."""
    return idempotency_key or f"auto:{uuid.uuid4()}"


class UnitOfWork:
    """One transaction on ``engine`` with the store's repositories bound to it.

    Parameters
    ----------
    engine : Engine
        The store's engine (:func:`decisions.db.make_engine`).
    read_only : bool
        A reader takes no write lock; on SQLite it begins with a plain ``BEGIN``.

    Attributes
    ----------
    session : Session
        The unit's session, for the rare query no repository has.
    decisions, tasks, answers, actors, log, progress, notifications
        The repositories of :mod:`decisions.store` on that session; ``log`` queues the
        messages each event it appends causes.

    Raises
    ------
    StoreNotReady
        On entering or leaving, when the database has no tables yet.
    """

    session: Session
    decisions: DecisionRepository
    tasks: TaskRepository
    answers: AnswerRepository
    actors: ActorRepository
    log: AuditLog
    progress: ProgressRepository
    notifications: NotificationRepository

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.read_only = read_only
        self._transaction: SessionTransaction | None = None

    def __enter__(self) -> UnitOfWork:
        bind = self.engine.execution_options(**{READ_ONLY: True}) if self.read_only else self.engine
        self.session = Session(bind, expire_on_commit=False)
        self._transaction = self.session.begin()
        try:
            if not self.read_only:
                take_write_lock(self.session.connection())
        except BaseException as err:
            self.__exit__(type(err), err, err.__traceback__)
            raise
        self.decisions = DecisionRepository(self.session)
        self.tasks = TaskRepository(self.session)
        self.answers = AnswerRepository(self.session)
        self.actors = ActorRepository(self.session)
        self.progress = ProgressRepository(self.session)
        self.notifications = NotificationRepository(self.session)
        self.log = _AnnouncingLog(self.session, self._announce)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.commit()
            else:
                self.rollback()
        except (OperationalError, ProgrammingError) as err:
            self.session.close()
            if missing_schema(err):
                raise StoreNotReady(NOT_READY) from err
            raise
        self.session.close()
        if isinstance(exc, OperationalError | ProgrammingError) and missing_schema(exc):
            raise StoreNotReady(NOT_READY) from exc

    def commit(self) -> None:
        """Commit what the unit wrote; the unit then ends (leaving the block commits too)."""
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            transaction.commit()

    def rollback(self) -> None:
        """Undo everything the unit wrote; the unit then ends (an exception does this too)."""
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            transaction.rollback()

    def recorded(self, idempotency_key: str) -> AuditEvent | None:
        """The event already written under ``idempotency_key``, or None: the prologue of
        every idempotent write (a retried call returns what it recorded the first time)."""
        return self.log.by_key(idempotency_key)

    def record_once(self, event: NewEvent) -> bool:
        """Append ``event`` unless its idempotency key is recorded; True when this unit wrote
        it, so of any number of racing callers only one sends what goes with it."""
        if event.idempotency_key is not None and self.recorded(event.idempotency_key):
            return False
        self.record(event)
        return True

    def record(self, event: NewEvent) -> AuditEvent:
        """Append one event to the chain in this transaction, queueing the messages it
        causes (one per address of each person it concerns) in the same transaction."""
        return self.log.append(event)

    def _announce(self, events: Sequence[AuditEvent]) -> None:
        """Queue the messages ``events`` cause; a person without addresses gets none."""
        facts = _StoreFacts(self)
        for event in events:
            if event.action not in CAUSES:
                continue
            for notice in notices_for(event, facts):
                try:
                    recipient = self.actors.get(notice.recipient)
                except ActorNotFound:
                    continue
                self.notifications.queue(
                    notice,
                    recipient,
                    cause=event.idempotency_key or f"seq:{event.seq}",
                    seq=event.seq,
                    now=datetime.fromisoformat(event.recorded_at),
                )

    def secret(self) -> str:
        """The store's secret that answer codes are derived from."""
        return store_secret(self.session)


class _AnnouncingLog(AuditLog):
    """The chain as a unit of work extends it: whichever way an event is appended
    (:meth:`UnitOfWork.record`, or a decision's domain events in one batch), the unit
    queues the messages it causes."""

    def __init__(self, session: Session, announce: Callable[[Sequence[AuditEvent]], None]):
        super().__init__(session)
        self._announce = announce

    def append_many(
        self, events: Sequence[NewEvent], *, at: datetime | None = None
    ) -> list[AuditEvent]:
        written = super().append_many(events, at=at)
        self._announce(written)
        return written


class _StoreFacts:
    """What the notification rules read, from the unit's own transaction."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def task(self, task_id: str) -> Task | None:
        try:
            return self.uow.tasks.get(task_id)
        except TaskNotFound:
            return None

    def decision(self, decision_id: str) -> Decision | None:
        try:
            return self.uow.decisions.get(decision_id)
        except DecisionNotFound:
            return None


@contextmanager
def unit_of_work(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """The session of a :class:`UnitOfWork`, for code that works with rows or raw SQL
    (experts' actor ids, a test that looks at a table); services use the class."""
    with UnitOfWork(engine, read_only=read_only) as uow:
        yield uow.session
