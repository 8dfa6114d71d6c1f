"""Sending one message with Apprise, and when to try again after a failure.

Apprise speaks e-mail, WeCom, DingTalk, Feishu/Lark, SMS gateways and generic webhooks
behind one URL scheme each, so Counsel writes no sender of its own. It is imported when a
message is sent, not with this module: the commands that never send (every one but the
notifier's) do not pay for loading it.

A failure is retried after :data:`FIRST_RETRY`, then twice as long each time up to
:data:`MAX_RETRY` apart, until :data:`MAX_ATTEMPTS` attempts or :data:`GIVE_UP_AFTER` since
the message was queued, whichever comes first; then it is failed for good. An address
Apprise does not accept at all is failed at once: no retry would change it. A notifier
holds the messages it claimed for :data:`LEASE` and starts sending none of them after half
of it (the rest it hands back), so each send ends inside the lease and a second notifier
never takes a message the first is still sending; if the first dies, its messages go out
after the lease.

>>> [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 20)]
[30.0, 60.0, 120.0, 3600.0, 3600.0]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from decisions.notifications.outbox import channel_of

__all__ = [
    "FIRST_RETRY",
    "MAX_RETRY",
    "MAX_ATTEMPTS",
    "GIVE_UP_AFTER",
    "LEASE",
    "BATCH",
    "Outcome",
    "Sender",
    "retry_delay",
    "gives_up",
    "send",
    "scrub",
]

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
#: About a day of attempts: seven within the first hour, then one an hour.
MAX_ATTEMPTS = 30
GIVE_UP_AFTER = timedelta(hours=48)
LEASE = timedelta(minutes=5)
#: How many due messages one notifier takes at a time.
BATCH = 20
#: How much of Apprise's explanation is kept as a message's last error.
MAX_ERROR = 500


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; ``permanent`` when no retry can change it."""

    sent: bool
    error: str | None = None
    permanent: bool = False


#: ``send(address, subject, body)``: what the services call to deliver a message.
Sender = Callable[[str, str, str], Outcome]


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1, 2, 3…)."""
    return min(FIRST_RETRY * (1 << max(0, min(attempts - 1, 20))), MAX_RETRY)


def gives_up(attempts: int, queued_at: datetime, now: datetime) -> bool:
    """Whether a message that has failed ``attempts`` times is failed for good."""
    return attempts >= MAX_ATTEMPTS or now - queued_at >= GIVE_UP_AFTER


def send(address: str, subject: str, body: str) -> Outcome:
    """Send one message to one Apprise URL; never raises for the address or the network."""
    import apprise  # here, not at import: 0.2 s that only the notifier should pay

    notifier = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    result: object = False
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        if not notifier.add(address):
            said = scrub(captured.getvalue(), address)
            return Outcome(
                False,
                f"Apprise does not accept this {channel_of(address)}:// address: its kind is "
                f"unknown or a part it needs is missing" + (f" ({said})." if said else "."),
                permanent=True,
            )
        try:
            # plain text: Apprise escapes it for services that show HTML or markdown, so a
            # title typed as <a href=…> stays text, and e-mail keeps the line breaks
            result = notifier.notify(
                title=subject, body=body, body_format=apprise.NotifyFormat.TEXT
            )
        except Exception as err:  # noqa: BLE001 - a plugin's bug must not stop the notifier
            print(f"{type(err).__name__}: {err}", file=captured)
    if result:
        return Outcome(True)
    said = scrub(_said(result) or captured.getvalue(), address)
    return Outcome(False, said or "Apprise could not send it and said no more.")


def _said(result: object) -> str:
    """What Apprise logged about this one call: its result keeps the call's own log (since
    Apprise 2, which sends from a pool of threads); before that, only the logger had it."""
    logs = getattr(result, "logs", None)
    return " ".join(entry.message for entry in logs()) if callable(logs) else ""


def scrub(text: str, address: str) -> str:
    """``text`` without the parts of ``address`` that may be secret (a password, a bot's
    key, a token in a path or a query), cut to :data:`MAX_ERROR` characters.

    >>> scrub('Failed to send to "wecombot://0123456789abcdef"', "wecombot://0123456789abcdef")
    'Failed to send to "wecombot://…"'
    """
    for secret in sorted(_secret_parts(address), key=len, reverse=True):
        text = text.replace(secret, "…")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def _secret_parts(address: str) -> set[str]:
    """The address after its scheme, its user and password, and every path segment, query
    value and fragment long enough to be a key, and a host that is no server's name."""
    found = {address.split("://", 1)[-1]}
    try:
        parts = urlsplit(address)
        host, user, password = parts.hostname or "", parts.username, parts.password
    except ValueError:  # a port that is no number: scrub the whole address only
        return {p for p in found if len(p) >= 3}
    found |= {p for p in (user, password) if p and len(p) >= 3}
    pieces = [*parts.path.split("/"), *(v for _, v in parse_qsl(parts.query)), parts.fragment]
    if "." not in host and host != "localhost":
        pieces.append(host)  # no server's name: a key, as in wecombot://KEY
    found |= {p for p in pieces if len(p) >= 6}
    return {p for p in found if len(p) >= 3}
