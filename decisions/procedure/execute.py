"""Execution's rules: executors' tasks, independent inspection, acceptance and rework.

An approved decision starts execution. In each cycle every executor of the decision's
executor organisations gets a task in their responsibility zone with the experts'
conditions as measures; an executor who reports nothing by the deadline is escalated.
Then the class's number of inspectors (``acceptance.inspectors``), in id order and only
those the separation of powers allows, judge the work. The cycle is accepted when all of
them accept (rule ``all``) or more than half of those asked do (rule ``majority``);
otherwise the work goes back for another cycle, up to ``acceptance.max_cycles``, after
which the decision stalls.

A tender's executors are the winning bidders' executors, each given the lots their
organisation won as its zone (:func:`decisions.procedure.tender.winners`).
"""

from __future__ import annotations

from decisions.model import Acceptance, Actor, State, TaskKind, TaskStatus
from decisions.participants import executors_for, inspectors_for
from decisions.procedure import keys
from decisions.procedure.commands import (
    Assign,
    Command,
    Escalate,
    RecordCycle,
    Transition,
    Wait,
)
from decisions.procedure.tender import winners, winners_executors
from decisions.procedure.view import DecisionView
from decisions.progress import ExecutionCycle

__all__ = ["execution", "needed_to_accept", "zone_of", "NO_REPORT"]

#: Why an executor's task is escalated.
NO_REPORT = "no progress report by the deadline"


def needed_to_accept(inspected: int, rule: str) -> int:
    """How many of ``inspected`` inspectors must accept the work under ``rule``.

    >>> needed_to_accept(3, "all"), needed_to_accept(3, "majority"), needed_to_accept(2, "majority")
    (3, 2, 2)
    """
    return inspected if rule == "all" else inspected // 2 + 1


def zone_of(district: str, executor: Actor) -> str:
    """An executor's responsibility zone: the district and their organisations."""
    return f"{district} ({', '.join(executor.affiliations) or executor.name})"


def _zone(district: str, executor: Actor, awarded: dict[str, tuple[str, ...]]) -> str:
    """A tender's winner executes the lots it won; anyone else their organisation's zone."""
    lots = [zone for org in executor.affiliations for zone in awarded.get(org, ())]
    return "; ".join(lots)[:200] if lots else zone_of(district, executor)


def execution(view: DecisionView) -> list[Command]:
    """What the execution of ``view``'s decision does next (nothing once it is over)."""
    decision, dclass = view.decision, view.decision_class
    if decision.state is State.APPROVED:
        return [Transition("start_execution", keys.start_execution(view.id))]
    if decision.state is State.ACCEPTED:
        return [Transition("close", keys.close(view.id))]
    if decision.state is not State.EXECUTING:
        return []
    accepted = next((c for c in view.cycles if c.outcome == "accepted"), None)
    if accepted is not None:
        return [Transition("accept_execution", keys.cycle_accepted(view.id, accepted.cycle))]
    awarded = winners(view) if view.tender is not None else {}
    executors = (
        winners_executors(view.actors, awarded)
        if view.tender is not None
        else executors_for(view.actors, decision)
    )
    if not executors:
        reason = (
            "No executor is registered for the winning bidders."
            if view.tender is not None
            else "No executor is registered for the decision's executor organisations."
        )
        return [
            Transition(
                "stall",
                keys.stall(view.id, "no-executor", view.decision.updated_at),
                {"reason": reason},
            )
        ]
    cycle = 1 + sum(1 for c in view.cycles if c.outcome == "rework")
    max_cycles = dclass.acceptance.max_cycles
    if cycle > max_cycles:
        reason = f"The work was not accepted after {max_cycles} cycles."
        return [
            Transition(
                "stall",
                keys.stall(view.id, "execution", view.decision.updated_at),
                {"reason": reason},
            )
        ]

    assigned = {t.assignee_id for t in view.all_tasks_of(TaskKind.EXECUTE, cycle)}
    assigns: list[Command] = []
    for executor in executors:
        key = keys.assignment(view.id, TaskKind.EXECUTE, cycle, executor.id)
        if executor.id not in assigned and key not in view.refused:
            assigns.append(
                Assign(
                    TaskKind.EXECUTE,
                    (executor.id,),
                    (key,),
                    cycle,
                    dclass.durations.execute,
                    zone=_zone(decision.district, executor, awarded),
                    measures=view.conditions(),
                )
            )
    if assigns:
        return assigns
    reports = view.tasks_of(TaskKind.EXECUTE, cycle)
    waiting = tuple(t for t in reports if t.status is TaskStatus.OPEN)
    if waiting:
        return [Wait("execute", waiting)]
    commands: list[Command] = [
        Escalate(t, NO_REPORT, keys.escalated(t.id)) for t in reports if t.id not in view.answers
    ]
    return commands + _inspection(view, cycle)


def _inspection(view: DecisionView, cycle: int) -> list[Command]:
    """The cycle's inspectors, their verdicts, and what follows from them."""
    wanted = view.decision_class.acceptance.inspectors
    inspections = view.all_tasks_of(TaskKind.INSPECT, cycle)
    if len(inspections) < wanted:
        assigned = {t.assignee_id for t in inspections}
        candidates = tuple(
            a.id
            for a in inspectors_for(view.actors, view.decision_class)
            if a.id not in assigned
            and keys.assignment(view.id, TaskKind.INSPECT, cycle, a.id) not in view.refused
        )
        if not candidates:
            reason = (
                f"Only {len(inspections)} independent inspectors are available; the class "
                f"needs {wanted}."
            )
            return [
                Transition(
                    "stall",
                    keys.stall(view.id, f"inspectors:{cycle}", view.decision.updated_at),
                    {"reason": reason},
                )
            ]
        return [
            Assign(
                TaskKind.INSPECT,
                candidates,
                tuple(keys.assignment(view.id, TaskKind.INSPECT, cycle, c) for c in candidates),
                cycle,
                view.decision_class.durations.answer,
            )
        ]
    verdicts = view.tasks_of(TaskKind.INSPECT, cycle)
    waiting = tuple(t for t in verdicts if t.status is TaskStatus.OPEN)
    if waiting:
        return [Wait("inspect", waiting)]
    yes = sum(
        1
        for t in verdicts
        if isinstance(a := view.answers.get(t.id), Acceptance) and a.verdict == "accept"
    )
    needed = needed_to_accept(len(verdicts), view.decision_class.acceptance.rule)
    if yes >= needed:
        record = ExecutionCycle(
            cycle=cycle, inspected=len(verdicts), accepted=yes, needed=needed, outcome="accepted"
        )
        return [
            RecordCycle(record, keys.cycle_record(view.id, cycle, "accepted")),
            Transition("accept_execution", keys.cycle_accepted(view.id, cycle)),
            Transition("close", keys.close(view.id)),
        ]
    record = ExecutionCycle(
        cycle=cycle, inspected=len(verdicts), accepted=yes, needed=needed, outcome="rework"
    )
    return [RecordCycle(record, keys.cycle_record(view.id, cycle, "rework"))]
