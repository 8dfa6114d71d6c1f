"""The forms people fill in the Prefect UI's Resume dialog (and the CLI's answer files).

Each form is a ``RunInput`` whose constraints live in ``Field``/``Literal``, so Prefect's
server refuses malformed input (a rating of 12, a missing rationale, a badly shaped answer
code, text too long or holding control characters — :mod:`decisions.text`) before the
run resumes. Business checks — task still open, code valid, the powers policy — happen in
the flow, which reopens the form with the reason.

A form never asks who answers: the person's run knows its assignee, the CLI its token's
actor, the answer page its link's. :func:`personal_form` is the form as its person sees it
in the Prefect UI, in their language, with the decision class's labels for criteria and
choices (:class:`decisions.classes.Labels`); :data:`FIELD_TEXTS` names every field for both
that form and the answer page (:mod:`flows.web`).
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal, cast

from prefect.input import RunInput
from pydantic import Field, create_model, model_validator

from decisions.classes import CHOICES, Labels
from decisions.model import (
    WITNESS_VALUE_MAX,
    Acceptance,
    Answer,
    BidScores,
    Comment,
    Declination,
    Opinion,
    ProgressReport,
    Recusal,
    TaskKind,
    Vote,
    WitnessEntry,
)
from decisions.text import SAFE_TEXT_PATTERN, LongText, Reason
from flows.web.catalogue import text

__all__ = [
    "AnswerForm",
    "ExpertOpinionForm",
    "CommentForm",
    "VoteForm",
    "ProgressForm",
    "AcceptanceForm",
    "ScoresForm",
    "WitnessForm",
    "score_cells",
    "form_for",
    "ANSWER_CODE_PATTERN",
    "FieldText",
    "FIELD_TEXTS",
    "LIST_FIELDS",
    "split_lines",
    "personal_form",
    "with_typed",
]

ANSWER_CODE_PATTERN = r"^[A-Z2-9]{5}-[A-Z2-9]{5}$"


def split_lines(text: str) -> tuple[str, ...]:
    """A list field's items: one per line (or per ``;``), blank ones left out."""
    return tuple(part.strip() for part in text.replace(";", "\n").splitlines() if part.strip())


class AnswerForm(RunInput):
    """What every answer carries: the task's answer code (who answers, the channel knows)."""

    #: whose form this is (:func:`personal_form`); never asked
    person: ClassVar[str | None] = None

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
            conditions=split_lines(self.conditions),
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
            measures_done=split_lines(self.measures_done),
        )


class AcceptanceForm(AnswerForm):
    """An inspector's verdict on executed work."""

    verdict: Literal["accept", "reject"]
    findings: LongText = Field(min_length=1, description="What you checked and found.")

    def to_answer(self) -> Answer:
        return Acceptance(verdict=self.verdict, findings=self.findings)


#: How a tender's scoring cell is named in ``form_for``'s ``criteria``: ``bid|criterion``.
CELL = "|"


def score_cells(bids: tuple[str, ...], criteria: tuple[str, ...]) -> tuple[str, ...]:
    """The cells an evaluator scores, bid by bid, as ``form_for(TaskKind.SCORE, …)`` takes
    them."""
    return tuple(f"{bid}{CELL}{criterion}" for bid in bids for criterion in criteria)


class ScoresForm(AnswerForm):
    """A tender evaluator's points for each qualified bid of their lots (one field per bid
    and criterion), or their declining with a reason (the next alternate takes the seat)."""

    #: ``(bid, criterion)`` of each ``points_<n>`` field, in order
    cells: ClassVar[tuple[tuple[str, str], ...]] = ()

    rationale: LongText = Field(min_length=1, description="Why you scored the bids so.")
    decline: bool = Field(
        default=False, description="Decline (a conflict with a bidder, or unavailable)."
    )

    @model_validator(mode="after")
    def _every_cell_scored(self) -> ScoresForm:
        """Every bid on every criterion, unless the evaluator declines."""
        if not self.decline:
            values = self.model_dump()
            missing = [
                f"{criterion} of bid {bid}"
                for n, (bid, criterion) in enumerate(self.cells)
                if values.get(f"points_{n}") is None
            ]
            if missing:
                raise ValueError("give points (0-100) for " + ", ".join(missing) + ", or decline")
        return self

    def to_answer(self) -> Answer:
        if self.decline:
            return Declination(reason=self.rationale[:2000])
        values = self.model_dump()
        scores: dict[str, dict[str, int]] = {}
        for n, (bid, criterion) in enumerate(self.cells):
            scores.setdefault(bid, {})[criterion] = int(values[f"points_{n}"])
        return BidScores(scores=scores, rationale=self.rationale)


class WitnessForm(AnswerForm):
    """The value a witness enters for a tender's draw (a notarial certificate number)."""

    value: str = Field(min_length=1, max_length=WITNESS_VALUE_MAX, pattern=SAFE_TEXT_PATTERN)

    def to_answer(self) -> Answer:
        return WitnessEntry(value=self.value)


@lru_cache(maxsize=64)
def _scores_form(cells: tuple[str, ...]) -> type[ScoresForm]:
    """The scoring form of an evaluator's cells (``bid|criterion``)."""
    pairs = tuple(tuple(c.split(CELL, 1)) for c in cells if CELL in c)
    fields: dict[str, Any] = {
        f"points_{n}": (
            int | None,
            Field(default=None, ge=0, le=100, title=f"{bid}: {criterion}", description="0 to 100"),
        )
        for n, (bid, criterion) in enumerate(pairs)
    }
    form: type[ScoresForm] = create_model("ScoresForm", __base__=ScoresForm, **fields)
    form.cells = cast(tuple[tuple[str, str], ...], pairs)
    return form


