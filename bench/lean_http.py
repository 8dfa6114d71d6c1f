"""A minimal HTTP/1.1 client on asyncio streams, for benchmarks whose simulated people run
on the machine being measured.

Two hundred browsers are two hundred phones in life; here they share two cores with the
page they measure, so what each request costs the client is taken from the server. httpx
spends about 2.5 ms of CPU on a POST, its redirect and the page it leads to; this client,
which sends a request and reads a ``Content-Length`` response on one connection and
nothing more, spends a fraction of that. It follows no redirect by itself, keeps no
cookies, speaks no TLS and reads no chunked body (the answer page sends none).

>>> from urllib.parse import urlencode
>>> head = request_bytes("POST", "/t/abc", "127.0.0.1:8400", urlencode({"a": "中"}).encode())
>>> for line in head.decode().split("\\r\\n"):
...     print(line)
POST /t/abc HTTP/1.1
Host: 127.0.0.1:8400
Content-Type: application/x-www-form-urlencoded
Content-Length: 11
<BLANKLINE>
a=%E4%B8%AD
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin

__all__ = ["Reply", "Connection", "request_bytes"]


@dataclass(frozen=True)
class Reply:
    """One response: its status, headers (names in lower case) and body as text."""

    status: int
    headers: dict[str, str]
    text: str


def request_bytes(method: str, path: str, host: str, body: bytes | None = None) -> bytes:
    """The bytes of one request, with a form body when one is given."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if body is not None:
        lines += [
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Connection:
    """One keep-alive connection to ``host:port``, opened on first use."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, method: str, path: str, body: bytes | None = None) -> Reply:
        """Send one request and read its response."""
        return await asyncio.wait_for(self._send(method, path, body), self.timeout_s)

    async def follow(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[list[int], str, str]:
        """Send one request and follow its redirects (each a GET on this connection): the
        statuses, the last path and the last page's text."""
        replies = [await self.send(method, path, body)]
        while replies[-1].status in {301, 302, 303, 307, 308} and len(replies) < 5:
            path = urljoin(path, replies[-1].headers["location"])
            replies.append(await self.send("GET", path))
        return [r.status for r in replies], path, replies[-1].text

    async def _send(self, method: str, path: str, body: bytes | None) -> Reply:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request_bytes(method, path, f"{self.host}:{self.port}", body))
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        content = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(int(status_line.split(" ", 2)[1]), headers, content.decode("utf-8"))

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
