"""Personal links: signed, scoped tokens that replace typing an id and an answer code.

A link's token names what it opens — one task of one person (``/t/<token>``), or one
person's inbox (``/me/<token>``) — and when it stops working, and is signed with an HMAC
keyed by the store's secret, so only this store can make one and nobody can change what it
opens. Nothing is stored per link: any instance of the answer page that reads the same
store checks it, and a new notification (a reminder) simply carries a new link.

A task's link expires at the task's deadline; an inbox link after
:data:`INBOX_LINK_DAYS` days. Every refusal says the same sentence (:data:`REFUSAL`), so
a wrong link teaches nobody which tasks exist.

>>> from datetime import UTC, datetime
>>> secret, now = "s3cret", datetime(2026, 11, 30, tzinfo=UTC)
>>> token = task_token(secret, "D-2026-0001-T01", "wang-fang", datetime(2026, 12, 3, tzinfo=UTC))
>>> read_link(secret, token, now=now)
Grant(scope='task', actor_id='wang-fang', task_id='D-2026-0001-T01', expires_at=1796256000)
>>> try:
...     read_link(secret, token[:-2] + "AA", now=now)
... except BadLink as refused:
...     print(refused)
This link is not valid or has expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from decisions.exceptions import CounselError

__all__ = [
    "Grant",
    "BadLink",
    "REFUSAL",
    "INBOX_LINK_DAYS",
    "task_token",
    "inbox_token",
    "read_link",
    "task_url",
    "inbox_url",
]

#: The one sentence for every link that does not open (forged, cut, expired, other store).
REFUSAL = "This link is not valid or has expired."
INBOX_LINK_DAYS = 30
_VERSION = "v1"
_MAX_TOKEN = 600


class BadLink(CounselError):
    """A link's token is not one this store signed, or it has expired."""


@dataclass(frozen=True)
class Grant:
    """What a valid link opens: one person's task, or their inbox."""

    scope: Literal["task", "inbox"]
    actor_id: str
    task_id: str | None
    expires_at: int  # seconds since the epoch, UTC


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(store_secret: str) -> bytes:
    # a key of its own, so a link's signature is never an answer code's or a fingerprint's
    return hashlib.sha256(f"counsel-links-{_VERSION}:{store_secret}".encode()).digest()


def _sign(store_secret: str, body: str) -> str:
    return _b64(hmac.new(_key(store_secret), body.encode("ascii"), hashlib.sha256).digest()[:18])


def _token(store_secret: str, claims: dict[str, str | int]) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_sign(store_secret, body)}"


def _epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def task_token(store_secret: str, task_id: str, actor_id: str, expires_at: datetime) -> str:
    """A token that lets ``actor_id`` see and answer ``task_id`` until ``expires_at``."""
    return _token(store_secret, {"s": "t", "t": task_id, "a": actor_id, "e": _epoch(expires_at)})


def inbox_token(store_secret: str, actor_id: str, *, now: datetime) -> str:
    """A token that shows ``actor_id`` their open and recent tasks for a month."""
    expires = now + timedelta(days=INBOX_LINK_DAYS)
    return _token(store_secret, {"s": "m", "a": actor_id, "e": _epoch(expires)})


def read_link(store_secret: str, token: str, *, now: datetime) -> Grant:
    """What ``token`` opens, or :class:`BadLink` with :data:`REFUSAL` whatever is wrong."""
    try:
        if len(token) > _MAX_TOKEN or token.count(".") != 1:
            raise ValueError("shape")
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, _sign(store_secret, body)):
            raise ValueError("signature")
        claims = json.loads(_unb64(body))
        scope = {"t": "task", "m": "inbox"}[claims["s"]]
        grant = Grant(
            scope=scope,  # type: ignore[arg-type]
            actor_id=str(claims["a"]),
            task_id=str(claims["t"]) if scope == "task" else None,
            expires_at=int(claims["e"]),
        )
    except (ValueError, KeyError, TypeError, UnicodeError):
        raise BadLink(REFUSAL) from None
    if _epoch(now) >= grant.expires_at:
        raise BadLink(REFUSAL)
    return grant


def task_url(base_url: str, token: str) -> str:
    """The personal link of a task on the answer page at ``base_url``."""
    return f"{base_url.rstrip('/')}/t/{token}"


def inbox_url(base_url: str, token: str) -> str:
    """The personal inbox link on the answer page at ``base_url``."""
    return f"{base_url.rstrip('/')}/me/{token}"