@lru_cache(maxsize=64)
def _opinion_form(criteria: tuple[str, ...]) -> type[ExpertOpinionForm]:
    """The opinion form of a class's criteria (made once per set of criteria: building a
    model costs more than answering with it)."""
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
    """The form class for a task of ``kind`` (opinions get the class's criteria, a tender's
    scores the evaluator's cells from :func:`score_cells`)."""
    if kind is TaskKind.CONSULT:
        return _opinion_form(criteria)
    if kind is TaskKind.SCORE:
        return _scores_form(criteria)
    forms: dict[TaskKind, type[AnswerForm]] = {
        TaskKind.WITNESS: WitnessForm,
        TaskKind.DISCUSS: CommentForm,
        TaskKind.VOTE: VoteForm,
        TaskKind.EXECUTE: ProgressForm,
        TaskKind.INSPECT: AcceptanceForm,
    }
    return forms[kind]


@dataclass(frozen=True)
class FieldText:
    """What a field is called: catalogue keys of its title and hint, and the group of
    :data:`decisions.classes.CHOICES` whose labels its choices take."""

    title: str
    hint: str | None = None
    choices: str | None = None


#: Every field of every form, by kind of task, in the order people fill them in (the
#: ratings of an opinion come first, one per criterion of the class).
FIELD_TEXTS: dict[TaskKind, dict[str, FieldText]] = {
    TaskKind.CONSULT: {
        "recommendation": FieldText("field_recommendation", choices="recommendation"),
        "conditions": FieldText("field_conditions", "hint_conditions"),
        "rationale": FieldText("field_rationale"),
    },
    TaskKind.DISCUSS: {
        "stance": FieldText("field_stance", choices="stance"),
        "text": FieldText("field_comments"),
    },
    TaskKind.VOTE: {
        "choice": FieldText("field_vote", choices="vote"),
        "rationale": FieldText("field_rationale", "hint_vote_rationale"),
        "justification": FieldText("field_justification", "hint_justification"),
    },
    TaskKind.EXECUTE: {
        "percent_complete": FieldText("field_percent", "hint_percent"),
        "text": FieldText("field_progress"),
        "measures_done": FieldText("field_measures_done", "hint_measures_done"),
    },
    TaskKind.INSPECT: {
        "verdict": FieldText("field_verdict", choices="verdict"),
        "findings": FieldText("field_findings"),
    },
    TaskKind.SCORE: {
        "rationale": FieldText("field_rationale", "hint_scores_rationale"),
        "decline": FieldText("field_decline", "hint_decline"),
    },
    TaskKind.WITNESS: {
        "value": FieldText("field_witness_value", "hint_witness_value"),
    },
}
#: The fields whose text becomes a list, one item per line (of at most 100 items).
LIST_FIELDS = ("conditions", "measures_done")
_ANSWER_CODE = FieldText("field_answer_code", "hint_answer_code")


def _titled(kind: TaskKind, name: str, labels: Labels, lang: str) -> tuple[str, str | None] | None:
    """A field's title and description in the Prefect form, in ``lang``."""
    if name.startswith("rating_"):
        return labels.criterion(name.removeprefix("rating_"), lang), text("rating_scale", lang)
    if name.startswith("points_"):
        return None  # titled with the bid and the criterion when the form is made
    spec = _ANSWER_CODE if name == "answer_code" else FIELD_TEXTS[kind].get(name)
    if spec is None:
        return None
    hint = text(spec.hint, lang) if spec.hint else None
    if spec.choices:
        # Prefect's UI lists a choice by its value, so the description says what each means
        options = ("; " if lang == "en" else "；").join(
            f"{value} = {labels.choice(spec.choices, value, lang)}"
            for value in CHOICES[spec.choices]
        )
        hint = text("choices_are", lang, choices=options)
    return text(spec.title, lang), hint


def personal_form(
    kind: TaskKind,
    criteria: tuple[str, ...],
    person: str,
    *,
    labels: Labels | None = None,
    lang: str = "zh",
) -> type[AnswerForm]:
    """The task's form as ``person`` sees it in the Prefect UI: every field titled in their
    language (``lang``), criteria and choices with the class's ``labels``, and its
    constraints kept. Without ``labels`` the fields keep their English names."""
    form_class = form_for(kind, criteria)
    fields: dict[str, Any] = {}
    for name, info in form_class.model_fields.items():
        titled = None if labels is None else _titled(kind, name, labels, lang)
        if titled is None:
            continue
        field = copy(info)  # its constraints and checks stay; only what it is called changes
        field.title, field.description = titled
        fields[name] = (info.annotation, field)
    personal = cast(  # create_model's type is its own, a subclass
        type[AnswerForm], create_model(form_class.__name__, __base__=form_class, **fields)
    )
    personal.person = person
    return personal


def with_typed(form_class: type[AnswerForm], typed: dict[str, Any]) -> type[AnswerForm]:
    """The form again with what the person typed as its fields' defaults, so a refused
    answer comes back as it was sent. (Prefect's ``with_initial_data`` would replace each
    field, losing its title, description and constraints; this keeps them.)"""
    fields: dict[str, Any] = {}
    for name, value in typed.items():
        info = form_class.model_fields.get(name)
        if info is None:
            continue
        field = copy(info)
        field.default, field.default_factory = value, None
        fields[name] = (info.annotation, field)
    if not fields:
        return form_class
    return cast(type[AnswerForm], create_model(form_class.__name__, __base__=form_class, **fields))
