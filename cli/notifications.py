"""``counsel notifications``: what the outbox sent, is sending, and could not send.

For the staff who look after people's messages: when each was queued, to whom, why, about
which decision, by which kind of channel, how it stands and what went wrong last. Only the
channel's kind is shown: an address may hold a bot's key or a mail password, and a message's
link is made when it is sent and kept nowhere.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from cli.common import console, open_engine
from cli.errors import RefusingGroup, refuse
from decisions import services
from decisions.model import DECISION_ID_PATTERN
from decisions.notifications import Notification
from decisions.settings import load_settings
from decisions.text import shown

__all__ = ["app"]

app = typer.Typer(cls=RefusingGroup, pretty_exceptions_enable=False)

MAX_LIMIT = 10_000


@app.command("notifications")
def notifications(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only the messages that could not be sent.")
    ] = False,
    decision: Annotated[
        str | None, typer.Option("--decision", help="Only those about this decision.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 50,
) -> None:
    """List the messages people were sent of their tasks and decisions, newest first."""
    if decision is not None and not DECISION_ID_PATTERN.match(decision):
        refuse(f"A decision id looks like D-2026-0001, not {shown(decision)}.")
    if not 1 <= limit <= MAX_LIMIT:
        refuse(f"--limit is how many messages to list, from 1 to {MAX_LIMIT}, not {limit}.")
    settings = load_settings()
    found = services.list_notifications(
        open_engine(), failed=failed, decision_id=decision, limit=limit
    )
    if not found:
        which = "failed messages" if failed else "messages"
        about = f" about {decision}" if decision else ""
        console.print(f"No {which}{about}.", markup=False)
        return
    zone = ZoneInfo(settings.timezone)
    table = Table(
        f"queued ({settings.timezone})",
        "to",
        "kind",
        "decision",
        "channel",
        "status",
        "attempts",
        "last error",
        title="Failed notifications" if failed else "Notifications",
    )
    for item in found:
        table.add_row(
            f"{item.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
            item.recipient,
            item.kind,
            item.decision_id or "",
            item.channel,
            _status(item, zone),
            str(item.attempts),
            Text(item.last_error or ""),  # as Apprise said it, never read as markup
        )
    console.print(table)


def _status(item: Notification, zone: ZoneInfo) -> str:
    """``sent 17:02``, ``failed``, ``pending``, or ``retry 17:05`` after a failed try."""
    if item.status == "sent" and item.sent_at:
        return f"sent {item.sent_at.astimezone(zone):%H:%M}"
    if item.status == "pending" and item.attempts:
        return f"retry {item.next_attempt_at.astimezone(zone):%H:%M}"
    return item.status
