"""The discussion's rules: who is asked for a position, waiting, the minutes and the vote."""

from __future__ import annotations

from datetime import timedelta

import pytest

from decisions.classes import DecisionClass
from decisions.model import Answer, Decision, Role, State, Task, TaskKind, TaskStatus
from decisions.procedure import (
    Assign,
    Command,
    DecisionView,
    RecordMinutes,
    Transition,
    Wait,
    next_commands,
)
from decisions.procedure.discuss import discussion, participants
from tests.unit.decisions.procedure.conftest import (
    STANDARD,
    TWO_DAYS,
    comment,
    hours,
    make_decision,
    make_view,
    opinion,
    person,
    task,
    variant,
)

C, D = TaskKind.CONSULT, TaskKind.DISCUSS
ANSWERED, CANCELLED = TaskStatus.ANSWERED, TaskStatus.CANCELLED
REASSIGNED = TaskStatus.REASSIGNED
RESIDENTS = "jianshe-residents"  # the decision's stakeholder organisation

ACTORS = (
    person("wu", Role.STAKEHOLDER, affiliations=[RESIDENTS]),
    person("ana", Role.EXPERT),
    person("bo", Role.EXPERT),
    person("chen", Role.EXPERT, Role.STAKEHOLDER, affiliations=[RESIDENTS]),
    person("dai", Role.EXPERT),
    person("sun", Role.STAKEHOLDER, affiliations=["other-committee", RESIDENTS]),
    person("tao", Role.STAKEHOLDER, affiliations=["other-committee"]),
    person("xu", Role.EXPERT, affiliations=[RESIDENTS]),
)
#: Two consultation rounds: dai answered only the first; in the last, ana and chen answered,
#: bo's task was cancelled and dai's passed to an alternate who has not answered.
CONSULTED = (
    (task(C, "ana", 1), opinion()),
    (task(C, "bo", 1), opinion()),
    (task(C, "dai", 1), opinion()),
    (task(C, "ana", 2), opinion()),
    task(C, "bo", 2, CANCELLED),
    (task(C, "chen", 2), opinion()),
    task(C, "dai", 2, REASSIGNED),
)
PEOPLE = ["ana", "chen", "sun", "wu"]


def discussing(
    *tasks: Task | tuple[Task, Answer],
    decision: Decision | None = None,
    decision_class: DecisionClass = STANDARD,
    refused: tuple[str, ...] = (),
) -> DecisionView:
    """A decision discussing in round 2 after the consultation above, with ``tasks`` added."""
    return make_view(
        decision or make_decision(State.DISCUSSING, 2),
        decision_class=decision_class,
        tasks=(*CONSULTED, *tasks),
        actors=ACTORS,
        refused=refused,
    )


def asked(*people: str, duration: timedelta = TWO_DAYS) -> list[Command]:
    return [Assign(D, (p,), (f"D-2026-0001:discuss:2:{p}",), 2, duration) for p in people]


def test_participants_are_the_last_rounds_answerers_then_unconsulted_representatives() -> None:
    """The experts who answered the last consultation round (in id order) take part, then the
    stakeholder organisations' representatives who were not among them."""
    assert participants(discussing()) == PEOPLE


@pytest.mark.parametrize(
    ("stakeholder_orgs", "expected"),
    [
        pytest.param([RESIDENTS], PEOPLE, id="residents"),
        pytest.param(["other-committee"], ["ana", "chen", "sun", "tao"], id="other-org"),
        pytest.param([], ["ana", "chen"], id="no-stakeholders"),
    ],
)
def test_representatives_are_those_of_the_decisions_stakeholder_orgs(
    stakeholder_orgs: list[str], expected: list[str]
) -> None:
    """Only stakeholders affiliated with the decision's stakeholder organisations join."""
    decision = make_decision(State.DISCUSSING, 2, stakeholder_orgs=stakeholder_orgs)
    assert participants(discussing(decision=decision)) == expected


