"""The decision domain: plain Python and pydantic, no database.

A :class:`Decision` changes state only through its methods; each method checks the lifecycle
table, changes the state and records a past-tense :class:`DomainEvent` that the store writes
to the audit chain in the same transaction.

    submitted -> consulting (round 1..n) -> discussing -> deciding -> approved -> executing
              -> accepted -> closed

with ``rejected``, ``returned`` (back to consulting), ``withdrawn`` and ``stalled`` as the
other exits.

The surface (import from here; the modules are how it is kept):

========================  ==================================================================
:mod:`.lifecycle`         ``State``, ``TRANSITIONS``, ``WITHDRAWABLE_WHEN_STALLED_IN``,
                          ``EVENT_NAMES``: the transition table
:mod:`.decision`          ``Decision``, ``ProposalVersion``, ``DomainEvent``,
                          ``DECISION_ID_PATTERN``: the aggregate that moves through the table
:mod:`.actors`            ``Role``, ``Actor``, ``ACTOR_ID_PATTERN``
:mod:`.tasks`             ``TaskKind``, ``TaskStatus``, ``Task``
:mod:`.answers`           ``Opinion``, ``Comment``, ``Vote``, ``Recusal``, ``ProgressReport``,
                          ``Acceptance``, the ``Answer`` union, ``ANSWER_TYPES``,
                          ``Recommendation``
:mod:`decisions.clock`    ``utcnow``
========================  ==================================================================
"""

from __future__ import annotations

from decisions.clock import utcnow
from decisions.model.actors import ACTOR_ID_PATTERN, Actor, Role
from decisions.model.answers import (
    ANSWER_TYPES,
    WITNESS_VALUE_MAX,
    Acceptance,
    Answer,
    BidScores,
    Comment,
    Declination,
    Opinion,
    ProgressReport,
    Recommendation,
    Recusal,
    Vote,
    WitnessEntry,
)
from decisions.model.decision import DECISION_ID_PATTERN, Decision, DomainEvent, ProposalVersion
from decisions.model.lifecycle import (
    EVENT_NAMES,
    TRANSITIONS,
    WITHDRAWABLE_WHEN_STALLED_IN,
    State,
)
from decisions.model.tasks import Task, TaskKind, TaskStatus

__all__ = [
    "State",
    "TRANSITIONS",
    "WITHDRAWABLE_WHEN_STALLED_IN",
    "EVENT_NAMES",
    "DomainEvent",
    "ProposalVersion",
    "Decision",
    "Role",
    "Actor",
    "TaskKind",
    "TaskStatus",
    "Task",
    "Opinion",
    "Comment",
    "Vote",
    "Recusal",
    "ProgressReport",
    "Acceptance",
    "BidScores",
    "Declination",
    "WitnessEntry",
    "WITNESS_VALUE_MAX",
    "Answer",
    "ANSWER_TYPES",
    "Recommendation",
    "DECISION_ID_PATTERN",
    "ACTOR_ID_PATTERN",
    "utcnow",
]
