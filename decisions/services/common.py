"""What the services share: the engine's own actor name, the parties a ruling is about,
the audited refusal, and the domain events of a decision written to the chain."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from decisions.audit import AuditEvent
from decisions.exceptions import PermissionDenied, validation_sentence
from decisions.model import Actor, Decision, TaskKind
from decisions.powers import Action, Parties
from decisions.store import NewEvent
from decisions.uow import UnitOfWork

__all__ = ["SYSTEM", "first_error", "parties", "parties_of", "refuse", "write_events"]

#: The actor name the engine itself uses in the audit chain (flows, deadlines).
SYSTEM = "system"


def first_error(err: Exception) -> str:
    """The sentence a user reads for a model that could not be built."""
    return validation_sentence(err) if isinstance(err, ValidationError) else str(err)


def parties(uow: UnitOfWork, decision: Decision) -> Parties:
    """Who holds which part in ``decision``: what the separation of powers rules on."""
    return parties_of(decision, uow.tasks.assignments(decision.id))


def parties_of(decision: Decision, assignments: Iterable[tuple[TaskKind, str]]) -> Parties:
    """The parties of ``decision`` given who holds which kind of its (not cancelled) tasks,
    for a caller that has read its tasks already."""
    groups: dict[TaskKind, set[str]] = {kind: set() for kind in TaskKind}
    for kind, assignee in assignments:
        groups[kind].add(assignee)
    return Parties(
        decision_id=decision.id,
        planner_id=decision.planner_id,
        stakeholder_orgs=frozenset(decision.stakeholder_orgs),
        bidder_orgs=frozenset(decision.bidder_orgs),
        executor_orgs=frozenset(decision.executor_orgs),
        consulted=frozenset(groups[TaskKind.CONSULT] | groups[TaskKind.SCORE]),
        voters=frozenset(groups[TaskKind.VOTE]),
        executors=frozenset(groups[TaskKind.EXECUTE]),
        inspectors=frozenset(groups[TaskKind.INSPECT]),
    )


def refuse(
    uow: UnitOfWork,
    actor: Actor,
    action: Action | str,
    parties: Parties,
    reason: str,
    rule: str,
    key: str | None,
    **details: Any,
) -> PermissionDenied:
    """Audit a refusal by the separation of powers and return the error to raise.

    A retried call is audited once (the refusal has its own key); the caller commits the
    unit before raising, so the refusal stays in the chain.
    """
    refusal_key = f"refused:{key}" if key else None
    if refusal_key is None or uow.recorded(refusal_key) is None:
        uow.record(
            NewEvent(
                actor=actor.id,
                action="powers.refused",
                decision_id=parties.decision_id,
                payload={"attempted": str(action), "rule": rule, "reason": reason, **details},
                idempotency_key=refusal_key,
            )
        )
    return PermissionDenied(
        reason, decision_id=parties.decision_id, actor_id=actor.id, action=str(action)
    )


def write_events(uow: UnitOfWork, decision: Decision, *, actor: str, key: str) -> list[AuditEvent]:
    """Write the decision's pending domain events, the first under ``key`` and the rest
    under ``key#1``, ``key#2`` … so the first one is what the idempotent prologue finds."""
    events = [
        NewEvent(
            actor=actor,
            action=event.name,
            decision_id=event.decision_id,
            payload=event.payload,
            idempotency_key=key if index == 0 else f"{key}#{index}",
        )
        for index, event in enumerate(decision.events)
    ]
    decision.events.clear()
    return uow.log.append_many(events)
