"""The discussion's rules: who is asked for a position, and when the vote opens.

The experts who answered the consultation's last round take part, and so do the
representatives of the decision's stakeholder organisations. When every position is in
(or its deadline passed) the discussion is minuted and the vote opens.
"""

from __future__ import annotations

from decisions.model import State, TaskKind, TaskStatus
from decisions.participants import stakeholder_representatives
from decisions.procedure import keys
from decisions.procedure.commands import Assign, Command, RecordMinutes, Transition, Wait
from decisions.procedure.view import DecisionView

__all__ = ["discussion", "participants"]


def participants(view: DecisionView) -> list[str]:
    """The consulted experts (who answered the last consultation round), then the
    stakeholder representatives who were not consulted."""
    consult = [t for t in view.tasks if t.kind is TaskKind.CONSULT]
    last = max((t.round for t in consult), default=0)
    consulted = sorted(
        {t.assignee_id for t in consult if t.round == last and t.status is TaskStatus.ANSWERED}
    )
    representatives = stakeholder_representatives(view.actors, view.decision)
    return consulted + [a.id for a in representatives if a.id not in consulted]


def discussion(view: DecisionView) -> list[Command]:
    """What the discussion of ``view``'s decision does next (nothing once it is over)."""
    decision, dclass = view.decision, view.decision_class
    if decision.state is not State.DISCUSSING:
        return []
    round_no = decision.round
    assigned = {t.assignee_id for t in view.all_tasks_of(TaskKind.DISCUSS, round_no)}
    duration = min(dclass.durations.answer, dclass.durations.discuss)
    assigns: list[Command] = []
    for person in participants(view):
        key = keys.assignment(view.id, TaskKind.DISCUSS, round_no, person)
        if person not in assigned and key not in view.refused:
            assigns.append(Assign(TaskKind.DISCUSS, (person,), (key,), round_no, duration))
    if assigns:
        return assigns
    tasks = view.tasks_of(TaskKind.DISCUSS, round_no)
    waiting = tuple(t for t in tasks if t.status is TaskStatus.OPEN)
    if waiting:
        return [Wait("discuss", waiting)]
    return [
        RecordMinutes(
            tuple(tasks),
            positions=sum(1 for t in tasks if t.id in view.answers),
            final_version=decision.current_version.number,
            key=keys.minutes(view.id, round_no),
        ),
        Transition("open_vote", keys.open_vote(view.id, round_no)),
    ]
