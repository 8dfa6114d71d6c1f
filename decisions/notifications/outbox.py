"""A queued message as the store keeps it, and the key that makes it one.

A row holds who is told (``recipient``, at one ``address``, in ``lang``), why (``kind``, the
cause event's action, and ``event_seq``) and the facts the message states (``params``), never
its text or its link: both are made when it is sent, so no link to a task is ever stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

__all__ = ["PENDING", "SENT", "FAILED", "Notification", "outbox_key", "channel_of"]

PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"


@dataclass(frozen=True)
class Notification:
    """One message to one address of one person, as queued in the outbox."""

    id: int
    key: str
    event_seq: int
    kind: str
    decision_id: str | None
    task_id: str | None
    recipient: str
    address: str
    lang: str
    params: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def channel(self) -> str:
        """The kind of address (``mailto``, ``wecombot``…), which is all that is shown."""
        return channel_of(self.address)


def channel_of(address: str) -> str:
    """The scheme of an Apprise URL, without the address (which may hold a key).

    >>> channel_of("wecombot://0123456789abcdef")
    'wecombot'
    """
    return address.split("://", 1)[0].lower()


def outbox_key(cause: str, recipient: str, address: str) -> str:
    """The one key of a message: its cause event (idempotency key, else ``seq:N``), its
    recipient and address, hashed to fit the column whatever their lengths.

    >>> outbox_key("D-2026-0001:consult:1:e031", "e031", "mailto://a@b.cn")[:3]
    'nt:'
    """
    digest = hashlib.sha256("\x1f".join((cause, recipient, address)).encode()).hexdigest()
    return f"nt:{digest}"
