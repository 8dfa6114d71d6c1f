"""Counting a decision body's votes into a resolution: quorum, majority, recusal.

Recused members leave the body for this vote: quorum is a share of the members who remain.
Votes in favour are ``approve`` and ``approve_with_amendments``; the motion passes when the
class's majority of votes cast is in favour. If it passes, the resolution is approval with
amendments when at least as many favourable votes asked for amendments as not; if it fails,
it is a return to consultation when more members asked for that than rejected outright.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from decisions.classes import DecisionClass
from decisions.model import Vote

__all__ = ["Resolution", "tally", "against_consensus", "vote_problem"]

Outcome = Literal["approve", "approve_with_amendments", "reject", "return", "no_quorum"]
FAVOUR = frozenset({"approve", "approve_with_amendments"})


class Resolution(BaseModel, frozen=True):
    outcome: Outcome
    body_size: int
    recused: int
    eligible: int
    cast: int
    needed_for_quorum: int
    counts: dict[str, int]
    in_favour: int
    passed: bool

    def explain(self) -> str:
        """One sentence for the planner and the minutes."""
        if self.outcome == "no_quorum":
            return (
                f"Quorum missed: {self.cast} of {self.eligible} eligible members voted, "
                f"{self.needed_for_quorum} were needed."
            )
        verdict = "passed" if self.passed else "failed"
        return (
            f"{self.cast} of {self.eligible} eligible members voted ({self.recused} recused); "
            f"{self.in_favour} in favour, so the motion {verdict}: "
            f"{self.outcome.replace('_', ' ')}."
        )


def _passes(in_favour: int, cast: int, majority: str) -> bool:
    if majority == "unanimous":
        return in_favour == cast
    if majority == "two_thirds":
        return 3 * in_favour >= 2 * cast
    return 2 * in_favour > cast


def tally(
    votes: Sequence[Vote], *, body_size: int, recused: int, decision_class: DecisionClass
) -> Resolution:
    """Count ``votes`` of a body of ``body_size`` members, ``recused`` of whom stepped aside.

    Examples
    --------
    >>> from decisions.classes import load_classes
    >>> standard = load_classes().get("standard")
    >>> r = tally([Vote(choice="approve", rationale="ok")] * 2, body_size=4, recused=0,
    ...           decision_class=standard)
    >>> (r.outcome, r.passed)
    ('approve', True)
    """
    if recused > body_size or len(votes) > body_size - recused:
        raise ValueError("More votes and recusals than the body has members.")
    eligible = body_size - recused
    needed = max(1, math.ceil(decision_class.quorum * eligible - 1e-9))
    counts: Counter[str] = Counter(v.choice for v in votes)
    cast = len(votes)
    in_favour = sum(counts[c] for c in FAVOUR)
    base: dict[str, Any] = {
        "body_size": body_size,
        "recused": recused,
        "eligible": eligible,
        "cast": cast,
        "needed_for_quorum": needed,
        "counts": dict(sorted(counts.items())),
        "in_favour": in_favour,
    }
    if cast < needed:
        return Resolution(outcome="no_quorum", passed=False, **base)
    passed = _passes(in_favour, cast, decision_class.majority)
    outcome: Outcome
    if passed:
        amended = counts["approve_with_amendments"] >= counts["approve"]
        outcome = "approve_with_amendments" if amended else "approve"
    else:
        outcome = "return" if counts["return"] > counts["reject"] else "reject"
    return Resolution(outcome=outcome, passed=passed, **base)


def against_consensus(outcome: str, recommendations: dict[str, int]) -> bool:
    """Whether a body's outcome goes against the experts' majority recommendation.

    Experts who approve (with or without conditions) and a body that rejects or returns,
    or experts who reject and a body that approves, need a written justification.
    """
    if not recommendations:
        return False
    favour = sum(n for r, n in recommendations.items() if r != "reject")
    experts_approve = 2 * favour > sum(recommendations.values())
    experts_reject = 2 * recommendations.get("reject", 0) > sum(recommendations.values())
    body_approves = outcome in FAVOUR
    return (experts_approve and not body_approves) or (experts_reject and body_approves)


def vote_problem(vote: Vote, recommendations: dict[str, int]) -> str | None:
    """Why a vote cannot be accepted as it is, or None.

    A member who votes against the experts' majority recommendation must write a
    justification: the power to decide is separate from the power to advise, but not free
    of the duty to answer the advice.
    """
    outcome = "return" if vote.choice == "return" else vote.choice
    if against_consensus(outcome, recommendations) and not (vote.justification or "").strip():
        return (
            "Your vote goes against the experts' consensus; write a justification explaining why "
            "before it can be recorded."
        )
    return None
