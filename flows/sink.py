"""A local message sink: where ``counsel demo`` sends people's notifications.

It is an HTTP receiver for Apprise's ``json://`` notifications, the kind a city would point
at its own messaging gateway: each person gets the address ``json://127.0.0.1:<port>/<id>``,
so what arrives at a path is what that person would have read. The demo prints each message
and its simulated participants follow the personal links in them, as a person would.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

__all__ = ["Message", "MessageSink", "LINK"]

#: A personal link in a message: the task page or the inbox, on any answer page.
LINK = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*/(t|me)/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
#: The largest message taken (a notification is a few hundred bytes).
MAX_MESSAGE = 64_000


@dataclass(frozen=True)
class Message:
    """One notification as its person received it."""

    person: str
    title: str
    body: str

    @property
    def task_link(self) -> str | None:
        """The message's personal task link, if it has one."""
        for match in LINK.finditer(self.body):
            if match.group(1) == "t":
                return match.group(0)
        return None


class MessageSink:
    """Receives ``json://`` notifications on 127.0.0.1 until closed; thread-safe."""

    def __init__(self) -> None:
        self._messages: list[Message] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_MESSAGE:
                    self.send_response(413)
                    self.end_headers()
                    return
                try:
                    data: Any = json.loads(self.rfile.read(length))
                    message = Message(
                        person=unquote(self.path.strip("/")),
                        title=str(data.get("title", "")),
                        body=str(data.get("message", "")),
                    )
                except (ValueError, AttributeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                sink._add(message)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass  # the demo prints messages itself

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="message-sink", daemon=True
        )

    def __enter__(self) -> MessageSink:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def address(self, person: str) -> str:
        """The Apprise URL that delivers ``person``'s messages here."""
        return f"json://127.0.0.1:{self.port}/{person}"

    def _add(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    def since(self, index: int) -> list[Message]:
        """The messages that arrived after the first ``index``, in arrival order."""
        with self._lock:
            return self._messages[index:]
