"""The progress records' repository: typed routing, rounds and execution cycles in SQL.

Like the other repositories it receives a session and never opens or commits one; the unit
of work that writes a record writes its audit event in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from decisions.progress import ExecutionCycle, RoundRecord, Routing, Slot
from decisions.tables import ExecutionCycleRow, RoundRow, RoutingRow, SlotRow

__all__ = ["ProgressRepository"]


class ProgressRepository:
    """Reads and writes :mod:`decisions.progress` records for decisions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- routing ---------------------------------------------------------------------------

    def routings(self, decision_id: str) -> tuple[Routing, ...]:
        """Every consultation's routing of the decision, oldest first."""
        heads = self.session.scalars(
            select(RoutingRow)
            .where(RoutingRow.decision_id == decision_id)
            .order_by(RoutingRow.first_round)
        ).all()
        if not heads:
            return ()
        rows = self.session.scalars(
            select(SlotRow)
            .where(SlotRow.decision_id == decision_id)
            .order_by(SlotRow.first_round, SlotRow.slot, SlotRow.position)
        ).all()
        return tuple(
            Routing(
                first_round=head.first_round,
                slots=_slots([r for r in rows if r.first_round == head.first_round]),
                notes=dict(head.notes),
            )
            for head in heads
        )

    def add_routing(self, decision_id: str, routing: Routing) -> None:
        self.session.add(
            RoutingRow(
                decision_id=decision_id, first_round=routing.first_round, notes=routing.notes
            )
        )
        for slot in routing.slots:
            for position, actor_id in enumerate(slot.candidates):
                self.session.add(
                    SlotRow(
                        decision_id=decision_id,
                        first_round=routing.first_round,
                        slot=slot.number,
                        position=position,
                        actor_id=actor_id,
                        reason=slot.reason if position == 0 else "",
                    )
                )
        self.session.flush()

    # -- rounds ----------------------------------------------------------------------------

    def rounds(self, decision_id: str) -> tuple[RoundRecord, ...]:
        rows = self.session.scalars(
            select(RoundRow).where(RoundRow.decision_id == decision_id).order_by(RoundRow.round)
        ).all()
        return tuple(
            RoundRecord(
                round=r.round,
                first_round=r.first_round,
                answers=r.answers,
                consensus=r.consensus,
                dissent=tuple(r.dissent),
                recommendations=dict(r.recommendations),
                medians=dict(r.medians),
                iqr=dict(r.iqr),
                concluded=r.concluded,
                conditions=tuple(r.conditions),
            )
            for r in rows
        )

    def save_round(self, decision_id: str, record: RoundRecord) -> None:
        """Add a round's record, or update it (a consultation concluded on that round)."""
        row = self.session.get(RoundRow, (decision_id, record.round))
        if row is None:
            row = RoundRow(decision_id=decision_id, round=record.round)
            self.session.add(row)
        row.first_round = record.first_round
        row.answers = record.answers
        row.consensus = record.consensus
        row.dissent = list(record.dissent)
        row.recommendations = dict(record.recommendations)
        row.medians = dict(record.medians)
        row.iqr = dict(record.iqr)
        row.conditions = list(record.conditions)
        row.concluded = record.concluded
        self.session.flush()

    # -- execution -------------------------------------------------------------------------

    def cycles(self, decision_id: str) -> tuple[ExecutionCycle, ...]:
        rows = self.session.scalars(
            select(ExecutionCycleRow)
            .where(ExecutionCycleRow.decision_id == decision_id)
            .order_by(ExecutionCycleRow.cycle)
        ).all()
        return tuple(
            ExecutionCycle(
                cycle=r.cycle,
                inspected=r.inspected,
                accepted=r.accepted,
                needed=r.needed,
                outcome="accepted" if r.outcome == "accepted" else "rework",
            )
            for r in rows
        )

    def add_cycle(self, decision_id: str, cycle: ExecutionCycle) -> None:
        self.session.add(
            ExecutionCycleRow(
                decision_id=decision_id,
                cycle=cycle.cycle,
                inspected=cycle.inspected,
                accepted=cycle.accepted,
                needed=cycle.needed,
                outcome=cycle.outcome,
            )
        )
        self.session.flush()


def _slots(rows: list[SlotRow]) -> tuple[Slot, ...]:
    numbers = sorted({r.slot for r in rows})
    slots = []
    for number in numbers:
        chain = [r for r in rows if r.slot == number]
        slots.append(
            Slot(
                number=number,
                expert=chain[0].actor_id,
                alternates=tuple(r.actor_id for r in chain[1:]),
                reason=chain[0].reason,
            )
        )
    return tuple(slots)
