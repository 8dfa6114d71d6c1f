"""Which actor each expert of the expertise database is: a stable, explicit mapping.

Expert ids come from whoever keeps the expertise database and may be in any script
(``E030``, ``王芳``, ``E 31``); actor ids are ``^[a-z0-9][a-z0-9._-]{1,62}$``. The first time
routing meets an expert, :func:`actor_ids_for_experts` gives them an actor id and stores the
pair (table ``expert_actors``, migration ``0004_expert_actors``); from then on the expert
keeps it, whatever later imports rename or reorder.

How the id is chosen (:func:`candidate_actor_ids`):

1. the lowercase expert id, when it is a valid actor id that no other expert holds and that
   is either unused or already an actor with the ``expert`` role (an actor routing made
   before the mapping existed: the mapping is backfilled lazily, on first routing);
2. otherwise ``expert-`` and the first 10 hex digits of the SHA-256 of the expert id (UTF-8),
   with ``-2``, ``-3`` … after it until the id is free.

>>> next(candidate_actor_ids("E030"))
'e030'
>>> next(candidate_actor_ids("王芳"))
'expert-8ac9540bf3'
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from decisions.model import ACTOR_ID_PATTERN, Role, utcnow
from decisions.tables import ActorRow, ExpertActorRow
from decisions.uow import unit_of_work

__all__ = [
    "candidate_actor_ids",
    "stored_actor_ids",
    "experts_of_actors",
    "actor_ids_for_experts",
]


def _conn(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def candidate_actor_ids(expert_id: str) -> Iterator[str]:
    """Actor ids to try for ``expert_id``, best first (an endless sequence).

    Parameters
    ----------
    expert_id : str
        An id of the expertise database, in any script.

    Yields
    ------
    str
        Valid actor ids: the lowercase expert id if it is one, then ``expert-<hash>``,
        ``expert-<hash>-2``, …
    """
    lower = expert_id.lower()
    if ACTOR_ID_PATTERN.match(lower):
        yield lower
    digest = hashlib.sha256(expert_id.encode("utf-8")).hexdigest()[:10]
    yield f"expert-{digest}"
    n = 2
    while True:
        yield f"expert-{digest}-{n}"
        n += 1


def stored_actor_ids(db: Session | Connection, expert_ids: Iterable[str]) -> dict[str, str]:
    """The stored actor id of each of ``expert_ids`` that has one (expert id -> actor id)."""
    wanted = list(dict.fromkeys(expert_ids))
    table: Any = ExpertActorRow.__table__
    out: dict[str, str] = {}
    conn = _conn(db)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = conn.execute(
            select(table.c.expert_id, table.c.actor_id).where(table.c.expert_id.in_(chunk))
        )
        out.update({r.expert_id: r.actor_id for r in rows})
    return out


def experts_of_actors(db: Session | Connection) -> dict[str, str]:
    """Every stored pair, the other way round (actor id -> expert id)."""
    table: Any = ExpertActorRow.__table__
    rows = _conn(db).execute(select(table.c.actor_id, table.c.expert_id))
    return {r.actor_id: r.expert_id for r in rows}


def _free(conn: Connection, candidate: str, *, lowercase: bool) -> bool:
    """Whether ``candidate`` may become a new expert's actor id."""
    mapped: Any = ExpertActorRow.__table__
    if conn.execute(select(mapped.c.expert_id).where(mapped.c.actor_id == candidate)).first():
        return False
    actors: Any = ActorRow.__table__
    roles = conn.execute(select(actors.c.roles).where(actors.c.id == candidate)).scalar()
    if roles is None:
        return True
    # An actor already has the lowercase id: the one routing made for this expert before
    # the mapping existed if it is an expert, someone else otherwise.
    return lowercase and Role.EXPERT.value in roles


def actor_ids_for_experts(engine: Engine, expert_ids: Iterable[str]) -> dict[str, str]:
    """The actor id of each expert, made and stored for those who have none yet.

    Reads first without the write lock; only experts met for the first time take it, and
    the choice is made again under it, so concurrent routings agree.

    Parameters
    ----------
    engine : Engine
        The store.
    expert_ids : iterable of str
        Ids of the expertise database.

    Returns
    -------
    dict
        Expert id -> actor id, for every id given.

    Examples
    --------
    >>> from decisions.db import make_engine, migrate
    >>> engine = make_engine("sqlite://")
    >>> migrate(engine)
    >>> actor_ids_for_experts(engine, ["E030", "王芳", "e030"])
    {'E030': 'e030', '王芳': 'expert-8ac9540bf3', 'e030': 'expert-8632fb1992'}
    >>> engine.dispose()
    """
    wanted = list(dict.fromkeys(expert_ids))
    with unit_of_work(engine, read_only=True) as session:
        found = stored_actor_ids(session, wanted)
    if len(found) == len(wanted):
        return found
    with unit_of_work(engine) as session:
        conn = session.connection()
        found = stored_actor_ids(conn, wanted)
        for expert_id in wanted:
            if expert_id in found:
                continue
            lower = expert_id.lower()
            actor_id = next(
                c for c in candidate_actor_ids(expert_id) if _free(conn, c, lowercase=c == lower)
            )
            conn.execute(
                insert(ExpertActorRow).values(
                    expert_id=expert_id, actor_id=actor_id, created_at=utcnow()
                )
            )
            found[expert_id] = actor_id
    return found
