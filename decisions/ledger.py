"""The audit chain's hot paths on the driver's own cursor.

Appending and walking the chain are the store's busiest operations, so they skip the ORM
and SQLAlchemy's statement layer and speak to the DBAPI cursor with prepared SQL in the
driver's parameter style. Everything else in the store goes through repositories.

Callers either hold an open write transaction (``append_rows`` inside a unit of work) or
let :func:`append_durable` / :func:`append_batch` open one of their own on a pooled
connection. Either way the head is read and extended under the store's write lock, so
several processes appending at once queue up and never fork the chain.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from decisions.audit import (
    FIELD_SEPARATOR,
    GENESIS_HASH,
    Anchor,
    ChainReport,
    canonical_json,
    format_timestamp,
    verify_chain,
)
from decisions.db import CHAIN_LOCK_KEY
from decisions.model import utcnow

__all__ = [
    "ChainSQL",
    "NewEvent",
    "chain_sql",
    "append_rows",
    "append_durable",
    "append_batch",
    "GroupCommit",
    "verify_store",
    "iter_rows",
    "COLUMNS",
]

COLUMNS = (
    "seq",
    "recorded_at",
    "actor",
    "action",
    "decision_id",
    "idempotency_key",
    "payload",
    "prev_hash",
    "hash",
)
_SELECT = ", ".join(COLUMNS)


class NewEvent:
    """An event about to be appended (what the caller knows before seq and hashes)."""

    __slots__ = ("actor", "action", "decision_id", "payload", "idempotency_key")

    def __init__(
        self,
        *,
        actor: str,
        action: str,
        decision_id: str | None = None,
        payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        for name, value in (
            ("actor", actor),
            ("action", action),
            ("decision", decision_id),
            ("idempotency key", idempotency_key),
        ):
            if value is not None and (not value or not value.isprintable()):
                raise ValueError(
                    f"An audit event's {name} must be non-empty and printable (no control "
                    "characters)."
                )
        self.actor = actor
        self.action = action
        self.decision_id = decision_id
        self.payload = payload or {}
        self.idempotency_key = idempotency_key


@dataclass(frozen=True, slots=True)
class ChainSQL:
    """The chain's statements in one driver's parameter style."""

    dialect: str
    head: str
    insert: str
    by_key: str
    page: str
    lock: str | None
    begin: str | None


def chain_sql(engine: Engine) -> ChainSQL:
    """Statements for ``engine``'s driver (``?`` for sqlite3, ``%s`` for psycopg)."""
    return _chain_sql(engine.dialect.name, engine.dialect.paramstyle)


@functools.cache
def _chain_sql(dialect: str, paramstyle: str) -> ChainSQL:
    mark = "?" if paramstyle == "qmark" else "%s"
    sqlite = dialect == "sqlite"
    return ChainSQL(
        dialect=dialect,
        head="SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
        insert=f"INSERT INTO audit_events ({_SELECT}) VALUES ({', '.join([mark] * 9)})",
        by_key=f"SELECT {_SELECT} FROM audit_events WHERE idempotency_key = {mark}",
        page=f"SELECT {_SELECT} FROM audit_events WHERE seq > {mark} ORDER BY seq LIMIT {mark}",
        lock=None if sqlite else f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})",
        begin="BEGIN IMMEDIATE" if sqlite else None,
    )


def append_rows(
    cursor: Any, sql: ChainSQL, events: Sequence[NewEvent], *, at: datetime | None = None
) -> list[tuple[Any, ...]]:
    """Link ``events`` after the current head and insert them; returns the stored rows.

    The caller's transaction must already hold the write lock.
    """
    cursor.execute(sql.head)
    head = cursor.fetchone()
    seq, previous = (0, GENESIS_HASH) if head is None else (int(head[0]), str(head[1]))
    recorded_at = format_timestamp(at or utcnow())
    sep = FIELD_SEPARATOR
    sha256 = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    for event in events:
        seq += 1
        payload = canonical_json(event.payload)
        data = sep.join(
            (
                previous,
                str(seq),
                recorded_at,
                event.actor,
                event.action,
                event.decision_id or "",
                event.idempotency_key or "",
                payload,
            )
        )
        digest = sha256(data.encode("utf-8")).hexdigest()
        rows.append(
            (
                seq,
                recorded_at,
                event.actor,
                event.action,
                event.decision_id,
                event.idempotency_key,
                payload,
                previous,
                digest,
            )
        )
        previous = digest
    if len(rows) == 1:
        cursor.execute(sql.insert, rows[0])
    elif rows:
        cursor.executemany(sql.insert, rows)
    return rows


