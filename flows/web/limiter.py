"""How many links that do not open one client may try: a sliding minute per client.

A link's token is an HMAC, so guessing one is hopeless; the limit keeps a client that
tries anyway (or a broken mail filter replaying old links) from costing the store a read
per try. A client over the limit is answered 429 on every link, good or bad, until its
minute has passed, so the answer teaches nothing. The count lives in the process's memory:
each process counts what it sees — each of the ``--workers`` processes of one ``counsel
serve``, as each instance behind a load balancer — so a client may have up to that many
times the limit refused before every process answers it 429, which bounds it all the same;
a restart forgets it.

>>> now = [0.0]
>>> limiter = RefusalLimiter(per_minute=2, clock=lambda: now[0])
>>> limiter.refused("10.0.0.7"); limiter.refused("10.0.0.7"); limiter.blocked("10.0.0.7")
False
>>> limiter.refused("10.0.0.7"); limiter.blocked("10.0.0.7"), limiter.blocked("10.0.0.8")
(True, False)
>>> now[0] = 60.5  # a minute later
>>> limiter.blocked("10.0.0.7")
False
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["RefusalLimiter"]


class RefusalLimiter:
    """Counts refused links per client over the last ``window_s`` seconds.

    Parameters
    ----------
    per_minute : int
        Refusals a client may have in a window; one more and it is blocked.
    window_s : float
        The window's length (a minute).
    max_clients : int
        Clients remembered at most; the longest quiet are forgotten first, so a flood of
        addresses cannot fill the memory.
    clock : callable
        Seconds, monotonic (``time.monotonic``).
    """

    def __init__(
        self,
        *,
        per_minute: int = 10,
        window_s: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.get(client)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._seen[client]
        return times

    def blocked(self, client: str) -> bool:
        """Whether ``client`` had more than ``per_minute`` refusals in the last window."""
        return len(self._recent(client, self._clock())) > self.per_minute

    def refused(self, client: str) -> None:
        """Count one refused link of ``client``."""
        now = self._clock()
        times = self._recent(client, now)
        times.append(now)
        self._seen[client] = times
        self._seen.move_to_end(client)
        while len(self._seen) > self.max_clients:
            self._seen.popitem(last=False)
