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
  for rework;
- :class:`TenderRecord` — a tender's facts, read back from its ``tender.*`` audit events
  (the chain is their only copy, so ``counsel audit check-draw`` replays what the procedure
  worked from): the lots and bids filed, who qualified, the committed seed, the fixed pool,
  the draw, the replacements and the rankings.

Plain pydantic models: no SQLAlchemy, no I/O (:mod:`decisions.store.progress` converts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Slot",
    "Routing",
    "RoundRecord",
    "ExecutionCycle",
    "TenderRecord",
    "TENDER_EVENTS",
    "routing_of_round",
]


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


#: The audit events a tender's record is read from, and the field each one fills.
TENDER_EVENTS = {
    "tender.filed": "spec",
    "tender.qualified": "qualification",
    "tender.seed_committed": "commitment",
    "tender.pool_fixed": "pool",
    "tender.panel_drawn": "draw",
    "tender.replaced": "replacements",
    "tender.ranked": "ranking",
    "tender.seed_revealed": "revealed",
}


class TenderRecord(BaseModel, frozen=True):
    """What a tender has recorded so far, each fact the payload of its audit event (None
    until it happens). ``replacements`` is the latest: panel member to who holds their seat;
    ``ranking`` the latest round's."""

    spec: dict[str, Any]
    qualification: dict[str, Any] | None = None
    commitment: dict[str, Any] | None = None
    pool: dict[str, Any] | None = None
    draw: dict[str, Any] | None = None
    replacements: dict[str, Any] | None = None
    ranking: dict[str, Any] | None = None
    revealed: dict[str, Any] | None = None

    @classmethod
    def from_events(cls, events: Iterable[tuple[str, dict[str, Any]]]) -> TenderRecord | None:
        """The record from ``(action, payload)`` pairs in chain order; None before filing."""
        found: dict[str, dict[str, Any]] = {}
        for action, payload in events:
            name = TENDER_EVENTS.get(action)
            if name is not None:
                found[name] = payload  # a later event of a kind replaces an earlier one
        if "spec" not in found:
            return None
        return cls(**found)

    @property
    def qualified(self) -> tuple[str, ...]:
        return tuple(self.qualification["qualified"]) if self.qualification else ()

    @property
    def panel(self) -> tuple[str, ...]:
        return tuple(self.draw["panel"]) if self.draw else ()

    def holder(self, member: str) -> str:
        """Who holds ``member``'s seat on the panel now (themselves, or their replacement)."""
        mapping = (self.replacements or {}).get("replacements", {})
        return str(mapping.get(member, member))

    def declined(self) -> tuple[str, ...]:
        """Everyone recorded as having declined or been found conflicted so far."""
        return tuple((self.replacements or {}).get("declined", ()))

    def lots_of(self, member: str) -> tuple[str, ...]:
        """The lots the panel seat ``member`` was drawn to evaluate (by lot id)."""
        if not self.draw:
            return ()
        return tuple(lot for lot, members in self.draw["lots"].items() if member in members)
