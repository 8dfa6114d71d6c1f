"""Properties of the whole procedure, with Hypothesis playing the people and the powers.

A small in-memory store carries the commands out the way the flows do (in order, each key
once, a refused assignment tried once per run) while Hypothesis's choices answer, let
deadlines pass (the sweep's expiry), refuse assignments and kill runs part-way. Whatever
it chooses, every answer the procedure gives must be deterministic, keyed under the
decision or one of its tasks, wait only for open tasks, never ask only for what is done,
and bring the decision to rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from hypothesis import example, given, settings
from hypothesis import strategies as st

from decisions.classes import DecisionClass
from decisions.model import (
    Acceptance,
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
from decisions.procedure import (
    Assign,
    Command,
    ConcludeConsultation,
    DecisionView,
    Expire,
    RecordCycle,
    RecordRound,
    Route,
    Transition,
    Wait,
    after_routing,
    due,
    next_commands,
)
from decisions.progress import ExecutionCycle, RoundRecord, Routing, Slot
from tests.unit.decisions.procedure.conftest import (
    BODY,
    DECISION_ID,
    STANDARD,
    T0,
    make_decision,
    person,
    variant,
)

EXPERTS = ("ana", "bo", "chen", "dai", "eli", "fan", "gu", "hua")
ACTORS = (
    *(person(e, Role.EXPERT) for e in EXPERTS),
    person("sun", Role.STAKEHOLDER, affiliations=["jianshe-residents"]),
    *(person(m, Role.MEMBER, bodies=[BODY]) for m in ("mei", "nan", "ou", "pei")),
    *(person(x, Role.EXECUTOR, affiliations=["east-cleaning"]) for x in ("xia", "yan")),
    *(person(i, Role.INSPECTOR) for i in ("ins-a", "ins-b", "ins-c")),
)
LETTER = {"consult": "C", "discuss": "D", "vote": "V", "execute": "E", "inspect": "I"}
AT_REST = {State.CLOSED, State.REJECTED, State.STALLED}
MAX_ASKS = 300
T = TypeVar("T")


@dataclass
class Store:
    """What the store keeps of one decision, and what this run of its stage has learnt."""

    decision: Decision
    decision_class: DecisionClass
    conflicted: frozenset[str]  # actors the powers refuse any task
    tasks: list[Task] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    routings: list[Routing] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)
    cycles: list[ExecutionCycle] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    assigned: dict[str, Task] = field(default_factory=dict)
    clock: datetime = T0
    returns: int = 0

    def view(self) -> DecisionView:
        return DecisionView(
            self.decision,
            self.decision_class,
            tasks=tuple(self.tasks),
            answers=dict(self.answers),
            actors=ACTORS,
            routings=tuple(self.routings),
            rounds=tuple(self.rounds),
            cycles=tuple(self.cycles),
            refused=frozenset(self.refused),
        )

    def give(
        self,
        kind: TaskKind,
        candidates: tuple[str, ...],
        keys: tuple[str, ...],
        round: int,
        duration: timedelta,
    ) -> Task | None:
        """Give the task to the first candidate the powers allow (once per key)."""
        for candidate, key in zip(candidates, keys, strict=True):
            if key in self.assigned:
                return self.assigned[key]
            if candidate in self.conflicted:
                self.refused.add(key)
                continue
            given_task = Task(
                id=f"{DECISION_ID}-{LETTER[kind.value]}{len(self.tasks) + 1:03d}",
                decision_id=DECISION_ID,
                kind=kind,
                assignee_id=candidate,
                round=round,
                deadline=self.clock + duration,
                answer_code_hash="0" * 64,
                created_at=self.clock,
            )
            self.tasks.append(given_task)
            self.assigned[key] = given_task
            return given_task
        return None

    def close(self, task: Task, status: TaskStatus) -> None:
        self.tasks = [
            t.model_copy(update={"status": status}) if t.id == task.id else t for t in self.tasks
        ]


class Choices:
    """Hypothesis's choices as a stream of integers, each picking one of a list of options.

    Once the stream runs out every choice is the first option: everyone answers on time,
    nobody crashes, routing finds every expert. Hypothesis shrinks towards that.
    """

    def __init__(self, values: Iterable[int]) -> None:
        self._values = iter(values)

    def pick(self, options: Sequence[T]) -> T:
        return options[next(self._values, 0) % len(options)]


RATINGS = (5, 4, 6, 1, 9)
ON_TIME = (True, True, True, True, False)
GOES_ON = (True,) * 9 + (False,)


def answer_for(task: Task, store: Store, choose: Choices) -> Answer:
    """What the person chosen for ``task`` answers (an expert rates every criterion alike)."""
    if task.kind is TaskKind.CONSULT:
        rating = choose.pick(RATINGS)
        return Opinion(
            recommendation=choose.pick(("approve", "approve_with_conditions", "reject")),
            ratings=dict.fromkeys(store.decision_class.criteria, rating),
            conditions=choose.pick(((), ("Sweep at 5",), ("Notify residents", "Sweep at 5"))),
            rationale="Because.",
        )
    if task.kind is TaskKind.DISCUSS:
        return Comment(stance=choose.pick(("support", "oppose")), text="Yes.")
    if task.kind is TaskKind.VOTE:
        choices = ("approve", "approve_with_amendments", "reject", "recuse", "return")
        choice = choose.pick(choices if not store.returns else choices[:-1])
        if choice == "recuse":
            return Recusal(reason="A conflict.")
        return Vote(choice=choice, rationale=f"Why {choice}?")
    if task.kind is TaskKind.EXECUTE:
        return ProgressReport(percent_complete=100, text="Done.")
    return Acceptance(verdict=choose.pick(("accept", "reject")), findings="Seen.")


def route(store: Store, command: Route, choose: Choices) -> None:
    """Route as the expertise graph might: the class's experts if found, the rest of those
    found as alternates, or a stall when too few are found."""
    dclass = store.decision_class
    found = choose.pick(range(len(EXPERTS), 0, -1))
    leads = EXPERTS[: min(found, dclass.experts)]
    spare = list(EXPERTS[len(leads) : found])
    stall = after_routing(store.view(), command.first_round, len(leads), "too few match")
    if stall is not None:
        transition(store, stall)
        return
    slots = []
    for number, lead in enumerate(leads):
        alternates = tuple(spare[: dclass.alternates])
        del spare[: dclass.alternates]
        slots.append(Slot(number=number, expert=lead, alternates=alternates))
    store.routings.append(Routing(first_round=command.first_round, slots=tuple(slots)))
    store.done.add(command.key)


def transition(store: Store, command: Transition) -> None:
    if command.key in store.done:
        return
    getattr(store.decision, command.action)(**command.params)
    store.done.add(command.key)
    store.returns += command.action == "return_to_consultation"


def wait(store: Store, command: Wait, choose: Choices) -> None:
    """Each waited-for person answers, or lets the deadline pass (the sweep's expiry)."""
    for waited in command.tasks:
        store.clock += timedelta(minutes=1)
        if choose.pick(ON_TIME):
            store.answers[waited.id] = answer_for(waited, store, choose)
            store.close(waited, TaskStatus.ANSWERED)
            continue
        routing = (
            store.view().routing_of_round(waited.round) if waited.kind is TaskKind.CONSULT else None
        )
        assert waited.deadline is not None
        expire = due(waited, store.decision_class, routing, waited.deadline)
        assert isinstance(expire, Expire)
        replacement = store.give(
            TaskKind.CONSULT, expire.candidates, expire.keys, waited.round, expire.duration
        )
        store.close(waited, TaskStatus.REASSIGNED if replacement else TaskStatus.CANCELLED)
    store.refused.clear()  # the next answer starts a new run


def carry_out(store: Store, command: Command, choose: Choices) -> None:
    """Carry one command out as the flows do, each key once."""
    if isinstance(command, Transition):
        transition(store, command)
    elif isinstance(command, Assign):
        store.give(command.kind, command.candidates, command.keys, command.round, command.duration)
    elif isinstance(command, Route):
        route(store, command, choose)
    elif isinstance(command, Wait):
        wait(store, command, choose)
    else:
        if command.key in store.done:
            return
        if isinstance(command, RecordRound):
            store.rounds.append(command.record)
        elif isinstance(command, ConcludeConsultation):
            store.rounds = [
                command.record if r.round == command.record.round else r for r in store.rounds
            ]
        elif isinstance(command, RecordCycle):
            store.cycles.append(command.cycle)
        store.done.add(command.key)


def done(command: Command, store: Store) -> bool:
    """Whether carrying ``command`` out again would change nothing."""
    return not isinstance(command, Assign | Wait | Route) and all(
        k in store.done for k in writing_keys(command)
    )


def writing_keys(command: Command) -> tuple[str, ...]:
    if isinstance(command, Assign):
        return command.keys
    if isinstance(command, Wait):
        return ()
    return (command.key,)


def check(view: DecisionView, commands: list[Command], store: Store) -> None:
    """The invariants every answer of the procedure keeps."""
    assert next_commands(view) == commands, "the same view gave different commands"
    prefixes = (f"{view.id}:", *(f"{t.id}:" for t in view.tasks))
    for command in commands:
        for key in writing_keys(command):
            assert key.startswith(prefixes), key
    open_tasks = {t.id for t in view.tasks if t.status is TaskStatus.OPEN}
    waits = [c for c in commands if isinstance(c, Wait)]
    if not open_tasks:
        assert not waits
    if waits:
        assert len(waits) == 1 and commands[-1] is waits[0], "a wait ends the commands"
        assert waits[0].tasks and {t.id for t in waits[0].tasks} <= open_tasks
    for command in commands:
        if isinstance(command, Assign):
            assert command.candidates and not set(command.keys) & set(store.assigned)
            assert not set(command.keys) & view.refused
    assert not all(done(c, store) for c in commands), f"asks only for what is done: {commands}"


CLASSES = st.builds(
    lambda rounds, answers, experts, alternates, inspectors, rule, cycles: variant(
        STANDARD,
        max_rounds=rounds,
        min_answers=min(answers, experts),
        experts=experts,
        alternates=alternates,
        acceptance={"inspectors": inspectors, "rule": rule, "max_cycles": cycles},
    ),
    st.integers(1, 3),
    st.integers(2, 3),
    st.integers(3, 5),
    st.integers(0, 2),
    st.integers(1, 3),
    st.sampled_from(["all", "majority"]),
    st.integers(1, 3),
)
CONFLICTED = st.frozensets(st.sampled_from([a.id for a in ACTORS]), max_size=4)
CHOICES = st.lists(st.integers(0, 255), max_size=400)


def drive(
    dclass: DecisionClass,
    conflicted: frozenset[str],
    choose: Choices,
    *,
    crashes: bool = False,
    resumes: bool = False,
) -> Store:
    """Take a submitted decision as far as the procedure goes, checking every answer.

    ``crashes``: a run may die after any command, and the next starts from the top.
    ``resumes``: after each command but the last, asking again must go on with the next.
    """
    store = Store(make_decision(State.SUBMITTED, 0), dclass, conflicted)
    for _ in range(MAX_ASKS):
        view = store.view()
        commands = next_commands(view)
        if not commands:
            return store
        check(view, commands, store)
        for n, command in enumerate(commands[:-1]):
            carry_out(store, command, choose)
            if resumes:
                again = [c for c in next_commands(store.view()) if not done(c, store)]
                assert again[:1] == commands[n + 1 : n + 2], (commands, again)
            if crashes and not choose.pick(GOES_ON):
                store.refused.clear()  # the run died; the next one starts from the top
                break
        else:
            carry_out(store, commands[-1], choose)
    raise AssertionError(f"still moving after {MAX_ASKS} asks: {store.decision.state}")


@settings(max_examples=150, deadline=None)
@given(dclass=CLASSES, conflicted=CONFLICTED, choices=CHOICES)
def test_the_procedure_brings_every_decision_to_rest(
    dclass: DecisionClass, conflicted: frozenset[str], choices: list[int]
) -> None:
    """Whatever people answer, miss or are refused, and wherever a run dies, each answer of
    the procedure is deterministic, keyed under the decision or its tasks, waits only for
    open tasks, never asks only for what is done, and the decision ends closed, rejected or
    stalled within its class's rounds and cycles."""
    store = drive(dclass, conflicted, Choices(choices), crashes=True)
    assert store.decision.state in AT_REST
    if store.decision.state is not State.STALLED:  # a stall may leave tasks for the sweep
        assert not any(t.status is TaskStatus.OPEN for t in store.tasks)
    if store.decision.state is State.CLOSED:
        assert store.cycles[-1].outcome == "accepted"
    assert sum(c.outcome == "rework" for c in store.cycles) <= dclass.acceptance.max_cycles
    rounds: dict[int, int] = {}
    for record in store.rounds:
        rounds[record.first_round] = rounds.get(record.first_round, 0) + 1
    assert all(n <= dclass.max_rounds for n in rounds.values())


#: Routing finds every expert; the three asked rate 5, 1 and 9 in round 1 (dissent), then
#: everyone answers with the first options: all rate 5 in round 2 (consensus).
DISSENT_THEN_CONSENSUS = [0] + [0, 0, 0, 0] + [0, 3, 0, 0] + [0, 4, 0, 0]


@settings(max_examples=150, deadline=None)
@example(
    dclass=variant(STANDARD, experts=3, max_rounds=2),
    conflicted=frozenset(),
    choices=DISSENT_THEN_CONSENSUS,
)
@given(dclass=CLASSES, conflicted=CONFLICTED, choices=CHOICES)
def test_asking_again_part_way_goes_on_with_the_same_plan(
    dclass: DecisionClass, conflicted: frozenset[str], choices: list[int]
) -> None:
    """A flow that asks again after any command of a list gets the rest of the list next:
    what it did is done, and the plan does not change under it."""
    drive(dclass, conflicted, Choices(choices), resumes=True)
