"""Which stage a decision is in, whether it can move now, and what a failed stage does.

One definition of an active decision for the whole project: the flows run a stage for it,
the deadline sweep continues it, and a failed stage stalls it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from decisions.model import TRANSITIONS, Decision, State, Task, TaskStatus
from decisions.procedure import keys
from decisions.procedure.commands import Transition

__all__ = [
    "STAGES",
    "STAGE_NAMES",
    "stage_for",
    "is_active",
    "ready_to_continue",
    "looks_stuck",
    "failure_reason",
    "failure_stall",
]

#: The stages, in order, and the states each one works on.
STAGES: dict[str, frozenset[State]] = {
    "consult": frozenset({State.SUBMITTED, State.RETURNED, State.CONSULTING}),
    "discuss": frozenset({State.DISCUSSING}),
    "decide": frozenset({State.DECIDING}),
    "execute": frozenset({State.APPROVED, State.EXECUTING, State.ACCEPTED}),
}
#: How a planner names each stage.
STAGE_NAMES = {
    "consult": "consultation",
    "discuss": "discussion",
    "decide": "vote",
    "execute": "execution",
}


def stage_for(state: State) -> str | None:
    """The stage that works on a decision in ``state``, or None for a decision at rest
    (closed, rejected, withdrawn, stalled)."""
    return next((stage for stage, states in STAGES.items() if state in states), None)


def is_active(decision: Decision) -> bool:
    """True while a stage has work to do on the decision."""
    return stage_for(decision.state) is not None


def ready_to_continue(decision: Decision, tasks: Iterable[Task]) -> bool:
    """True when the decision is in a stage and none of its tasks is open: its next step
    can be taken now."""
    return is_active(decision) and not any(t.status is TaskStatus.OPEN for t in tasks)


def looks_stuck(
    decision: Decision,
    open_tasks: Iterable[Task],
    last_activity: datetime | None,
    quiet_since: datetime,
) -> bool:
    """Ready to move, or with open tasks lacking a person's form, and nothing recorded since
    ``quiet_since``: a continuation was lost (Prefect unreachable, a worker killed mid-step)."""
    if not is_active(decision):
        return False
    waiting = list(open_tasks)
    if waiting and all(t.flow_run_id for t in waiting):
        return False
    return last_activity is not None and last_activity <= quiet_since


def failure_reason(decision_id: str, stage: str, cause: str) -> str:
    """The sentence a planner reads when a stage's run failed with ``cause``."""
    cause = " ".join(cause.split()).rstrip(".") or "no message"
    return (
        f"The {STAGE_NAMES.get(stage, stage)} stage failed: {cause}. Once the cause is fixed, "
        f"`counsel resume {decision_id}` takes the decision on from there."
    )


def failure_stall(decision: Decision, stage: str, cause: str, position: int) -> Transition | None:
    """The stall a failed stage run leads to, keyed by the decision's ``position`` in its
    history so a retried run stalls it once; None when the decision cannot stall (already
    stalled, or past the stages)."""
    if decision.state not in TRANSITIONS["stall"][0]:
        return None
    return Transition(
        "stall",
        keys.failure_stall(decision.id, stage, position),
        {"reason": failure_reason(decision.id, stage, cause)},
    )
