"""The vote's rules: who votes, who counts as recused, and where the tally leads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from decisions.classes import DecisionClass
from decisions.model import Answer, Opinion, Role, State, Task, TaskKind, TaskStatus
from decisions.procedure import (
    Assign,
    Command,
    DecisionView,
    RecordTally,
    Transition,
    Wait,
    next_commands,
)
from decisions.procedure.decide import vote as vote_rules
from tests.unit.decisions.procedure.conftest import (
    BODY,
    STANDARD,
    TWO_DAYS,
    hours,
    make_decision,
    make_view,
    opinion,
    person,
    recusal,
    stall_key,
    task,
    variant,
    vote,
)

C, V = TaskKind.CONSULT, TaskKind.VOTE
CANCELLED = TaskStatus.CANCELLED

#: The standard class's body has four members (listed out of id order); qin sits on another
#: body and ren is on this one without being a member.
ACTORS = (
    person("pei", Role.MEMBER, bodies=[BODY]),
    person("mei", Role.MEMBER, bodies=[BODY]),
    person("qin", Role.MEMBER, bodies=["district-standing-committee"]),
    person("ou", Role.MEMBER, bodies=["district-standing-committee", BODY]),
    person("ren", Role.EXPERT, bodies=[BODY]),
    person("nan", Role.MEMBER, bodies=[BODY]),
)
MEMBERS = ("mei", "nan", "ou", "pei")


def deciding(
    *tasks: Task | tuple[Task, Answer],
    refused: Iterable[str] = (),
    decision_class: DecisionClass = STANDARD,
    round: int = 1,
) -> DecisionView:
    """A standard decision being voted on in ``round``."""
    return make_view(
        make_decision(State.DECIDING, round),
        decision_class=decision_class,
        tasks=tasks,
        actors=ACTORS,
        refused=refused,
    )


def ballot(member: str, answer: Answer | None = None, round: int = 1) -> Task | tuple[Task, Answer]:
    """A member's vote task: answered with ``answer``, or cancelled at its deadline."""
    if answer is None:
        return task(V, member, round, CANCELLED)
    return (task(V, member, round), answer)


def asked(*members: str, duration: timedelta = TWO_DAYS) -> list[Command]:
    return [Assign(V, (m,), (f"D-2026-0001:vote:1:{m}",), 1, duration) for m in members]


# -- who votes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tasks", "refused", "expected"),
    [
        pytest.param((), (), asked(*MEMBERS), id="every-member-in-id-order"),
        pytest.param(
            (task(V, "mei"), task(V, "ou", 1, CANCELLED)),
            ("D-2026-0001:vote:1:pei",),
            asked("nan"),
            id="assigned-and-refused-skipped",
        ),
        pytest.param(
            (),
            ("D-2026-0001:vote:2:mei",),
            asked(*MEMBERS),
            id="a-refusal-of-another-round-does-not-count",
        ),
    ],
)
def test_every_member_of_the_class_body_is_asked_to_vote_once(
    tasks: tuple[Task, ...], refused: tuple[str, ...], expected: list[Command]
) -> None:
    """Each member of the class's decision body without a vote task of the round, and not
    refused by the powers in this run, is assigned one, keyed by round and member."""
    assert next_commands(deciding(*tasks, refused=refused)) == expected


@pytest.mark.parametrize(
    ("dclass", "duration"),
    [
        pytest.param(STANDARD, TWO_DAYS, id="answer-shorter"),
        pytest.param(variant(durations={"vote": hours(36)}), hours(36), id="vote-shorter"),
    ],
)
def test_a_vote_is_due_within_the_shorter_of_answer_and_vote(
    dclass: DecisionClass, duration: timedelta
) -> None:
    """A vote task's duration is the shorter of ``answer`` and ``vote``."""
    assert next_commands(deciding(decision_class=dclass)) == asked(*MEMBERS, duration=duration)


