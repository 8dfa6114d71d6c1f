"""People are told of their tasks: actors' notification addresses and language, the outbox.

Revision ID: 0006_people
Revises: 0005_progress
Create Date: 2026-11-30

The expertise database carries experts' addresses and language too (``experts.csv``'s
``notify`` and ``lang`` columns), which routing gives the actors it makes. Existing actors
and experts get no addresses (they are told nothing until a manager adds some) and
Chinese as their language. The outbox (``notifications``) starts empty: nothing that
happened before this revision is announced after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_people"
down_revision = "0005_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actors") as batch:
        batch.add_column(sa.Column("notify", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("lang", sa.String(8), nullable=False, server_default="zh"))
    with op.batch_alter_table("expertise_experts") as batch:
        batch.add_column(sa.Column("notify", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("lang", sa.String(8), nullable=False, server_default="zh"))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("decision_id", sa.String(20)),
        sa.Column("task_id", sa.String(40)),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("key", name="uq_notifications_key"),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_index("ix_notifications_decision_id", "notifications", ["decision_id"])
    op.create_index("ix_notifications_recipient", "notifications", ["recipient"])


def downgrade() -> None:
    op.drop_table("notifications")
    # plain DROP COLUMN (SQLite 3.35+): a batch copy of `actors` would trip the foreign keys
    # that tasks and answers hold on it
    for table in ("expertise_experts", "actors"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN lang")
        op.execute(f"ALTER TABLE {table} DROP COLUMN notify")
