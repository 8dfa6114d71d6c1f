"""Builders for the procedure's unit tests: decisions, people, tasks and answers as data.

The procedure is pure, so a test builds a :class:`DecisionView` from real domain objects
and compares what :func:`decisions.procedure.next_commands` returns with what the rule
says. The builders are plain functions (the tables are built when the module is
collected); test modules import them from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from decisions.classes import DecisionClass, load_classes
from decisions.model import (
    Acceptance,
    Actor,
    Answer,
    Comment,
    Decision,
    Opinion,
    ProgressReport,
    Recusal,
    Role,
    State,
    Task,
    TaskKind,
    TaskStatus,
    Vote,
)
from decisions.procedure import DecisionView, keys
from decisions.progress import ExecutionCycle, RoundRecord, Routing, Slot

__all__ = [
    "DECISION_ID",
    "T0",
    "CLASSES",
    "STANDARD",
    "TWO_DAYS",
    "BODY",
    "variant",
    "make_decision",
    "person",
    "task",
    "opinion",
    "comment",
    "vote",
    "recusal",
    "report",
    "verdict",
    "routing",
    "round_record",
    "cycle",
    "make_view",
    "hours",
]

DECISION_ID = "D-2026-0001"
#: When the decisions built here last moved; a stall's key names it (see ``stall_key``).
LAST_MOVED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def stall_key(cause: str) -> str:
    """The key of a stall for ``cause`` of a decision built here."""
    return keys.stall(DECISION_ID, cause, LAST_MOVED)


#: When every task in these tests was given, unless a row says otherwise.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLASSES = load_classes()
#: answer 48h, reminder 24h, consult 10d, discuss 7d, vote 5d, execute 90d; min_answers 3,
#: max_rounds 2, quorum 0.5 with a simple majority, one inspector under rule ``all``.
STANDARD = CLASSES.get("standard")
#: The standard class's ``answer``: every person's task is due within it unless shorter.
TWO_DAYS = timedelta(hours=48)
BODY = STANDARD.decision_body


def variant(base: DecisionClass = STANDARD, **changes: Any) -> DecisionClass:
    """``base`` with top-level fields changed; ``durations`` and ``acceptance`` take a dict
    of the fields to change in them."""
    update = dict(changes)
    for nested in ("durations", "acceptance"):
        if nested in update:
            update[nested] = getattr(base, nested).model_copy(update=update[nested])
    return base.model_copy(update=update)


def make_decision(state: State = State.SUBMITTED, round: int = 0, **fields: Any) -> Decision:
    """A standard decision in the east district, filed by li-wei, put in ``state`` and
    ``round`` (its events cleared: the procedure does not read them)."""
    decision = Decision.file(
        id=DECISION_ID,
        title="Adjust the cleaning schedule of Jianshe Road",
        description="Clean Jianshe Road at night instead of at rush hour.",
        class_name="standard",
        district="east",
        planner_id="li-wei",
        topics=["street-cleaning"],
        stakeholder_orgs=["jianshe-residents"],
        executor_orgs=["east-cleaning"],
    )
    decision.state = state
    decision.round = round
    decision.updated_at = LAST_MOVED
    for key, value in fields.items():
        setattr(decision, key, value)
    decision.events.clear()
    return decision


def person(
    actor_id: str,
    *roles: Role,
    affiliations: Iterable[str] = (),
    bodies: Iterable[str] = (),
) -> Actor:
    """An actor with ``roles``; the name is the id written as words."""
    return Actor(
        id=actor_id,
        name=actor_id.replace("-", " ").title(),
        roles=frozenset(roles),
        affiliations=tuple(affiliations),
        bodies=tuple(bodies),
    )


def task(
    kind: TaskKind,
    assignee: str,
    round: int = 1,
    status: TaskStatus = TaskStatus.OPEN,
    *,
    created_at: datetime = T0,
    deadline: datetime | None = None,
    flow_run_id: str | None = None,
) -> Task:
    """``assignee``'s task of ``kind`` in ``round`` (or execution cycle)."""
    return Task(
        id=f"{DECISION_ID}-{kind.value}-{round}-{assignee}",
        decision_id=DECISION_ID,
        kind=kind,
        assignee_id=assignee,
        round=round,
        status=status,
        answer_code_hash="0" * 64,
        created_at=created_at,
        deadline=deadline,
        flow_run_id=flow_run_id,
    )


