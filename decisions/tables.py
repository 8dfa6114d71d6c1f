"""SQLAlchemy tables of the decision store (rows only; the domain lives in ``model``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from decisions.model import utcnow

__all__ = [
    "Base",
    "ActorRow",
    "DecisionRow",
    "ProposalVersionRow",
    "TaskRow",
    "AnswerRow",
    "AuditEventRow",
    "StoreMetaRow",
    "ExpertActorRow",
    "RoutingRow",
    "SlotRow",
    "RoundRow",
    "ExecutionCycleRow",
    "NotificationRow",
]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ActorRow(Base):
    __tablename__ = "actors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]] = mapped_column(JSON)
    affiliations: Mapped[list[Any]] = mapped_column(JSON)
    bodies: Mapped[list[Any]] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notify: Mapped[list[Any]] = mapped_column(JSON, default=list)
    lang: Mapped[str] = mapped_column(String(8), default="zh")


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    class_name: Mapped[str] = mapped_column(String(64))
    district: Mapped[str] = mapped_column(String(120))
    district_type: Mapped[str | None] = mapped_column(String(16))
    topics: Mapped[list[Any]] = mapped_column(JSON)
    stakeholder_orgs: Mapped[list[Any]] = mapped_column(JSON)
    bidder_orgs: Mapped[list[Any]] = mapped_column(JSON)
    executor_orgs: Mapped[list[Any]] = mapped_column(JSON)
    planner_id: Mapped[str] = mapped_column(ForeignKey("actors.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    round: Mapped[int] = mapped_column(Integer)
    state_reason: Mapped[str | None] = mapped_column(Text)
    stalled_from: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProposalVersionRow(Base):
    __tablename__ = "proposal_versions"

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(ForeignKey("actors.id"))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    answer_code_hash: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(200))
    measures: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))


class AnswerRow(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("task_id", name="uq_answers_task"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    audit_seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEventRow(Base):
    """Append-only: triggers refuse UPDATE and DELETE (see migration 0001)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_decision_seq", "decision_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    recorded_at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    decision_id: Mapped[str | None] = mapped_column(String(20))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class StoreMetaRow(Base):
    """Facts about the store itself, such as the answer-code secret."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ExpertActorRow(Base):
    """Which actor an expert of the expertise database is, kept once made (migration 0004).

    Expert ids may be in any script; actor ids are ASCII. The pair never changes, so an
    expert keeps their actor, tasks and history across imports and renames.
    """

    __tablename__ = "expert_actors"
    __table_args__ = (UniqueConstraint("actor_id", name="uq_expert_actors_actor"),)

    expert_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingRow(Base):
    """The experts routed for one consultation of a decision (migration 0005)."""

    __tablename__ = "consultation_routings"

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    first_round: Mapped[int] = mapped_column(Integer, primary_key=True)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SlotRow(Base):
    """One candidate for one routed expert's place: position 0 is the routed expert, then
    the alternates in the order they replace them."""

    __tablename__ = "consultation_slots"

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    first_round: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class RoundRow(Base):
    """The anonymous aggregate of one Delphi round."""

    __tablename__ = "consultation_rounds"

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_round: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)
    consensus: Mapped[bool] = mapped_column()
    dissent: Mapped[list[Any]] = mapped_column(JSON)
    recommendations: Mapped[dict[str, Any]] = mapped_column(JSON)
    medians: Mapped[dict[str, Any]] = mapped_column(JSON)
    iqr: Mapped[dict[str, Any]] = mapped_column(JSON)
    conditions: Mapped[list[Any]] = mapped_column(JSON)
    concluded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExecutionCycleRow(Base):
    """One cycle of execution and inspection, accepted or sent back for rework."""

    __tablename__ = "execution_cycles"

    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspected: Mapped[int | None] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    needed: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationRow(Base):
    """The outbox: one message to one address, written in the transaction of the audit
    event that causes it (``event_seq``), sent later by the notifier. ``key`` makes a
    re-run step's event, which is never written twice, never queue a message twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    decision_id: Mapped[str | None] = mapped_column(String(20), index=True)
    task_id: Mapped[str | None] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
