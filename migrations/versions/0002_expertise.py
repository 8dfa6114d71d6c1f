"""The expertise database: topics, districts, organisations, experts and their edges.

Revision ID: 0002_expertise
Revises: 0001_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_expertise"
down_revision = "0001_store"
branch_labels = None
depends_on = None

ID = 100
NAME = 300


def upgrade() -> None:
    op.create_table(
        "expertise_topics",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("parent_id", sa.String(ID), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["expertise_topics.id"], name="fk_expertise_topics_parent_id"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expertise_topics"),
    )
    op.create_index("ix_expertise_topics_parent_id", "expertise_topics", ["parent_id"])
    op.create_table(
        "expertise_districts",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("parent_id", sa.String(ID), nullable=True),
        sa.Column("profile", sa.String(50), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["expertise_districts.id"], name="fk_expertise_districts_parent_id"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expertise_districts"),
    )
    op.create_index("ix_expertise_districts_parent_id", "expertise_districts", ["parent_id"])
    op.create_table(
        "expertise_organisations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["expertise_districts.id"],
            name="fk_expertise_organisations_district_id",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_expertise_organisations"),
    )
    op.create_index(
        "ix_expertise_organisations_district_id", "expertise_organisations", ["district_id"]
    )
    op.create_table(
        "expertise_organisation_interests",
        sa.Column("organisation_id", sa.String(ID), nullable=False),
        sa.Column("topic_id", sa.String(ID), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["expertise_organisations.id"],
            ondelete="CASCADE",
            name="fk_expertise_organisation_interests_organisation_id",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["expertise_topics.id"],
            name="fk_expertise_organisation_interests_topic_id",
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "topic_id", name="pk_expertise_organisation_interests"
        ),
    )
    op.create_index(
        "ix_expertise_organisation_interests_topic_id",
        "expertise_organisation_interests",
        ["topic_id"],
    )
    op.create_table(
        "expertise_experts",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("title", sa.String(NAME), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("workload_cap", sa.Integer(), nullable=False),
        sa.Column("active_assignments", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_expertise_experts"),
    )
    op.create_table(
        "expertise_affiliations",
        sa.Column("expert_id", sa.String(ID), nullable=False),
        sa.Column("organisation_id", sa.String(ID), nullable=False),
        sa.Column("role", sa.String(NAME), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"],
            ["expertise_experts.id"],
            ondelete="CASCADE",
            name="fk_expertise_affiliations_expert_id",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["expertise_organisations.id"],
            name="fk_expertise_affiliations_organisation_id",
        ),
        sa.PrimaryKeyConstraint("expert_id", "organisation_id", name="pk_expertise_affiliations"),
    )
    op.create_index(
        "ix_expertise_affiliations_organisation_id", "expertise_affiliations", ["organisation_id"]
    )
    op.create_table(
        "expertise_proficiencies",
        sa.Column("expert_id", sa.String(ID), nullable=False),
        sa.Column("topic_id", sa.String(ID), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("last_active", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"],
            ["expertise_experts.id"],
            ondelete="CASCADE",
            name="fk_expertise_proficiencies_expert_id",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["expertise_topics.id"], name="fk_expertise_proficiencies_topic_id"
        ),
        sa.PrimaryKeyConstraint("expert_id", "topic_id", name="pk_expertise_proficiencies"),
    )
    op.create_index("ix_expertise_proficiencies_topic_id", "expertise_proficiencies", ["topic_id"])
    op.create_table(
        "expertise_local_knowledge",
        sa.Column("expert_id", sa.String(ID), nullable=False),
        sa.Column("district_id", sa.String(ID), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"],
            ["expertise_experts.id"],
            ondelete="CASCADE",
            name="fk_expertise_local_knowledge_expert_id",
        ),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["expertise_districts.id"],
            name="fk_expertise_local_knowledge_district_id",
        ),
        sa.PrimaryKeyConstraint("expert_id", "district_id", name="pk_expertise_local_knowledge"),
    )
    op.create_index(
        "ix_expertise_local_knowledge_district_id", "expertise_local_knowledge", ["district_id"]
    )


def downgrade() -> None:
    for table in (
        "expertise_local_knowledge",
        "expertise_proficiencies",
        "expertise_affiliations",
        "expertise_experts",
        "expertise_organisation_interests",
        "expertise_organisations",
        "expertise_districts",
        "expertise_topics",
    ):
        op.drop_table(table)
