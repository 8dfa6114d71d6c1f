"""The unit of work on real SQLite and PostgreSQL: one transaction, the write lock, the
idempotent prologue, and answers handed back as their models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from decisions import services
from decisions.classes import load_classes
from decisions.db import CHAIN_LOCK_KEY, make_engine
from decisions.exceptions import PermissionDenied, StoreNotReady
from decisions.model import Actor, Opinion, Recusal, Role
from decisions.store import NewEvent
from decisions.uow import UnitOfWork
from tests.integration.decisions.conftest import World


def another_writer_may_start(engine: Engine) -> bool:
    """Whether a second writer, not waiting, would get the store's write lock now."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database
        conn = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            assert "locked" in str(err)
            return False
        else:
            conn.execute("ROLLBACK")
            return True
        finally:
            conn.close()
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
        free = bool(got.scalar())
        conn.rollback()
        return free


def opinion() -> Opinion:
    criteria = load_classes().get("major", "east").criteria
    return Opinion(
        recommendation="approve", ratings={c: 6 for c in criteria}, rationale="Sound plan."
    )


def ghost() -> Actor:
    return Actor(id="ghost", name="Ghost", roles=frozenset({Role.EXPERT}))


def test_an_error_rolls_back_everything_the_unit_wrote(world: World) -> None:
    """An exception inside the unit undoes its rows and its audit events alike."""
    before = services.verify(world.engine).count
    with pytest.raises(RuntimeError, match="half way"), UnitOfWork(world.engine) as uow:
        uow.actors.add(ghost(), "hash")
        uow.record(NewEvent(actor="system", action="test.half", idempotency_key="half"))
        raise RuntimeError("half way")
    with UnitOfWork(world.engine, read_only=True) as uow:
        assert not uow.actors.exists("ghost")
        assert uow.recorded("half") is None
    report = services.verify(world.engine)
    assert report.ok and report.count == before


def test_rollback_ends_the_unit_without_writing(world: World) -> None:
    """A unit rolled back by hand writes nothing when its block ends."""
    with UnitOfWork(world.engine) as uow:
        uow.actors.add(ghost(), "hash")
        uow.rollback()
    with UnitOfWork(world.engine, read_only=True) as uow:
        assert not uow.actors.exists("ghost")


def test_commit_keeps_what_was_written_before_an_error(world: World) -> None:
    """What a unit committed stays when an error follows (how a refusal is kept)."""
    with pytest.raises(RuntimeError), UnitOfWork(world.engine) as uow:
        kept = uow.record(NewEvent(actor="system", action="test.kept", idempotency_key="kept"))
        uow.commit()
        raise RuntimeError("after the commit")
    with UnitOfWork(world.engine, read_only=True) as uow:
        assert uow.recorded("kept") == kept


def test_a_writer_holds_the_write_lock_and_a_reader_does_not(world: World) -> None:
    """While a writing unit is open no other writer may start; a reading one blocks nobody."""
    assert another_writer_may_start(world.engine)
    with UnitOfWork(world.engine, read_only=True) as uow:
        uow.decisions.get(world.decision.id)
        assert another_writer_may_start(world.engine)
    with UnitOfWork(world.engine):
        assert not another_writer_may_start(world.engine)
    assert another_writer_may_start(world.engine)


def test_the_prologue_returns_the_first_record_of_a_key(world: World) -> None:
    """``recorded(key)`` is None until a key is written and then the first event under it."""
    with UnitOfWork(world.engine) as uow:
        assert uow.recorded("once") is None
        first = uow.record(
            NewEvent(actor="system", action="test.once", payload={"n": 1}, idempotency_key="once")
        )
    with UnitOfWork(world.engine, read_only=True) as uow:
        found = uow.recorded("once")
    assert found == first and found.data == {"n": 1}


def test_a_retried_service_call_returns_its_first_result_and_writes_nothing(world: World) -> None:
    """Every idempotent service goes through the prologue: the same key gives the first
    result, whatever else the retry carries."""
    engine, decision_id = world.engine, world.decision.id
    first = services.assign_task(engine, decision_id, "consult", "expert-0", idempotency_key="a")
    count = services.verify(engine).count
    again = services.assign_task(engine, decision_id, "consult", "expert-1", idempotency_key="a")
    assert again.task == first.task and not again.created
    args = dict(actor=world.experts[0], answer_code=first.answer_code, idempotency_key="r")
    recorded = services.record_answer(engine, first.task.id, opinion(), **args)
    retried = services.record_answer(engine, first.task.id, opinion(), **args)
    assert recorded.created and not retried.created
    assert (retried.answer, retried.event) == (recorded.answer, recorded.event)
    assert services.verify(engine).count == count + 1


def test_a_refusal_is_committed_before_it_is_raised(world: World) -> None:
    """A refused assignment raises, and its audit event is in the chain all the same."""
    with pytest.raises(PermissionDenied):
        services.assign_task(world.engine, world.decision.id, "vote", "li-wei", idempotency_key="v")
    with UnitOfWork(world.engine, read_only=True) as uow:
        refusal = uow.recorded("refused:v")
    assert refusal is not None and refusal.action == "powers.refused"


def test_answers_come_back_as_their_models(world: World) -> None:
    """``answers_of``, ``answer_for`` and ``record_answer`` give Answer models, each of its
    own kind, never dicts."""
    engine, decision_id = world.engine, world.decision.id
    consult = services.assign_task(engine, decision_id, "consult", "expert-0")
    vote = services.assign_task(engine, decision_id, "vote", "member-0")
    waiting = services.assign_task(engine, decision_id, "consult", "expert-1")
    recusal = Recusal(reason="My brother bids for the contract.")
    recorded = [
        services.record_answer(
            engine,
            consult.task.id,
            opinion(),
            actor=world.experts[0],
            answer_code=consult.answer_code,
        ),
        services.record_answer(
            engine, vote.task.id, recusal, actor=world.members[0], answer_code=vote.answer_code
        ),
    ]
    assert [type(r.answer) for r in recorded] == [Opinion, Recusal]
    answers = services.answers_of(engine, decision_id)
    assert answers == {consult.task.id: opinion(), vote.task.id: recusal}
    assert [type(a) for a in answers.values()] == [Opinion, Recusal]
    assert services.answer_for(engine, vote.task.id) == recusal
    assert services.answer_for(engine, waiting.task.id) is None


def test_a_unit_on_a_blank_database_says_run_init(tmp_path: Path) -> None:
    """A unit of work on a database without tables raises StoreNotReady's sentence."""
    engine = make_engine(f"sqlite:///{tmp_path}/blank.db")
    try:
        with (
            pytest.raises(StoreNotReady, match="run `counsel init` first"),
            UnitOfWork(engine, read_only=True) as uow,
        ):
            uow.decisions.list()
    finally:
        engine.dispose()
