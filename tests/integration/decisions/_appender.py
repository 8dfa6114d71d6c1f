"""Run in child processes by the concurrency test: append events through the store."""

from __future__ import annotations

from decisions import services
from decisions.db import make_engine


def append_events(url: str, worker: int, count: int) -> int:
    engine = make_engine(url)
    try:
        for i in range(count):
            services.append_event(
                engine,
                actor=f"worker-{worker}",
                action="test.appended",
                payload={"worker": worker, "i": i},
                idempotency_key=f"w{worker}-{i}",
            )
    finally:
        engine.dispose()
    return count
