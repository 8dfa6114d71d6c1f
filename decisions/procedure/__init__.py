"""The procedure: the rules of how a decision moves, as pure functions returning commands.

Given a read-only :class:`DecisionView` (the decision, its class, tasks, typed answers,
actors, routing, rounds and execution cycles), :func:`next_commands` returns what to do
next — assign these tasks, record this fact, make this transition, wait for these people,
stall with this reason — each command with the idempotency key that makes it happen once
(:mod:`decisions.procedure.keys`). The flows load the view, carry the commands out in order,
load the view again, and stop when the procedure says to wait or the stage is over. No
rule of the procedure lives in the flows, so every rule is tested here without Prefect.

Modules: :mod:`~decisions.procedure.consult`, :mod:`~decisions.procedure.discuss`,
:mod:`~decisions.procedure.decide`, :mod:`~decisions.procedure.execute` (the four stages),
:mod:`~decisions.procedure.deadlines` (reminders and expiry),
:mod:`~decisions.procedure.lifecycle` (stages, readiness, failures).

Examples
--------
>>> from decisions.classes import load_classes
>>> from decisions.model import Decision
>>> decision = Decision.file(id="D-2026-0001", title="Two streets", description="Clean them.",
...                          class_name="standard", district="east", planner_id="li-wei")
>>> view = DecisionView(decision, load_classes().get("standard"))
>>> [(c.action, c.key) for c in next_commands(view)]
[('start_consultation', 'D-2026-0001:start-consultation:1')]
"""

from __future__ import annotations

from collections.abc import Callable

from decisions.procedure.commands import (
    Assign,
    Command,
    ConcludeConsultation,
    Escalate,
    Expire,
    RecordCycle,
    RecordMinutes,
    RecordRound,
    RecordTally,
    Remind,
    Route,
    TenderStep,
    Transition,
    Wait,
)
from decisions.procedure.consult import after_routing, consultation
from decisions.procedure.deadlines import deadline_of, due, expiry_reason
from decisions.procedure.decide import vote
from decisions.procedure.discuss import discussion
from decisions.procedure.execute import execution
from decisions.procedure.lifecycle import (
    STAGE_NAMES,
    failure_stall,
    is_active,
    looks_stuck,
    ready_to_continue,
    stage_for,
)
from decisions.procedure.tender import tender_consultation
from decisions.procedure.view import DecisionView

__all__ = [
    "DecisionView",
    "next_commands",
    "after_routing",
    "due",
    "deadline_of",
    "expiry_reason",
    "stage_for",
    "is_active",
    "ready_to_continue",
    "looks_stuck",
    "failure_stall",
    "STAGE_NAMES",
    "Command",
    "Transition",
    "Assign",
    "Route",
    "Wait",
    "RecordRound",
    "ConcludeConsultation",
    "RecordMinutes",
    "RecordTally",
    "Escalate",
    "RecordCycle",
    "Remind",
    "Expire",
    "TenderStep",
]

_STAGE_RULES: dict[str, Callable[[DecisionView], list[Command]]] = {
    "consult": consultation,
    "discuss": discussion,
    "decide": vote,
    "execute": execution,
}


def next_commands(view: DecisionView) -> list[Command]:
    """What to do next for ``view``'s decision; empty when it is at rest (closed, rejected,
    withdrawn, stalled). Carry the commands out in order, then ask again."""
    stage = stage_for(view.decision.state)
    if stage == "consult" and view.decision_class.tender is not None:
        return tender_consultation(view)
    return _STAGE_RULES[stage](view) if stage else []