def _run_in_own_transaction(engine: Engine, work: Any) -> Any:
    sql = chain_sql(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            if sql.begin:
                cursor.execute(sql.begin)
            if sql.lock:
                cursor.execute(sql.lock)
            result = work(cursor, sql)
            if sql.begin:
                cursor.execute("COMMIT")
            else:
                raw.commit()
            return result
        except BaseException:
            if sql.begin:
                if raw.driver_connection.in_transaction:  # type: ignore[union-attr]
                    cursor.execute("ROLLBACK")
            else:
                raw.rollback()
            raise
        finally:
            cursor.close()
    finally:
        raw.close()


def append_durable(engine: Engine, event: NewEvent) -> tuple[Any, ...]:
    """Append one event in its own committed transaction; idempotent on its key.

    Returns the stored row; if an event with the same idempotency key is already in the
    chain, that event's row is returned and nothing is written.
    """

    try:
        rows = _run_in_own_transaction(engine, lambda cur, sql: append_rows(cur, sql, [event]))
    except Exception as err:
        # A retried call: the unique key refused the second insert; return the first event.
        if event.idempotency_key is None or not _is_unique_violation(err):
            raise
        found = _run_in_own_transaction(
            engine, lambda cur, sql: _fetch_by_key(cur, sql, event.idempotency_key)
        )
        if found is None:  # pragma: no cover - the key existed a moment ago
            raise
        return tuple(found)
    first: tuple[Any, ...] = rows[0]
    return first


def _fetch_by_key(cursor: Any, sql: ChainSQL, key: str | None) -> Any:
    cursor.execute(sql.by_key, (key,))
    return cursor.fetchone()


def _is_unique_violation(err: Exception) -> bool:
    import sqlite3

    import psycopg

    if isinstance(err, sqlite3.IntegrityError):
        return "UNIQUE" in str(err) and "idempotency_key" in str(err)
    return isinstance(err, psycopg.errors.UniqueViolation) and "idempotency_key" in str(err)


def append_batch(engine: Engine, events: Sequence[NewEvent]) -> int:
    """Append many events in one transaction (imports, bulk notices); returns how many."""
    rows = _run_in_own_transaction(engine, lambda cursor, sql: append_rows(cursor, sql, events))
    return len(rows)


def iter_rows(
    engine: Engine, *, batch: int = 50_000, after: int = 0, until: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Events as tuples in ``seq`` order (after ``after``, up to ``until``), page by page."""
    sql = chain_sql(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        while True:
            cursor.execute(sql.page, (after, batch))
            chunk = cursor.fetchall()
            if until is not None:
                chunk = [row for row in chunk if row[0] <= until]
            if not chunk:
                break
            yield from chunk
            after = int(chunk[-1][0])
            if until is not None and after >= until:
                break
        cursor.close()
        if sql.begin is None:
            raw.rollback()
    finally:
        raw.close()


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
                rows = _run_in_own_transaction(
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
            found = _fetch_by_key(cursor, sql, key)
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


def _verify_range(
    url: str, low: int, high: int, anchor: Anchor | None
) -> ChainReport:  # pragma: no cover - runs in a worker process (covered by its result)
    from decisions.db import make_engine

    engine = make_engine(url)
    try:
        rows = iter_rows(engine, after=low - 1, until=high)
        return verify_chain(rows, anchor=anchor, start=low, previous=None)
    finally:
        engine.dispose()


def verify_store(
    engine: Engine,
    *,
    anchor: Anchor | None = None,
    workers: int | None = None,
    min_events: int = 200_000,
) -> ChainReport:
    """Verify the whole chain, splitting a long one over worker processes.

    Each worker walks a contiguous range of sequence numbers; this process checks that each
    range starts where the previous one ended (its first event's previous hash is the last
    hash before it) and reports the first bad event overall, with the same sentences as a
    single walk. Chains under ``min_events`` events are walked here.
    """
    with engine.connect() as conn:
        top = int(
            conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM audit_events").scalar_one()
        )
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers < 2 or top < min_events:
        return verify_chain(iter_rows(engine), anchor=anchor)
    step = -(-top // workers)
    ranges = [(low, min(low + step - 1, top)) for low in range(1, top + 1, step)]
    url = engine.url.render_as_string(hide_password=False)
    # Fork is quick; but a process running other threads (a flow, a server) spawns instead,
    # since a fork would copy their locks mid-use.
    method = "fork" if threading.active_count() == 1 else "spawn"
    with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context(method)) as pool:
        parts = list(
            pool.map(
                _verify_range,
                [url] * len(ranges),
                [low for low, _ in ranges],
                [high for _, high in ranges],
                [
                    anchor if anchor is not None and low <= anchor.count <= high else None
                    for low, high in ranges
                ],
            )
        )
    last_seq, last_hash = 0, GENESIS_HASH
    for index, ((low, high), part) in enumerate(zip(ranges, parts, strict=True)):
        starts_clean = part.first_bad_seq != low
        if part.first_prev is not None and starts_clean and part.first_prev != last_hash:
            return ChainReport(
                False,
                last_seq,
                last_hash,
                low,
                f"event {low} does not follow event {low - 1}: its previous-hash field does not "
                "match (an event before it was removed, replaced or reordered)",
            )
        if not part.ok:
            return part
        if part.count < high and index < len(ranges) - 1:
            following = next((p for p in parts[index + 1 :] if p.first_prev is not None), None)
            jump = f"event {ranges[index + 1][0]} or later" if following else "the end"
            return ChainReport(
                False,
                part.count,
                part.head_hash,
                part.count + 1,
                f"event {part.count + 1} is missing: the chain jumps from event {part.count} "
                f"to {jump}",
            )
        if part.first_prev is not None:
            last_seq, last_hash = part.count, part.head_hash
    if anchor is not None and anchor.count > last_seq:
        return ChainReport(
            False,
            last_seq,
            last_hash,
            last_seq + 1,
            f"the chain ends at event {last_seq} but was anchored at {anchor.count} events: "
            f"{anchor.count - last_seq} event(s) are missing from its end",
        )
    return ChainReport(True, last_seq, last_hash)