def test_open_votes_are_waited_for() -> None:
    """With every member assigned or refused, the vote waits for exactly the open tasks."""
    view = deciding(
        task(V, "mei"),
        ballot("nan", vote()),
        task(V, "ou"),
        refused=["D-2026-0001:vote:1:pei"],
    )
    assert next_commands(view) == [Wait("decide", (task(V, "mei"), task(V, "ou")))]


# -- the tally --------------------------------------------------------------------------------

QUESTIONS = ("What do night shifts cost?", "How loud are the sweepers?")


@pytest.mark.parametrize(
    ("ballots", "refused", "outcome", "counted", "transition"),
    [
        pytest.param(
            [vote("approve")] * 3 + [vote("reject")],
            0,
            "approve",
            (0, 4, 4),
            Transition("approve", "D-2026-0001:resolution:1", {"with_amendments": False}),
            id="approve",
        ),
        pytest.param(
            [vote("approve_with_amendments")] * 2 + [vote("approve"), vote("reject")],
            0,
            "approve_with_amendments",
            (0, 4, 4),
            Transition("approve", "D-2026-0001:resolution:1", {"with_amendments": True}),
            id="approve-with-amendments",
        ),
        pytest.param(
            [vote("approve"), vote("reject"), vote("reject"), vote("return")],
            0,
            "reject",
            (0, 4, 4),
            Transition("reject", "D-2026-0001:resolution:1"),
            id="reject",
        ),
        pytest.param(
            [vote("approve"), vote("approve"), vote("reject"), vote("reject")],
            0,
            "reject",
            (0, 4, 4),
            Transition("reject", "D-2026-0001:resolution:1"),
            id="a-tie-rejects",
        ),
        pytest.param(
            [
                vote("approve"),
                vote("return", QUESTIONS[0]),
                vote("reject"),
                vote("return", QUESTIONS[1]),
            ],
            0,
            "return",
            (0, 4, 4),
            Transition(
                "return_to_consultation",
                "D-2026-0001:resolution:1",
                {"questions": "What do night shifts cost?; How loud are the sweepers?"},
            ),
            id="return-with-the-questions",
        ),
        pytest.param(
            [vote("approve"), None, None, None],
            0,
            "no_quorum",
            (0, 4, 1),
            Transition(
                "stall",
                stall_key("quorum:1"),
                {"reason": "Quorum missed: 1 of 4 eligible members voted, 2 were needed."},
            ),
            id="no-quorum",
        ),
        pytest.param(
            [vote("approve"), None, None],
            1,
            "no_quorum",
            (1, 3, 1),
            Transition(
                "stall",
                stall_key("quorum:1"),
                {"reason": "Quorum missed: 1 of 3 eligible members voted, 2 were needed."},
            ),
            id="a-refused-member-counts-as-recused",
        ),
        pytest.param(
            [vote("approve"), recusal(), None, None],
            0,
            "no_quorum",
            (1, 3, 1),
            Transition(
                "stall",
                stall_key("quorum:1"),
                {"reason": "Quorum missed: 1 of 3 eligible members voted, 2 were needed."},
            ),
            id="a-recusal-counts",
        ),
        pytest.param(
            [vote("approve"), vote("reject")],
            2,
            "reject",
            (2, 2, 2),
            Transition("reject", "D-2026-0001:resolution:1"),
            id="two-refused-leave-two-eligible",
        ),
        pytest.param(
            [vote("approve"), recusal()],
            2,
            "approve",
            (3, 1, 1),
            Transition("approve", "D-2026-0001:resolution:1", {"with_amendments": False}),
            id="refused-and-recused-together",
        ),
    ],
)
def test_the_tally_leads_to_its_resolution(
    ballots: list[Answer | None],
    refused: int,
    outcome: str,
    counted: tuple[int, int, int],
    transition: Transition,
) -> None:
    """A closed vote is tallied (refused members and recusals count as recused; a cancelled
    task is no vote) and leads to approval, rejection, a return with the returning members'
    questions, or a stall with the resolution's sentence."""
    voters, shut_out = MEMBERS[: len(ballots)], MEMBERS[len(ballots) :]
    assert len(shut_out) == refused
    view = deciding(
        *(ballot(m, b) for m, b in zip(voters, ballots, strict=True)),
        refused=[f"D-2026-0001:vote:1:{m}" for m in shut_out],
    )
    commands = next_commands(view)
    assert len(commands) == 2
    tallied, moved = commands
    assert isinstance(tallied, RecordTally)
    assert tallied.key == "D-2026-0001:tally:1"
    resolution = tallied.resolution
    assert resolution.outcome == outcome
    assert (resolution.recused, resolution.eligible, resolution.cast) == counted
    assert resolution.body_size == len(MEMBERS)
    assert tallied.against_consensus is False  # no expert gave an opinion
    assert moved == transition
    if outcome == "no_quorum":
        assert moved.reason == resolution.explain()


