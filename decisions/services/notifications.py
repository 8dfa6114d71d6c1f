"""The outbox as the services see it: sending what is due, and listing what there is.

:func:`deliver_due` is one pass of a notifier. It claims due messages under the store's
write lock (a lease: several notifiers share one outbox and each message goes out once),
writes each in its person's language with a link made now, sends it outside any transaction
(a slow mail server holds no lock and no step), and records the outcome: sent, pending again
after a back-off, or failed for good. A message sent or failed for good is an audit event
naming the person, the kind of message, the channel and the cause event, never the address
or the link.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from decisions.clock import as_utc, utcnow
from decisions.links import INBOX_LINK_DAYS, inbox_token, inbox_url, task_token, task_url
from decisions.notifications import FAILED, PENDING, SENT, Notification, render
from decisions.notifications.delivery import (
    BATCH,
    LEASE,
    Outcome,
    Sender,
    gives_up,
    retry_delay,
)
from decisions.services.common import SYSTEM
from decisions.store import NewEvent
from decisions.uow import UnitOfWork

__all__ = ["Delivery", "deliver_due", "list_notifications"]

#: Messages about a task the person can still answer: they carry the task's own link.
_OPEN_TASK_KINDS = frozenset({"task.assigned", "task.reminded"})


@dataclass(frozen=True)
class Delivery:
    """One attempt to send a message, as recorded: ``status`` is ``sent``, ``failed`` (for
    good) or ``pending`` (tried again after ``notification.next_attempt_at``)."""

    notification: Notification
    status: str
    error: str | None = None


def deliver_due(
    engine: Engine,
    *,
    send: Sender,
    public_url: str,
    zone: str,
    now: datetime | None = None,
    limit: int = BATCH,
    lease: timedelta = LEASE,
) -> list[Delivery]:
    """Send up to ``limit`` due messages with ``send`` and record each outcome.

    ``public_url`` is where the answer page is reached (the links point there) and ``zone``
    the time zone deadlines are written in. ``now`` is the moment the pass acts at (the
    tests move it on instead of sleeping). A message another notifier holds is left alone.
    Sending starts only in the first half of the lease; what is left then is handed back
    unsent, so a mail server that hangs cannot make two notifiers send one message.
    """
    now = (now or utcnow()).astimezone(UTC)
    lease_until = now + lease
    with UnitOfWork(engine, read_only=True) as uow:
        if not uow.notifications.any_due(now):
            return []
    with UnitOfWork(engine) as uow:
        claimed = uow.notifications.claim(now=now, lease_until=lease_until, limit=limit)
        secret = uow.secret() if claimed else ""
    deliveries = []
    started = time.monotonic()
    for n, notification in enumerate(claimed):
        if time.monotonic() - started > lease.total_seconds() / 2:
            _release(engine, claimed[n:], lease_until)  # a slow server: others send the rest
            break
        try:
            message = render(
                notification.kind,
                notification.lang,
                notification.params,
                link=_link(notification, secret, public_url, now),
                zone=zone,
            )
        except (ValueError, KeyError, TypeError) as err:  # a row the words do not fit
            outcome = Outcome(False, f"The message could not be written: {err}", permanent=True)
        else:
            outcome = send(notification.address, message.subject, message.body)
        delivery = _settle(engine, notification, outcome, now=now, lease_until=lease_until)
        if delivery is not None:
            deliveries.append(delivery)
    return deliveries


def _release(engine: Engine, unsent: list[Notification], lease_until: datetime) -> None:
    with UnitOfWork(engine) as uow:
        for notification in unsent:
            uow.notifications.release(notification.id, lease_until=lease_until)


def _link(notification: Notification, secret: str, public_url: str, now: datetime) -> str:
    """The person's link, made now: their task's while they can still answer it (it expires
    at the deadline), otherwise their inbox's."""
    if notification.kind in _OPEN_TASK_KINDS and notification.task_id:
        deadline = notification.params.get("deadline")
        expires = (
            as_utc(datetime.fromisoformat(deadline))
            if isinstance(deadline, str)
            else now + timedelta(days=INBOX_LINK_DAYS)
        )
        if expires > now:
            token = task_token(secret, notification.task_id, notification.recipient, expires)
            return task_url(public_url, token)
    return inbox_url(public_url, inbox_token(secret, notification.recipient, now=now))


def _settle(
    engine: Engine,
    notification: Notification,
    outcome: Outcome,
    *,
    now: datetime,
    lease_until: datetime,
) -> Delivery | None:
    """Record what an attempt came to; a final outcome is an audit event as well."""
    if outcome.sent:
        status = SENT
    elif outcome.permanent or gives_up(notification.attempts, notification.created_at, now):
        status = FAILED
    else:
        status = PENDING
    with UnitOfWork(engine) as uow:
        settled = uow.notifications.settle(
            notification.id,
            lease_until=lease_until,
            status=status,
            error=outcome.error if not outcome.sent else notification.last_error,
            next_attempt_at=now + retry_delay(notification.attempts) if status == PENDING else None,
            sent_at=now if outcome.sent else None,
        )
        if settled is None:
            return None
        if status != PENDING:
            uow.record(
                NewEvent(
                    actor=SYSTEM,
                    action=f"notification.{status}",
                    decision_id=notification.decision_id,
                    payload={
                        "recipient": notification.recipient,
                        "kind": notification.kind,
                        "channel": notification.channel,
                        "cause_seq": notification.event_seq,
                        "task_id": notification.task_id,
                        "attempts": notification.attempts,
                        "error": outcome.error,
                    },
                    idempotency_key=f"notification.{status}:{notification.key}",
                )
            )
    return Delivery(settled, status, outcome.error)


def list_notifications(
    engine: Engine,
    *,
    failed: bool = False,
    decision_id: str | None = None,
    limit: int = 50,
) -> list[Notification]:
    """The newest messages first: all of them, or only those failed for good, of one
    decision if given.

    Raises
    ------
    DecisionNotFound
        If ``decision_id`` names no decision.
    """
    with UnitOfWork(engine, read_only=True) as uow:
        if decision_id is not None:
            uow.decisions.require(decision_id)
        return uow.notifications.listing(
            statuses=(FAILED,) if failed else (), decision_id=decision_id, limit=limit
        )
