"""The audit chain read and extended inside the caller's transaction.

Appends go through the ledger's linking code (:func:`decisions.ledger.append_rows`) on the
session's own DBAPI cursor, so an event and the state change it records commit together;
reads are plain ``select()`` s over the table's columns, returned as
:class:`~decisions.audit.AuditEvent` s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from decisions.audit import GENESIS_HASH, AuditEvent
from decisions.ledger import NewEvent, append_rows, chain_sql
from decisions.tables import AuditEventRow

__all__ = ["AuditLog", "to_event"]

_AUDIT = cast(Table, AuditEventRow.__table__)
_AUDIT_COLUMNS = (
    _AUDIT.c.seq,
    _AUDIT.c.recorded_at,
    _AUDIT.c.actor,
    _AUDIT.c.action,
    _AUDIT.c.decision_id,
    _AUDIT.c.idempotency_key,
    _AUDIT.c.payload,
    _AUDIT.c.prev_hash,
    _AUDIT.c.hash,
)


class AuditLog:
    """The append-only chain, read and extended inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest event, ``(0, GENESIS_HASH)`` when empty."""
        row = self.session.execute(
            select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def append(self, event: NewEvent, *, at: datetime | None = None) -> AuditEvent:
        """Append one event after the current head (the caller holds the write lock)."""
        return self.append_many([event], at=at)[0]

    def append_many(
        self, events: Sequence[NewEvent], *, at: datetime | None = None
    ) -> list[AuditEvent]:
        """Append events after the current head inside the caller's transaction."""
        connection = self.session.connection()
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = append_rows(cursor, chain_sql(connection.engine), events, at=at)
        finally:
            cursor.close()
        return [to_event(row) for row in rows]

    def by_key(self, idempotency_key: str) -> AuditEvent | None:
        row = self.session.execute(
            select(*_AUDIT_COLUMNS).where(_AUDIT.c.idempotency_key == idempotency_key)
        ).first()
        return None if row is None else to_event(row)

    def get(self, seq: int) -> AuditEvent | None:
        row = self.session.execute(select(*_AUDIT_COLUMNS).where(_AUDIT.c.seq == seq)).first()
        return None if row is None else to_event(row)

    def count_for(self, decision_id: str) -> int:
        """How many events the decision has: its position in its own history."""
        return int(
            self.session.scalar(
                select(func.count()).select_from(_AUDIT).where(_AUDIT.c.decision_id == decision_id)
            )
            or 0
        )

    def last_recorded(self) -> dict[str, str]:
        """Each decision's newest event time (ISO text, which sorts as time does)."""
        rows = self.session.execute(
            select(_AUDIT.c.decision_id, func.max(_AUDIT.c.recorded_at))
            .where(_AUDIT.c.decision_id.is_not(None))
            .group_by(_AUDIT.c.decision_id)
        )
        return {str(decision_id): str(at) for decision_id, at in rows}

    def for_decision(self, decision_id: str, *, prefix: str | None = None) -> list[AuditEvent]:
        """The decision's events in chain order (only actions starting with ``prefix``)."""
        query = select(*_AUDIT_COLUMNS).where(_AUDIT.c.decision_id == decision_id)
        if prefix is not None:
            query = query.where(_AUDIT.c.action.startswith(prefix, autoescape=True))
        rows = self.session.execute(query.order_by(_AUDIT.c.seq))
        return [to_event(r) for r in rows]


def to_event(row: Any) -> AuditEvent:
    """An event from a stored row, in column order."""
    return AuditEvent(*row)
