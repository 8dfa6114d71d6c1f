"""The consultation's rules: start, routing, panels, waiting, stalls, rounds and conclusion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

import pytest

from decisions.classes import DecisionClass
from decisions.consensus import aggregate_round
from decisions.model import Answer, Opinion, State, Task, TaskKind, TaskStatus
from decisions.procedure import (
    Assign,
    Command,
    ConcludeConsultation,
    DecisionView,
    RecordRound,
    Route,
    Transition,
    Wait,
    after_routing,
    next_commands,
)
from decisions.progress import RoundRecord, Routing
from tests.unit.decisions.procedure.conftest import (
    LAST_MOVED,
    STANDARD,
    TWO_DAYS,
    hours,
    make_decision,
    make_view,
    opinion,
    round_record,
    routing,
    stall_key,
    task,
    variant,
)

C = TaskKind.CONSULT
OPEN, ANSWERED = TaskStatus.OPEN, TaskStatus.ANSWERED
CANCELLED, REASSIGNED = TaskStatus.CANCELLED, TaskStatus.REASSIGNED

#: Three routed experts: ana (alternate fan), bo (alternate gu), chen (no alternate).
PANEL = routing(1, ("ana", "fan"), ("bo", "gu"), ("chen",))
AGREE = opinion("approve", 5, conditions=["Sweep before 6 am"])
SPREAD = [opinion("approve", 1), opinion("reject", 5), opinion("approve", 9)]


def consulting(
    round: int = 1,
    *,
    routings: tuple[Routing, ...] = (PANEL,),
    tasks: Iterable[Task | tuple[Task, Answer]] = (),
    rounds: Iterable[RoundRecord] = (),
    refused: Iterable[str] = (),
) -> DecisionView:
    """A standard decision consulting in ``round`` with the routed panel."""
    return make_view(
        make_decision(State.CONSULTING, round),
        routings=routings,
        tasks=tasks,
        rounds=rounds,
        refused=refused,
    )


def asked(round: int, *candidates: str, duration: timedelta = TWO_DAYS) -> Assign:
    """The consult assignment of one panel slot in ``round``."""
    return Assign(
        C,
        candidates,
        tuple(f"D-2026-0001:consult:{round}:{c}" for c in candidates),
        round,
        duration,
    )


# -- starting and routing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "round", "key"),
    [
        pytest.param(State.SUBMITTED, 0, "D-2026-0001:start-consultation:1", id="submitted"),
        pytest.param(State.RETURNED, 2, "D-2026-0001:start-consultation:3", id="returned"),
    ],
)
def test_a_submitted_or_returned_decision_starts_a_consultation(
    state: State, round: int, key: str
) -> None:
    """A submitted or returned decision starts the consultation of its next round, keyed by it."""
    assert next_commands(make_view(make_decision(state, round))) == [
        Transition("start_consultation", key)
    ]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        pytest.param(consulting(1, routings=()), Route(1, "D-2026-0001:routed:1"), id="first"),
        pytest.param(
            consulting(
                3,
                rounds=(
                    round_record(1, consensus=False),
                    round_record(2, consensus=True, concluded=True),
                ),
            ),
            Route(3, "D-2026-0001:routed:3"),
            id="after-a-return",
        ),
    ],
)
def test_a_consultation_without_routing_routes_first(view: DecisionView, expected: Route) -> None:
    """A consultation whose routing is not recorded asks only for its routing."""
    assert next_commands(view) == [expected]


@pytest.mark.parametrize(
    ("first_round", "routed", "cause", "reason"),
    [
        pytest.param(1, 3, "unused", None, id="enough"),
        pytest.param(1, 5, "unused", None, id="more-than-enough"),
        pytest.param(
            1,
            2,
            "no expert covers cost",
            "Only 2 experts could be routed but the class needs 3 answers: no expert covers cost.",
            id="two",
        ),
        pytest.param(
            3,
            0,
            "the expertise database has too few matching experts",
            "Only 0 experts could be routed but the class needs 3 answers: "
            "the expertise database has too few matching experts.",
            id="none-after-a-return",
        ),
    ],
)
def test_routing_fewer_experts_than_min_answers_stalls(
    first_round: int, routed: int, cause: str, reason: str | None
) -> None:
    """Routing fewer experts than ``min_answers`` stalls with a sentence naming the cause."""
    view = consulting(first_round, routings=())
    stall = after_routing(view, first_round, routed, cause)
    if reason is None:
        assert stall is None
    else:
        assert stall == Transition("stall", stall_key(f"routing:{first_round}"), {"reason": reason})
        assert stall.reason == reason


# -- the panel --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "refused", "expected"),
    [
        pytest.param(
            (),
            (),
            [asked(1, "ana", "fan"), asked(1, "bo", "gu"), asked(1, "chen")],
            id="alternates-after-the-lead",
        ),
        pytest.param(
            (),
            ("D-2026-0001:consult:1:ana",),
            [asked(1, "fan"), asked(1, "bo", "gu"), asked(1, "chen")],
            id="refused-lead-dropped",
        ),
        pytest.param(
            (),
            ("D-2026-0001:consult:1:ana", "D-2026-0001:consult:1:fan"),
            [asked(1, "bo", "gu"), asked(1, "chen")],
            id="whole-slot-refused",
        ),
        pytest.param(
            (),
            ("D-2026-0001:consult:1:chen",),
            [asked(1, "ana", "fan"), asked(1, "bo", "gu")],
            id="refused-lead-without-alternates",
        ),
        pytest.param(
            (),
            ("D-2026-0001:consult:2:ana",),
            [asked(1, "ana", "fan"), asked(1, "bo", "gu"), asked(1, "chen")],
            id="refusal-in-another-round-does-not-count",
        ),
        pytest.param(
            (task(C, "ana"),),
            (),
            [asked(1, "bo", "gu"), asked(1, "chen")],
            id="lead-assigned",
        ),
        pytest.param(
            ((task(C, "fan"), opinion()),),
            (),
            [asked(1, "bo", "gu"), asked(1, "chen")],
            id="slot-filled-by-its-alternate",
        ),
        pytest.param(
            (task(C, "ana", status=REASSIGNED), task(C, "fan")),
            (),
            [asked(1, "bo", "gu"), asked(1, "chen")],
            id="lead-reassigned-to-alternate",
        ),
        pytest.param(
            (task(C, "gu", status=CANCELLED),),
            (),
            [asked(1, "ana", "fan"), asked(1, "chen")],
            id="cancelled-task-still-fills-its-slot",
        ),
    ],
)
def test_first_round_panel_is_the_routed_slots(
    tasks: tuple[Task, ...], refused: tuple[str, ...], expected: list[Command]
) -> None:
    """The first round gives each unfilled slot one task: its lead, then its alternates, less
    those the powers refused in this round."""
    assert next_commands(consulting(1, tasks=tasks, refused=refused)) == expected


ROUND_ONE = (
    (task(C, "ana", 1), opinion()),
    task(C, "bo", 1, CANCELLED),
    (task(C, "gu", 1), opinion()),
    task(C, "chen", 1, REASSIGNED),
    (task(C, "fan", 1), opinion()),
)


@pytest.mark.parametrize(
    ("tasks", "refused", "expected"),
    [
        pytest.param((), (), [asked(2, "ana"), asked(2, "gu"), asked(2, "fan")], id="answerers"),
        pytest.param(
            (task(C, "ana", 2),), (), [asked(2, "gu"), asked(2, "fan")], id="some-assigned"
        ),
        pytest.param(
            (),
            ("D-2026-0001:consult:2:gu",),
            [asked(2, "ana"), asked(2, "fan")],
            id="refused-has-no-alternate",
        ),
    ],
)
def test_later_round_panel_is_who_answered_the_round_before(
    tasks: tuple[Task, ...], refused: tuple[str, ...], expected: list[Command]
) -> None:
    """A later round asks exactly the experts who answered the round before, without
    alternates."""
    view = consulting(
        2,
        tasks=ROUND_ONE + tasks,
        rounds=(round_record(1, consensus=False),),
        refused=refused,
    )
    assert next_commands(view) == expected


@pytest.mark.parametrize(
    ("dclass", "duration"),
    [
        pytest.param(STANDARD, hours(48), id="answer-shorter"),
        pytest.param(variant(durations={"consult": hours(12)}), hours(12), id="consult-shorter"),
        pytest.param(
            variant(durations={"answer": hours(72), "consult": hours(72)}),
            hours(72),
            id="equal",
        ),
    ],
)
def test_consult_task_is_due_within_the_shorter_of_answer_and_consult(
    dclass: DecisionClass, duration: timedelta
) -> None:
    """A consult task's duration is the shorter of the class's ``answer`` and ``consult``."""
    view = make_view(
        make_decision(State.CONSULTING, 1),
        decision_class=dclass,
        routings=(PANEL,),
    )
    assert {c.duration for c in next_commands(view) if isinstance(c, Assign)} == {duration}


# -- waiting and stalling ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "waiting"),
    [
        pytest.param(
            (task(C, "ana"), (task(C, "bo"), opinion()), task(C, "chen")),
            ("ana", "chen"),
            id="two-open",
        ),
        pytest.param(
            (task(C, "ana", status=REASSIGNED), task(C, "fan"), task(C, "bo"), task(C, "chen")),
            ("fan", "bo", "chen"),
            id="reassigned-not-waited-for",
        ),
    ],
)
def test_open_consult_tasks_are_waited_for(
    tasks: tuple[Task, ...], waiting: tuple[str, ...]
) -> None:
    """With every slot filled, the consultation waits for exactly the round's open tasks."""
    commands = next_commands(consulting(1, tasks=tasks))
    assert len(commands) == 1
    assert isinstance(wait := commands[0], Wait)
    assert wait.stage == "consult"
    assert tuple(t.assignee_id for t in wait.tasks) == waiting
    assert all(t.status is OPEN for t in wait.tasks)


