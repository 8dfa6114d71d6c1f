"""The decision lifecycle as one table: which action may start from which state, and where it leads.

The table drives both the moves of :class:`~decisions.model.decision.Decision` and the
sentence :class:`~decisions.exceptions.InvalidTransition` gives for a refused one (the actions
still allowed), so the two cannot disagree::

    submitted -> consulting (round 1..n) -> discussing -> deciding -> approved -> executing
              -> accepted -> closed

with ``rejected``, ``returned`` (back to consulting), ``withdrawn`` and ``stalled`` as the
other exits. Each action has one past-tense event name, which becomes the audit action
``decision.<name>``.

>>> TRANSITIONS["open_vote"] == (frozenset({State.DISCUSSING}), State.DECIDING)
True
>>> EVENT_NAMES["return_to_consultation"]
'returned'
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["State", "TRANSITIONS", "WITHDRAWABLE_WHEN_STALLED_IN", "EVENT_NAMES"]


class State(StrEnum):
    SUBMITTED = "submitted"
    CONSULTING = "consulting"
    DISCUSSING = "discussing"
    DECIDING = "deciding"
    APPROVED = "approved"
    EXECUTING = "executing"
    ACCEPTED = "accepted"
    CLOSED = "closed"
    REJECTED = "rejected"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    STALLED = "stalled"


#: action -> (states it may start from, state it leads to). ``next_round`` stays in consulting;
#: ``resume`` returns a stalled decision to the stage it stalled in (``None`` here).
TRANSITIONS: dict[str, tuple[frozenset[State], State | None]] = {
    "start_consultation": (frozenset({State.SUBMITTED, State.RETURNED}), State.CONSULTING),
    "next_round": (frozenset({State.CONSULTING}), State.CONSULTING),
    "open_discussion": (frozenset({State.CONSULTING}), State.DISCUSSING),
    "open_vote": (frozenset({State.DISCUSSING}), State.DECIDING),
    "approve": (frozenset({State.DECIDING}), State.APPROVED),
    "reject": (frozenset({State.DECIDING}), State.REJECTED),
    "return_to_consultation": (frozenset({State.DECIDING}), State.RETURNED),
    "start_execution": (frozenset({State.APPROVED}), State.EXECUTING),
    "accept_execution": (frozenset({State.EXECUTING}), State.ACCEPTED),
    "close": (frozenset({State.ACCEPTED}), State.CLOSED),
    "withdraw": (
        frozenset(
            {State.SUBMITTED, State.CONSULTING, State.DISCUSSING, State.RETURNED, State.STALLED}
        ),
        State.WITHDRAWN,
    ),
    "stall": (
        frozenset(
            {
                State.SUBMITTED,
                State.RETURNED,
                State.CONSULTING,
                State.DISCUSSING,
                State.DECIDING,
                State.APPROVED,
                State.EXECUTING,
            }
        ),
        State.STALLED,
    ),
    "resume": (frozenset({State.STALLED}), None),
    # Not a state change, but only allowed where the planner may still change the text.
    "amend": (frozenset({State.SUBMITTED, State.DISCUSSING}), None),
}

#: A stalled decision may be withdrawn only if it stalled before the vote.
WITHDRAWABLE_WHEN_STALLED_IN = frozenset(
    {State.SUBMITTED, State.RETURNED, State.CONSULTING, State.DISCUSSING}
)

#: Past-tense event names, one per action; each becomes an audit action ``decision.<name>``.
EVENT_NAMES: dict[str, str] = {
    "start_consultation": "consultation_started",
    "next_round": "round_started",
    "open_discussion": "discussion_opened",
    "open_vote": "vote_opened",
    "approve": "approved",
    "reject": "rejected",
    "return_to_consultation": "returned",
    "start_execution": "execution_started",
    "accept_execution": "execution_accepted",
    "close": "closed",
    "withdraw": "withdrawn",
    "stall": "stalled",
    "resume": "resumed",
    "amend": "amended",
}
