"""Which audit events tell whom: the rules the unit of work applies to every event it writes.

People hear of their own tasks: a task given to them (``task.assigned``), a reminder before
its deadline (``task.reminded``), a task passed to someone else at its deadline
(``task.reassigned``, told to the person who had it; the new assignee hears of their own
task through its ``task.assigned``) or cancelled (``task.cancelled``). The planner who filed
a decision hears when it changes stage, stalls, and when it ends (closed, rejected,
withdrawn).

The rules are pure: what they need beyond the event (the task, the decision) they read
through :class:`Facts`, and they return :class:`Notice` s, one per person, each carrying the
facts its message states. Whether and where the person is told (their addresses, their
language) is the unit of work's to add.

>>> from decisions.audit import AuditEvent
>>> event = AuditEvent(7, "", "system", "decision.stalled", "D-2026-0001", None,
...                    '{"from": "consulting", "to": "stalled", "reason": "Too few experts."}',
...                    "", "")
>>> class NoFacts:
...     def task(self, task_id): return None
...     def decision(self, decision_id): return None
>>> notices_for(event, NoFacts())
[]
>>> notices_for(AuditEvent(8, "", "system", "vote.tallied", None, None, "{}", "", ""), NoFacts())
[]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from decisions.audit import AuditEvent
from decisions.model import Decision, Task

__all__ = [
    "TASK_CAUSES",
    "STAGE_CHANGES",
    "STALLS",
    "ENDINGS",
    "CAUSES",
    "Notice",
    "Facts",
    "notices_for",
]

#: Events about one task, told to the task's assignee.
TASK_CAUSES = frozenset({"task.assigned", "task.reminded", "task.reassigned", "task.cancelled"})
#: A decision moving to another stage (``decision.<event name>`` of the lifecycle table).
STAGE_CHANGES = frozenset(
    {
        "decision.consultation_started",
        "decision.round_started",
        "decision.discussion_opened",
        "decision.vote_opened",
        "decision.approved",
        "decision.returned",
        "decision.execution_started",
        "decision.execution_accepted",
        "decision.resumed",
    }
)
STALLS = frozenset({"decision.stalled"})
#: The final states: nothing happens to the decision after these.
ENDINGS = frozenset({"decision.closed", "decision.rejected", "decision.withdrawn"})
#: Every action that tells someone; the unit of work skips all others without reading them.
CAUSES = TASK_CAUSES | STAGE_CHANGES | STALLS | ENDINGS


@dataclass(frozen=True)
class Notice:
    """That ``recipient`` is to be told of ``kind`` (the cause event's action); ``params``
    are the facts the message states, in JSON types, rendered when it is sent."""

    recipient: str
    kind: str
    decision_id: str | None
    task_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class Facts(Protocol):
    """What the rules may read besides the event: ``None`` for what the store lacks."""

    def task(self, task_id: str) -> Task | None: ...

    def decision(self, decision_id: str) -> Decision | None: ...


def notices_for(event: AuditEvent, facts: Facts) -> list[Notice]:
    """Who is to be told of ``event``, and what; empty for an event that tells nobody.

    An event whose task or decision cannot be read tells nobody rather than failing the
    write it belongs to.
    """
    if event.action not in CAUSES:
        return []
    payload = event.data
    if not isinstance(payload, dict):
        return []
    if event.action in TASK_CAUSES:
        return _task_notice(event, payload, facts)
    return _planner_notice(event, payload, facts)


def _task_notice(event: AuditEvent, payload: dict[str, Any], facts: Facts) -> list[Notice]:
    task_id = payload.get("task_id")
    task = facts.task(task_id) if isinstance(task_id, str) else None
    decision = facts.decision(task.decision_id) if task else None
    if task is None or decision is None:
        return []
    params = {
        "decision_id": decision.id,
        "title": decision.title,
        "task": task.kind.value,
        "round": task.round,
        "deadline": task.deadline.isoformat() if task.deadline else None,
    }
    return [Notice(task.assignee_id, event.action, decision.id, task.id, params)]


def _planner_notice(event: AuditEvent, payload: dict[str, Any], facts: Facts) -> list[Notice]:
    decision = facts.decision(event.decision_id) if event.decision_id else None
    if decision is None:
        return []
    reason = payload.get("reason")
    params = {
        "decision_id": decision.id,
        "title": decision.title,
        "from": payload.get("from"),
        "to": payload.get("to", decision.state.value),
        "round": payload.get("round", decision.round),
        "reason": reason if isinstance(reason, str) else None,
    }
    return [Notice(decision.planner_id, event.action, decision.id, None, params)]
