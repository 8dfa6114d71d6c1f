"""What the answer page shows, read from the store: a person's task, and their inbox.

:func:`open_task` reads what a task link opens (or None, which the page refuses with the
one sentence); :func:`task_page` and :func:`inbox_page` turn it into what the templates
show, every sentence in the person's language, every name from the decision classes'
labels. Nothing here writes, and nothing is kept between requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from decisions.classes import ClassBook, Labels
from decisions.consensus import CriterionStats, RoundAggregate
from decisions.exceptions import DecisionNotFound
from decisions.links import Grant, task_token
from decisions.model import (
    Acceptance,
    Actor,
    Answer,
    BidScores,
    Comment,
    Declination,
    Opinion,
    ProgressReport,
    Recusal,
    Task,
    TaskKind,
    TaskStatus,
    Vote,
    WitnessEntry,
)
from decisions.procedure import stage_for
from decisions.services.personal import PersonalTask, open_personal_task, tasks_of_person
from flows.web.catalogue import html_lang, local_time, short_time, text, time_left
from flows.web.fields import HtmlField

__all__ = [
    "STAGE_OF",
    "RECENT_DAYS",
    "OpenedTask",
    "Chart",
    "CriterionRow",
    "PreviousRound",
    "TaskPage",
    "InboxItem",
    "InboxPage",
    "open_task",
    "task_page",
    "inbox_page",
]

#: The stage each kind of task belongs to.
STAGE_OF = {
    TaskKind.CONSULT: "consult",
    TaskKind.DISCUSS: "discuss",
    TaskKind.VOTE: "decide",
    TaskKind.EXECUTE: "execute",
    TaskKind.INSPECT: "execute",
    TaskKind.SCORE: "consult",
    TaskKind.WITNESS: "consult",
}
#: How far back the inbox lists closed tasks.
RECENT_DAYS = 30


#: What a valid task link opens: the task, its person, and the decision as far as the page
#: shows it (:func:`decisions.services.personal.open_personal_task`).
OpenedTask = PersonalTask


def open_task(engine: Engine, classes: ClassBook, grant: Grant) -> OpenedTask | None:
    """The task a link's grant names, if it exists and is the grant's person's; else None.

    A task link opens its own task only: a token signed for one person never shows another
    person's task, whatever the token claims. One read of the store, which reads the
    person and what their task's page shows, never every actor.
    """
    if grant.scope != "task" or grant.task_id is None:
        return None
    try:
        return open_personal_task(engine, grant.task_id, grant.actor_id, classes)
    except DecisionNotFound:
        return None


# -- the chart of a criterion's ratings in the previous round ---------------------------------

_SLOT, _BAR, _TOP, _BASE = 28, 20, 16, 64


@dataclass(frozen=True)
class Bar:
    score: int
    count: int
    x: int
    y: int
    height: int
    yours: bool


@dataclass(frozen=True)
class Chart:
    """A criterion's 1–9 distribution as SVG bars (numbers only), with its IQR band and
    median, and the sentence that says the same for screen readers."""

    bars: tuple[Bar, ...]
    band_x: float
    band_width: float
    median_x: float
    label: str
    width: int = 9 * _SLOT
    height: int = _BASE + 18
    base: int = _BASE


def _x(score: float) -> float:
    return (score - 1) * _SLOT + _SLOT / 2


def chart(stats: CriterionStats, label: str, yours: int | None, lang: str) -> Chart:
    """The chart of one criterion (``yours`` is the person's own rating last round)."""
    most = max(stats.distribution.values(), default=1)
    bars = []
    for score in range(1, 10):
        count = stats.distribution.get(score, 0)
        height = round((_BASE - _TOP) * count / most) if count else 0
        x = (score - 1) * _SLOT + (_SLOT - _BAR) // 2
        bars.append(Bar(score, count, x, _BASE - height, height, yours == score))
    parts = "，" if lang != "en" else ", "
    said = parts.join(
        text("chart_part", lang, score=s, count=c) for s, c in sorted(stats.distribution.items())
    )
    sentence = text("chart_label", lang, criterion=label, parts=said)
    if yours is not None:
        sentence += ("；" if lang != "en" else "; ") + text("chart_you", lang, rating=yours)
    left = _x(stats.q1) - _BAR / 2
    return Chart(
        bars=tuple(bars),
        band_x=left,
        band_width=_x(stats.q3) + _BAR / 2 - left,
        median_x=_x(stats.median),
        label=sentence,
    )


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class CriterionRow:
    label: str
    stats: str
    diverged: bool
    agreement: str
    yours: str | None
    chart: Chart


@dataclass(frozen=True)
class PreviousRound:
    """The previous Delphi round beside the person's own answer to it."""

    heading: str
    rule: str
    criteria: tuple[CriterionRow, ...]
    recommendations: tuple[str, ...]
    rationales: tuple[str, ...]
    conditions: tuple[str, ...]
    your_answer: tuple[str, ...]
    your_rationale: str | None
    rationale_label: str


def previous_round(
    aggregate: RoundAggregate,
    mine: Opinion | None,
    labels: Labels,
    lang: str,
    max_iqr: float,
) -> PreviousRound:
    rows = []
    for stats in aggregate.criteria:
        label = labels.criterion(stats.criterion, lang)
        yours = mine.ratings.get(stats.criterion) if mine else None
        diverged = stats.iqr > max_iqr
        rows.append(
            CriterionRow(
                label=label,
                stats=text(
                    "criterion_stats",
                    lang,
                    median=_number(stats.median),
                    iqr=_number(stats.iqr),
                    q1=_number(stats.q1),
                    q3=_number(stats.q3),
                ),
                diverged=diverged,
                agreement=text("diverged" if diverged else "converged", lang),
                yours=None if yours is None else text("your_rating", lang, rating=yours),
                chart=chart(stats, label, yours, lang),
            )
        )
    recommendations = tuple(
        text("count_of", lang, label=labels.choice("recommendation", r, lang), count=n)
        for r, n in aggregate.recommendations.items()
    )
    your_answer: tuple[str, ...] = ()
    if mine is not None:
        your_answer = (
            text(
                "your_recommendation",
                lang,
                label=labels.choice("recommendation", mine.recommendation, lang),
            ),
            *(
                text("your_rating_now", lang, criterion=labels.criterion(c, lang), rating=r)
                for c, r in mine.ratings.items()
            ),
            *(text("your_condition", lang, text=c) for c in mine.conditions),
        )
    return PreviousRound(
        heading=text("previous_round", lang, round=aggregate.round, answers=aggregate.answers),
        rule=text("consensus_rule", lang, max_iqr=_number(max_iqr)),
        criteria=tuple(rows),
        recommendations=recommendations,
        rationales=aggregate.rationales,
        conditions=aggregate.conditions,
        your_answer=your_answer,
        your_rationale=mine.rationale if mine else None,
        rationale_label=text("field_rationale", lang),
    )


# -- the task page ------------------------------------------------------------------------------


@dataclass
class TaskPage:
    """Everything the task page shows (the form, or the task's outcome)."""

    lang: str
    html_lang: str
    title: str
    decision_line: str
    stage: str
    description: str
    proposal_heading: str
    proposal: str
    asked: str
    due: str
    left: str | None
    zone: str | None = None
    measures: tuple[str, ...] = ()
    experts_said: tuple[str, ...] = ()
    experts_conditions: tuple[str, ...] = ()
    #: for an inspection: the heading, then each progress report of the cycle (its line, text)
    reports_heading: str | None = None
    reports: tuple[tuple[str, str], ...] = ()
    previous: PreviousRound | None = None
    fields: list[HtmlField] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    outcome: str | None = None
    answer: tuple[str, ...] = ()
    answer_text: str | None = None
    answer_text_label: str | None = None
    next_steps: tuple[str, ...] = ()


def _asked(opened: OpenedTask, labels: Labels, lang: str) -> str:
    task = opened.task
    if task.kind is TaskKind.CONSULT:
        return text("asked_consult", lang, round=task.round)
    if task.kind is TaskKind.VOTE:
        return text("asked_vote", lang, recuse=labels.choice("vote", "recuse", lang))
    return text(f"asked_{task.kind.value}", lang)


def _stage_line(task: Task, labels: Labels, lang: str) -> str:
    line = labels.task(task.kind.value, lang)
    if task.kind is TaskKind.CONSULT:
        return f"{line} · {text('round', lang, round=task.round)}"
    if task.kind in {TaskKind.EXECUTE, TaskKind.INSPECT}:
        return f"{line} · {text('cycle', lang, round=task.round)}"
    return line


def _answer_lines(answer: Answer, labels: Labels, lang: str) -> tuple[tuple[str, ...], str, str]:
    """What a recorded answer said: its choices and numbers as lines, its main text, and
    what that text is called."""
    if isinstance(answer, Opinion):
        lines = (
            text(
                "your_recommendation",
                lang,
                label=labels.choice("recommendation", answer.recommendation, lang),
            ),
            *(
                text("your_rating_now", lang, criterion=labels.criterion(c, lang), rating=r)
                for c, r in answer.ratings.items()
            ),
            *(text("your_condition", lang, text=c) for c in answer.conditions),
        )
        return lines, answer.rationale, text("field_rationale", lang)
    if isinstance(answer, Vote):
        lines = (text("your_choice", lang, label=labels.choice("vote", answer.choice, lang)),)
        extra = f"\n\n{answer.justification}" if answer.justification else ""
        return lines, answer.rationale + extra, text("field_rationale", lang)
    if isinstance(answer, Recusal):
        lines = (text("your_choice", lang, label=labels.choice("vote", "recuse", lang)),)
        return lines, answer.reason, text("field_rationale", lang)
    if isinstance(answer, Comment):
        label = labels.choice("stance", answer.stance, lang)
        return (text("your_stance", lang, label=label),), answer.text, text("field_comments", lang)
    if isinstance(answer, ProgressReport):
        lines = (text("your_percent", lang, percent=answer.percent_complete),)
        done = (text("your_measure", lang, text=m) for m in answer.measures_done)
        return (*lines, *done), answer.text, text("field_progress", lang)
    if isinstance(answer, BidScores):
        lines = tuple(
            text("your_points", lang, bid=bid, criterion=labels.criterion(c, lang), points=p)
            for bid, points in answer.scores.items()
            for c, p in points.items()
        )
        return lines, answer.rationale, text("field_rationale", lang)
    if isinstance(answer, Declination):
        return (text("field_decline", lang),), answer.reason, text("field_rationale", lang)
    if isinstance(answer, WitnessEntry):
        return (), answer.value, text("field_witness_value", lang)
    assert isinstance(answer, Acceptance)
    label = labels.choice("verdict", answer.verdict, lang)
    lines = (text("your_verdict", lang, label=label),)
    return lines, answer.findings, text("field_findings", lang)


def _next_steps(opened: OpenedTask, lang: str) -> tuple[str, ...]:
    """What happens after this answer: who else is awaited, and what the step leads to."""
    task, view = opened.task, opened.view
    if view.decision.is_final:
        return ()
    waiting = [t for t in view.tasks_of(task.kind, task.round) if t.status is TaskStatus.OPEN]
    if waiting and stage_for(view.decision.state) == STAGE_OF[task.kind]:
        first = text("next_waiting", lang, count=len(waiting))
    elif not waiting:
        first = text("next_all_in", lang)
    else:
        return ()
    return first, text(f"after_{task.kind.value}", lang), text("close_page", lang)


def task_page(
    opened: OpenedTask,
    labels: Labels,
    *,
    zone: str,
    now: datetime,
    fields: list[HtmlField] | None = None,
    problems: Sequence[str] = (),
    tender: tuple[str, tuple[tuple[str, str], ...]] | None = None,
) -> TaskPage:
    """The task page: the decision, what is asked and by when, then the form (``fields``)
    with any ``problems`` above it, or the task's outcome once it is closed. ``tender`` is a
    heading and its lines a tender's people read beside the form (the bids an evaluator
    scores, the ranking a member votes on)."""
    task, actor, view = opened.task, opened.actor, opened.view
    lang = actor.lang
    decision = view.decision
    version = decision.current_version
    page = TaskPage(
        lang=lang,
        html_lang=html_lang(lang),
        title=version.title,
        decision_line=text("decision_line", lang, id=decision.id, version=version.number),
        stage=_stage_line(task, labels, lang),
        description=decision.description,
        proposal_heading=text("proposal_text", lang, version=version.number),
        proposal=version.text,
        asked=_asked(opened, labels, lang),
        due=(
            text("due", lang, when=local_time(task.deadline, lang, zone))
            if task.deadline
            else text("no_deadline", lang)
        ),
        left=time_left(task.deadline, now, lang) if task.deadline else None,
        fields=list(fields or []),
        problems=list(problems),
    )
    if tender is not None:
        page.reports_heading, page.reports = tender
    if task.kind in {TaskKind.EXECUTE, TaskKind.INSPECT}:
        page.zone = text("zone", lang, zone=task.zone) if task.zone else None
        page.measures = task.measures
    if task.kind is TaskKind.INSPECT:
        page.reports_heading = labels.task(TaskKind.EXECUTE.value, lang)
        page.reports = tuple(
            (
                text(
                    "report_line",
                    lang,
                    zone=done.zone or "—",
                    percent=report.percent_complete,
                ),
                report.text,
            )
            for done in view.tasks_of(TaskKind.EXECUTE, task.round)
            if isinstance(report := view.answers.get(done.id), ProgressReport)
        )
    if task.kind is TaskKind.VOTE:
        page.experts_said = tuple(
            text("count_of", lang, label=labels.choice("recommendation", r, lang), count=n)
            for r, n in view.recommendations().items()
        )
        page.experts_conditions = view.conditions()
    if task.kind is TaskKind.CONSULT and task.status is TaskStatus.OPEN:
        aggregate = view.previous_aggregate(task.round)
        if aggregate is not None:
            mine = next(
                (o for t, o in view.opinions(task.round - 1) if t.assignee_id == actor.id), None
            )
            page.previous = previous_round(
                aggregate, mine, labels, lang, view.decision_class.consensus.max_iqr
            )
    if task.status is not TaskStatus.OPEN:
        when = local_time(task.closed_at or now, lang, zone)
        page.outcome = text(task.status.value, lang, when=when)
        page.fields, page.problems = [], []
        answer = view.answers.get(task.id)
        if task.status is TaskStatus.ANSWERED and answer is not None:
            page.answer, page.answer_text, page.answer_text_label = _answer_lines(
                answer, labels, lang
            )
            page.next_steps = _next_steps(opened, lang)
    return page


# -- the inbox ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    """One task in the inbox; ``token`` opens it (``../t/<token>``), if it still may."""

    what: str
    decision: str
    title: str
    when: str
    token: str | None
    link: str


@dataclass
class InboxPage:
    lang: str
    html_lang: str
    heading: str
    open: list[InboxItem]
    recent: list[InboxItem]
    recent_heading: str


def inbox_page(
    engine: Engine,
    actor: Actor,
    labels: Labels,
    *,
    secret: str,
    zone: str,
    now: datetime,
    link_until: datetime,
) -> InboxPage:
    """A person's open tasks (soonest deadline first) and those closed in the last
    :data:`RECENT_DAYS` days, across decisions, each open one with its personal link (valid
    until its deadline, or ``link_until`` for a task without one)."""
    lang = actor.lang
    rows = tasks_of_person(engine, actor.id, closed_since=now - timedelta(days=RECENT_DAYS))
    open_items: list[InboxItem] = []
    recent_items: list[tuple[datetime, InboxItem]] = []
    late = datetime.max.replace(tzinfo=now.tzinfo)
    for task, decision in sorted(rows, key=lambda row: (row[0].deadline or late, row[0].id)):
        what = _stage_line(task, labels, lang)
        title = decision.current_version.title
        if task.status is TaskStatus.OPEN:
            until = task.deadline or link_until
            link = None if until <= now else task_token(secret, task.id, actor.id, until)
            when = (
                text("due", lang, when=local_time(task.deadline, lang, zone))
                + text("in_brackets", lang, what=time_left(task.deadline, now, lang))
                if task.deadline
                else text("no_deadline", lang)
            )
            open_items.append(
                InboxItem(what, decision.id, title, when, link, text("open_link", lang))
            )
        else:
            closed = task.closed_at or now
            # an answered task's link still shows the answer until the deadline
            until = task.deadline or link_until
            link = (
                task_token(secret, task.id, actor.id, until)
                if task.status is TaskStatus.ANSWERED and until > now
                else None
            )
            status = text(f"status_{task.status.value}", lang)
            when = f"{status} · {short_time(closed, lang, zone)}"
            item = InboxItem(what, decision.id, title, when, link, text("see_link", lang))
            recent_items.append((closed, item))
    recent_items.sort(key=lambda pair: pair[0], reverse=True)
    return InboxPage(
        lang=lang,
        html_lang=html_lang(lang),
        heading=text("inbox_title", lang, name=actor.name),
        open=open_items,
        recent=[item for _, item in recent_items],
        recent_heading=text("recent_tasks", lang, days=RECENT_DAYS),
    )
