"""Group commit: durable appends from many threads of one process, sharing one commit.

See :class:`GroupCommit`. It writes through the same linking code as every other append
(:func:`~decisions.ledger.chain.append_rows`), in transactions of its own
(:func:`~decisions.ledger.durable.run_in_own_transaction`).
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine

from decisions.ledger.chain import ChainSQL, NewEvent, append_rows, fetch_by_key
from decisions.ledger.durable import run_in_own_transaction

__all__ = ["GroupCommit"]


class GroupCommit:
    """Durable appends from many threads, committed together: one fsync for a group.

    Each :meth:`append` returns only once its event is committed, exactly as
    :func:`append_durable`; but while one thread is committing, the events other threads
    bring meanwhile queue up and are written by that thread in the next transaction, so
    concurrent callers (a worker answering many experts at once) share the disk's flushes.
    Correctness across processes still rests on the store's write lock: this only batches
    within one process. Share one instance between the threads of a process.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._queue: list[tuple[NewEvent, Future[tuple[Any, ...]]]] = []
        self._leading = False

    def append(self, event: NewEvent) -> tuple[Any, ...]:
        """Append ``event`` durably; idempotent on its key, like :func:`append_durable`."""
        done: Future[tuple[Any, ...]] = Future()
        with self._lock:
            self._queue.append((event, done))
            lead = not self._leading
            self._leading = True
        if lead:
            self._drain()
        return done.result()

    def _drain(self) -> None:
        while True:
            with self._lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._leading = False
                    return
            try:
                rows = run_in_own_transaction(
                    self.engine, functools.partial(_write_group, batch=batch)
                )
            except BaseException as err:  # every waiter learns why its event was not written
                for _event, future in batch:
                    future.set_exception(err)
            else:
                for (_event, future), row in zip(batch, rows, strict=True):
                    future.set_result(row)


def _write_group(
    cursor: Any, sql: ChainSQL, *, batch: list[tuple[NewEvent, Future[tuple[Any, ...]]]]
) -> list[tuple[Any, ...]]:
    """Write a group, skipping keys already in the chain or earlier in the same group."""
    known: dict[str, tuple[Any, ...]] = {}
    for event, _future in batch:
        key = event.idempotency_key
        if key is not None and key not in known:
            found = fetch_by_key(cursor, sql, key)
            if found is not None:
                known[key] = tuple(found)
    fresh: list[NewEvent] = []
    for event, _future in batch:
        key = event.idempotency_key
        if key is None or (key not in known and all(e.idempotency_key != key for e in fresh)):
            fresh.append(event)
    written = iter(append_rows(cursor, sql, fresh))
    rows: list[tuple[Any, ...]] = []
    by_key: dict[str, tuple[Any, ...]] = dict(known)
    for event, _future in batch:
        key = event.idempotency_key
        if key is not None and key in by_key:
            rows.append(by_key[key])
            continue
        row = next(written)
        if key is not None:
            by_key[key] = row
        rows.append(row)
    return rows
