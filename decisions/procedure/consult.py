"""The consultation's rules: routing, Delphi rounds, the stop at consensus or the last round.

- A submitted or returned decision starts a consultation; its first round routes the
  class's experts (from the expertise graph, by the flows) and stalls if fewer than
  ``min_answers`` could be routed.
- The first round's panel is the routed experts, each replaced by the next of their
  alternates the separation of powers allows; a later round's panel is those who answered
  the round before.
- A round with fewer than ``min_answers`` answers stalls the decision; otherwise its
  aggregate is recorded, and the consultation ends at consensus or at the class's
  ``max_rounds`` (with its dissent), else the next round begins.
"""

from __future__ import annotations

from decisions.consensus import RoundAggregate
from decisions.model import State, TaskKind, TaskStatus
from decisions.procedure import keys
from decisions.procedure.commands import (
    Assign,
    Command,
    ConcludeConsultation,
    RecordRound,
    Route,
    Transition,
    Wait,
)
from decisions.procedure.view import DecisionView
from decisions.progress import RoundRecord

__all__ = ["consultation", "after_routing", "too_few_answers"]


def consultation(view: DecisionView) -> list[Command]:
    """What the consultation of ``view``'s decision does next (nothing once it is over)."""
    decision, dclass = view.decision, view.decision_class
    if decision.state in {State.SUBMITTED, State.RETURNED}:
        return [
            Transition("start_consultation", keys.start_consultation(view.id, decision.round + 1))
        ]
    if decision.state is not State.CONSULTING:
        return []
    first_round = view.consultation_start()
    routing = view.routing_for(first_round)
    if routing is None:
        return [Route(first_round, keys.routed(view.id, first_round))]
    round_no = decision.round
    record = view.round_record(round_no)
    if record is None:
        assigns = _panel_assignments(view, round_no, first_round)
        if assigns:
            return list(assigns)
        tasks = view.tasks_of(TaskKind.CONSULT, round_no)
        waiting = tuple(t for t in tasks if t.status is TaskStatus.OPEN)
        if waiting:
            return [Wait("consult", waiting)]
        opinions = [o for _, o in view.opinions(round_no)]
        if len(opinions) < dclass.min_answers:
            return [
                Transition(
                    "stall",
                    keys.stall(view.id, f"consult:{round_no}", view.decision.updated_at),
                    {"reason": too_few_answers(round_no, len(opinions), dclass.min_answers)},
                )
            ]
        aggregate = view.aggregate(round_no)
        assert aggregate is not None  # there are at least min_answers opinions
        return [
            RecordRound(
                _record(aggregate, first_round), aggregate, keys.aggregate(view.id, round_no)
            )
        ]
    if record.consensus or round_no >= dclass.max_rounds:
        aggregate = view.aggregate(round_no)
        assert aggregate is not None  # a recorded round had its opinions
        return [
            ConcludeConsultation(
                record.model_copy(update={"concluded": True}),
                aggregate,
                keys.consultation_report(view.id, round_no),
            ),
            Transition("open_discussion", keys.open_discussion(view.id, round_no)),
        ]
    return [
        Transition(
            "next_round", keys.next_round(view.id, round_no), {"max_rounds": dclass.max_rounds}
        )
    ]


def after_routing(
    view: DecisionView, first_round: int, routed: int, cause: str
) -> Transition | None:
    """The stall when routing found ``routed`` experts, fewer than the class's
    ``min_answers`` (``cause`` says why); None when the consultation can go on."""
    needed = view.decision_class.min_answers
    if routed >= needed:
        return None
    reason = f"Only {routed} experts could be routed but the class needs {needed} answers: {cause}."
    return Transition(
        "stall",
        keys.stall(view.id, f"routing:{first_round}", view.decision.updated_at),
        {"reason": reason},
    )


def too_few_answers(round_no: int, answers: int, needed: int) -> str:
    """Why a round cannot conclude."""
    return (
        f"Round {round_no} has {answers} answers but the class needs {needed}; "
        "the consultation cannot conclude."
    )


def _panel_assignments(view: DecisionView, round_no: int, first_round: int) -> list[Assign]:
    """The round's panel members still to be given a task (each slot once)."""
    routing = view.routing_for(first_round)
    assert routing is not None
    if round_no == first_round:
        slots = [s.candidates for s in routing.slots]
    else:
        slots = [(t.assignee_id,) for t, _ in view.opinions(round_no - 1)]
    assigned = {t.assignee_id for t in view.all_tasks_of(TaskKind.CONSULT, round_no)}
    dclass = view.decision_class
    duration = min(dclass.durations.answer, dclass.durations.consult)
    assigns = []
    for slot in slots:
        if assigned & set(slot):
            continue
        candidates = tuple(
            c
            for c in slot
            if keys.assignment(view.id, TaskKind.CONSULT, round_no, c) not in view.refused
        )
        if candidates:
            assigns.append(
                Assign(
                    TaskKind.CONSULT,
                    candidates,
                    tuple(
                        keys.assignment(view.id, TaskKind.CONSULT, round_no, c) for c in candidates
                    ),
                    round_no,
                    duration,
                )
            )
    return assigns


def _record(aggregate: RoundAggregate, first_round: int) -> RoundRecord:
    return RoundRecord(
        round=aggregate.round,
        first_round=first_round,
        answers=aggregate.answers,
        consensus=aggregate.consensus,
        dissent=aggregate.dissent,
        recommendations=aggregate.recommendations,
        medians={c.criterion: c.median for c in aggregate.criteria},
        iqr={c.criterion: c.iqr for c in aggregate.criteria},
        conditions=aggregate.conditions,
    )
