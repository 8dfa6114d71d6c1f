"""How far a decision's stages have come, as typed records the procedure reads.

The audit chain is the record of what happened; these are the state the procedure works
from, kept in tables of their own (migration 0005) and written in the same transaction as
the audit event that reports them:

- :class:`Routing` — the experts routed for one consultation (a decision returned by its
  body is consulted again), one :class:`Slot` per routed expert with its alternates in the
  order they replace them, and what the report says about who was kept out;
- :class:`RoundRecord` — the anonymous aggregate of one Delphi round, and, on the round that
  concluded its consultation, the conditions the experts attached;
- :class:`ExecutionCycle` — one cycle of execution and inspection: accepted, or sent back
  for rework.

Plain pydantic models: no SQLAlchemy, no I/O (:mod:`decisions.store.progress` converts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["Slot", "Routing", "RoundRecord", "ExecutionCycle", "routing_of_round"]


class Slot(BaseModel, frozen=True):
    """One routed expert's place on the panel: who fills it first, then who replaces them."""

    number: int = Field(ge=0)
    expert: str
    alternates: tuple[str, ...] = ()
    reason: str = ""

    @property
    def candidates(self) -> tuple[str, ...]:
        """The actor ids that may fill this slot, in order."""
        return (self.expert, *self.alternates)


class Routing(BaseModel, frozen=True):
    """The experts routed for the consultation that began with ``first_round``.

    ``notes`` keeps what the consultation report says about the routing (topics left
    uncovered, conflicts, experts kept out by rule, any shortfall); the procedure reads
    only the slots.
    """

    first_round: int = Field(ge=1)
    slots: tuple[Slot, ...]
    notes: dict[str, Any] = Field(default_factory=dict)

    @property
    def experts(self) -> tuple[str, ...]:
        return tuple(s.expert for s in self.slots)

    def slot_of(self, actor_id: str) -> Slot | None:
        """The slot ``actor_id`` fills or may fill (as the routed expert or an alternate)."""
        return next((s for s in self.slots if actor_id in s.candidates), None)


class RoundRecord(BaseModel, frozen=True):
    """The anonymous aggregate of one Delphi round (``concluded`` on a consultation's last)."""

    round: int = Field(ge=1)
    first_round: int = Field(ge=1)
    answers: int = Field(ge=0)
    consensus: bool
    dissent: tuple[str, ...] = ()
    recommendations: dict[str, int] = Field(default_factory=dict)
    medians: dict[str, float] = Field(default_factory=dict)
    iqr: dict[str, float] = Field(default_factory=dict)
    concluded: bool = False
    conditions: tuple[str, ...] = ()


class ExecutionCycle(BaseModel, frozen=True):
    """One cycle of execution and inspection, and what the inspectors made of it
    (``inspected`` is None for cycles recorded before stores kept it)."""

    cycle: int = Field(ge=1)
    inspected: int | None = Field(default=None, ge=0)
    accepted: int = Field(ge=0)
    needed: int = Field(ge=0)
    outcome: Literal["accepted", "rework"]


def routing_of_round(routings: Iterable[Routing], round_no: int) -> Routing | None:
    """The routing of the consultation that Delphi round ``round_no`` belongs to: the latest
    that began at or before it."""
    before = [r for r in routings if r.first_round <= round_no]
    return max(before, key=lambda r: r.first_round) if before else None
