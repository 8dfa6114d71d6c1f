"""Typed records of a decision's progress: routing and slots, Delphi rounds, execution cycles.

Revision ID: 0005_progress
Revises: 0004_expert_actors
Create Date: 2026-11-30

Until this revision the procedure read these back from audit payloads. The upgrade fills
the new tables from the events stores already hold, in chain order, so decisions in flight
go on where they were:

- ``consultation.routed`` → a routing and its slots (the routed expert, then the alternates);
- ``consultation.round_aggregated`` → a round, in the consultation whose routing it follows;
- ``consultation.reported`` → that consultation's last round is concluded, with conditions;
- ``execution.rework`` → a cycle sent back for rework. (An accepted cycle moved its decision
  out of execution at once, so the procedure never reads it; none is made up.)

The audit chain itself is not changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_progress"
down_revision = "0004_expert_actors"
branch_labels = None
depends_on = None

_ACTIONS = (
    "consultation.routed",
    "consultation.round_aggregated",
    "consultation.reported",
    "execution.rework",
)


def upgrade() -> None:
    routings = op.create_table(
        "consultation_routings",
        sa.Column("decision_id", sa.String(20), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("first_round", sa.Integer, primary_key=True),
        sa.Column("notes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    slots = op.create_table(
        "consultation_slots",
        sa.Column("decision_id", sa.String(20), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("first_round", sa.Integer, primary_key=True),
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    rounds = op.create_table(
        "consultation_rounds",
        sa.Column("decision_id", sa.String(20), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True),
        sa.Column("first_round", sa.Integer, nullable=False),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.Column("consensus", sa.Boolean, nullable=False),
        sa.Column("dissent", sa.JSON, nullable=False),
        sa.Column("recommendations", sa.JSON, nullable=False),
        sa.Column("medians", sa.JSON, nullable=False),
        sa.Column("iqr", sa.JSON, nullable=False),
        sa.Column("conditions", sa.JSON, nullable=False),
        sa.Column("concluded", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    cycles = op.create_table(
        "execution_cycles",
        sa.Column("decision_id", sa.String(20), sa.ForeignKey("decisions.id"), primary_key=True),
        sa.Column("cycle", sa.Integer, primary_key=True),
        sa.Column("inspected", sa.Integer),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("needed", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    _backfill(routings, slots, rounds, cycles)


def _backfill(routings: Any, slots: Any, rounds: Any, cycles: Any) -> None:
    """Fill the tables from the audit events a store already holds."""
    bind = op.get_bind()
    audit = sa.table(
        "audit_events",
        sa.column("seq"),
        sa.column("action"),
        sa.column("decision_id"),
        sa.column("payload"),
        sa.column("recorded_at"),
    )
    query = (
        sa.select(audit.c.action, audit.c.decision_id, audit.c.payload, audit.c.recorded_at)
        .where(audit.c.action.in_(_ACTIONS), audit.c.decision_id.is_not(None))
        .order_by(audit.c.seq)
    )
    first_of: dict[str, list[int]] = {}
    made: dict[tuple[str, int], dict[str, Any]] = {}
    for action, decision_id, payload, recorded_at in bind.execute(query):
        data = json.loads(payload)
        when = _moment(recorded_at)
        if action == "consultation.routed":
            first = int(data.get("round", 1))
            first_of.setdefault(decision_id, []).append(first)
            _routing(bind, routings, slots, decision_id, first, data, when)
        elif action == "consultation.round_aggregated":
            number = int(data["round"])
            starts = [r for r in first_of.get(decision_id, []) if r <= number]
            made[(decision_id, number)] = {
                "decision_id": decision_id,
                "round": number,
                "first_round": max(starts) if starts else number,
                "answers": int(data.get("answers", 0)),
                "consensus": bool(data.get("consensus", False)),
                "dissent": list(data.get("dissent", [])),
                "recommendations": dict(data.get("recommendations", {})),
                "medians": dict(data.get("medians", {})),
                "iqr": dict(data.get("iqr", {})),
                "conditions": [],
                "concluded": False,
                "created_at": when,
            }
        elif action == "consultation.reported":
            row = made.get((decision_id, int(data.get("rounds", 0))))
            if row is not None:
                row["concluded"] = True
                row["conditions"] = list(data.get("conditions", []))
        else:  # execution.rework
            bind.execute(
                cycles.insert().values(
                    decision_id=decision_id,
                    cycle=int(data["cycle"]),
                    inspected=data.get("inspected"),  # not recorded before this revision
                    accepted=int(data.get("accepted", 0)),
                    needed=int(data.get("needed", 0)),
                    outcome="rework",
                    created_at=when,
                )
            )
    if made:
        bind.execute(rounds.insert(), list(made.values()))


def _routing(
    bind: Any,
    routings: Any,
    slots: Any,
    decision_id: str,
    first: int,
    data: dict[str, Any],
    when: datetime,
) -> None:
    experts = list(data.get("experts", []))
    alternates = data.get("alternates", {})
    reasons = data.get("reasons", {})
    notes = {
        k: v for k, v in data.items() if k not in {"round", "experts", "alternates", "reasons"}
    }
    bind.execute(
        routings.insert().values(
            decision_id=decision_id, first_round=first, notes=notes, created_at=when
        )
    )
    rows = [
        {
            "decision_id": decision_id,
            "first_round": first,
            "slot": number,
            "position": position,
            "actor_id": actor,
            "reason": reasons.get(expert, "") if position == 0 else "",
        }
        for number, expert in enumerate(experts)
        for position, actor in enumerate([expert, *alternates.get(expert, [])])
    ]
    if rows:
        bind.execute(slots.insert(), rows)


def _moment(recorded_at: str) -> datetime:
    try:
        moment = datetime.fromisoformat(recorded_at)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def downgrade() -> None:
    op.drop_table("execution_cycles")
    op.drop_table("consultation_rounds")
    op.drop_table("consultation_slots")
    op.drop_table("consultation_routings")
