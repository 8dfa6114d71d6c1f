"""The decision lifecycle: every action from every state, legal and illegal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from decisions.exceptions import DecisionError, InvalidProposal, InvalidTransition
from decisions.model import TRANSITIONS, WITHDRAWABLE_WHEN_STALLED_IN, Decision, State

ARGUMENTS: dict[str, dict[str, Any]] = {
    "return_to_consultation": {"questions": "What does the second street cost?"},
    "withdraw": {"reason": "The bureau found a cheaper option."},
    "stall": {"reason": "Only 2 of 5 experts answered."},
    "amend": {"title": "Amended title", "text": "Amended text", "author_id": "li-wei"},
}
ACTIONS = list(TRANSITIONS)


def make_decision(state: State = State.SUBMITTED, **fields: Any) -> Decision:
    decision = Decision.file(
        id="D-2026-0001",
        title="Marketise road cleaning on two streets",
        description="Contract out the cleaning of Jianshe Road and Renmin Street.",
        class_name="major",
        district="east",
        planner_id="li-wei",
        topics=["street-cleaning"],
    )
    decision.state = state
    for key, value in fields.items():
        setattr(decision, key, value)
    decision.events.clear()
    return decision


def run(decision: Decision, action: str) -> None:
    getattr(decision, action)(**ARGUMENTS.get(action, {}))


LEGAL = [
    (action, state)
    for action, (sources, _) in TRANSITIONS.items()
    for state in State
    if state in sources
]
ILLEGAL = [
    (action, state)
    for action, (sources, _) in TRANSITIONS.items()
    for state in State
    if state not in sources
]


def test_filing_records_the_first_version_and_a_submitted_event() -> None:
    """A filed decision is submitted, has proposal version 1 and one 'submitted' event."""
    decision = Decision.file(
        id="D-2026-0007",
        title="Redraw cleaning zones",
        description="Merge zones 3 and 4.",
        class_name="standard",
        district="middle",
        planner_id="li-wei",
        text="Full text of the proposal.",
    )
    assert decision.state is State.SUBMITTED
    assert [v.number for v in decision.versions] == [1]
    assert decision.current_version.text == "Full text of the proposal."
    assert [e.name for e in decision.events] == ["decision.submitted"]


@pytest.mark.parametrize(("action", "state"), LEGAL)
def test_legal_transition_moves_to_its_target_and_records_one_event(
    action: str, state: State
) -> None:
    """Each action allowed from a state leads where the table says and records one event."""
    stalled_from = State.DISCUSSING if state is State.STALLED else None
    decision = make_decision(state, stalled_from=stalled_from, round=1)
    run(decision, action)
    target = TRANSITIONS[action][1]
    if action == "resume":
        target = State.DISCUSSING
    if action == "amend":
        target = state
    assert decision.state is target
    assert len(decision.events) == 1
    assert decision.events[0].name.startswith("decision.")


@pytest.mark.parametrize(("action", "state"), ILLEGAL)
def test_illegal_transition_names_the_state_and_the_action(action: str, state: State) -> None:
    """An action not allowed from a state raises InvalidTransition and changes nothing."""
    decision = make_decision(state)
    with pytest.raises(InvalidTransition, match=f"is '{state.value}', so it cannot") as info:
        run(decision, action)
    assert action.replace("_", " ") in str(info.value)
    assert info.value.state == state.value
    assert info.value.action == action
    assert decision.state is state
    assert decision.events == []


def test_illegal_transition_lists_what_is_possible() -> None:
    """The refusal tells the planner which actions the current state allows."""
    decision = make_decision(State.CONSULTING)
    with pytest.raises(
        InvalidTransition,
        match=r"from 'consulting' it can only: next_round, open_discussion, withdraw, stall\.",
    ):
        decision.approve()


def test_final_state_says_it_is_final() -> None:
    """A closed decision refuses everything and says it is final."""
    decision = make_decision(State.CLOSED)
    with pytest.raises(InvalidTransition, match=r"nothing \(it is final\)"):
        decision.start_consultation()


def test_rounds_count_up_and_stop_at_max_rounds() -> None:
    """Consultation starts in round 1, next_round counts up, and max_rounds is a hard stop."""
    decision = make_decision()
    decision.start_consultation()
    decision.next_round(max_rounds=3)
    decision.next_round(max_rounds=3)
    assert decision.round == 3
    with pytest.raises(DecisionError, match="already in round 3 of at most 3"):
        decision.next_round(max_rounds=3)


def test_return_then_consult_again_continues_round_numbering() -> None:
    """A returned decision is consulted again in a new round, not from round 1."""
    decision = make_decision(State.DECIDING, round=2)
    decision.return_to_consultation("Please cost the night shift.")
    assert decision.state_reason == "Please cost the night shift."
    decision.start_consultation()
    assert (decision.state, decision.round) == (State.CONSULTING, 3)


def test_return_needs_questions() -> None:
    """The body cannot return a proposal without saying what it wants answered."""
    with pytest.raises(InvalidProposal, match="needs the body's questions"):
        make_decision(State.DECIDING).return_to_consultation("  ")


def test_stall_keeps_reason_and_resume_goes_back_to_the_stage() -> None:
    """A stalled decision shows why and resumes in the stage where it stalled."""
    decision = make_decision(State.DECIDING)
    decision.stall("Quorum missed: 3 of 7 members voted.")
    assert decision.state is State.STALLED
    assert decision.state_reason == "Quorum missed: 3 of 7 members voted."
    decision.resume()
    assert decision.state is State.DECIDING
    assert decision.stalled_from is None


def test_stall_needs_a_reason() -> None:
    """A stage cannot stall silently."""
    with pytest.raises(DecisionError, match="needs a reason"):
        make_decision(State.CONSULTING).stall("")


def test_withdraw_after_stalling_in_the_vote_is_refused() -> None:
    """Withdrawal is only before the vote, even when the vote stalled."""
    decision = make_decision(State.DECIDING)
    decision.stall("Quorum missed.")
    with pytest.raises(InvalidTransition, match="stalled in deciding"):
        decision.withdraw("Changed our mind.")


def test_amend_adds_numbered_versions() -> None:
    """Amendments are new numbered versions and the first text is kept."""
    decision = make_decision(State.DISCUSSING)
    decision.amend(title="v2", text="Second text", author_id="li-wei", note="Night shifts")
    decision.amend(title="v3", text="Third text", author_id="li-wei")
    assert [v.number for v in decision.versions] == [1, 2, 3]
    assert decision.versions[0].title == "Marketise road cleaning on two streets"
    assert decision.title == "v3"


class LifecycleMachine(RuleBasedStateMachine):
    """Random walks through the lifecycle keep the state inside the transition table."""

    def __init__(self) -> None:
        super().__init__()
        self.decision = make_decision()
        self.seen_events = 0

    @rule(action=st.sampled_from(ACTIONS))
    def attempt(self, action: str) -> None:
        before = self.decision.state
        legal = before in TRANSITIONS[action][0]
        if action == "withdraw" and before is State.STALLED:
            legal = self.decision.stalled_from in WITHDRAWABLE_WHEN_STALLED_IN
        try:
            run(self.decision, action)
        except InvalidTransition:
            assert not legal
            assert self.decision.state is before
        else:
            assert legal
            self.seen_events += 1

    @precondition(lambda self: self.decision.state is State.CONSULTING)
    @rule()
    def bounded_round(self) -> None:
        try:
            self.decision.next_round(max_rounds=3)
        except InvalidTransition:  # pragma: no cover - precondition makes it legal
            raise
        except DecisionError:
            assert self.decision.round >= 3
        else:
            self.seen_events += 1

    @invariant()
    def one_event_per_successful_action(self) -> None:
        assert len(self.decision.events) == self.seen_events

    @invariant()
    def final_states_have_no_way_out(self) -> None:
        if self.decision.is_final:
            assert self.decision.allowed_actions() == ()


TestLifecycleMachine = LifecycleMachine.TestCase
