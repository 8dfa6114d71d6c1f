"""Appends that open a transaction of their own: one durable event, or one batch.

A caller outside any unit of work (a flow recording a fact that changes no state, an import)
appends through :func:`append_durable` or :func:`append_batch`; both take a pooled
connection, begin, take the store's write lock, link the events with
:func:`~decisions.ledger.chain.append_rows` and commit before they return, so several
processes appending at once queue up and never fork the chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from decisions.ledger.chain import NewEvent, append_rows, chain_sql, fetch_by_key

__all__ = ["run_in_own_transaction", "append_durable", "append_batch"]


def run_in_own_transaction(engine: Engine, work: Any) -> Any:
    """``work(cursor, sql)`` in a transaction of its own that holds the write lock; committed
    when it returns, rolled back when it raises."""
    sql = chain_sql(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            if sql.begin:
                cursor.execute(sql.begin)
            if sql.lock:
                cursor.execute(sql.lock)
            result = work(cursor, sql)
            if sql.begin:
                cursor.execute("COMMIT")
            else:
                raw.commit()
            return result
        except BaseException:
            if sql.begin:
                if raw.driver_connection.in_transaction:  # type: ignore[union-attr]
                    cursor.execute("ROLLBACK")
            else:
                raw.rollback()
            raise
        finally:
            cursor.close()
    finally:
        raw.close()


def append_durable(engine: Engine, event: NewEvent) -> tuple[Any, ...]:
    """Append one event in its own committed transaction; idempotent on its key.

    Returns the stored row; if an event with the same idempotency key is already in the
    chain, that event's row is returned and nothing is written.
    """

    try:
        rows = run_in_own_transaction(engine, lambda cur, sql: append_rows(cur, sql, [event]))
    except Exception as err:
        # A retried call: the unique key refused the second insert; return the first event.
        if event.idempotency_key is None or not _is_unique_violation(err):
            raise
        found = run_in_own_transaction(
            engine, lambda cur, sql: fetch_by_key(cur, sql, event.idempotency_key)
        )
        if found is None:  # pragma: no cover - the key existed a moment ago
            raise
        return tuple(found)
    first: tuple[Any, ...] = rows[0]
    return first


def _is_unique_violation(err: Exception) -> bool:
    # Imported here, not at the top, to keep psycopg (about 50 ms) out of every CLI start-up:
    # only a refused insert needs it. It is a driver, not a module of Counsel's: no circle.
    import psycopg

    if isinstance(err, sqlite3.IntegrityError):
        return "UNIQUE" in str(err) and "idempotency_key" in str(err)
    return isinstance(err, psycopg.errors.UniqueViolation) and "idempotency_key" in str(err)


def append_batch(engine: Engine, events: Sequence[NewEvent]) -> int:
    """Append many events in one transaction (imports, bulk notices); returns how many."""
    rows = run_in_own_transaction(engine, lambda cursor, sql: append_rows(cursor, sql, events))
    return len(rows)
