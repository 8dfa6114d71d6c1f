"""The notifier: the loop that empties the outbox, beside every task worker.

Each task worker (and the demo's embedded runner) runs one loop that every
``COUNSEL_NOTIFY_EVERY_S`` seconds sends the messages that are due
(:func:`decisions.services.deliver_due`, through Apprise). Any number of them may run
against one store: a message is leased to the one that claims it, so it is sent once. The
loop runs in a thread of its own, outside every step: a mail server that hangs or is down
delays messages and nothing else.

Each message sent, or failed for good, is also a Prefect event (``counsel.notification.sent``,
``counsel.notification.failed``) with the person and the decision as related resources, for
operators' automations: a failed message to a member before a vote is worth a phone call.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from prefect.events import emit_event
from sqlalchemy import Engine

from decisions import services
from decisions.notifications.delivery import BATCH, send
from decisions.services import Delivery
from decisions.settings import CounselSettings, load_settings
from flows.context import store_engine

__all__ = ["notify_once", "notify_forever", "emit_delivery"]

logger = logging.getLogger("counsel.notifier")

#: At most this many batches a pass: a backlog is worked off over passes, not in one.
MAX_BATCHES = 50


def notify_once(
    engine: Engine, settings: CounselSettings, *, now: datetime | None = None
) -> list[Delivery]:
    """Send every message due at ``now`` (batch by batch) and emit an event for each one
    sent or failed for good; returns every attempt made."""
    done: list[Delivery] = []
    for _ in range(MAX_BATCHES):
        batch = services.deliver_due(
            engine,
            send=send,
            public_url=settings.public_url,
            zone=settings.timezone,
            now=now,
            limit=BATCH,
        )
        for delivery in batch:
            if delivery.status != "pending":
                emit_delivery(delivery)
        done += batch
        if len(batch) < BATCH:
            break
    return done


def emit_delivery(delivery: Delivery) -> None:
    """``counsel.notification.<status>`` about the message, related to the person and the
    decision; like the audit event, it holds neither the address nor the link."""
    notification = delivery.notification
    related = [
        {
            "prefect.resource.id": f"counsel.actor.{notification.recipient}",
            "prefect.resource.role": "recipient",
        }
    ]
    if notification.decision_id:
        related.append(
            {
                "prefect.resource.id": f"counsel.decision.{notification.decision_id}",
                "prefect.resource.role": "decision",
            }
        )
    emit_event(
        event=f"counsel.notification.{delivery.status}",
        resource={
            "prefect.resource.id": f"counsel.notification.{notification.id}",
            "counsel.kind": notification.kind,
            "counsel.channel": notification.channel,
        },
        related=related,
        payload={
            "kind": notification.kind,
            "channel": notification.channel,
            "task_id": notification.task_id,
            "cause_seq": notification.event_seq,
            "attempts": notification.attempts,
            "error": delivery.error,
        },
    )


async def notify_forever(every_s: float, *, settings: CounselSettings | None = None) -> None:
    """Send what is due every ``every_s`` seconds until cancelled; a pass that fails (the
    store restarting) is logged and the next one tries again. An idle pass is one read that
    takes no lock."""
    settings = settings or load_settings()
    engine = store_engine(settings.resolved_database_url())  # the worker's own, shared
    while True:
        try:
            await asyncio.to_thread(notify_once, engine, settings)
        except Exception as err:  # noqa: BLE001 - keep notifying; the next pass retries
            logger.warning("Could not send notifications (%s); trying again.", err)
        await asyncio.sleep(every_s)
