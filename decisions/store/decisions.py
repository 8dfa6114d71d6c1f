"""Decisions in and out of the store: the decision's row and its proposal versions.

Versions are only ever added: :meth:`DecisionRepository.save` writes the columns the
lifecycle changed and inserts the versions the store does not have yet.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from decisions.clock import as_utc
from decisions.exceptions import DecisionNotFound
from decisions.model.decision import Decision, ProposalVersion
from decisions.model.lifecycle import State
from decisions.tables import DecisionRow, ProposalVersionRow

__all__ = ["DecisionRepository"]


class DecisionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def next_id(self, year: int) -> str:
        """The next free ``D-<year>-NNNN`` (callers hold the write lock)."""
        prefix = f"D-{year}-"
        last = self.session.scalar(
            select(func.max(DecisionRow.id)).where(DecisionRow.id.like(prefix + "%"))
        )
        number = int(last[len(prefix) :]) + 1 if last else 1
        return f"{prefix}{number:04d}"

    def require(self, decision_id: str) -> None:
        """Raise :class:`DecisionNotFound` unless the decision exists (one indexed lookup)."""
        found = self.session.scalar(select(DecisionRow.id).where(DecisionRow.id == decision_id))
        if found is None:
            raise DecisionNotFound(decision_id)

    def add(self, decision: Decision) -> None:
        self.session.add(DecisionRow(id=decision.id, **self._columns(decision)))
        self.session.flush()
        self._add_versions(decision, start=0)

    def save(self, decision: Decision) -> None:
        row = self.session.get(DecisionRow, decision.id)
        if row is None:
            raise DecisionNotFound(decision.id)
        for key, value in self._columns(decision).items():
            setattr(row, key, value)
        stored = self.session.scalar(
            select(func.count()).where(ProposalVersionRow.decision_id == decision.id)
        )
        self._add_versions(decision, start=stored or 0)
        self.session.flush()

    def get(self, decision_id: str) -> Decision:
        row = self.session.get(DecisionRow, decision_id)
        if row is None:
            raise DecisionNotFound(decision_id)
        versions = self.session.scalars(
            select(ProposalVersionRow)
            .where(ProposalVersionRow.decision_id == decision_id)
            .order_by(ProposalVersionRow.number)
        )
        return Decision(
            id=row.id,
            title=row.title,
            description=row.description,
            class_name=row.class_name,
            district=row.district,
            district_type=row.district_type,
            topics=list(row.topics),
            stakeholder_orgs=list(row.stakeholder_orgs),
            bidder_orgs=list(row.bidder_orgs),
            executor_orgs=list(row.executor_orgs),
            planner_id=row.planner_id,
            state=State(row.state),
            round=row.round,
            state_reason=row.state_reason,
            stalled_from=State(row.stalled_from) if row.stalled_from else None,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            versions=[
                ProposalVersion(
                    number=v.number,
                    title=v.title,
                    text=v.text,
                    author_id=v.author_id,
                    note=v.note,
                    created_at=as_utc(v.created_at),
                )
                for v in versions
            ],
        )

    def list(self, *, state: State | None = None) -> list[Decision]:
        query = select(DecisionRow.id).order_by(DecisionRow.id)
        if state is not None:
            query = query.where(DecisionRow.state == state.value)
        return [self.get(decision_id) for decision_id in self.session.scalars(query)]

    def _add_versions(self, decision: Decision, *, start: int) -> None:
        for version in decision.versions[start:]:
            self.session.add(
                ProposalVersionRow(
                    decision_id=decision.id,
                    number=version.number,
                    title=version.title,
                    text=version.text,
                    author_id=version.author_id,
                    note=version.note,
                    created_at=version.created_at,
                )
            )
        self.session.flush()

    @staticmethod
    def _columns(decision: Decision) -> dict[str, Any]:
        return {
            "title": decision.title,
            "description": decision.description,
            "class_name": decision.class_name,
            "district": decision.district,
            "district_type": decision.district_type,
            "topics": list(decision.topics),
            "stakeholder_orgs": list(decision.stakeholder_orgs),
            "bidder_orgs": list(decision.bidder_orgs),
            "executor_orgs": list(decision.executor_orgs),
            "planner_id": decision.planner_id,
            "state": decision.state.value,
            "round": decision.round,
            "state_reason": decision.state_reason,
            "stalled_from": decision.stalled_from.value if decision.stalled_from else None,
            "created_at": decision.created_at,
            "updated_at": decision.updated_at,
        }
