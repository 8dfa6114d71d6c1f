"""Tasks remember the Prefect flow run that waits for their answer.

Revision ID: 0003_task_runs
Revises: 0002_expertise
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_task_runs"
down_revision = "0002_expertise"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("flow_run_id", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("flow_run_id")
