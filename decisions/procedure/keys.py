"""Every idempotency key the procedure's commands carry, spelled once.

A key is derived from the decision and where it stands (round, cycle, actor, task), so a
step run again from the top — the next continuation, or a retry after a crash — finds what
it already did and writes nothing twice. The keys are those earlier versions of Counsel
wrote, so decisions in flight when a store is upgraded go on where they were.
"""

from __future__ import annotations

from datetime import datetime

from decisions.model import TaskKind

__all__ = [
    "start_consultation",
    "routed",
    "assignment",
    "aggregate",
    "next_round",
    "consultation_report",
    "open_discussion",
    "minutes",
    "open_vote",
    "tally",
    "resolution",
    "start_execution",
    "escalated",
    "cycle_accepted",
    "cycle_record",
    "close",
    "stall",
    "reminded",
    "expired",
    "failure_stall",
    "person_run",
    "continuation",
    "tender",
]


def start_consultation(decision_id: str, round: int) -> str:
    """The consultation that begins with ``round`` (a returned decision begins another)."""
    return f"{decision_id}:start-consultation:{round}"


def routed(decision_id: str, first_round: int) -> str:
    return f"{decision_id}:routed:{first_round}"


def assignment(decision_id: str, kind: TaskKind, round: int, actor_id: str) -> str:
    """One person's task of one kind in one round (or execution cycle)."""
    return f"{decision_id}:{kind.value}:{round}:{actor_id}"


def aggregate(decision_id: str, round: int) -> str:
    return f"{decision_id}:aggregate:{round}"


def next_round(decision_id: str, round: int) -> str:
    """The Delphi round after ``round``."""
    return f"{decision_id}:next-round:{round}"


def consultation_report(decision_id: str, round: int) -> str:
    return f"{decision_id}:consult-report:{round}"


def open_discussion(decision_id: str, round: int) -> str:
    return f"{decision_id}:open-discussion:{round}"


def minutes(decision_id: str, round: int) -> str:
    return f"{decision_id}:minutes:{round}"


def open_vote(decision_id: str, round: int) -> str:
    return f"{decision_id}:open-vote:{round}"


def tally(decision_id: str, round: int) -> str:
    return f"{decision_id}:tally:{round}"


def resolution(decision_id: str, round: int) -> str:
    """The transition the vote of ``round`` leads to (approve, reject, return, stall)."""
    return f"{decision_id}:resolution:{round}"


def start_execution(decision_id: str) -> str:
    return f"{decision_id}:start-execution"


def escalated(task_id: str) -> str:
    return f"{task_id}:escalated"


def cycle_accepted(decision_id: str, cycle: int) -> str:
    return f"{decision_id}:accept:{cycle}"


def cycle_record(decision_id: str, cycle: int, outcome: str) -> str:
    """What the inspectors made of an execution cycle (``accepted`` or ``rework``)."""
    return f"{decision_id}:{outcome}:{cycle}"


def close(decision_id: str) -> str:
    return f"{decision_id}:close"


def stall(decision_id: str, cause: str, since: datetime) -> str:
    """A stall for ``cause`` (``routing:1``, ``consult:2``, ``inspectors:1``, ``execution`` …)
    of the decision as it stands since ``since``, its last transition: a retried step stalls
    it once, and a decision resumed into the same cause stalls again."""
    return f"{decision_id}:stall:{cause}:{since:%Y%m%d%H%M%S%f}"


def failure_stall(decision_id: str, stage: str, position: int) -> str:
    """A stall after a failed stage run, once per position of the decision's history."""
    return f"{decision_id}:stall:failed:{stage}:{position}"


def reminded(task_id: str) -> str:
    return f"{task_id}:reminded"


def expired(task_id: str) -> str:
    return f"{task_id}:expired"


def person_run(task_id: str, *, store: str = "") -> str:
    """The Prefect run in which a person answers a task (one per task); ``store`` (the
    store's fingerprint) keeps two stores' tasks of the same id apart on one Prefect server."""
    return f"counsel-task:{store}:{task_id}" if store else f"counsel-task:{task_id}"


def continuation(decision_id: str, position: int, suffix: str = "", *, store: str = "") -> str:
    """The Prefect run that takes a decision's next step from ``position`` of its history;
    ``suffix`` lets the deadline sweep start again a run that was lost, and ``store`` keeps
    two stores' decisions of the same id apart."""
    where = f"{store}:" if store else ""
    return f"counsel-continue:{where}{decision_id}:{position}{suffix}"


def tender(decision_id: str, step: str, *parts: object) -> str:
    """A tender's record: ``qualified``, ``seed-committed``, ``pool-fixed``, ``drawn``,
    ``replaced`` (with who declined), ``ranked`` (with the round), ``seed-revealed``."""
    return ":".join([decision_id, f"tender-{step}", *(str(p) for p in parts)])
