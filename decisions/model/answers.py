"""Answers: what a person hands in for a task, one frozen model per kind of task.

Each model carries a ``kind`` literal, so a stored answer is read back into the right model
by that field alone (the :data:`Answer` union is discriminated on it), and
:data:`ANSWER_TYPES` says which answers each :class:`~decisions.model.tasks.TaskKind` takes.

>>> Recusal(reason="I advised the bidder last year.").kind
'recusal'
>>> ANSWER_TYPES[TaskKind.VOTE] == (Vote, Recusal)
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from decisions.model.tasks import TaskKind
from decisions.text import Line, LongText, Reason

__all__ = [
    "Recommendation",
    "Opinion",
    "Comment",
    "Vote",
    "Recusal",
    "ProgressReport",
    "Acceptance",
    "BidScores",
    "Declination",
    "WitnessEntry",
    "WITNESS_VALUE_MAX",
    "Answer",
    "ANSWER_TYPES",
]


Recommendation = Literal["approve", "approve_with_conditions", "reject"]


class Opinion(BaseModel, frozen=True):
    """An expert's structured opinion in one consultation round."""

    kind: Literal["opinion"] = "opinion"
    recommendation: Recommendation
    ratings: dict[str, int] = Field(description="1-9 rating per criterion of the class")
    conditions: tuple[Line, ...] = Field(default=(), max_length=100)
    rationale: LongText = Field(min_length=1)
    ranking: tuple[Line, ...] = Field(default=(), max_length=100)

    @field_validator("ratings")
    @classmethod
    def _check_ratings(cls, value: dict[str, int]) -> dict[str, int]:
        for criterion, rating in value.items():
            if not 1 <= rating <= 9:
                raise ValueError(f"rating for {criterion!r} must be 1 to 9, not {rating}")
        return value

    def check_criteria(self, criteria: list[str] | tuple[str, ...]) -> None:
        """Raise ``ValueError`` unless the ratings cover exactly the class's criteria."""
        missing = [c for c in criteria if c not in self.ratings]
        extra = [c for c in self.ratings if c not in criteria]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("not criteria of this class: " + ", ".join(extra))
            raise ValueError("The ratings are incomplete: " + "; ".join(parts) + ".")


class Comment(BaseModel, frozen=True):
    """A position in discussion."""

    kind: Literal["comment"] = "comment"
    stance: Literal["support", "support_with_changes", "oppose", "neutral"]
    text: LongText = Field(min_length=1)


class Vote(BaseModel, frozen=True):
    """A decision-body member's vote; against the experts' consensus it needs a justification."""

    kind: Literal["vote"] = "vote"
    choice: Literal["approve", "approve_with_amendments", "reject", "return"]
    rationale: LongText = Field(min_length=1)
    justification: Reason | None = None


class Recusal(BaseModel, frozen=True):
    """A member steps aside from a vote because of a conflict."""

    kind: Literal["recusal"] = "recusal"
    reason: LongText = Field(min_length=1)


class ProgressReport(BaseModel, frozen=True):
    """An executor's report on an execution task."""

    kind: Literal["progress"] = "progress"
    percent_complete: int = Field(ge=0, le=100)
    text: LongText = Field(min_length=1)
    measures_done: tuple[Line, ...] = Field(default=(), max_length=100)


class Acceptance(BaseModel, frozen=True):
    """An inspector's verdict on executed work."""

    kind: Literal["acceptance"] = "acceptance"
    verdict: Literal["accept", "reject"]
    findings: LongText = Field(min_length=1)


#: The longest value a witness may enter (a notarial certificate number, a lottery result).
WITNESS_VALUE_MAX = 64


class BidScores(BaseModel, frozen=True):
    """A tender evaluator's points for each qualified bid of their lots: bid id to criterion
    to points (0-100) on the class's evaluator criteria, with a rationale. Which bids and
    criteria an evaluator owes is the tender's to check (``decisions.tender.check_scores``)."""

    kind: Literal["scores"] = "scores"
    scores: dict[str, dict[str, int]] = Field(max_length=500)
    rationale: LongText = Field(min_length=1)

    @field_validator("scores")
    @classmethod
    def _check_points(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for bid, points in value.items():
            for criterion, given in points.items():
                if not 0 <= given <= 100:
                    raise ValueError(
                        f"points for {criterion!r} of bid {bid!r} must be 0 to 100, not {given}"
                    )
        return value


class Declination(BaseModel, frozen=True):
    """A drawn evaluator declines (a conflict with a bidder, unavailability); the next
    alternate of the draw takes their place."""

    kind: Literal["declination"] = "declination"
    reason: Reason = Field(min_length=1)


class WitnessEntry(BaseModel, frozen=True):
    """The value a witness enters after a tender's pool is fixed; the draw's seed mixes it
    in, so nobody running Counsel can choose the seed."""

    kind: Literal["witness"] = "witness"
    value: str = Field(min_length=1, max_length=WITNESS_VALUE_MAX)

    @field_validator("value")
    @classmethod
    def _printable(cls, value: str) -> str:
        value = value.strip()
        if not value or not value.isprintable():
            raise ValueError(
                "the witness value is one line of printable characters, such as a "
                "notarial certificate number"
            )
        return value


Answer = (
    Opinion
    | Comment
    | Vote
    | Recusal
    | ProgressReport
    | Acceptance
    | BidScores
    | Declination
    | WitnessEntry
)

#: Which answers each kind of task takes.
ANSWER_TYPES: dict[TaskKind, tuple[type[BaseModel], ...]] = {
    TaskKind.CONSULT: (Opinion,),
    TaskKind.DISCUSS: (Comment,),
    TaskKind.VOTE: (Vote, Recusal),
    TaskKind.EXECUTE: (ProgressReport,),
    TaskKind.INSPECT: (Acceptance,),
    TaskKind.SCORE: (BidScores, Declination),
    TaskKind.WITNESS: (WitnessEntry,),
}
