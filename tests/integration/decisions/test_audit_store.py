"""The stored audit chain: tampering of every kind is named; concurrent appends never fork."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from decisions import ledger, services
from decisions.audit import Anchor, ChainReport, event_hash
from decisions.ledger import NewEvent
from decisions.uow import UnitOfWork
from tests.integration.decisions._appender import append_events
from tests.integration.decisions.conftest import World, chain_unprotected


def row(conn: Connection, seq: int) -> dict[str, object]:
    result = conn.execute(text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq})
    return dict(result.mappings().one())


def change_payload_byte(conn: Connection) -> int:
    payload = str(row(conn, 5)["payload"])
    conn.execute(
        text("UPDATE audit_events SET payload = :p WHERE seq = 5"),
        {"p": payload.replace('"', "'", 1)},
    )
    return 5


def change_actor(conn: Connection) -> int:
    conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 9"))
    return 9


def delete_middle_row(conn: Connection) -> int:
    conn.execute(text("DELETE FROM audit_events WHERE seq = 6"))
    return 6


def swap_pair(conn: Connection) -> int:
    conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 7"))
    conn.execute(text("UPDATE audit_events SET seq = 7 WHERE seq = 8"))
    conn.execute(text("UPDATE audit_events SET seq = 8 WHERE seq = -1"))
    return 7


def insert_forged_row(conn: Connection) -> int:
    """Make room after event 4 and insert a well-formed event that links to it."""
    last = int(conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one())
    for seq in range(last, 4, -1):
        conn.execute(
            text("UPDATE audit_events SET seq = :n WHERE seq = :o"), {"n": seq + 1, "o": seq}
        )
    fourth = row(conn, 4)
    fields = (5, "2026-11-26T07:00:00.000000Z", "mallory", "task.answered.vote", None, None, "{}")
    conn.execute(
        text(
            "INSERT INTO audit_events (seq, recorded_at, actor, action, decision_id, "
            "idempotency_key, payload, prev_hash, hash) VALUES (5, :at, 'mallory', "
            "'task.answered.vote', NULL, NULL, '{}', :prev, :hash)"
        ),
        {"at": fields[1], "prev": fourth["hash"], "hash": event_hash(str(fourth["hash"]), *fields)},
    )
    return 6  # the forged event links correctly; the event after it no longer does


TAMPERING: dict[str, Callable[[Connection], int]] = {
    "payload byte": change_payload_byte,
    "actor": change_actor,
    "deleted middle row": delete_middle_row,
    "swapped pair": swap_pair,
    "forged inserted row": insert_forged_row,
}


def verify_split(world: World, anchor: Anchor | None = None) -> ChainReport:
    """The chain verified by worker processes (three ranges), however short it is."""
    return ledger.verify_store(world.engine, anchor=anchor, workers=3, min_events=0)


@pytest.mark.parametrize("split", [False, True], ids=["one-walk", "worker-processes"])
@pytest.mark.parametrize("damage", list(TAMPERING.values()), ids=list(TAMPERING))
def test_verify_names_the_first_bad_event(
    world: World, damage: Callable[[Connection], int], split: bool
) -> None:
    """Each kind of tampering is found and the first bad event is named, whether one walk
    or several worker processes verify the chain."""
    assert services.verify(world.engine).ok
    if split:
        assert verify_split(world).ok
    with chain_unprotected(world.engine) as conn:
        bad = damage(conn)
    report = verify_split(world) if split else services.verify(world.engine)
    assert not report.ok
    assert report.first_bad_seq == bad
    assert f"event {bad}" in report.reason


def test_truncated_tail_is_found_against_the_export_anchor(world: World) -> None:
    """Removing the newest events passes a plain walk but fails against the anchor."""
    anchor = services.verify(world.engine).anchor
    with chain_unprotected(world.engine) as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :n"), {"n": anchor.count - 3})
    assert services.verify(world.engine).ok
    for report in (services.verify(world.engine, anchor=anchor), verify_split(world, anchor)):
        assert not report.ok
        assert f"anchored at {anchor.count} events: 3 event(s) are missing" in report.reason


def test_history_is_the_decisions_events_in_order(world: World) -> None:
    """A decision's history is its own events, in chain order, with parsed payloads."""
    events = services.history(world.engine, world.decision.id)
    assert [e.action for e in events] == ["decision.submitted", "decision.consultation_started"]
    assert events[0].data["title"] == "道路保洁市场化：建设路与人民街"
    assert events[0].seq < events[1].seq


def test_batched_appends_link_in_one_transaction(world: World) -> None:
    """Many events appended in one unit of work form one unbroken stretch of the chain."""
    before = services.verify(world.engine).count
    with UnitOfWork(world.engine) as uow:
        uow.log.append_many(
            [NewEvent(actor="system", action="test.batch", payload={"i": i}) for i in range(500)]
        )
    report = services.verify(world.engine)
    assert report.ok and report.count == before + 500


@pytest.mark.slow
def test_eight_processes_appending_at_once_leave_one_valid_chain(world: World) -> None:
    """Concurrent appenders from 8 processes lose nothing and never fork the chain."""
    url = world.engine.url.render_as_string(hide_password=False)
    before = services.verify(world.engine).count
    world.engine.dispose()
    per_worker = 40
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        done = pool.starmap(append_events, [(url, w, per_worker) for w in range(8)])
    assert done == [per_worker] * 8
    report = services.verify(world.engine)
    assert report.ok, report.reason
    assert report.count == before + 8 * per_worker
    with world.engine.connect() as conn:
        keys = conn.execute(
            text("SELECT idempotency_key, payload FROM audit_events WHERE action = 'test.appended'")
        ).all()
    assert sorted(k for k, _ in keys) == sorted(
        f"w{w}-{i}" for w in range(8) for i in range(per_worker)
    )
    assert all(json.loads(p)["worker"] == int(k[1:].split("-")[0]) for k, p in keys)


def test_group_commit_from_many_threads_keeps_one_chain_and_dedupes(world: World) -> None:
    """Threads sharing a GroupCommit lose nothing, fork nothing and write each key once."""
    from concurrent.futures import ThreadPoolExecutor

    from decisions.ledger import GroupCommit

    group = GroupCommit(world.engine)
    before = services.verify(world.engine).count

    def append(i: int) -> int:
        event = services.append_event(
            world.engine,
            actor="system",
            action="test.grouped",
            payload={"i": i % 150},
            idempotency_key=f"g-{i % 150}",
            group=group,
        )
        return event.seq

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = list(pool.map(append, range(300)))
    report = services.verify(world.engine)
    assert report.ok and report.count == before + 150
    assert seqs[:150] == seqs[150:]  # the retried key got the first event back
