"""The forms people fill in the Prefect UI's Resume dialog (and the CLI's answer files).

Each form is a ``RunInput`` whose constraints live in ``Field``/``Literal``, so Prefect's
server refuses malformed input (a rating of 12, a missing rationale, a badly shaped answer
code, text too long or holding control characters — :mod:`decisions.text`) before the
run resumes. Business checks — right person, task still open, code valid,
the powers policy — happen in the flow, which reopens the form with the reason.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from prefect.input import RunInput
from pydantic import Field, create_model

from decisions.model import (
    Acceptance,
    Answer,
    Comment,
    Opinion,
    ProgressReport,
    Recusal,
    TaskKind,
    Vote,
)
from decisions.text import LongText, Reason

__all__ = [
    "AnswerForm",
    "ExpertOpinionForm",
    "CommentForm",
    "VoteForm",
    "ProgressForm",
    "AcceptanceForm",
    "form_for",
    "ANSWER_CODE_PATTERN",
    "personal_form",
]

ANSWER_CODE_PATTERN = r"^[A-Z2-9]{5}-[A-Z2-9]{5}$"


def _lines(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.replace(";", "\n").splitlines() if part.strip())


class AnswerForm(RunInput):
    """What every answer carries: who answers and the task's answer code."""

    your_id: str = Field(
        min_length=2, max_length=63, title="Your Counsel id", description="e.g. wang-fang"
    )
    answer_code: str = Field(
        pattern=ANSWER_CODE_PATTERN,
        title="Answer code",
        description="The code you received with this task, like ABCDE-23456.",
    )

    def to_answer(self) -> Answer:  # pragma: no cover - every form overrides it
        raise NotImplementedError


class ExpertOpinionForm(AnswerForm):
    """An expert's opinion; one 1–9 rating field per criterion of the decision's class."""

    recommendation: Literal["approve", "approve_with_conditions", "reject"]
    conditions: Reason = Field(default="", description="One condition per line (optional).")
    rationale: LongText = Field(min_length=1, description="Why you recommend this.")

    def to_answer(self) -> Answer:
        ratings = {
            name.removeprefix("rating_"): int(value)
            for name, value in self.model_dump().items()
            if name.startswith("rating_")
        }
        return Opinion(
            recommendation=self.recommendation,
            ratings=ratings,
            conditions=_lines(self.conditions),
            rationale=self.rationale,
        )


class CommentForm(AnswerForm):
    """A position in discussion."""

    stance: Literal["support", "support_with_changes", "oppose", "neutral"]
    text: LongText = Field(min_length=1, description="Your position and comments.")

    def to_answer(self) -> Answer:
        return Comment(stance=self.stance, text=self.text)


class VoteForm(AnswerForm):
    """A member's vote, or a recusal when they have a conflict."""

    choice: Literal["approve", "approve_with_amendments", "reject", "return", "recuse"]
    rationale: LongText = Field(
        min_length=1, description="Your reasons (or the conflict, to recuse)."
    )
    justification: Reason = Field(
        default="", description="Required when your vote goes against the experts' consensus."
    )

    def to_answer(self) -> Answer:
        if self.choice == "recuse":
            return Recusal(reason=self.rationale)
        return Vote(
            choice=self.choice, rationale=self.rationale, justification=self.justification or None
        )


class ProgressForm(AnswerForm):
    """An executor's progress report."""

    percent_complete: int = Field(ge=0, le=100)
    text: LongText = Field(min_length=1, description="What was done, and what remains.")
    measures_done: Reason = Field(default="", description="Measures completed, one per line.")

    def to_answer(self) -> Answer:
        return ProgressReport(
            percent_complete=self.percent_complete,
            text=self.text,
            measures_done=_lines(self.measures_done),
        )


class AcceptanceForm(AnswerForm):
    """An inspector's verdict on executed work."""

    verdict: Literal["accept", "reject"]
    findings: LongText = Field(min_length=1, description="What you checked and found.")

    def to_answer(self) -> Answer:
        return Acceptance(verdict=self.verdict, findings=self.findings)


def _opinion_form(criteria: tuple[str, ...]) -> type[ExpertOpinionForm]:
    fields: dict[str, Any] = {
        f"rating_{c}": (
            int,
            Field(ge=1, le=9, title=c.replace("_", " ").capitalize(), description="1 (poor) to 9"),
        )
        for c in criteria
    }
    form: type[ExpertOpinionForm] = create_model(
        "ExpertOpinionForm", __base__=ExpertOpinionForm, **fields
    )
    return form


def form_for(kind: TaskKind, criteria: tuple[str, ...] = ()) -> type[AnswerForm]:
    """The form class for a task of ``kind`` (opinions get the class's criteria)."""
    if kind is TaskKind.CONSULT:
        return _opinion_form(criteria)
    forms: dict[TaskKind, type[AnswerForm]] = {
        TaskKind.DISCUSS: CommentForm,
        TaskKind.VOTE: VoteForm,
        TaskKind.EXECUTE: ProgressForm,
        TaskKind.INSPECT: AcceptanceForm,
    }
    return forms[kind]


def personal_form(kind: TaskKind, criteria: tuple[str, ...], person: str) -> type[AnswerForm]:
    """The task's form with ``your_id`` filled in for ``person`` and its constraints kept
    (``with_initial_data`` would replace the field with a bare default)."""
    form_class = form_for(kind, criteria)
    personal = create_model(
        form_class.__name__,
        __base__=form_class,
        your_id=(
            str,
            Field(
                default=person,
                min_length=2,
                max_length=63,
                title="Your Counsel id",
                description="e.g. wang-fang",
            ),
        ),
    )
    return cast(type[AnswerForm], personal)  # create_model's type is its own, a subclass
