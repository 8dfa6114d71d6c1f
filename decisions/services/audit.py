"""The audit chain as the services see it: facts appended, a decision's history, the
whole chain verified or exported.

Appending a fact that changes no state takes the ledger's hot path (:mod:`decisions.ledger`),
committed durably on return; the rest reads inside a read-only :class:`UnitOfWork`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from decisions import ledger
from decisions.audit import Anchor, AuditEvent, ChainReport
from decisions.clock import as_utc
from decisions.credentials import store_fingerprint
from decisions.exceptions import StoreNotReady
from decisions.procedure import keys
from decisions.store import NewEvent, to_event
from decisions.uow import NOT_READY, UnitOfWork, missing_schema

__all__ = [
    "append_event",
    "append_event_once",
    "append_events",
    "history",
    "event_count",
    "continuation_key",
    "person_run_key",
    "chain_head",
    "last_activity",
    "verify",
    "export_events",
]


def append_event(
    engine: Engine,
    *,
    actor: str,
    action: str,
    decision_id: str | None = None,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    group: ledger.GroupCommit | None = None,
) -> AuditEvent:
    """Record a fact that changes no state (a reminder sent, an artifact published).

    Committed durably on return; the same idempotency key again returns the first event.
    Threads of one process that share a :class:`~decisions.ledger.GroupCommit` as ``group``
    have their concurrent appends committed together, one flush for the group.
    """
    handled: tuple[type[BaseException], ...] = (
        OperationalError,
        ProgrammingError,
        *_driver_errors(),
    )
    try:
        event = NewEvent(
            actor=actor,
            action=action,
            decision_id=decision_id,
            payload=payload,
            idempotency_key=idempotency_key,
        )
        row = group.append(event) if group else ledger.append_durable(engine, event)
    except handled as err:
        if missing_schema(err):
            raise StoreNotReady(NOT_READY) from err
        raise
    return to_event(row)


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own error classes, which the raw-cursor hot path can raise."""
    # psycopg is loaded here rather than at import so that commands on a SQLite store
    # never load it; by now the engine has loaded it if the store is on PostgreSQL.
    import psycopg

    return (sqlite3.OperationalError, psycopg.errors.UndefinedTable)


def append_event_once(
    engine: Engine,
    *,
    actor: str,
    action: str,
    decision_id: str | None,
    payload: dict[str, Any],
    idempotency_key: str,
) -> bool:
    """Record a fact under ``idempotency_key`` unless it is recorded; True for the one caller
    (of any number racing) that wrote it, so only that caller sends what goes with it."""
    with UnitOfWork(engine) as uow:
        return uow.record_once(
            NewEvent(
                actor=actor,
                action=action,
                decision_id=decision_id,
                payload=payload,
                idempotency_key=idempotency_key,
            )
        )


def append_events(engine: Engine, events: list[NewEvent]) -> int:
    """Append many facts in one transaction (bulk notices, imports); returns how many."""
    return ledger.append_batch(engine, events)


def history(engine: Engine, decision_id: str) -> list[AuditEvent]:
    """Every audit event of one decision, oldest first."""
    with UnitOfWork(engine, read_only=True) as uow:
        uow.decisions.require(decision_id)
        return uow.log.for_decision(decision_id)


def continuation_key(engine: Engine, decision_id: str, suffix: str = "") -> str:
    """The key of the decision's next step: which store, which decision, how far its
    history goes (:func:`decisions.procedure.keys.continuation`)."""
    with UnitOfWork(engine, read_only=True) as uow:
        position = uow.log.count_for(decision_id)
        return keys.continuation(
            decision_id, position, suffix, store=store_fingerprint(uow.secret())
        )


def person_run_key(engine: Engine, task_id: str) -> str:
    """The key of the person's run for a task, in this store."""
    with UnitOfWork(engine, read_only=True) as uow:
        return keys.person_run(task_id, store=store_fingerprint(uow.secret()))


def event_count(engine: Engine, decision_id: str) -> int:
    """How many audit events the decision has (what a continuation is keyed on)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.log.count_for(decision_id)


def last_activity(engine: Engine) -> dict[str, datetime]:
    """When each decision last recorded anything, in one query (the sweep's quiet test)."""
    with UnitOfWork(engine, read_only=True) as uow:
        found = uow.log.last_recorded().items()
    return {decision_id: as_utc(datetime.fromisoformat(at)) for decision_id, at in found}


def chain_head(engine: Engine) -> tuple[int, str]:
    """How many events the chain holds and the newest one's hash (one indexed read)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.log.head()


def verify(engine: Engine, *, anchor: Anchor | None = None) -> ChainReport:
    """Walk the whole chain (against ``anchor`` if given) and report the first bad event."""
    return ledger.verify_store(engine, anchor=anchor)


def export_events(engine: Engine) -> list[AuditEvent]:
    """Every event of the chain in order, for ``counsel audit export``."""
    return [to_event(row) for row in ledger.iter_rows(engine)]
