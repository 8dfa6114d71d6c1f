"""The vote's rules: who votes, who counts as recused, and where the resolution leads.

Every member of the class's decision body is asked to vote; a member the separation of
powers refuses (a conflict, or a part in another stage) counts as recused, as does one who
recuses. The tally (:func:`decisions.tally.tally`) gives the outcome: no quorum stalls the
decision, approval approves it, a majority to return sends it back to consultation with
the returning members' questions, and anything else rejects it.
"""

from __future__ import annotations

from decisions.model import Recusal, State, TaskKind, TaskStatus, Vote
from decisions.participants import body_members
from decisions.procedure import keys
from decisions.procedure.commands import Assign, Command, RecordTally, Transition, Wait
from decisions.procedure.view import DecisionView
from decisions.tally import Resolution, against_consensus, tally

__all__ = ["vote", "resolution_transition"]


def vote(view: DecisionView) -> list[Command]:
    """What the vote on ``view``'s decision does next (nothing once it is over)."""
    decision, dclass = view.decision, view.decision_class
    if decision.state is not State.DECIDING:
        return []
    round_no = decision.round
    members = body_members(view.actors, dclass)
    assigned = {t.assignee_id for t in view.all_tasks_of(TaskKind.VOTE, round_no)}
    duration = min(dclass.durations.answer, dclass.durations.vote)
    assigns: list[Command] = []
    for member in members:
        key = keys.assignment(view.id, TaskKind.VOTE, round_no, member.id)
        if member.id not in assigned and key not in view.refused:
            assigns.append(Assign(TaskKind.VOTE, (member.id,), (key,), round_no, duration))
    if assigns:
        return assigns
    tasks = view.tasks_of(TaskKind.VOTE, round_no)
    waiting = tuple(t for t in tasks if t.status is TaskStatus.OPEN)
    if waiting:
        return [Wait("decide", waiting)]
    refused = sum(1 for m in members if m.id not in assigned)
    answers = [view.answers[t.id] for t in tasks if t.id in view.answers]
    votes = [a for a in answers if isinstance(a, Vote)]
    recused = refused + sum(1 for a in answers if isinstance(a, Recusal))
    resolution = tally(votes, body_size=len(members), recused=recused, decision_class=dclass)
    against = against_consensus(resolution.outcome, view.recommendations())
    return [
        RecordTally(resolution, against, keys.tally(view.id, round_no)),
        resolution_transition(view, round_no, resolution, votes),
    ]


def resolution_transition(
    view: DecisionView, round_no: int, resolution: Resolution, votes: list[Vote]
) -> Transition:
    """The transition a tallied vote leads to (a missed quorum stalls the decision)."""
    if resolution.outcome == "no_quorum":
        key = keys.stall(view.id, f"quorum:{round_no}", view.decision.updated_at)
        return Transition("stall", key, {"reason": resolution.explain()})
    key = keys.resolution(view.id, round_no)
    if resolution.outcome in {"approve", "approve_with_amendments"}:
        amended = resolution.outcome == "approve_with_amendments"
        return Transition("approve", key, {"with_amendments": amended})
    if resolution.outcome == "return":
        questions = "; ".join(v.rationale for v in votes if v.choice == "return")
        return Transition("return_to_consultation", key, {"questions": questions})
    return Transition("reject", key)
