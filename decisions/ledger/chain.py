"""Linking events onto the chain with the driver's own cursor, inside an open transaction.

Appending is the store's busiest operation, so it skips the ORM and SQLAlchemy's statement
layer: :func:`chain_sql` spells the chain's statements once per driver, in its parameter
style, and :func:`append_rows` reads the head, hashes each :class:`NewEvent` onto the one
before it and inserts the rows. Whoever calls it holds the transaction and the write lock:
a unit of work (:class:`decisions.store.AuditLog`) or the ledger's own transactions
(:mod:`decisions.ledger.durable`, :mod:`decisions.ledger.group_commit`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from decisions.audit import FIELD_SEPARATOR, GENESIS_HASH, canonical_json, format_timestamp
from decisions.clock import utcnow
from decisions.db import CHAIN_LOCK_KEY

__all__ = ["COLUMNS", "NewEvent", "ChainSQL", "chain_sql", "append_rows", "fetch_by_key"]

COLUMNS = (
    "seq",
    "recorded_at",
    "actor",
    "action",
    "decision_id",
    "idempotency_key",
    "payload",
    "prev_hash",
    "hash",
)
_SELECT = ", ".join(COLUMNS)


class NewEvent:
    """An event about to be appended (what the caller knows before seq and hashes)."""

    __slots__ = ("actor", "action", "decision_id", "payload", "idempotency_key")

    def __init__(
        self,
        *,
        actor: str,
        action: str,
        decision_id: str | None = None,
        payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        for name, value in (
            ("actor", actor),
            ("action", action),
            ("decision", decision_id),
            ("idempotency key", idempotency_key),
        ):
            if value is not None and (not value or not value.isprintable()):
                raise ValueError(
                    f"An audit event's {name} must be non-empty and printable (no control "
                    "characters)."
                )
        self.actor = actor
        self.action = action
        self.decision_id = decision_id
        self.payload = payload or {}
        self.idempotency_key = idempotency_key


@dataclass(frozen=True, slots=True)
class ChainSQL:
    """The chain's statements in one driver's parameter style."""

    dialect: str
    head: str
    insert: str
    by_key: str
    page: str
    lock: str | None
    begin: str | None


def chain_sql(engine: Engine) -> ChainSQL:
    """Statements for ``engine``'s driver (``?`` for sqlite3, ``%s`` for psycopg)."""
    return _chain_sql(engine.dialect.name, engine.dialect.paramstyle)


@functools.cache
def _chain_sql(dialect: str, paramstyle: str) -> ChainSQL:
    mark = "?" if paramstyle == "qmark" else "%s"
    sqlite = dialect == "sqlite"
    return ChainSQL(
        dialect=dialect,
        head="SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
        insert=f"INSERT INTO audit_events ({_SELECT}) VALUES ({', '.join([mark] * 9)})",
        by_key=f"SELECT {_SELECT} FROM audit_events WHERE idempotency_key = {mark}",
        page=f"SELECT {_SELECT} FROM audit_events WHERE seq > {mark} ORDER BY seq LIMIT {mark}",
        lock=None if sqlite else f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})",
        begin="BEGIN IMMEDIATE" if sqlite else None,
    )


def append_rows(
    cursor: Any, sql: ChainSQL, events: Sequence[NewEvent], *, at: datetime | None = None
) -> list[tuple[Any, ...]]:
    """Link ``events`` after the current head and insert them; returns the stored rows.

    The caller's transaction must already hold the write lock.
    """
    cursor.execute(sql.head)
    head = cursor.fetchone()
    seq, previous = (0, GENESIS_HASH) if head is None else (int(head[0]), str(head[1]))
    recorded_at = format_timestamp(at or utcnow())
    sep = FIELD_SEPARATOR
    sha256 = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    for event in events:
        seq += 1
        payload = canonical_json(event.payload)
        data = sep.join(
            (
                previous,
                str(seq),
                recorded_at,
                event.actor,
                event.action,
                event.decision_id or "",
                event.idempotency_key or "",
                payload,
            )
        )
        digest = sha256(data.encode("utf-8")).hexdigest()
        rows.append(
            (
                seq,
                recorded_at,
                event.actor,
                event.action,
                event.decision_id,
                event.idempotency_key,
                payload,
                previous,
                digest,
            )
        )
        previous = digest
    if len(rows) == 1:
        cursor.execute(sql.insert, rows[0])
    elif rows:
        cursor.executemany(sql.insert, rows)
    return rows


def fetch_by_key(cursor: Any, sql: ChainSQL, key: str | None) -> Any:
    """The stored row with idempotency key ``key``, or ``None``."""
    cursor.execute(sql.by_key, (key,))
    return cursor.fetchone()
