"""Repositories: convert between rows and domain models inside a session they are given.

No repository opens a session or a transaction; :class:`decisions.uow.UnitOfWork` does, one
per unit of work, and takes the write lock first so that ids, task numbers and the audit
chain are assigned by one writer at a time.

The surface (import from here; the modules are how it is kept), one repository per aggregate:

========================  ==================================================================
:mod:`.actors`            ``ActorRepository``
:mod:`.decisions`         ``DecisionRepository``: a decision and its proposal versions
:mod:`.tasks`             ``TaskRepository``
:mod:`.answers`           ``AnswerRepository``, ``StoredAnswer``
:mod:`.progress`          ``ProgressRepository``: routing and slots, rounds, execution cycles
:mod:`.notifications`     ``NotificationRepository``: the outbox of messages to people
:mod:`.audit_log`         ``AuditLog``, ``to_event``: the chain inside the caller's transaction
:mod:`.secret`            ``store_secret``: what answer codes are derived from
:mod:`decisions.ledger`   ``NewEvent``: an event about to be appended
========================  ==================================================================
"""

from __future__ import annotations

from decisions.ledger import NewEvent
from decisions.store.actors import ActorRepository
from decisions.store.answers import AnswerRepository, StoredAnswer
from decisions.store.audit_log import AuditLog, to_event
from decisions.store.decisions import DecisionRepository
from decisions.store.notifications import NotificationRepository
from decisions.store.progress import ProgressRepository
from decisions.store.secret import store_secret
from decisions.store.tasks import TaskRepository

__all__ = [
    "ActorRepository",
    "DecisionRepository",
    "TaskRepository",
    "AnswerRepository",
    "StoredAnswer",
    "ProgressRepository",
    "NotificationRepository",
    "AuditLog",
    "NewEvent",
    "store_secret",
    "to_event",
]
