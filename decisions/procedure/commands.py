"""The commands the procedure returns: what to do next, as data, each with its key.

Commands are imperative (``Assign``, ``Transition``, ``RecordRound``); the flows carry them
out in order and hold no rule of their own. Every command that writes carries the
idempotency key that makes it happen once, however often a step runs. A command that
records a fact with a report (``RecordRound``, ``ConcludeConsultation``, ``RecordMinutes``,
``RecordTally``, ``RecordCycle``) is published by the run whose write created the record,
so two runs that race publish it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from decisions.consensus import RoundAggregate
from decisions.model import Task, TaskKind
from decisions.progress import ExecutionCycle, RoundRecord
from decisions.tally import Resolution

__all__ = [
    "Command",
    "Transition",
    "Assign",
    "Route",
    "Wait",
    "RecordRound",
    "ConcludeConsultation",
    "RecordMinutes",
    "RecordTally",
    "Escalate",
    "RecordCycle",
    "Remind",
    "Expire",
    "TenderStep",
]


@dataclass(frozen=True)
class Transition:
    """Move the decision with ``action`` (``stall`` with a ``reason`` the planner reads)."""

    action: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str | None:
        reason = self.params.get("reason")
        return reason if isinstance(reason, str) else None


@dataclass(frozen=True)
class Assign:
    """Give one task of ``kind`` to the first of ``candidates`` the separation of powers
    allows; ``keys`` holds each candidate's idempotency key, in the same order."""

    kind: TaskKind
    candidates: tuple[str, ...]
    keys: tuple[str, ...]
    round: int
    duration: timedelta
    zone: str | None = None
    measures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """Route experts for the consultation beginning with ``first_round`` (from the expertise
    graph); :func:`decisions.procedure.after_routing` says what follows."""

    first_round: int
    key: str


@dataclass(frozen=True)
class Wait:
    """The step waits for people: each open task needs its person's form."""

    stage: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class RecordRound:
    """Record a Delphi round's aggregate (and publish it with the routing)."""

    record: RoundRecord
    aggregate: RoundAggregate
    key: str


@dataclass(frozen=True)
class ConcludeConsultation:
    """Conclude the consultation on its last round: the report, consensus or dissent."""

    record: RoundRecord
    aggregate: RoundAggregate
    key: str


@dataclass(frozen=True)
class RecordMinutes:
    """Minute the discussion: the positions given (tasks) and the final proposal version."""

    tasks: tuple[Task, ...]
    positions: int
    final_version: int
    key: str


@dataclass(frozen=True)
class RecordTally:
    """Record the vote's tally and whether it goes against the experts' consensus."""

    resolution: Resolution
    against_consensus: bool
    key: str


@dataclass(frozen=True)
class Escalate:
    """An execution task passed its deadline without a progress report."""

    task: Task
    reason: str
    key: str


@dataclass(frozen=True)
class RecordCycle:
    """Record what the inspectors made of an execution cycle (and publish the record)."""

    cycle: ExecutionCycle
    key: str


@dataclass(frozen=True)
class Remind:
    """Remind a task's assignee that its deadline comes."""

    task: Task
    deadline: datetime
    key: str


@dataclass(frozen=True)
class Expire:
    """Close a task nobody answered by its deadline: pass it to the first of ``candidates``
    (a consultation's routed alternates) the powers allow, or cancel it."""

    task: Task
    deadline: datetime
    candidates: tuple[str, ...]
    keys: tuple[str, ...]
    duration: timedelta
    key: str


@dataclass(frozen=True)
class TenderStep:
    """Record one of a tender's facts, which the flows compute with what the procedure
    cannot hold (the store's secret, the expertise graph, the draw):

    - ``qualify``: check every bidder against the class's qualification rules;
    - ``commit``: commit to the server's seed before the pool exists;
    - ``fix_pool``: fix the eligible evaluators (speciality, conflicts, one per organisation);
    - ``draw``: draw the panel, its alternates and their lots (``params["witness"]``);
    - ``replace``: give declined seats to the next alternates (``params["declined"]``);
    - ``rank``: record the round's consolidated ranking (``params["round"]``);
    - ``reveal``: reveal the server's seed once the panel has scored.
    """

    step: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)


Command = (
    Transition
    | Assign
    | Route
    | Wait
    | RecordRound
    | ConcludeConsultation
    | RecordMinutes
    | RecordTally
    | Escalate
    | RecordCycle
    | Remind
    | Expire
    | TenderStep
)
