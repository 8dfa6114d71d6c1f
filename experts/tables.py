"""SQL tables of the expertise database (SQLAlchemy 2 declarative mapping).

These tables live in the same database and Alembic history as the decision store
(revision ``0002_expertise``); they have their own :class:`ExpertsBase` so ``experts`` never
imports ``decisions``. Every row keeps a ``position`` so an export lists records in the order
they were imported, which makes file -> database -> file lossless.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ExpertsBase",
    "TopicRow",
    "DistrictRow",
    "OrganisationRow",
    "OrganisationInterestRow",
    "ExpertRow",
    "AffiliationRow",
    "ProficiencyRow",
    "LocalKnowledgeRow",
]

ID = 100
NAME = 300

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class ExpertsBase(DeclarativeBase):
    """Declarative base of the expertise tables, with its own metadata."""

    metadata = MetaData(naming_convention=NAMING)


class TopicRow(ExpertsBase):
    """A topic of the taxonomy; ``parent_id`` points at the broader topic."""

    __tablename__ = "expertise_topics"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    parent_id: Mapped[str | None] = mapped_column(
        String(ID), ForeignKey("expertise_topics.id"), index=True
    )
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer)


class DistrictRow(ExpertsBase):
    """A district, or a street office (``kind='street_office'``) inside its parent district."""

    __tablename__ = "expertise_districts"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[str | None] = mapped_column(
        String(ID), ForeignKey("expertise_districts.id"), index=True
    )
    profile: Mapped[str | None] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer)


class OrganisationRow(ExpertsBase):
    """An organisation experts are affiliated with."""

    __tablename__ = "expertise_organisations"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(30))
    district_id: Mapped[str | None] = mapped_column(
        String(ID), ForeignKey("expertise_districts.id"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class OrganisationInterestRow(ExpertsBase):
    """A topic in which an organisation has a commercial stake (bids, contracts)."""

    __tablename__ = "expertise_organisation_interests"

    organisation_id: Mapped[str] = mapped_column(
        String(ID),
        ForeignKey("expertise_organisations.id", ondelete="CASCADE"),
        primary_key=True,
    )
    topic_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_topics.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class ExpertRow(ExpertsBase):
    """An expert with their availability and workload."""

    __tablename__ = "expertise_experts"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    title: Mapped[str] = mapped_column(String(NAME), default="")
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    workload_cap: Mapped[int] = mapped_column(Integer, default=3)
    active_assignments: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer)
    notify: Mapped[list[str]] = mapped_column(JSON, default=list)
    lang: Mapped[str] = mapped_column(String(8), default="zh")


class AffiliationRow(ExpertsBase):
    """An expert's tie to an organisation."""

    __tablename__ = "expertise_affiliations"

    expert_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_experts.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_organisations.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(NAME), default="employee")
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)


class ProficiencyRow(ExpertsBase):
    """How well an expert knows a topic (``0 < weight <= 1``) and when they last worked in it."""

    __tablename__ = "expertise_proficiencies"

    expert_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_experts.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_topics.id"), primary_key=True, index=True
    )
    weight: Mapped[float] = mapped_column(Float)
    last_active: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)


class LocalKnowledgeRow(ExpertsBase):
    """An expert's knowledge of a district or street office."""

    __tablename__ = "expertise_local_knowledge"

    expert_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_experts.id", ondelete="CASCADE"), primary_key=True
    )
    district_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("expertise_districts.id"), primary_key=True, index=True
    )
    weight: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer)