@pytest.mark.parametrize(
    ("round", "tasks", "reason"),
    [
        pytest.param(
            1,
            (
                (task(C, "ana"), AGREE),
                (task(C, "bo"), AGREE),
                task(C, "chen", status=CANCELLED),
            ),
            "Round 1 has 2 answers but the class needs 3; the consultation cannot conclude.",
            id="round-1",
        ),
        pytest.param(
            2,
            (
                *ROUND_ONE,
                (task(C, "ana", 2), AGREE),
                task(C, "gu", 2, CANCELLED),
                task(C, "fan", 2, CANCELLED),
            ),
            "Round 2 has 1 answers but the class needs 3; the consultation cannot conclude.",
            id="round-2",
        ),
    ],
)
def test_a_round_with_fewer_answers_than_min_answers_stalls(
    round: int, tasks: tuple[Task, ...], reason: str
) -> None:
    """A closed round with fewer opinions than ``min_answers`` stalls with the exact sentence."""
    rounds = (round_record(1, consensus=False),) if round > 1 else ()
    assert next_commands(consulting(round, tasks=tasks, rounds=rounds)) == [
        Transition("stall", stall_key(f"consult:{round}"), {"reason": reason})
    ]


# -- recording and concluding rounds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("opinions", "min_answers", "consensus", "dissent"),
    [
        pytest.param([AGREE] * 3, 3, True, (), id="consensus"),
        pytest.param(
            SPREAD,
            3,
            False,
            tuple(f"{c} (IQR 4 > 1)" for c in STANDARD.criteria),
            id="dissent",
        ),
        pytest.param([AGREE] * 2, 2, True, (), id="two-enough-for-a-smaller-class"),
    ],
)
def test_a_complete_round_records_its_aggregate(
    opinions: list[Opinion], min_answers: int, consensus: bool, dissent: tuple[str, ...]
) -> None:
    """A closed round with enough opinions records its aggregate, keyed by the round."""
    dclass = variant(min_answers=min_answers)
    experts = ("ana", "bo", "chen")[: len(opinions)]
    view = make_view(
        make_decision(State.CONSULTING, 1),
        decision_class=dclass,
        routings=(routing(1, *[(e,) for e in experts]),),
        tasks=[(task(C, e), o) for e, o in zip(experts, opinions, strict=True)],
    )
    commands = next_commands(view)
    assert len(commands) == 1
    assert isinstance(command := commands[0], RecordRound)
    assert command.key == "D-2026-0001:aggregate:1"
    assert command.aggregate == aggregate_round(
        opinions, dclass.criteria, dclass.consensus, round=1
    )
    record = command.record
    assert (record.round, record.first_round, record.answers) == (1, 1, len(opinions))
    assert (record.consensus, record.dissent, record.concluded) == (consensus, dissent, False)
    assert record.recommendations == command.aggregate.recommendations
    assert record.conditions == command.aggregate.conditions


