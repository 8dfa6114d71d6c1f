"""What a decision's dossier reads: the decision with everything recorded of it, and its own
events checked against the chain, in one read-only unit of work.

The dossier is published at the end of every step of a decision, so this read is bounded by
the decision, not by the store: its own rows, its own events, each checked against the event
just before it in the chain (one join on the chain's primary key), and the chain's head
(one indexed read). Walking the whole chain, every event of every decision, is
``counsel audit verify``'s work; the checks here are that walk's own
(:func:`decisions.audit.verify_chain`), applied to this decision's events one by one, so a
broken event is named with the same sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Engine, Table, select

from decisions.audit import GENESIS_HASH, AuditEvent, Row, verify_chain
from decisions.exceptions import ActorNotFound
from decisions.model import Answer, Decision, Task
from decisions.progress import ExecutionCycle, RoundRecord, Routing
from decisions.tables import AuditEventRow
from decisions.uow import UnitOfWork

__all__ = ["EventsCheck", "DecisionRecord", "decision_record", "check_decision_events"]

_AUDIT = cast(Table, AuditEventRow.__table__)


@dataclass(frozen=True)
class EventsCheck:
    """One decision's events checked against the chain: each still matches its hash and
    follows the event before it. ``first_bad_seq`` and ``reason`` name the first that does
    not, in the words of ``counsel audit verify``."""

    events: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class DecisionRecord:
    """A decision as its dossier shows it: the decision, its tasks and typed answers, the
    names of the people in them, its progress records, its history, the check of that
    history and the chain's head (``(count, hash)``)."""

    decision: Decision
    tasks: tuple[Task, ...]
    answers: Mapping[str, Answer]
    names: Mapping[str, str]
    routings: tuple[Routing, ...]
    rounds: tuple[RoundRecord, ...]
    cycles: tuple[ExecutionCycle, ...]
    events: tuple[AuditEvent, ...]
    check: EventsCheck
    head: tuple[int, str]

    @property
    def id(self) -> str:
        return self.decision.id

    def name(self, actor_id: str) -> str:
        """The person's name, or their id when the store has no such actor."""
        return self.names.get(actor_id, actor_id)


def decision_record(engine: Engine, decision_id: str) -> DecisionRecord:
    """Everything the dossier of ``decision_id`` shows, in one read-only unit of work;
    :class:`~decisions.exceptions.DecisionNotFound` if there is no such decision."""
    with UnitOfWork(engine, read_only=True) as uow:
        decision = uow.decisions.get(decision_id)
        tasks = tuple(uow.tasks.for_decision(decision_id))
        events = tuple(uow.log.for_decision(decision_id))
        people = {decision.planner_id, *(t.assignee_id for t in tasks)}
        people |= {e.actor for e in events if e.action == "powers.refused"}
        names: dict[str, str] = {}
        for actor_id in sorted(people):
            try:
                names[actor_id] = uow.actors.get(actor_id).name
            except ActorNotFound:
                continue
        return DecisionRecord(
            decision=decision,
            tasks=tasks,
            answers={a.task_id: a.answer for a in uow.answers.for_decision(decision_id)},
            names=names,
            routings=uow.progress.routings(decision_id),
            rounds=uow.progress.rounds(decision_id),
            cycles=uow.progress.cycles(decision_id),
            events=events,
            check=_check(uow, decision_id),
            head=uow.log.head(),
        )


def check_decision_events(engine: Engine, decision_id: str) -> EventsCheck:
    """Check the decision's events against the chain (see :class:`EventsCheck`)."""
    with UnitOfWork(engine, read_only=True) as uow:
        uow.decisions.require(decision_id)
        return _check(uow, decision_id)


def _check(uow: UnitOfWork, decision_id: str) -> EventsCheck:
    """Each event of the decision, with the hash of the event before it in the chain (one
    query), walked as :func:`~decisions.audit.verify_chain` walks the whole chain."""
    before = _AUDIT.alias("before")
    rows = uow.session.execute(
        select(
            _AUDIT.c.seq,
            _AUDIT.c.recorded_at,
            _AUDIT.c.actor,
            _AUDIT.c.action,
            _AUDIT.c.decision_id,
            _AUDIT.c.idempotency_key,
            _AUDIT.c.payload,
            _AUDIT.c.prev_hash,
            _AUDIT.c.hash,
            before.c.hash,
        )
        .select_from(_AUDIT.outerjoin(before, before.c.seq == _AUDIT.c.seq - 1))
        .where(_AUDIT.c.decision_id == decision_id)
        .order_by(_AUDIT.c.seq)
    ).all()
    for row in rows:
        event, previous = tuple(row[:-1]), row[-1]
        seq = int(event[0])
        if seq > 1 and previous is None:
            return EventsCheck(
                len(rows),
                False,
                seq - 1,
                f"event {seq - 1} is missing: the chain jumps from event {seq - 2} to {seq}",
            )
        report = verify_chain(
            [cast(Row, event)],
            start=seq,
            previous=GENESIS_HASH if seq == 1 else str(previous),
        )
        if not report.ok:
            return EventsCheck(len(rows), False, report.first_bad_seq, report.reason)
    return EventsCheck(len(rows), True)
