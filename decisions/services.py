"""The store's service layer: each function is one unit of work.

A unit of work opens a session, takes the write lock, reads what it needs, lets the domain
decide, and writes the state change together with its audit event in one transaction.
Writes carry an idempotency key: when an event with the same key is already in the chain
the call returns what was recorded then and writes nothing. A refusal by the separation of
powers is itself an audit event, committed before :class:`PermissionDenied` is raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from decisions import ledger
from decisions.audit import Anchor, AuditEvent, ChainReport
from decisions.classes import ClassBook
from decisions.credentials import answer_code, hash_secret, matches, new_token
from decisions.db import READ_ONLY, current_revision, head_revision, migrate, take_write_lock
from decisions.exceptions import (
    ActorError,
    AuthenticationError,
    InvalidProposal,
    PermissionDenied,
    StoreNotReady,
    TaskError,
    validation_sentence,
)
from decisions.model import (
    ANSWER_TYPES,
    Actor,
    Answer,
    Decision,
    Opinion,
    Role,
    Task,
    TaskKind,
    TaskStatus,
    utcnow,
)
from decisions.powers import ACTION_FOR_TASK, Action, Parties, may
from decisions.store import (
    ActorRepository,
    AnswerRepository,
    AuditLog,
    DecisionRepository,
    NewEvent,
    TaskRepository,
    store_secret,
    to_event,
)
from decisions.text import Document, Name, Title

__all__ = [
    "SYSTEM",
    "Proposal",
    "AssignedTask",
    "RecordedAnswer",
    "unit_of_work",
    "init_store",
    "check_ready",
    "add_actor",
    "list_actors",
    "authenticate",
    "submit_proposal",
    "apply_transition",
    "amend_proposal",
    "parties_of",
    "assign_task",
    "record_answer",
    "set_task_status",
    "close_task_once",
    "get_decision",
    "list_decisions",
    "tasks_of",
    "open_tasks_for",
    "answers_of",
    "history",
    "verify",
    "append_event",
    "append_events",
    "export_events",
    "get_task",
    "answer_for",
    "attach_flow_run",
    "recommendations_of",
    "answer_code_for",
    "get_actor",
    "ensure_actor",
    "issue_token",
]

#: The actor name the engine itself uses in the audit chain (flows, deadlines).
SYSTEM = "system"


class Proposal(BaseModel):
    """What a planner files: the ``SubmitProposal`` command, e.g. from ``proposal.yaml``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: Title = Field(min_length=1)
    description: Document = Field(min_length=1)
    class_name: Name = Field(alias="class", min_length=1)
    district: Name = Field(min_length=1)
    district_type: Name | None = None
    topics: list[Name] = Field(default_factory=list, max_length=50)
    stakeholder_orgs: list[Name] = Field(default_factory=list, alias="stakeholders", max_length=100)
    bidder_orgs: list[Name] = Field(default_factory=list, alias="bidders", max_length=100)
    executor_orgs: list[Name] = Field(default_factory=list, alias="executors", max_length=100)
    text: Document | None = None


@dataclass(frozen=True)
class AssignedTask:
    task: Task
    answer_code: str
    created: bool


@dataclass(frozen=True)
class RecordedAnswer:
    """The one shape :func:`record_answer` returns: the answer as recorded (first time or
    found again), the task after it, its audit event, and whether this call wrote it."""

    task: Task
    answer: Answer
    event: AuditEvent
    created: bool


