"""Vote counting: quorum over eligible members, majorities, recusal, consensus checks."""

from __future__ import annotations

import pytest

from decisions.classes import load_classes
from decisions.model import Vote
from decisions.tally import against_consensus, tally

MAJOR = load_classes().get("major")  # quorum 2/3, two-thirds majority
STANDARD = load_classes().get("standard")  # quorum 0.5, simple majority


def votes(*choices: str) -> list[Vote]:
    return [Vote(choice=c, rationale="r") for c in choices]  # type: ignore[arg-type]


def test_quorum_missed() -> None:
    """Four of seven members is under a two-thirds quorum (five needed)."""
    r = tally(votes("approve") * 4, body_size=7, recused=0, decision_class=MAJOR)
    assert (r.outcome, r.needed_for_quorum) == ("no_quorum", 5)
    assert r.explain() == "Quorum missed: 4 of 7 eligible members voted, 5 were needed."


def test_recusal_shrinks_the_body_for_quorum() -> None:
    """With two members recused, four votes of five eligible meet a two-thirds quorum."""
    r = tally(
        votes("approve", "approve", "approve", "reject"),
        body_size=7,
        recused=2,
        decision_class=MAJOR,
    )
    assert (r.eligible, r.needed_for_quorum, r.outcome) == (5, 4, "approve")


@pytest.mark.parametrize(
    ("choices", "outcome"),
    [
        (("approve", "approve", "reject"), "approve"),  # 2 of 3 is two thirds
        (("approve", "reject", "reject"), "reject"),
        (("approve_with_amendments", "approve", "reject"), "approve_with_amendments"),
        (("approve", "return", "return"), "return"),
        (("approve", "reject", "return"), "reject"),
    ],
)
def test_two_thirds_majority(choices: tuple[str, ...], outcome: str) -> None:
    """A two-thirds class passes at exactly two thirds in favour."""
    assert tally(votes(*choices), body_size=3, recused=0, decision_class=MAJOR).outcome == outcome


def test_simple_majority_needs_more_than_half() -> None:
    """A tie is not a simple majority."""
    r = tally(votes("approve", "reject"), body_size=2, recused=0, decision_class=STANDARD)
    assert (r.passed, r.outcome) == (False, "reject")


def test_too_many_votes_is_an_error() -> None:
    """More votes than eligible members is refused."""
    with pytest.raises(ValueError, match="More votes"):
        tally(votes("approve") * 3, body_size=3, recused=1, decision_class=MAJOR)


@pytest.mark.parametrize(
    ("outcome", "recommendations", "expected"),
    [
        ("reject", {"approve": 2, "approve_with_conditions": 1}, True),
        ("return", {"approve_with_conditions": 3}, True),
        ("approve", {"approve_with_conditions": 3}, False),
        ("approve", {"reject": 2, "approve": 1}, True),
        ("reject", {"reject": 2, "approve": 1}, False),
        ("approve", {}, False),
    ],
)
def test_against_consensus(outcome: str, recommendations: dict[str, int], expected: bool) -> None:
    """Going against the experts' majority recommendation is detected."""
    assert against_consensus(outcome, recommendations) is expected


def test_vote_against_consensus_needs_justification() -> None:
    """Rejecting what the experts approved needs a written justification; agreeing does not."""
    from decisions.tally import vote_problem

    experts = {"approve_with_conditions": 3}
    reject = Vote(choice="reject", rationale="Too costly.")
    assert vote_problem(reject, experts) is not None
    justified = Vote(choice="reject", rationale="Too costly.", justification="Budget cut by 30%.")
    assert vote_problem(justified, experts) is None
    assert vote_problem(Vote(choice="approve", rationale="ok"), experts) is None
