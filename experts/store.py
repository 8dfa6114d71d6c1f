"""Read and write the expertise database in SQL (the tables of :mod:`experts.tables`).

Functions here receive an open :class:`~sqlalchemy.orm.Session` or
:class:`~sqlalchemy.Connection` and never open, commit or roll back a transaction: the caller
starts the unit of work (``with engine.begin() as conn:``) so an import is all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    LocalKnowledge,
    Organisation,
    Proficiency,
    Topic,
)
from experts.tables import (
    AffiliationRow,
    DistrictRow,
    ExpertRow,
    LocalKnowledgeRow,
    OrganisationInterestRow,
    OrganisationRow,
    ProficiencyRow,
    TopicRow,
)

__all__ = ["save_expertise", "load_expertise", "count_experts"]

_CHUNK = 5_000


def _conn(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def _table(row: type[Any]) -> Table:
    table: Table = row.__table__
    return table


def _parents_first(records: Sequence[Topic | District]) -> list[int]:
    """Indices of ``records`` ordered so that every parent comes before its children."""
    index: dict[str, int] = {r.id: i for i, r in enumerate(records)}
    done: set[int] = set()
    order: list[int] = []
    for i in range(len(records)):
        chain: list[int] = []
        j: int | None = i
        while j is not None and j not in done and j not in chain:
            chain.append(j)
            parent = records[j].parent
            j = index.get(parent) if parent is not None else None
        for k in reversed(chain):
            done.add(k)
            order.append(k)
    return order


def _insert(conn: Connection, row: type[Any], values: Iterable[Mapping[str, Any]]) -> None:
    batch: list[Mapping[str, Any]] = []
    for v in values:
        batch.append(v)
        if len(batch) >= _CHUNK:
            conn.execute(insert(_table(row)), batch)
            batch = []
    if batch:
        conn.execute(insert(_table(row)), batch)


def save_expertise(db: Session | Connection, data: ExpertiseData, *, replace: bool = True) -> None:
    """Write ``data`` to the expertise tables inside the caller's transaction.

    Parameters
    ----------
    db : Session or Connection
        An open unit of work; this function does not commit.
    data : ExpertiseData
        Checked data, e.g. from :func:`experts.io.read_expertise`.
    replace : bool
        If true (default) the tables end up holding exactly ``data``. If false, ``data`` is
        merged into what is stored: records with the same id are replaced, others kept.

    Raises
    ------
    sqlalchemy.exc.IntegrityError
        If ``data`` refers to records that are neither in it nor stored (check it first).
    """
    conn = _conn(db)
    if not replace:
        data = load_expertise(conn).merged_with(data)
    for row in (
        LocalKnowledgeRow,
        ProficiencyRow,
        AffiliationRow,
        ExpertRow,
        OrganisationInterestRow,
        OrganisationRow,
    ):
        conn.execute(delete(_table(row)))
    # Self-referencing rows: drop the links first so any deletion order is valid.
    conn.execute(_table(DistrictRow).update().values(parent_id=None))
    conn.execute(delete(_table(DistrictRow)))
    conn.execute(_table(TopicRow).update().values(parent_id=None))
    conn.execute(delete(_table(TopicRow)))

    topics = data.topics
    _insert(
        conn,
        TopicRow,
        (
            {
                "id": topics[i].id,
                "name": topics[i].name,
                "parent_id": topics[i].parent,
                "aliases": list(topics[i].aliases),
                "position": i,
            }
            for i in _parents_first(topics)
        ),
    )
    districts = data.districts
    _insert(
        conn,
        DistrictRow,
        (
            {
                "id": districts[i].id,
                "name": districts[i].name,
                "kind": districts[i].kind,
                "parent_id": districts[i].parent,
                "profile": districts[i].profile,
                "position": i,
            }
            for i in _parents_first(districts)
        ),
    )
    _insert(
        conn,
        OrganisationRow,
        (
            {"id": o.id, "name": o.name, "kind": o.kind, "district_id": o.district, "position": i}
            for i, o in enumerate(data.organisations)
        ),
    )
    _insert(
        conn,
        OrganisationInterestRow,
        (
            {"organisation_id": o.id, "topic_id": t, "position": j}
            for o in data.organisations
            for j, t in enumerate(o.interests)
        ),
    )
    _insert(
        conn,
        ExpertRow,
        (
            {
                "id": e.id,
                "name": e.name,
                "title": e.title,
                "available": e.available,
                "workload_cap": e.workload_cap,
                "active_assignments": e.active_assignments,
                "position": i,
                "notify": list(e.notify),
                "lang": e.lang,
            }
            for i, e in enumerate(data.experts)
        ),
    )
    _insert(
        conn,
        AffiliationRow,
        (
            {
                "expert_id": e.id,
                "organisation_id": a.organisation,
                "role": a.role,
                "current": a.current,
                "position": j,
            }
            for e in data.experts
            for j, a in enumerate(e.affiliations)
        ),
    )
    _insert(
        conn,
        ProficiencyRow,
        (
            {
                "expert_id": e.id,
                "topic_id": p.topic,
                "weight": p.weight,
                "last_active": p.last_active,
                "position": j,
            }
            for e in data.experts
            for j, p in enumerate(e.proficiencies)
        ),
    )
    _insert(
        conn,
        LocalKnowledgeRow,
        (
            {"expert_id": e.id, "district_id": k.district, "weight": k.weight, "position": j}
            for e in data.experts
            for j, k in enumerate(e.districts)
        ),
    )


def load_expertise(db: Session | Connection) -> ExpertiseData:
    """Read the whole expertise database, records in the order they were saved.

    Parameters
    ----------
    db : Session or Connection
        An open unit of work (read-only is enough).

    Returns
    -------
    ExpertiseData
        Empty if nothing has been imported yet.
    """
    conn = _conn(db)

    def rows(row: type[Any], *order: str) -> Sequence[Any]:
        table = _table(row)
        return conn.execute(select(table).order_by(*(table.c[o] for o in order))).all()

    aliases_of = {r.id: tuple(r.aliases or ()) for r in rows(TopicRow, "position")}
    topics = tuple(
        Topic(id=r.id, name=r.name, parent=r.parent_id, aliases=aliases_of[r.id])
        for r in rows(TopicRow, "position")
    )
    districts = tuple(
        District(id=r.id, name=r.name, kind=r.kind, parent=r.parent_id, profile=r.profile)
        for r in rows(DistrictRow, "position")
    )
    interests: dict[str, list[str]] = {}
    for r in rows(OrganisationInterestRow, "organisation_id", "position"):
        interests.setdefault(r.organisation_id, []).append(r.topic_id)
    organisations = tuple(
        Organisation(
            id=r.id,
            name=r.name,
            kind=r.kind,
            district=r.district_id,
            interests=tuple(interests.get(r.id, ())),
        )
        for r in rows(OrganisationRow, "position")
    )
    affiliations: dict[str, list[Affiliation]] = {}
    for r in rows(AffiliationRow, "expert_id", "position"):
        affiliations.setdefault(r.expert_id, []).append(
            Affiliation(organisation=r.organisation_id, role=r.role, current=r.current)
        )
    proficiencies: dict[str, list[Proficiency]] = {}
    for r in rows(ProficiencyRow, "expert_id", "position"):
        proficiencies.setdefault(r.expert_id, []).append(
            Proficiency(topic=r.topic_id, weight=r.weight, last_active=r.last_active)
        )
    knowledge: dict[str, list[LocalKnowledge]] = {}
    for r in rows(LocalKnowledgeRow, "expert_id", "position"):
        knowledge.setdefault(r.expert_id, []).append(
            LocalKnowledge(district=r.district_id, weight=r.weight)
        )
    experts = tuple(
        Expert(
            id=r.id,
            name=r.name,
            title=r.title,
            available=r.available,
            workload_cap=r.workload_cap,
            active_assignments=r.active_assignments,
            affiliations=tuple(affiliations.get(r.id, ())),
            proficiencies=tuple(proficiencies.get(r.id, ())),
            districts=tuple(knowledge.get(r.id, ())),
            notify=tuple(r.notify or ()),
            lang=r.lang or "zh",
        )
        for r in rows(ExpertRow, "position")
    )
    return ExpertiseData(
        topics=topics, districts=districts, organisations=organisations, experts=experts
    )


def count_experts(db: Session | Connection) -> int:
    """How many experts are stored."""
    conn = _conn(db)
    return int(conn.execute(select(func.count()).select_from(_table(ExpertRow))).scalar_one())