def test_the_tally_and_resolution_are_keyed_by_the_round() -> None:
    """A vote after a return is tallied and resolved under its own round's keys."""
    view = deciding(*(ballot(m, vote(), round=3) for m in MEMBERS), round=3)
    tallied, moved = next_commands(view)
    assert isinstance(tallied, RecordTally) and tallied.key == "D-2026-0001:tally:3"
    assert moved == Transition("approve", "D-2026-0001:resolution:3", {"with_amendments": False})


# -- against the experts' consensus -------------------------------------------------------------


def _opinions(round: int, *recommendations: str) -> list[tuple[Task, Opinion]]:
    return [(task(C, f"expert-{n}", round), opinion(r)) for n, r in enumerate(recommendations)]


APPROVING = _opinions(2, "approve", "approve_with_conditions", "reject")
REJECTING = _opinions(2, "reject", "reject", "approve")
BODY_APPROVES = [vote("approve")] * 3 + [vote("reject")]
BODY_REJECTS = [vote("approve")] + [vote("reject")] * 3


@pytest.mark.parametrize(
    ("consulted", "ballots", "against"),
    [
        pytest.param([], BODY_REJECTS, False, id="no-opinions"),
        pytest.param(APPROVING, BODY_APPROVES, False, id="experts-approve-body-approves"),
        pytest.param(APPROVING, BODY_REJECTS, True, id="experts-approve-body-rejects"),
        pytest.param(REJECTING, BODY_APPROVES, True, id="experts-reject-body-approves"),
        pytest.param(REJECTING, BODY_REJECTS, False, id="experts-reject-body-rejects"),
        pytest.param(
            _opinions(1, "approve", "approve", "approve") + REJECTING,
            BODY_APPROVES,
            True,
            id="the-latest-round-counts",
        ),
        pytest.param(
            REJECTING + _opinions(3, "approve", "approve", "approve"),
            BODY_REJECTS,
            True,
            id="the-latest-round-after-a-return-counts",
        ),
    ],
)
def test_the_tally_says_whether_it_goes_against_the_experts(
    consulted: list[tuple[Task, Opinion]], ballots: list[Answer], against: bool
) -> None:
    """The tally is flagged when the outcome goes against the majority recommendation of
    the latest consultation round with opinions."""
    round = max((t.round for t, _ in consulted), default=1)
    view = make_view(
        make_decision(State.DECIDING, round),
        tasks=[*consulted, *(ballot(m, b, round) for m, b in zip(MEMBERS, ballots, strict=True))],
        actors=ACTORS,
    )
    tallied, _ = next_commands(view)
    assert isinstance(tallied, RecordTally)
    assert tallied.against_consensus is against


@pytest.mark.parametrize("state", [s for s in State if s is not State.DECIDING])
def test_the_vote_does_nothing_outside_deciding(state: State) -> None:
    """The vote's rules give no command to a decision in any other state."""
    view = make_view(make_decision(state, 1), actors=ACTORS)
    assert vote_rules(view) == []