@pytest.mark.parametrize(
    ("tasks", "refused", "expected"),
    [
        pytest.param((), (), asked(*PEOPLE), id="everyone"),
        pytest.param(
            (task(D, "ana", 2),),
            ("D-2026-0001:discuss:2:sun",),
            asked("chen", "wu"),
            id="assigned-and-refused-skipped",
        ),
        pytest.param(
            (task(D, "chen", 2, CANCELLED),),
            ("D-2026-0001:discuss:1:ana",),
            asked("ana", "sun", "wu"),
            id="a-refusal-of-another-round-does-not-count",
        ),
    ],
)
def test_each_participant_is_asked_once(
    tasks: tuple[Task, ...], refused: tuple[str, ...], expected: list[Command]
) -> None:
    """Every participant without a discussion task of the round, and not refused by the
    powers in this run, is assigned one, keyed by round and person."""
    assert next_commands(discussing(*tasks, refused=refused)) == expected


@pytest.mark.parametrize(
    ("dclass", "duration"),
    [
        pytest.param(STANDARD, hours(48), id="answer-shorter"),
        pytest.param(variant(durations={"discuss": hours(30)}), hours(30), id="discuss-shorter"),
    ],
)
def test_a_position_is_due_within_the_shorter_of_answer_and_discuss(
    dclass: DecisionClass, duration: timedelta
) -> None:
    """A discussion task's duration is the shorter of ``answer`` and ``discuss``."""
    commands = next_commands(discussing(decision_class=dclass))
    assert commands == asked(*PEOPLE, duration=duration)


def test_open_positions_are_waited_for() -> None:
    """With everyone assigned, the discussion waits for exactly the open tasks."""
    view = discussing(
        task(D, "ana", 2),
        (task(D, "chen", 2), comment()),
        task(D, "sun", 2),
        task(D, "wu", 2, CANCELLED),
    )
    commands = next_commands(view)
    assert commands == [Wait("discuss", (task(D, "ana", 2), task(D, "sun", 2)))]


def _amended() -> Decision:
    decision = make_decision(State.DISCUSSING, 2)
    decision.amend(title="Clean at night", text="Clean Jianshe Road at 2 am.", author_id="li-wei")
    return decision


@pytest.mark.parametrize(
    ("decision", "positions", "version"),
    [
        pytest.param(make_decision(State.DISCUSSING, 2), 2, 1, id="filed-text"),
        pytest.param(_amended(), 2, 2, id="amended"),
    ],
)
def test_a_closed_discussion_is_minuted_and_the_vote_opens(
    decision: Decision, positions: int, version: int
) -> None:
    """When no position is open the discussion is minuted (positions given, final version)
    and the vote opens, both keyed by the round."""
    view = discussing(
        (task(D, "ana", 2), comment("support")),
        task(D, "chen", 2, CANCELLED),
        (task(D, "sun", 2), comment("oppose")),
        task(D, "wu", 2, CANCELLED),
        decision=decision,
    )
    commands = next_commands(view)
    assert len(commands) == 2
    minutes, vote = commands
    assert isinstance(minutes, RecordMinutes)
    assert [t.assignee_id for t in minutes.tasks] == ["ana", "chen", "sun", "wu"]
    assert (minutes.positions, minutes.final_version) == (positions, version)
    assert minutes.key == "D-2026-0001:minutes:2"
    assert vote == Transition("open_vote", "D-2026-0001:open-vote:2")


def test_a_reassigned_position_is_not_minuted() -> None:
    """A discussion task passed on to someone else is neither waited for nor minuted."""
    view = discussing(
        (task(D, "ana", 2), comment()),
        (task(D, "chen", 2), comment()),
        (task(D, "sun", 2), comment()),
        task(D, "wu", 2, REASSIGNED),
    )
    minutes, _ = next_commands(view)
    assert isinstance(minutes, RecordMinutes)
    assert [t.assignee_id for t in minutes.tasks] == ["ana", "chen", "sun"]
    assert minutes.positions == 3


@pytest.mark.parametrize("state", [s for s in State if s is not State.DISCUSSING])
def test_the_discussion_does_nothing_outside_discussing(state: State) -> None:
    """The discussion's rules give no command to a decision in any other state."""
    assert discussion(discussing(decision=make_decision(state, 2))) == []