def test_a_round_of_a_later_consultation_records_where_it_began() -> None:
    """A round of the consultation begun after a return records that consultation's start."""
    view = consulting(
        4,
        routings=(PANEL, routing(4, ("ana",), ("bo",), ("chen",))),
        rounds=(round_record(1, consensus=False), round_record(2, concluded=True)),
        tasks=[(task(C, e, 4), AGREE) for e in ("ana", "bo", "chen")],
    )
    [command] = next_commands(view)
    assert isinstance(command, RecordRound)
    assert (command.record.round, command.record.first_round) == (4, 4)
    assert command.key == "D-2026-0001:aggregate:4"


def _recorded(round: int, consensus: bool, max_rounds: int) -> DecisionView:
    """A consultation whose ``round`` is recorded (and answered: with agreement at consensus,
    with spread otherwise), for a class of ``max_rounds``."""
    answers = [AGREE] * 3 if consensus else SPREAD
    earlier = tuple(round_record(r, consensus=False) for r in range(1, round))
    return make_view(
        make_decision(State.CONSULTING, round),
        decision_class=variant(max_rounds=max_rounds),
        routings=(PANEL,),
        rounds=(*earlier, round_record(round, consensus=consensus)),
        tasks=[(task(C, e, round), o) for e, o in zip(("ana", "bo", "chen"), answers, strict=True)],
    )


