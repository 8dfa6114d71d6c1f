"""Separation of powers: the allow/deny matrix of roles × actions and each rule's refusal."""

from __future__ import annotations

import pytest

from decisions.model import Actor, Role
from decisions.powers import ROLES_FOR_ACTION, Action, Parties, may

D = "D-2026-0001"
NEUTRAL = Parties(decision_id=D, planner_id="li-wei")


def actor(actor_id: str = "wang-fang", *roles: Role, orgs: tuple[str, ...] = ()) -> Actor:
    return Actor(
        id=actor_id,
        name=actor_id.replace("-", " ").title(),
        roles=frozenset(roles or Role),
        affiliations=orgs,
    )


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_matrix(role: Role, action: Action) -> None:
    """An uninvolved actor with one role may do exactly the actions that role grants."""
    ruling = may(actor("someone", role), action, NEUTRAL)
    grants = role in ROLES_FOR_ACTION[action]
    if action in {Action.AMEND, Action.WITHDRAW}:
        grants = False  # only the decision's own planner, tested below
    if action is Action.RESUME and role is Role.PLANNER:
        grants = False  # only the decision's own planner (or a manager), tested below
    assert ruling.allowed is grants
    if not grants:
        assert ruling.reason.endswith(".")
        assert ruling.rule in {"role", "planner-only"}


@pytest.mark.parametrize("action", [Action.AMEND, Action.WITHDRAW])
def test_only_the_filing_planner_amends_or_withdraws(action: Action) -> None:
    """The planner who filed may amend and withdraw; another planner may not."""
    assert may(actor("li-wei", Role.PLANNER), action, NEUTRAL).allowed
    other = may(actor("zhou-min", Role.PLANNER), action, NEUTRAL)
    assert not other.allowed
    verb = "amend" if action is Action.AMEND else "withdraw"
    assert other.reason == (
        f"Only the planner who filed decision {D} may {verb} it; Zhou Min did not file it."
    )


def test_only_the_filing_planner_or_a_manager_resumes() -> None:
    """A stalled decision is resumed by its own planner or a manager, not by another planner."""
    assert may(actor("li-wei", Role.PLANNER), Action.RESUME, NEUTRAL).allowed
    assert may(actor("auditor-qian", Role.MANAGER), Action.RESUME, NEUTRAL).allowed
    other = may(actor("zhou-min", Role.PLANNER), Action.RESUME, NEUTRAL)
    assert other.reason == (
        f"Only the planner who filed decision {D} or a manager may resume it; Zhou Min is neither."
    )


@pytest.mark.parametrize(
    ("action", "allowed"),
    [(Action.VOTE, False), (Action.INSPECT, False), (Action.DISCUSS, True), (Action.EXECUTE, True)],
)
def test_planner_cannot_vote_on_or_accept_their_own_proposal(action: Action, allowed: bool) -> None:
    """The planner holding every role still may not vote on or accept their own proposal."""
    ruling = may(actor("li-wei"), action, NEUTRAL)
    assert ruling.allowed is allowed
    if not allowed:
        assert ruling.rule == "own-proposal"
        assert ruling.reason.startswith(f"Li Wei filed decision {D}, so they may not")


GROUPS = {
    Action.CONSULT: "consulted",
    Action.VOTE: "voters",
    Action.EXECUTE: "executors",
    Action.INSPECT: "inspectors",
}


@pytest.mark.parametrize("held", list(GROUPS))
@pytest.mark.parametrize("wanted", list(GROUPS))
def test_the_four_groups_are_kept_apart(held: Action, wanted: Action) -> None:
    """Whoever consults, votes, executes or inspects a decision does none of the others."""
    parties = Parties(
        decision_id=D, planner_id="li-wei", **{GROUPS[held]: frozenset({"wang-fang"})}
    )
    ruling = may(actor("wang-fang"), wanted, parties)
    if held is wanted:
        assert ruling.allowed
    else:
        assert not ruling.allowed
        assert ruling.rule == "separation"
        assert "kept apart" in ruling.reason


def test_consulted_expert_refusal_reads_well() -> None:
    """A consulted expert asking to vote is told why in one sentence."""
    parties = Parties(decision_id=D, planner_id="li-wei", consulted=frozenset({"wang-fang"}))
    assert may(actor("wang-fang"), "vote", parties).reason == (
        f"Wang Fang advised on decision {D} as a consulted expert, so they may not also vote on "
        "it: advising, deciding, executing and inspecting are kept apart."
    )


def test_executor_cannot_inspect_their_own_work() -> None:
    """An executor of the decision may not inspect it."""
    parties = Parties(decision_id=D, planner_id="li-wei", executors=frozenset({"wang-fang"}))
    ruling = may(actor("wang-fang", Role.EXECUTOR, Role.INSPECTOR), "inspect", parties)
    assert (ruling.allowed, ruling.rule) == (False, "separation")


@pytest.mark.parametrize("stake", ["stakeholder_orgs", "bidder_orgs", "executor_orgs"])
@pytest.mark.parametrize(
    ("action", "conflicted"),
    [
        (Action.CONSULT, True),
        (Action.VOTE, True),
        (Action.INSPECT, True),
        (Action.EXECUTE, False),
        (Action.DISCUSS, False),
    ],
)
def test_affiliation_with_an_interested_organisation_is_a_conflict(
    stake: str, action: Action, conflicted: bool
) -> None:
    """Affiliation with a stakeholder, bidder or executor conflicts consult, vote and inspect."""
    parties = Parties(decision_id=D, planner_id="li-wei", **{stake: frozenset({"cleanco"})})
    ruling = may(actor("wang-fang", orgs=("tongji", "cleanco")), action, parties)
    assert ruling.allowed is not conflicted
    if conflicted:
        assert ruling.rule == "conflict"
        assert "affiliated with cleanco" in ruling.reason
        assert "conflict of interest" in ruling.reason


def test_unrelated_affiliation_is_no_conflict() -> None:
    """An organisation with no stake in the decision does not conflict anyone."""
    parties = Parties(decision_id=D, planner_id="li-wei", bidder_orgs=frozenset({"cleanco"}))
    assert may(actor("wang-fang", Role.EXPERT, orgs=("tongji",)), "consult", parties).allowed


def test_action_names_are_accepted_as_strings_and_unknown_ones_fail() -> None:
    """Callers may pass the action's name; an unknown name is a programming error."""
    assert may(actor("x1", Role.EXPERT), "consult", NEUTRAL).allowed
    with pytest.raises(ValueError, match="'bribe' is not a valid Action"):
        may(actor("x1", Role.EXPERT), "bribe", NEUTRAL)
