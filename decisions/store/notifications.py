"""The outbox in and out of the store: queueing messages, claiming the due ones, settling them.

A notifier claims due messages inside a writing unit of work, so under the store's write
lock: the claim sets a lease (``lease_until``) and counts the attempt, and any other
notifier, on this machine or another, skips a leased message until the lease runs out. The
outcome is written only while the lease is still the claimer's, so a notifier that took too
long cannot overwrite what a later one recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from decisions.clock import as_utc
from decisions.model import Actor
from decisions.notifications import PENDING, Notice, Notification, outbox_key
from decisions.tables import NotificationRow

__all__ = ["NotificationRepository"]


class NotificationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def queue(
        self, notice: Notice, recipient: Actor, *, cause: str, seq: int, now: datetime
    ) -> int:
        """One pending message per address of ``recipient``; returns how many (none for a
        person without addresses). ``cause`` is the event's idempotency key or ``seq:N``."""
        for address in recipient.notify:
            self.session.add(
                NotificationRow(
                    key=outbox_key(cause, recipient.id, address),
                    event_seq=seq,
                    kind=notice.kind,
                    decision_id=notice.decision_id,
                    task_id=notice.task_id,
                    recipient=recipient.id,
                    address=address,
                    lang=recipient.lang,
                    params={**notice.params, "name": recipient.name},
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return len(recipient.notify)

    def any_due(self, now: datetime) -> bool:
        """Whether a message is due and free at ``now``: one indexed read, so an idle
        notifier never takes the write lock every writer of the store shares."""
        found = self.session.scalar(select(NotificationRow.id).where(*_due(now)).limit(1))
        return found is not None

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Notification]:
        """Lease up to ``limit`` due messages, oldest first, counting an attempt for each
        (the caller holds the write lock, so no other claimer sees them due)."""
        rows = self.session.scalars(
            select(NotificationRow)
            .where(*_due(now))
            .order_by(NotificationRow.next_attempt_at, NotificationRow.id)
            .limit(limit)
        ).all()
        for row in rows:
            row.lease_until = lease_until
            row.attempts += 1
        self.session.flush()
        return [_to_model(row) for row in rows]

    def settle(
        self,
        notification_id: int,
        *,
        lease_until: datetime,
        status: str,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        sent_at: datetime | None = None,
    ) -> Notification | None:
        """Record an attempt's outcome and end the lease; None, writing nothing, when the
        lease is no longer ``lease_until`` (it ran out and another notifier took it)."""
        row = self.session.get(NotificationRow, notification_id)
        if row is None or row.status != PENDING or as_utc(row.lease_until) != lease_until:
            return None
        row.status = status
        row.lease_until = None
        row.last_error = error
        row.sent_at = sent_at
        if next_attempt_at is not None:
            row.next_attempt_at = next_attempt_at
        self.session.flush()
        return _to_model(row)

    def release(self, notification_id: int, *, lease_until: datetime) -> None:
        """Hand back a claimed message unsent, its attempt uncounted, if still leased as
        ``lease_until``: any notifier may take it at once."""
        row = self.session.get(NotificationRow, notification_id)
        if row is not None and row.status == PENDING and as_utc(row.lease_until) == lease_until:
            row.lease_until = None
            row.attempts -= 1
            self.session.flush()

    def listing(
        self,
        *,
        statuses: Sequence[str] = (),
        decision_id: str | None = None,
        limit: int = 50,
    ) -> list[Notification]:
        """The newest messages first, of these statuses and this decision if given."""
        query = select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
        if statuses:
            query = query.where(NotificationRow.status.in_(list(statuses)))
        if decision_id is not None:
            query = query.where(NotificationRow.decision_id == decision_id)
        return [_to_model(row) for row in self.session.scalars(query)]


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Pending, its time come, and leased to nobody (or the lease ran out)."""
    return (
        NotificationRow.status == PENDING,
        NotificationRow.next_attempt_at <= now,
        or_(NotificationRow.lease_until.is_(None), NotificationRow.lease_until <= now),
    )


def _to_model(row: NotificationRow) -> Notification:
    return Notification(
        id=row.id,
        key=row.key,
        event_seq=row.event_seq,
        kind=row.kind,
        decision_id=row.decision_id,
        task_id=row.task_id,
        recipient=row.recipient,
        address=row.address,
        lang=row.lang,
        params=dict(row.params),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        lease_until=as_utc(row.lease_until),
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        sent_at=as_utc(row.sent_at),
    )
