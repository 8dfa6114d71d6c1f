"""The decision store: actors, decisions, proposal versions, tasks, answers, audit chain.

Revision ID: 0001_store
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001_store"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE is refused'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE is refused'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION counsel_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit events are append-only: % is refused', TG_OP;
       END $$""",
    """CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION counsel_audit_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION counsel_audit_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "actors",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("affiliations", sa.JSON, nullable=False),
        sa.Column("bodies", sa.JSON, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("class_name", sa.String(64), nullable=False),
        sa.Column("district", sa.String(120), nullable=False),
        sa.Column("district_type", sa.String(16)),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("stakeholder_orgs", sa.JSON, nullable=False),
        sa.Column("bidder_orgs", sa.JSON, nullable=False),
        sa.Column("executor_orgs", sa.JSON, nullable=False),
        sa.Column("planner_id", sa.String(64), sa.ForeignKey("actors.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("state_reason", sa.Text),
        sa.Column("stalled_from", sa.String(16)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "proposal_versions",
        sa.Column("decision_id", sa.String(20), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author_id", sa.String(64), sa.ForeignKey("actors.id"), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "decision_id", sa.String(20), sa.ForeignKey("decisions.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "assignee_id", sa.String(64), sa.ForeignKey("actors.id"), nullable=False, index=True
        ),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("deadline", TZ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer_code_hash", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(200)),
        sa.Column("measures", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column(
            "decision_id", sa.String(20), sa.ForeignKey("decisions.id"), nullable=False, index=True
        ),
        sa.Column("actor_id", sa.String(64), sa.ForeignKey("actors.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("audit_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("task_id", name="uq_answers_task"),
    )
    op.create_table(
        "audit_events",
        # INTEGER PRIMARY KEY on SQLite makes seq the rowid: one B-tree less per append.
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(20)),
        sa.Column("idempotency_key", sa.String(200), unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    meta = op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    # Answer codes are derived from this secret (see decisions.credentials.answer_code).
    op.bulk_insert(meta, [{"key": "answer_code_secret", "value": secrets.token_hex(32)}])
    op.create_index("ix_audit_events_decision_seq", "audit_events", ["decision_id", "seq"])
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS counsel_audit_append_only()")
    op.drop_table("store_meta")
    op.drop_table("audit_events")
    op.drop_table("answers")
    op.drop_table("tasks")
    op.drop_table("proposal_versions")
    op.drop_table("decisions")
    op.drop_table("actors")
