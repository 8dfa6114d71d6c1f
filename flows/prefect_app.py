"""Prefect's API server app, with a short retry hint when its SQLite database is busy.

On SQLite, Prefect's server answers 503 when two writers collide (``SQLITE_BUSY``), and
its clients then wait 2 s before trying again — for a collision that clears in
milliseconds. With several runs of a decision and a person's answer landing together,
those waits were most of a step's time. This app is Prefect's own
(``prefect.server.api.server:create_app``) with one change: such a 503 carries a
``Retry-After`` of a random 0.1–1 s (random, so colliding writers do not collide again),
which Prefect's client honours. Other 503s (a database that is down) keep Prefect's
exponential back-off. The embedded API of ``counsel demo`` serves it (``uvicorn --factory
flows.prefect_app:create_app``), and gives its clients more attempts
(:data:`CLIENT_RETRIES`), since each is short.
"""

from __future__ import annotations

import json
import random
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["create_app", "BusyRetryHint", "BUSY_RETRY_AFTER_S", "CLIENT_RETRIES"]

#: The range of the retry hint, in seconds.
BUSY_RETRY_AFTER_S = (0.1, 1.0)
#: Attempts a client of this server makes (Prefect's default is 5, with waits of 2–32 s):
#: about 10 s of short waits before a burst of writers gives up.
CLIENT_RETRIES = 20
#: The body of Prefect's 503 for errors a client can retry (a busy SQLite among them).
RETRYABLE_BODY = {"exception_message": "Service Unavailable"}


class BusyRetryHint:
    """ASGI middleware: a retryable 503 of a SQLite-backed server gets a short
    ``Retry-After``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_503(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                held.append(message)
                return
            if held and message["type"] == "http.response.body":
                start = held.pop()
                if _retryable(message.get("body", b"")):
                    start = {
                        **start,
                        "headers": [
                            *start.get("headers", []),
                            (b"retry-after", f"{random.uniform(*BUSY_RETRY_AFTER_S):.2f}".encode()),
                        ],
                    }
                await send(start)
            await send(message)

        await self.app(scope, receive, hold_503)


def _retryable(body: bytes) -> bool:
    try:
        return bool(json.loads(body) == RETRYABLE_BODY)
    except ValueError:
        return False


def create_app() -> Any:
    """Prefect's server app; with a SQLite database, busy 503s carry a short retry hint."""
    from prefect.server.api.server import create_app as prefect_app
    from prefect.settings import get_current_settings

    app = prefect_app()
    url = get_current_settings().server.database.connection_url
    if url is None or url.get_secret_value().startswith("sqlite"):
        app.add_middleware(BusyRetryHint)
    return app
