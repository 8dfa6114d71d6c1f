"""The procedure's units of work: load a decision's view, record its progress.

Each record is written with its audit event in one transaction under the command's
idempotency key, and each writer says whether it created the record: only that run
publishes the report that goes with it, so two runs that race publish it once. The
payloads of the audit events are those earlier versions wrote, so a history reads the same
before and after the store's upgrade.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from decisions.classes import ClassBook
from decisions.procedure import DecisionView
from decisions.progress import ExecutionCycle, RoundRecord, Routing, TenderRecord
from decisions.services.common import SYSTEM
from decisions.store import NewEvent
from decisions.uow import UnitOfWork

__all__ = [
    "load_view",
    "tender_record",
    "routings_of",
    "record_routing",
    "record_round",
    "conclude_consultation",
    "record_cycle",
]


def load_view(
    engine: Engine,
    decision_id: str,
    classes: ClassBook,
    *,
    refused: Iterable[str] = (),
) -> DecisionView:
    """The decision as the store has it now, with its class from ``classes``, in one read."""
    with UnitOfWork(engine, read_only=True) as uow:
        progress = uow.progress
        decision = uow.decisions.get(decision_id)
        decision_class = classes.get(decision.class_name, decision.district_type)
        return DecisionView(
            decision=decision,
            decision_class=decision_class,
            tender=tender_record(uow, decision_id) if decision_class.tender else None,
            tasks=tuple(uow.tasks.for_decision(decision_id)),
            answers={a.task_id: a.answer for a in uow.answers.for_decision(decision_id)},
            actors=tuple(uow.actors.list()),
            routings=progress.routings(decision_id),
            rounds=progress.rounds(decision_id),
            cycles=progress.cycles(decision_id),
            refused=frozenset(refused),
        )


def tender_record(uow: UnitOfWork, decision_id: str) -> TenderRecord | None:
    """A tender's facts, read back from its ``tender.*`` events in ``uow``."""
    events = uow.log.for_decision(decision_id, prefix="tender.")
    return TenderRecord.from_events((e.action, e.data) for e in events)


def routings_of(engine: Engine, decision_id: str) -> tuple[Routing, ...]:
    """The routings of a decision's consultations (the deadline sweep's alternates)."""
    with UnitOfWork(engine, read_only=True) as uow:
        return uow.progress.routings(decision_id)


def _write_once(
    uow: UnitOfWork, decision_id: str, action: str, payload: dict[str, Any], key: str
) -> bool:
    """Record the engine's fact about the decision in ``uow``, once under ``key``."""
    event = NewEvent(
        actor=SYSTEM, action=action, decision_id=decision_id, payload=payload, idempotency_key=key
    )
    return uow.record_once(event)


def record_routing(engine: Engine, decision_id: str, routing: Routing, *, key: str) -> bool:
    """Record a consultation's routing and its ``consultation.routed`` event."""
    payload = {
        "round": routing.first_round,
        "experts": list(routing.experts),
        "alternates": {s.expert: list(s.alternates) for s in routing.slots},
        "reasons": {s.expert: s.reason for s in routing.slots},
        **routing.notes,
    }
    with UnitOfWork(engine) as uow:
        if not _write_once(uow, decision_id, "consultation.routed", payload, key):
            return False
        uow.progress.add_routing(decision_id, routing)
        return True


def record_round(engine: Engine, decision_id: str, record: RoundRecord, *, key: str) -> bool:
    """Record a Delphi round's aggregate and its ``consultation.round_aggregated`` event."""
    payload = {
        "round": record.round,
        "answers": record.answers,
        "consensus": record.consensus,
        "dissent": list(record.dissent),
        "recommendations": record.recommendations,
        "medians": record.medians,
        "iqr": record.iqr,
    }
    with UnitOfWork(engine) as uow:
        if not _write_once(uow, decision_id, "consultation.round_aggregated", payload, key):
            return False
        uow.progress.save_round(decision_id, record)
        return True


def conclude_consultation(
    engine: Engine, decision_id: str, record: RoundRecord, *, key: str
) -> bool:
    """Mark the consultation's last round concluded, with the ``consultation.reported``
    event (consensus or dissent, the recommendations, the experts' conditions)."""
    payload = {
        "rounds": record.round,
        "consensus": record.consensus,
        "dissent": list(record.dissent),
        "recommendations": record.recommendations,
        "conditions": list(record.conditions),
    }
    with UnitOfWork(engine) as uow:
        if not _write_once(uow, decision_id, "consultation.reported", payload, key):
            return False
        uow.progress.save_round(decision_id, record.model_copy(update={"concluded": True}))
        return True


def record_cycle(engine: Engine, decision_id: str, cycle: ExecutionCycle, *, key: str) -> bool:
    """Record an execution cycle's inspection: ``execution.rework`` when the work goes
    back, ``execution.cycle_accepted`` when it is accepted."""
    action = "execution.rework" if cycle.outcome == "rework" else "execution.cycle_accepted"
    payload = {
        "cycle": cycle.cycle,
        "inspected": cycle.inspected,
        "accepted": cycle.accepted,
        "needed": cycle.needed,
    }
    with UnitOfWork(engine) as uow:
        if not _write_once(uow, decision_id, action, payload, key):
            return False
        uow.progress.add_cycle(decision_id, cycle)
        return True
