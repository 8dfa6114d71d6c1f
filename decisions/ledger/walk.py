"""Walking the chain: its events page by page, and its verification, split over processes.

Walking the whole chain is, after appending, the store's busiest read, so both read pages
of prepared SQL (:func:`~decisions.ledger.chain.chain_sql`) on the driver's own cursor, as
the appends do. :func:`verify_store` hands the ranges of a long chain to worker processes and
checks that each range joins the one before it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sqlalchemy import Engine

from decisions.audit import GENESIS_HASH, Anchor, ChainReport, verify_chain
from decisions.db import make_engine
from decisions.ledger.chain import chain_sql

__all__ = ["iter_rows", "verify_store"]


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


def _verify_range(
    url: str, low: int, high: int, anchor: Anchor | None
) -> ChainReport:  # pragma: no cover - runs in a worker process (covered by its result)
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