@contextmanager
def unit_of_work(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One transaction; writers take the store's write lock before anything else."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    try:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            if not read_only:
                take_write_lock(session.connection())
            yield session
    except (OperationalError, ProgrammingError) as err:
        if _missing_schema(err):
            raise StoreNotReady(
                "The Counsel database has no tables yet: run `counsel init` first."
            ) from err
        raise


def _missing_schema(err: BaseException) -> bool:
    text = str(err).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def init_store(engine: Engine) -> tuple[str | None, str | None]:
    """Create or upgrade the schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    migrate(engine)
    return before, current_revision(engine)


def check_ready(engine: Engine) -> None:
    """Raise :class:`StoreNotReady` unless the schema is at the newest revision."""
    if not inspect(engine).has_table("alembic_version"):
        raise StoreNotReady("The Counsel database has no tables yet: run `counsel init` first.")
    current, newest = current_revision(engine), head_revision(engine)
    if current != newest:
        raise StoreNotReady(
            f"The Counsel database is at revision {current} but this version of Counsel needs "
            f"{newest}: run `counsel init` to upgrade it."
        )


# -- idempotency -----------------------------------------------------------------------------


def _key(idempotency_key: str | None) -> str:
    return idempotency_key or f"auto:{uuid.uuid4()}"


def append_event(
    engine: Engine,
    *,
    actor: str,
    action: str,
    decision_id: str | None = None,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    group: ledger.GroupCommit | None = None,
) -> AuditEvent:
    """Record a fact that changes no state (a reminder sent, an artifact published).

    Committed durably on return; the same idempotency key again returns the first event.
    Threads of one process that share a :class:`~decisions.ledger.GroupCommit` as ``group``
    have their concurrent appends committed together, one flush for the group.
    """
    handled: tuple[type[BaseException], ...] = (
        OperationalError,
        ProgrammingError,
        *_driver_errors(),
    )
    try:
        event = NewEvent(
            actor=actor,
            action=action,
            decision_id=decision_id,
            payload=payload,
            idempotency_key=idempotency_key,
        )
        row = group.append(event) if group else ledger.append_durable(engine, event)
    except handled as err:
        if _missing_schema(err):
            raise StoreNotReady(
                "The Counsel database has no tables yet: run `counsel init` first."
            ) from err
        raise
    return to_event(row)


def append_event_once(
    engine: Engine,
    *,
    actor: str,
    action: str,
    decision_id: str | None,
    payload: dict[str, Any],
    idempotency_key: str,
) -> bool:
    """Record a fact under ``idempotency_key`` unless it is recorded; True for the one caller
    (of any number racing) that wrote it, so only that caller sends what goes with it."""
    with unit_of_work(engine) as session:
        log = AuditLog(session)
        if log.by_key(idempotency_key):
            return False
        log.append(
            NewEvent(
                actor=actor,
                action=action,
                decision_id=decision_id,
                payload=payload,
                idempotency_key=idempotency_key,
            )
        )
        return True


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own error classes, which the raw-cursor hot path can raise."""
    import sqlite3

    import psycopg

    return (sqlite3.OperationalError, psycopg.errors.UndefinedTable)


def append_events(engine: Engine, events: list[NewEvent]) -> int:
    """Append many facts in one transaction (bulk notices, imports); returns how many."""
    return ledger.append_batch(engine, events)


# -- actors ----------------------------------------------------------------------------------


def add_actor(
    engine: Engine,
    *,
    actor_id: str,
    name: str,
    roles: list[str] | frozenset[Role],
    affiliations: list[str] | tuple[str, ...] = (),
    bodies: list[str] | tuple[str, ...] = (),
    by: str = SYSTEM,
) -> tuple[Actor, str]:
    """Create an actor and return it with its token, which is shown this once only."""
    try:
        actor = Actor(
            id=actor_id,
            name=name,
            roles=frozenset(Role(r) for r in roles),
            affiliations=tuple(affiliations),
            bodies=tuple(bodies),
        )
    except ValueError as err:
        raise ActorError(_first_error(err)) from err
    token = new_token()
    with unit_of_work(engine) as session:
        actors = ActorRepository(session)
        if actors.exists(actor.id):
            raise ActorError(f"An actor with id {actor.id!r} already exists.")
        actors.add(actor, hash_secret(token))
        AuditLog(session).append(
            NewEvent(
                actor=by,
                action="actor.added",
                payload={
                    "id": actor.id,
                    "name": actor.name,
                    "roles": sorted(r.value for r in actor.roles),
                    "affiliations": list(actor.affiliations),
                    "bodies": list(actor.bodies),
                },
                idempotency_key=f"actor.added:{actor.id}",
            )
        )
    return actor, token


def _first_error(err: Exception) -> str:
    return validation_sentence(err) if isinstance(err, ValidationError) else str(err)


def list_actors(engine: Engine, *, role: Role | None = None) -> list[Actor]:
    with unit_of_work(engine, read_only=True) as session:
        return ActorRepository(session).list(role=role)


def authenticate(engine: Engine, token: str | None) -> Actor:
    """The actor holding ``token`` (from ``COUNSEL_TOKEN``), or a clear refusal."""
    if not token or not token.strip():
        raise AuthenticationError(
            "No token given: set COUNSEL_TOKEN to the token you received when your actor was added."
        )
    with unit_of_work(engine, read_only=True) as session:
        actor = ActorRepository(session).by_token_hash(hash_secret(token))
    if actor is None:
        raise AuthenticationError("The token in COUNSEL_TOKEN does not belong to any actor.")
    return actor


# -- decisions -------------------------------------------------------------------------------


def _refuse(
    session: Session,
    actor: Actor,
    action: Action | str,
    parties: Parties,
    reason: str,
    rule: str,
    key: str | None,
    **details: Any,
) -> PermissionDenied:
    log = AuditLog(session)
    refusal_key = f"refused:{key}" if key else None
    if refusal_key is None or log.by_key(refusal_key) is None:  # a retried call: audited once
        log.append(
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


def submit_proposal(
    engine: Engine,
    proposal: Proposal,
    *,
    planner: Actor,
    classes: ClassBook,
    idempotency_key: str | None = None,
    year: int | None = None,
) -> Decision:
    """File a proposal: a new decision in ``submitted`` with its audit event."""
    decision_class = classes.get(proposal.class_name, proposal.district_type)
    if not proposal.topics:
        raise InvalidProposal("A proposal needs at least one topic so experts can be routed to it.")
    key = _key(idempotency_key)
    denial: PermissionDenied | None = None
    with unit_of_work(engine) as session:
        log = AuditLog(session)
        if done := log.by_key(key):
            return DecisionRepository(session).get(done.decision_id or "")
        decisions = DecisionRepository(session)
        decision_id = decisions.next_id(year or utcnow().year)
        ruling = may(
            planner, Action.SUBMIT, Parties(decision_id=decision_id, planner_id=planner.id)
        )
        if not ruling:
            denial = _refuse(
                session,
                planner,
                Action.SUBMIT,
                Parties(decision_id=decision_id, planner_id=planner.id),
                ruling.reason,
                ruling.rule,
                key,
            )
        else:
            decision = Decision.file(
                id=decision_id,
                title=proposal.title,
                description=proposal.description,
                class_name=decision_class.name,
                district=proposal.district,
                district_type=proposal.district_type,
                planner_id=planner.id,
                topics=proposal.topics,
                stakeholder_orgs=proposal.stakeholder_orgs,
                bidder_orgs=proposal.bidder_orgs,
                executor_orgs=proposal.executor_orgs,
                text=proposal.text,
            )
            decisions.add(decision)
            _write_events(log, decision, actor=planner.id, key=key)
    if denial is not None:
        raise denial
    return decision


def _write_events(log: AuditLog, decision: Decision, *, actor: str, key: str) -> list[AuditEvent]:
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
    return log.append_many(events)


#: Transitions a person may ask for, with the power that allows them.
_PEOPLES_ACTIONS = {"withdraw": Action.WITHDRAW, "resume": Action.RESUME}


def apply_transition(
    engine: Engine,
    decision_id: str,
    action: str,
    *,
    actor_id: str = SYSTEM,
    idempotency_key: str | None = None,
    **arguments: Any,
) -> Decision:
    """Run one lifecycle method (``open_vote``, ``stall`` …) and record its event.

    ``withdraw`` and ``resume``, when a person asks for them, are checked against the
    separation of powers; the other transitions are the engine's own steps and are recorded
    as done by ``actor_id``.
    """
    key = _key(idempotency_key)
    denial: PermissionDenied | None = None
    with unit_of_work(engine) as session:
        decisions = DecisionRepository(session)
        log = AuditLog(session)
        if log.by_key(key):
            return decisions.get(decision_id)
        decision = decisions.get(decision_id)
        if action in _PEOPLES_ACTIONS and actor_id != SYSTEM:
            actor = ActorRepository(session).get(actor_id)
            parties = _parties(session, decision)
            power = _PEOPLES_ACTIONS[action]
            ruling = may(actor, power, parties)
            if not ruling:
                denial = _refuse(session, actor, power, parties, ruling.reason, ruling.rule, key)
        if denial is None:
            method = getattr(decision, action, None)
            if action.startswith("_") or action == "amend" or not callable(method):
                raise ValueError(f"{action!r} is not a lifecycle action.")
            method(**arguments)
            decisions.save(decision)
            _write_events(log, decision, actor=actor_id, key=key)
    if denial is not None:
        raise denial
    return decision


def amend_proposal(
    engine: Engine,
    decision_id: str,
    *,
    actor: Actor,
    title: str,
    text: str,
    note: str = "",
    idempotency_key: str | None = None,
) -> Decision:
    """The planner publishes an amended proposal version during discussion."""
    key = _key(idempotency_key)
    denial: PermissionDenied | None = None
    with unit_of_work(engine) as session:
        decisions = DecisionRepository(session)
        log = AuditLog(session)
        if log.by_key(key):
            return decisions.get(decision_id)
        decision = decisions.get(decision_id)
        parties = _parties(session, decision)
        ruling = may(actor, Action.AMEND, parties)
        if not ruling:
            denial = _refuse(session, actor, Action.AMEND, parties, ruling.reason, ruling.rule, key)
        else:
            decision.amend(title=title, text=text, author_id=actor.id, note=note)
            decisions.save(decision)
            _write_events(log, decision, actor=actor.id, key=key)
    if denial is not None:
        raise denial
    return decision


def _parties(session: Session, decision: Decision) -> Parties:
    groups: dict[TaskKind, set[str]] = {kind: set() for kind in TaskKind}
    for kind, assignee in TaskRepository(session).assignments(decision.id):
        groups[kind].add(assignee)
    return Parties(
        decision_id=decision.id,
        planner_id=decision.planner_id,
        stakeholder_orgs=frozenset(decision.stakeholder_orgs),
        bidder_orgs=frozenset(decision.bidder_orgs),
        executor_orgs=frozenset(decision.executor_orgs),
        consulted=frozenset(groups[TaskKind.CONSULT]),
        voters=frozenset(groups[TaskKind.VOTE]),
        executors=frozenset(groups[TaskKind.EXECUTE]),
        inspectors=frozenset(groups[TaskKind.INSPECT]),
    )


def parties_of(engine: Engine, decision_id: str) -> Parties:
    with unit_of_work(engine, read_only=True) as session:
        return _parties(session, DecisionRepository(session).get(decision_id))


# -- tasks and answers -----------------------------------------------------------------------


def assign_task(
    engine: Engine,
    decision_id: str,
    kind: TaskKind | str,
    assignee_id: str,
    *,
    round: int | None = None,
    deadline: datetime | None = None,
    zone: str | None = None,
    measures: list[str] | tuple[str, ...] = (),
    idempotency_key: str | None = None,
    by: str = SYSTEM,
) -> AssignedTask:
    """Give ``assignee_id`` a task on the decision, if the separation of powers allows it.

    Returns the task with its answer code (derived from the store's secret, so a retried
    assignment returns the same code). Raises :class:`PermissionDenied`, after auditing the
    refusal, when the assignee may not act on this decision.
    """
    kind = TaskKind(kind)
    key = _key(idempotency_key)
    denial: PermissionDenied | None = None
    with unit_of_work(engine) as session:
        log = AuditLog(session)
        tasks = TaskRepository(session)
        secret = store_secret(session)
        if done := log.by_key(key):
            task = tasks.get(done.data["task_id"])
            return AssignedTask(task, answer_code(secret, task.id), created=False)
        decision = DecisionRepository(session).get(decision_id)
        assignee = ActorRepository(session).get(assignee_id)
        parties = _parties(session, decision)
        action = ACTION_FOR_TASK[kind]
        ruling = may(assignee, action, parties)
        if not ruling:
            denial = _refuse(
                session,
                assignee,
                action,
                parties,
                ruling.reason,
                ruling.rule,
                key,
                stage="assignment",
            )
        else:
            task_id = tasks.next_id(decision.id, kind)
            code = answer_code(secret, task_id)
            task = Task(
                id=task_id,
                decision_id=decision.id,
                kind=kind,
                assignee_id=assignee.id,
                round=round or max(decision.round, 1),
                deadline=deadline,
                answer_code_hash=hash_secret(code),
                zone=zone,
                measures=tuple(measures),
            )
            tasks.add(task)
            log.append(
                NewEvent(
                    actor=by,
                    action="task.assigned",
                    decision_id=decision.id,
                    payload={
                        "task_id": task.id,
                        "kind": kind.value,
                        "assignee": assignee.id,
                        "round": task.round,
                        "deadline": deadline,
                        "zone": zone,
                        "measures": list(measures),
                    },
                    idempotency_key=key,
                )
            )
    if denial is not None:
        raise denial
    return AssignedTask(task, code, created=True)


def record_answer(
    engine: Engine,
    task_id: str,
    answer: Answer,
    *,
    actor: Actor,
    answer_code: str,
    criteria: tuple[str, ...] | list[str] | None = None,
    idempotency_key: str | None = None,
) -> RecordedAnswer:
    """Record ``actor``'s answer to a task, once, with its audit event.

    Checks, in order: the task exists; it is the actor's; the answer code is right; the task
    is still open; the answer fits the task; the separation of powers allows it. Any refusal
    is audited, nothing is recorded as an answer, and the task stays open. Sending the same
    answer again (by any channel) returns the recorded one without writing.

    The checks run first without the store's write lock; the lock is then held only to see
    that the task is still open and write the answer, so many people answering at once
    queue for milliseconds each. Anything that changed in between, and every refusal, is
    judged again under the lock.
    """
    key = _key(idempotency_key)
    payload = answer.model_dump(mode="json")
    judge = _AnswerJudge(task_id, answer, payload, actor, answer_code, criteria, key)
    with unit_of_work(engine, read_only=True) as session:
        first = judge(session)
    if isinstance(first, RecordedAnswer):
        return first
    if isinstance(first, Task):
        with unit_of_work(engine) as session:
            log = AuditLog(session)
            if (done := log.by_key(key)) and done.actor == actor.id:
                return judge.already(session, done)
            task = TaskRepository(session).get(task_id)
            if (
                task.status is TaskStatus.OPEN
                and AnswerRepository(session).for_task(task_id) is None
            ):
                return judge.write(session, task)
    refusal: Exception | None = None
    with unit_of_work(engine) as session:
        verdict = judge(session)
        if isinstance(verdict, RecordedAnswer):
            return verdict
        if isinstance(verdict, Task):
            return judge.write(session, verdict)
        refusal = judge.refuse(session, *verdict)
    raise refusal


@dataclass
class _AnswerJudge:
    """The checks an answer must pass, usable with or without the write lock."""

    task_id: str
    answer: Answer
    payload: dict[str, Any]
    actor: Actor
    answer_code: str
    criteria: tuple[str, ...] | list[str] | None
    key: str

    def __call__(self, session: Session) -> RecordedAnswer | Task | tuple[Task, str, str]:
        """The recorded answer, the open task it may be written to, or (task, reason, rule)."""
        log = AuditLog(session)
        if (done := log.by_key(self.key)) and done.actor == self.actor.id:
            return self.already(session, done)
        tasks = TaskRepository(session)
        task = tasks.get(self.task_id)
        decision = DecisionRepository(session).get(task.decision_id)
        stored = AnswerRepository(session).for_task(task.id)
        if task.assignee_id != self.actor.id:
            return (
                task,
                f"Task {task.id} is assigned to {task.assignee_id}, not to {self.actor.id}.",
                "actor",
            )
        if not matches(self.answer_code, task.answer_code_hash):
            still = (
                "the task is still open"
                if task.status is TaskStatus.OPEN
                else f"the task is {task.status.value} and takes no more answers"
            )
            return (
                task,
                f"The answer code for task {task.id} is not right; {still}.",
                "answer-code",
            )
        if stored is not None and stored.answer.model_dump(mode="json") == self.payload:
            event = log.get(stored.audit_seq)
            assert event is not None
            return RecordedAnswer(task, stored.answer, event, created=False)
        if task.status is not TaskStatus.OPEN:
            return (
                task,
                f"Task {task.id} is {task.status.value} and takes no more answers.",
                "closed",
            )
        if not isinstance(self.answer, ANSWER_TYPES[task.kind]):
            wanted = " or ".join(t.__name__ for t in ANSWER_TYPES[task.kind])
            return (
                task,
                f"Task {task.id} is a {task.kind.value} task and takes a {wanted}, "
                f"not a {type(self.answer).__name__}.",
                "answer-kind",
            )
        problem = _answer_problem(self.answer, self.criteria) or _vote_problem(
            session, task, self.answer
        )
        if problem:
            return task, problem, "answer-content"
        ruling = may(self.actor, ACTION_FOR_TASK[task.kind], _parties(session, decision))
        if not ruling:
            return task, ruling.reason, "powers"
        return task

    def already(self, session: Session, done: AuditEvent) -> RecordedAnswer:
        task = TaskRepository(session).get(done.data["task_id"])
        stored = AnswerRepository(session).for_task(task.id)
        return RecordedAnswer(task, stored.answer if stored else self.answer, done, False)

    def write(self, session: Session, task: Task) -> RecordedAnswer:
        """Write the answer, its audit event and the task's new status (under the lock)."""
        event = AuditLog(session).append(
            NewEvent(
                actor=self.actor.id,
                action=f"task.answered.{self.payload['kind']}",
                decision_id=task.decision_id,
                payload={"task_id": task.id, "round": task.round, "answer": self.payload},
                idempotency_key=self.key,
            )
        )
        AnswerRepository(session).add(
            task=task, actor_id=self.actor.id, answer=self.answer, audit_seq=event.seq
        )
        task = TaskRepository(session).set_status(task.id, TaskStatus.ANSWERED)
        return RecordedAnswer(task, self.answer, event, created=True)

    def refuse(self, session: Session, task: Task, reason: str, rule: str) -> Exception:
        """Audit the refusal (once per distinct attempt) and return the error to raise."""
        log = AuditLog(session)
        # One event per distinct attempt: the same call retried is audited once, another
        # actor or code trying the same answer is audited again.
        attempt = hash_secret(f"{self.actor.id}:{self.answer_code}")[:12]
        refusal_key = f"refused:{self.key}:{attempt}"
        if log.by_key(refusal_key) is None:
            log.append(
                NewEvent(
                    actor=self.actor.id,
                    action="task.answer_refused",
                    decision_id=task.decision_id,
                    payload={"task_id": task.id, "rule": rule, "reason": reason},
                    idempotency_key=refusal_key,
                )
            )
        if rule == "powers":
            return PermissionDenied(
                reason,
                decision_id=task.decision_id,
                actor_id=self.actor.id,
                action=task.kind.value,
            )
        return TaskError(reason, decision_id=task.decision_id, task_id=task.id)


def _vote_problem(session: Session, task: Task, answer: Answer) -> str | None:
    from decisions.model import Vote
    from decisions.tally import vote_problem

    if not isinstance(answer, Vote):
        return None
    return vote_problem(answer, _recommendations(session, task.decision_id))


def _recommendations(session: Session, decision_id: str) -> dict[str, int]:
    """How many experts recommended what in the decision's latest consultation round."""
    answers = AnswerRepository(session).for_decision(decision_id)
    tasks = {t.id: t for t in TaskRepository(session).for_decision(decision_id)}
    opinions = [
        (tasks[a.task_id].round, a.answer.recommendation)
        for a in answers
        if isinstance(a.answer, Opinion)
    ]
    if not opinions:
        return {}
    last = max(r for r, _ in opinions)
    counts: dict[str, int] = {}
    for r, recommendation in opinions:
        if r == last:
            counts[recommendation] = counts.get(recommendation, 0) + 1
    return counts


def recommendations_of(engine: Engine, decision_id: str) -> dict[str, int]:
    """The experts' recommendations in the latest consultation round, counted."""
    with unit_of_work(engine, read_only=True) as session:
        return _recommendations(session, decision_id)


def answer_code_for(engine: Engine, task_id: str) -> str:
    """The task's answer code, for delivering it to its assignee (never shown to others)."""
    with unit_of_work(engine, read_only=True) as session:
        TaskRepository(session).get(task_id)
        return answer_code(store_secret(session), task_id)


def _answer_problem(answer: Answer, criteria: tuple[str, ...] | list[str] | None) -> str | None:
    from decisions.model import Opinion

    if criteria is not None and isinstance(answer, Opinion):
        try:
            answer.check_criteria(criteria)
        except ValueError as err:
            return str(err)
    return None


def set_task_status(
    engine: Engine,
    task_id: str,
    status: TaskStatus,
    *,
    reason: str,
    idempotency_key: str | None = None,
    by: str = SYSTEM,
) -> Task:
    """Close a task without an answer (reassigned to an alternate, cancelled)."""
    task, _changed = _close_task(engine, task_id, status, reason, _key(idempotency_key), by)
    return task


def close_task_once(
    engine: Engine, task_id: str, status: TaskStatus, *, reason: str, idempotency_key: str
) -> bool:
    """Close a task without an answer under ``idempotency_key``; True for the one caller (of
    any number racing) that closed it, so only that caller does what follows."""
    _task, changed = _close_task(engine, task_id, status, reason, idempotency_key, SYSTEM)
    return changed


def _close_task(
    engine: Engine, task_id: str, status: TaskStatus, reason: str, key: str, by: str
) -> tuple[Task, bool]:
    with unit_of_work(engine) as session:
        log = AuditLog(session)
        tasks = TaskRepository(session)
        if log.by_key(key):
            return tasks.get(task_id), False
        task = tasks.get(task_id)
        if task.status is not TaskStatus.OPEN:
            raise TaskError(
                f"Task {task.id} is {task.status.value}; only an open task can become "
                f"{status.value}.",
                decision_id=task.decision_id,
                task_id=task.id,
            )
        task = tasks.set_status(task.id, status)
        log.append(
            NewEvent(
                actor=by,
                action=f"task.{status.value}",
                decision_id=task.decision_id,
                payload={"task_id": task.id, "reason": reason},
                idempotency_key=key,
            )
        )
        return task, True


# -- reading ---------------------------------------------------------------------------------


def get_decision(engine: Engine, decision_id: str) -> Decision:
    with unit_of_work(engine, read_only=True) as session:
        return DecisionRepository(session).get(decision_id)


def list_decisions(engine: Engine) -> list[Decision]:
    with unit_of_work(engine, read_only=True) as session:
        return DecisionRepository(session).list()


def tasks_of(engine: Engine, decision_id: str) -> list[Task]:
    with unit_of_work(engine, read_only=True) as session:
        DecisionRepository(session).get(decision_id)
        return TaskRepository(session).for_decision(decision_id)


def open_tasks_for(engine: Engine, actor_id: str) -> list[Task]:
    with unit_of_work(engine, read_only=True) as session:
        return TaskRepository(session).open_for(actor_id)


def answers_of(engine: Engine, decision_id: str) -> dict[str, Answer]:
    """The decision's recorded answers as their models, by task id, in the order recorded."""
    with unit_of_work(engine, read_only=True) as session:
        return {a.task_id: a.answer for a in AnswerRepository(session).for_decision(decision_id)}


def history(engine: Engine, decision_id: str) -> list[AuditEvent]:
    """Every audit event of one decision, oldest first."""
    with unit_of_work(engine, read_only=True) as session:
        DecisionRepository(session).require(decision_id)
        return AuditLog(session).for_decision(decision_id)


def event_count(engine: Engine, decision_id: str) -> int:
    """How many audit events the decision has (what a continuation is keyed on)."""
    with unit_of_work(engine, read_only=True) as session:
        return AuditLog(session).count_for(decision_id)


def last_activity(engine: Engine) -> dict[str, datetime]:
    """When each decision last recorded anything, in one query (the sweep's quiet test)."""
    with unit_of_work(engine, read_only=True) as session:
        found = AuditLog(session).last_recorded().items()
    return {decision_id: _aware(datetime.fromisoformat(at)) for decision_id, at in found}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def open_tasks(engine: Engine) -> list[Task]:
    """Every open task of every decision (what the deadline sweep looks at)."""
    with unit_of_work(engine, read_only=True) as session:
        return TaskRepository(session).all_open()


def verify(engine: Engine, *, anchor: Anchor | None = None) -> ChainReport:
    """Walk the whole chain (against ``anchor`` if given) and report the first bad event."""
    return ledger.verify_store(engine, anchor=anchor)


def export_events(engine: Engine) -> list[AuditEvent]:
    """Every event of the chain in order, for ``counsel audit export``."""
    return [to_event(row) for row in ledger.iter_rows(engine)]


def get_task(engine: Engine, task_id: str) -> Task:
    with unit_of_work(engine, read_only=True) as session:
        return TaskRepository(session).get(task_id)


def answer_for(engine: Engine, task_id: str) -> Answer | None:
    """The recorded answer of a task as its model, or None while it has none."""
    with unit_of_work(engine, read_only=True) as session:
        stored = AnswerRepository(session).for_task(task_id)
    return None if stored is None else stored.answer


def attach_flow_run(engine: Engine, task_id: str, flow_run_id: str) -> Task:
    """Remember which Prefect run waits for this task's answer (so the CLI can resume it)."""
    with unit_of_work(engine) as session:
        return TaskRepository(session).attach_run(task_id, flow_run_id)


def get_actor(engine: Engine, actor_id: str) -> Actor:
    with unit_of_work(engine, read_only=True) as session:
        return ActorRepository(session).get(actor_id)


def ensure_actor(
    engine: Engine,
    *,
    actor_id: str,
    name: str,
    roles: list[str],
    affiliations: list[str],
    by: str = SYSTEM,
) -> Actor:
    """The actor with this id, created (without a usable token) if it does not exist yet.

    Used when routing brings an expert from the expertise database who has never acted in
    Counsel: they answer through the UI form with their task's code; a manager can give them
    a token later. An existing actor's affiliations are set to ``affiliations`` (the
    expertise database's current ones) when they differ, with an ``actor.affiliations_changed``
    event, so the separation of powers never judges stale ties.

    Raises
    ------
    ActorError
        If ``actor_id``, ``name`` or ``roles`` cannot make an actor (not a race: nothing
        is retried).
    """
    try:
        Actor(
            id=actor_id,
            name=name,
            roles=frozenset(Role(r) for r in roles),
            affiliations=tuple(affiliations),
        )
    except ValueError as err:
        raise ActorError(_first_error(err)) from err
    with unit_of_work(engine, read_only=True) as session:
        actors = ActorRepository(session)
        existing = actors.get(actor_id) if actors.exists(actor_id) else None
    if existing is None:
        try:
            actor, _token = add_actor(
                engine, actor_id=actor_id, name=name, roles=roles, affiliations=affiliations,
                by=by,
            )
            return actor
        except ActorError:
            pass  # checked above, so only "already exists": another run made it meanwhile
    elif existing.affiliations == tuple(affiliations):
        return existing
    with unit_of_work(engine) as session:
        actors = ActorRepository(session)
        if actors.get(actor_id).affiliations != tuple(affiliations):  # re-read under the lock
            before = actors.set_affiliations(actor_id, list(affiliations))
            AuditLog(session).append(
                NewEvent(
                    actor=by,
                    action="actor.affiliations_changed",
                    payload={"id": actor_id, "before": before, "after": list(affiliations)},
                )
            )
        return actors.get(actor_id)


def issue_token(engine: Engine, actor_id: str, *, by: str = SYSTEM) -> str:
    """Give an actor a new token (the old one stops working); shown to them once."""
    token = new_token()
    with unit_of_work(engine) as session:
        from decisions.tables import ActorRow

        row = session.get(ActorRow, actor_id)
        if row is None:
            raise ActorError(f"There is no actor with id {actor_id!r}.")
        row.token_hash = hash_secret(token)
        AuditLog(session).append(
            NewEvent(actor=by, action="actor.token_issued", payload={"id": actor_id})
        )
    return token
