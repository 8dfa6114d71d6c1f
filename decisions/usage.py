"""Which experts of the expertise database the store still needs: those "in use".

An expert is in use when their actor holds an open task (of any stage), or when they were
routed to a decision, as a pick or as an alternate (a ``consultation.routed`` event names
them: the sweep may still hand them a late expert's task, and the history refers to them).
``counsel experts import --replace`` refuses to remove such experts.

The expert's actor is found through the stored mapping (:mod:`decisions.expert_actors`);
an expert routed before that mapping existed is the actor whose id is the lowercase expert id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from decisions.expert_actors import experts_of_actors, stored_actor_ids
from decisions.model import ACTOR_ID_PATTERN, TaskStatus
from decisions.tables import AuditEventRow, TaskRow

__all__ = ["actors_in_use", "experts_in_use"]


def _conn(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def actors_in_use(db: Session | Connection) -> dict[str, str]:
    """Every actor in use, with why (actor id -> a phrase such as "holds an open task …").

    Parameters
    ----------
    db : Session or Connection
        An open unit of work (read-only is enough).
    """
    conn = _conn(db)
    tasks: Any = TaskRow.__table__
    events: Any = AuditEventRow.__table__
    why: dict[str, str] = {}
    for row in conn.execute(
        select(tasks.c.assignee_id, tasks.c.id, tasks.c.decision_id)
        .where(tasks.c.status == TaskStatus.OPEN.value)
        .order_by(tasks.c.decision_id, tasks.c.id)
    ):
        why.setdefault(row.assignee_id, f"holds open task {row.id} of {row.decision_id}")
    for row in conn.execute(
        select(events.c.decision_id, events.c.payload)
        .where(events.c.action == "consultation.routed")
        .order_by(events.c.seq)
    ):
        data = json.loads(row.payload)
        for actor in data.get("experts", []):
            why.setdefault(actor, f"was routed to {row.decision_id}")
        for chain in data.get("alternates", {}).values():
            for actor in chain:
                why.setdefault(actor, f"is an alternate in {row.decision_id}")
    return why


def experts_in_use(db: Session | Connection, expert_ids: Iterable[str]) -> dict[str, str]:
    """Those of ``expert_ids`` that are in use, with why (expert id -> phrase).

    Parameters
    ----------
    db : Session or Connection
        An open unit of work (read-only is enough).
    expert_ids : iterable of str
        Ids of the expertise database, e.g. those an import would remove.
    """
    wanted = list(dict.fromkeys(expert_ids))
    if not wanted:
        return {}
    used = actors_in_use(db)
    mapped = stored_actor_ids(db, wanted)
    taken = experts_of_actors(db)
    out: dict[str, str] = {}
    for expert_id in wanted:
        actor = mapped.get(expert_id)
        if actor is None and ACTOR_ID_PATTERN.match(expert_id.lower()):
            lower = expert_id.lower()
            actor = lower if taken.get(lower, expert_id) == expert_id else None
        if actor is not None and actor in used:
            out[expert_id] = used[actor]
    return out