@pytest.mark.parametrize(
    ("round", "consensus", "max_rounds", "concludes"),
    [
        pytest.param(1, True, 2, True, id="consensus-in-round-1"),
        pytest.param(1, False, 2, False, id="dissent-below-max"),
        pytest.param(2, False, 2, True, id="dissent-at-max"),
        pytest.param(1, False, 1, True, id="dissent-in-a-one-round-class"),
        pytest.param(2, False, 3, False, id="dissent-in-round-2-of-3"),
        pytest.param(2, True, 3, True, id="consensus-in-round-2-of-3"),
        pytest.param(3, False, 2, True, id="dissent-past-max"),
    ],
)
def test_a_recorded_round_concludes_at_consensus_or_the_last_round(
    round: int, consensus: bool, max_rounds: int, concludes: bool
) -> None:
    """A recorded round concludes the consultation (report, then discussion) at consensus or
    from ``max_rounds`` on; otherwise the next round starts, told the class's ``max_rounds``."""
    view = _recorded(round, consensus, max_rounds)
    commands = next_commands(view)
    if not concludes:
        assert commands == [
            Transition("next_round", f"D-2026-0001:next-round:{round}", {"max_rounds": max_rounds})
        ]
        return
    assert len(commands) == 2
    conclude, discuss = commands
    assert isinstance(conclude, ConcludeConsultation)
    assert conclude.key == f"D-2026-0001:consult-report:{round}"
    assert conclude.record == view.rounds[-1].model_copy(update={"concluded": True})
    assert conclude.aggregate.consensus is consensus
    assert bool(conclude.aggregate.dissent) is not consensus
    assert discuss == Transition("open_discussion", f"D-2026-0001:open-discussion:{round}")


def test_a_concluded_later_round_still_opens_the_discussion_on_a_retry() -> None:
    """A run retried after the report of round 2 was recorded, but before the discussion
    opened, concludes again (idempotently) and opens the discussion, routing nothing."""
    view = make_view(
        make_decision(State.CONSULTING, 2),
        routings=(PANEL,),
        rounds=(round_record(1, consensus=False), round_record(2, concluded=True)),
        tasks=[(task(C, e, 2), AGREE) for e in ("ana", "bo", "chen")],
    )
    commands = next_commands(view)
    assert [type(c) for c in commands] == [ConcludeConsultation, Transition]
    assert commands[1] == Transition("open_discussion", "D-2026-0001:open-discussion:2")


# -- where a consultation begins ------------------------------------------------------------


@pytest.mark.parametrize(
    ("round", "routed", "recorded", "start"),
    [
        pytest.param(0, (), (), 1, id="not-started"),
        pytest.param(1, (), (), 1, id="round-1-unrouted"),
        pytest.param(1, (1,), (), 1, id="round-1"),
        pytest.param(2, (1,), ((1, 1, False),), 1, id="mid-consultation"),
        pytest.param(3, (1,), ((1, 1, False), (2, 1, True)), 3, id="after-a-return-unrouted"),
        pytest.param(3, (1, 3), ((1, 1, False), (2, 1, True)), 3, id="after-a-return-routed"),
        pytest.param(4, (1, 3), ((2, 1, True), (3, 3, False)), 3, id="second-round-after-a-return"),
    ],
)
def test_consultation_start_is_the_open_routing_or_the_round_after_a_return(
    round: int,
    routed: tuple[int, ...],
    recorded: tuple[tuple[int, int, bool], ...],
    start: int,
) -> None:
    """The current consultation began with its routing's round while no round has concluded
    it; after a return the decision's new round begins another."""
    view = make_view(
        make_decision(State.CONSULTING, round),
        routings=[routing(r, ("ana",)) for r in routed],
        rounds=[
            round_record(r, first_round=first, concluded=concluded)
            for r, first, concluded in recorded
        ],
    )
    assert view.consultation_start() == start


def test_a_decision_resumed_into_the_same_cause_stalls_again() -> None:
    """A stall's key names the decision's last move, so a retried step stalls it once but a
    decision resumed into the same shortage (too few answers again) stalls anew."""
    before = consulting(
        1,
        tasks=(
            (task(C, "ana"), AGREE),
            task(C, "bo", status=CANCELLED),
            task(C, "chen", status=CANCELLED),
        ),
    )
    (first,) = next_commands(before)
    resumed = before.decision.model_copy(update={"updated_at": LAST_MOVED + timedelta(days=2)})
    (again,) = next_commands(replace(before, decision=resumed))
    assert isinstance(first, Transition) and isinstance(again, Transition)
    assert first.action == again.action == "stall" and first.reason == again.reason
    assert next_commands(before) == [first]  # a retry: the same key
    assert again.key != first.key
