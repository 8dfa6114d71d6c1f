"""Repositories: convert between rows and domain models inside a session they are given.

No repository opens a session or a transaction; :class:`decisions.uow.UnitOfWork` does, one
per unit of work, and takes the write lock first so that ids, task numbers and the audit
chain are assigned by one writer at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from pydantic import Field, TypeAdapter
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from decisions.audit import GENESIS_HASH, AuditEvent
from decisions.exceptions import ActorNotFound, DecisionNotFound, TaskNotFound
from decisions.ledger import NewEvent, append_rows, chain_sql
from decisions.model import (
    Actor,
    Answer,
    Decision,
    ProposalVersion,
    Role,
    State,
    Task,
    TaskKind,
    TaskStatus,
    utcnow,
)
from decisions.tables import (
    ActorRow,
    AnswerRow,
    AuditEventRow,
    DecisionRow,
    ProposalVersionRow,
    StoreMetaRow,
    TaskRow,
)

__all__ = [
    "ActorRepository",
    "DecisionRepository",
    "TaskRepository",
    "AnswerRepository",
    "StoredAnswer",
    "AuditLog",
    "NewEvent",
    "store_secret",
    "to_event",
]

_AUDIT = cast(Table, AuditEventRow.__table__)
_AUDIT_COLUMNS = (
    _AUDIT.c.seq,
    _AUDIT.c.recorded_at,
    _AUDIT.c.actor,
    _AUDIT.c.action,
    _AUDIT.c.decision_id,
    _AUDIT.c.idempotency_key,
    _AUDIT.c.payload,
    _AUDIT.c.prev_hash,
    _AUDIT.c.hash,
)


#: Reads a stored answer payload back into its model, chosen by its ``kind``.
_ANSWER: TypeAdapter[Answer] = TypeAdapter(Annotated[Answer, Field(discriminator="kind")])


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def store_secret(session: Session) -> str:
    """The per-store secret answer codes are derived from (created by migration 0001)."""
    value = session.get(StoreMetaRow, "answer_code_secret")
    if value is None:  # pragma: no cover - only if someone deleted the row by hand
        raise LookupError("The store has no answer-code secret; run `counsel init`.")
    return value.value


class ActorRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, actor: Actor, token_hash: str) -> None:
        self.session.add(
            ActorRow(
                id=actor.id,
                name=actor.name,
                roles=sorted(r.value for r in actor.roles),
                affiliations=list(actor.affiliations),
                bodies=list(actor.bodies),
                token_hash=token_hash,
                created_at=utcnow(),
            )
        )
        self.session.flush()

    def exists(self, actor_id: str) -> bool:
        return self.session.get(ActorRow, actor_id) is not None

    def set_affiliations(self, actor_id: str, affiliations: list[str]) -> list[str]:
        """Set the actor's organisations; returns the ones it had before."""
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        before = list(row.affiliations)
        row.affiliations = list(affiliations)
        self.session.flush()
        return before

    def set_token_hash(self, actor_id: str, token_hash: str) -> None:
        """Replace the actor's token (the old one stops working at commit)."""
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        row.token_hash = token_hash
        self.session.flush()

    def get(self, actor_id: str) -> Actor:
        row = self.session.get(ActorRow, actor_id)
        if row is None:
            raise ActorNotFound(actor_id)
        return self._to_model(row)

    def by_token_hash(self, token_hash: str) -> Actor | None:
        row = self.session.scalars(
            select(ActorRow).where(ActorRow.token_hash == token_hash)
        ).one_or_none()
        return None if row is None else self._to_model(row)

    def list(self, *, role: Role | None = None) -> list[Actor]:
        actors = [
            self._to_model(r) for r in self.session.scalars(select(ActorRow).order_by(ActorRow.id))
        ]
        return [a for a in actors if role is None or role in a.roles]

    @staticmethod
    def _to_model(row: ActorRow) -> Actor:
        return Actor(
            id=row.id,
            name=row.name,
            roles=frozenset(Role(r) for r in row.roles),
            affiliations=tuple(row.affiliations),
            bodies=tuple(row.bodies),
        )


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
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
            versions=[
                ProposalVersion(
                    number=v.number,
                    title=v.title,
                    text=v.text,
                    author_id=v.author_id,
                    note=v.note,
                    created_at=_aware(v.created_at),
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


class TaskRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def next_id(self, decision_id: str, kind: TaskKind) -> str:
        """``D-2026-0001-C003``: the decision, the kind's letter, a number per decision."""
        count = self.session.scalar(select(func.count()).where(TaskRow.decision_id == decision_id))
        letter = {"consult": "C", "discuss": "D", "vote": "V", "execute": "E", "inspect": "I"}
        return f"{decision_id}-{letter[kind.value]}{(count or 0) + 1:03d}"

    def add(self, task: Task) -> None:
        self.session.add(
            TaskRow(
                id=task.id,
                decision_id=task.decision_id,
                kind=task.kind.value,
                assignee_id=task.assignee_id,
                round=task.round,
                deadline=task.deadline,
                status=task.status.value,
                answer_code_hash=task.answer_code_hash,
                zone=task.zone,
                measures=list(task.measures),
                created_at=task.created_at,
                closed_at=task.closed_at,
            )
        )
        self.session.flush()

    def get(self, task_id: str) -> Task:
        row = self.session.get(TaskRow, task_id)
        if row is None:
            raise TaskNotFound(task_id)
        return self._to_model(row)

    def set_status(self, task_id: str, status: TaskStatus) -> Task:
        row = self.session.get(TaskRow, task_id)
        if row is None:
            raise TaskNotFound(task_id)
        row.status = status.value
        row.closed_at = None if status is TaskStatus.OPEN else utcnow()
        self.session.flush()
        return self._to_model(row)

    def attach_run(self, task_id: str, flow_run_id: str) -> Task:
        row = self.session.get(TaskRow, task_id)
        if row is None:
            raise TaskNotFound(task_id)
        row.flow_run_id = flow_run_id
        self.session.flush()
        return self._to_model(row)

    def for_decision(self, decision_id: str) -> list[Task]:
        rows = self.session.scalars(
            select(TaskRow).where(TaskRow.decision_id == decision_id).order_by(TaskRow.id)
        )
        return [self._to_model(r) for r in rows]

    def assignments(self, decision_id: str) -> set[tuple[TaskKind, str]]:
        """Who holds which kind of task on a decision (cancelled tasks left out): one
        indexed query, since the powers policy asks it inside every write."""
        rows = self.session.execute(
            select(TaskRow.kind, TaskRow.assignee_id)
            .where(
                TaskRow.decision_id == decision_id,
                TaskRow.status != TaskStatus.CANCELLED.value,
            )
            .distinct()
        )
        return {(TaskKind(kind), assignee) for kind, assignee in rows}

    def all_open(self) -> list[Task]:
        rows = self.session.scalars(
            select(TaskRow)
            .where(TaskRow.status == TaskStatus.OPEN.value)
            .order_by(TaskRow.deadline, TaskRow.id)
        )
        return [self._to_model(r) for r in rows]

    def open_for(self, actor_id: str) -> list[Task]:
        rows = self.session.scalars(
            select(TaskRow)
            .where(TaskRow.assignee_id == actor_id, TaskRow.status == TaskStatus.OPEN.value)
            .order_by(TaskRow.deadline, TaskRow.id)
        )
        return [self._to_model(r) for r in rows]

    @staticmethod
    def _to_model(row: TaskRow) -> Task:
        return Task(
            id=row.id,
            decision_id=row.decision_id,
            kind=TaskKind(row.kind),
            assignee_id=row.assignee_id,
            round=row.round,
            deadline=_aware(row.deadline),
            status=TaskStatus(row.status),
            answer_code_hash=row.answer_code_hash,
            zone=row.zone,
            measures=tuple(row.measures),
            created_at=_aware(row.created_at),
            closed_at=_aware(row.closed_at),
            flow_run_id=row.flow_run_id,
        )


@dataclass(frozen=True)
class StoredAnswer:
    """One recorded answer as the store holds it: whose, to which task, and its audit event."""

    task_id: str
    actor_id: str
    answer: Answer
    audit_seq: int


class AnswerRepository:
    """Answers in and out as the :data:`~decisions.model.Answer` models, never as dicts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, task: Task, actor_id: str, answer: Answer, audit_seq: int) -> None:
        self.session.add(
            AnswerRow(
                task_id=task.id,
                decision_id=task.decision_id,
                actor_id=actor_id,
                kind=answer.kind,
                payload=answer.model_dump(mode="json"),
                audit_seq=audit_seq,
                created_at=utcnow(),
            )
        )
        self.session.flush()

    def for_task(self, task_id: str) -> StoredAnswer | None:
        row = self.session.scalars(select(AnswerRow).where(AnswerRow.task_id == task_id)).first()
        return None if row is None else self._to_model(row)

    def for_decision(self, decision_id: str) -> list[StoredAnswer]:
        """The decision's answers in the order they were recorded."""
        rows = self.session.scalars(
            select(AnswerRow).where(AnswerRow.decision_id == decision_id).order_by(AnswerRow.id)
        )
        return [self._to_model(r) for r in rows]

    @staticmethod
    def _to_model(row: AnswerRow) -> StoredAnswer:
        return StoredAnswer(
            task_id=row.task_id,
            actor_id=row.actor_id,
            answer=_ANSWER.validate_python(row.payload),
            audit_seq=row.audit_seq,
        )


class AuditLog:
    """The append-only chain, read and extended inside the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest event, ``(0, GENESIS_HASH)`` when empty."""
        row = self.session.execute(
            select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def append(self, event: NewEvent, *, at: datetime | None = None) -> AuditEvent:
        """Append one event after the current head (the caller holds the write lock)."""
        return self.append_many([event], at=at)[0]

    def append_many(
        self, events: Sequence[NewEvent], *, at: datetime | None = None
    ) -> list[AuditEvent]:
        """Append events after the current head inside the caller's transaction."""
        connection = self.session.connection()
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = append_rows(cursor, chain_sql(connection.engine), events, at=at)
        finally:
            cursor.close()
        return [to_event(row) for row in rows]

    def by_key(self, idempotency_key: str) -> AuditEvent | None:
        row = self.session.execute(
            select(*_AUDIT_COLUMNS).where(_AUDIT.c.idempotency_key == idempotency_key)
        ).first()
        return None if row is None else to_event(row)

    def get(self, seq: int) -> AuditEvent | None:
        row = self.session.execute(select(*_AUDIT_COLUMNS).where(_AUDIT.c.seq == seq)).first()
        return None if row is None else to_event(row)

    def count_for(self, decision_id: str) -> int:
        """How many events the decision has: its position in its own history."""
        return int(
            self.session.scalar(
                select(func.count()).select_from(_AUDIT).where(_AUDIT.c.decision_id == decision_id)
            )
            or 0
        )

    def last_recorded(self) -> dict[str, str]:
        """Each decision's newest event time (ISO text, which sorts as time does)."""
        rows = self.session.execute(
            select(_AUDIT.c.decision_id, func.max(_AUDIT.c.recorded_at))
            .where(_AUDIT.c.decision_id.is_not(None))
            .group_by(_AUDIT.c.decision_id)
        )
        return {str(decision_id): str(at) for decision_id, at in rows}

    def for_decision(self, decision_id: str) -> list[AuditEvent]:
        rows = self.session.execute(
            select(*_AUDIT_COLUMNS)
            .where(_AUDIT.c.decision_id == decision_id)
            .order_by(_AUDIT.c.seq)
        )
        return [to_event(r) for r in rows]


def to_event(row: Any) -> AuditEvent:
    """An event from a stored row, in column order."""
    return AuditEvent(*row)