def opinion(
    recommendation: str = "approve",
    rating: int = 5,
    *,
    conditions: Iterable[str] = (),
    ratings: dict[str, int] | None = None,
    criteria: Iterable[str] = STANDARD.criteria,
) -> Opinion:
    """An expert's opinion rating every criterion ``rating`` unless ``ratings`` says otherwise."""
    return Opinion(
        recommendation=recommendation,
        ratings=ratings or dict.fromkeys(criteria, rating),
        conditions=tuple(conditions),
        rationale=f"I recommend: {recommendation}.",
    )


def comment(stance: str = "support") -> Comment:
    return Comment(stance=stance, text=f"My position: {stance}.")


def vote(choice: str = "approve", rationale: str | None = None) -> Vote:
    return Vote(choice=choice, rationale=rationale or f"I vote {choice}.")


def recusal() -> Recusal:
    return Recusal(reason="My firm bid for the contract.")


def report(percent: int = 100) -> ProgressReport:
    return ProgressReport(percent_complete=percent, text=f"{percent}% done.")


def verdict(choice: str = "accept") -> Acceptance:
    return Acceptance(verdict=choice, findings=f"Inspected: {choice}.")


def routing(first_round: int = 1, *slots: tuple[str, ...]) -> Routing:
    """A routing whose slots are ``(expert, *alternates)`` tuples."""
    return Routing(
        first_round=first_round,
        slots=tuple(
            Slot(number=n, expert=expert, alternates=tuple(alternates))
            for n, (expert, *alternates) in enumerate(slots)
        ),
    )


def round_record(
    round: int,
    *,
    first_round: int = 1,
    consensus: bool = True,
    concluded: bool = False,
    conditions: Iterable[str] = (),
    answers: int = 3,
) -> RoundRecord:
    return RoundRecord(
        round=round,
        first_round=first_round,
        answers=answers,
        consensus=consensus,
        concluded=concluded,
        conditions=tuple(conditions),
    )


def cycle(
    number: int, outcome: str = "rework", *, accepted: int = 0, needed: int = 1
) -> ExecutionCycle:
    return ExecutionCycle(
        cycle=number,
        inspected=needed,
        accepted=accepted,
        needed=needed,
        outcome=outcome,
    )


def make_view(
    decision: Decision,
    *,
    decision_class: DecisionClass = STANDARD,
    tasks: Iterable[Task | tuple[Task, Answer]] = (),
    actors: Iterable[Actor] = (),
    routings: Iterable[Routing] = (),
    rounds: Iterable[RoundRecord] = (),
    cycles: Iterable[ExecutionCycle] = (),
    refused: Iterable[str] = (),
) -> DecisionView:
    """The view of ``decision``; a ``(task, answer)`` pair is an answered task."""
    all_tasks: list[Task] = []
    answers: dict[str, Answer] = {}
    for item in tasks:
        if isinstance(item, tuple):
            answered, answer = item
            answered = answered.model_copy(update={"status": TaskStatus.ANSWERED})
            answers[answered.id] = answer
            all_tasks.append(answered)
        else:
            all_tasks.append(item)
    return DecisionView(
        decision,
        decision_class,
        tasks=tuple(all_tasks),
        answers=answers,
        actors=tuple(actors),
        routings=tuple(routings),
        rounds=tuple(rounds),
        cycles=tuple(cycles),
        refused=frozenset(refused),
    )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
