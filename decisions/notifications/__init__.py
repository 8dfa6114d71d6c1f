"""People are told of their tasks: an outbox in the store, and a notifier that empties it.

An audit event that concerns someone (a task given to them, a reminder, a decision they filed
moving on) queues one message per address of theirs in the same transaction as the event, so
the message exists exactly when its cause does and a re-run step, whose events are never
written twice, queues nothing twice. A notifier sends what is due later, outside every step:
a mail server that is down delays a message, it never fails a decision.

The surface (import from here; the modules are how it is kept):

========================  ==================================================================
:mod:`.rules`             ``Notice``, ``Facts``, ``notices_for``, ``CAUSES``: which events
                          tell whom
:mod:`.outbox`            ``Notification``, ``outbox_key``, the statuses: a queued message
:mod:`.messages`          ``Message``, ``render``, ``local_time``: the words, in zh and en
:mod:`.delivery`          ``send``, ``Outcome``, ``retry_at``, the back-off constants: Apprise
                          (imported by the notifier only; it loads Apprise when it sends)
========================  ==================================================================
"""

from __future__ import annotations

from decisions.notifications.messages import Message, local_time, render
from decisions.notifications.outbox import (
    FAILED,
    PENDING,
    SENT,
    Notification,
    channel_of,
    outbox_key,
)
from decisions.notifications.rules import CAUSES, Facts, Notice, notices_for

__all__ = [
    "CAUSES",
    "Facts",
    "Notice",
    "notices_for",
    "Notification",
    "outbox_key",
    "channel_of",
    "PENDING",
    "SENT",
    "FAILED",
    "Message",
    "render",
    "local_time",
]
