"""Experts keep one actor id whatever script their expertise id is in.

Revision ID: 0004_expert_actors
Revises: 0003_task_runs
Create Date: 2026-11-27

Existing actors made from experts before this revision (actor id = the lowercase expert id)
are entered lazily, the first time routing meets the expert again
(:mod:`decisions.expert_actors`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_expert_actors"
down_revision = "0003_task_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "expert_actors",
        sa.Column("expert_id", sa.String(100), primary_key=True),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("actor_id", name="uq_expert_actors_actor"),
    )


def downgrade() -> None:
    op.drop_table("expert_actors")
