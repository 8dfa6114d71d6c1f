"""Fixtures for store tests: a populated decision and a way to damage the chain."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, Engine

from decisions import services
from decisions.classes import load_classes
from decisions.model import Actor, Decision

PROPOSAL = {
    "title": "道路保洁市场化：建设路与人民街",
    "description": "Contract out the cleaning of Jianshe Road and Renmin Street for three years.",
    "class": "major",
    "district": "east-district",
    "district_type": "east",
    "topics": ["street-cleaning", "market-based-contracting"],
    "stakeholders": ["jianshe-residents-committee"],
    "bidders": ["cleanco", "greenway-sanitation"],
}


@dataclass
class World:
    engine: Engine
    planner: Actor
    planner_token: str
    experts: list[Actor]
    members: list[Actor]
    executor: Actor
    inspector: Actor
    decision: Decision


@pytest.fixture
def world(engine: Engine) -> World:
    """A store with a planner, three experts, two members, an executor and an inspector,
    and one major decision in consultation."""
    planner, token = services.add_actor(
        engine,
        actor_id="li-wei",
        name="李伟",
        roles=["planner", "member"],
        affiliations=["east-bureau"],
    )
    experts = [
        services.add_actor(
            engine,
            actor_id=f"expert-{i}",
            name=f"Expert {i}",
            roles=["expert"],
            affiliations=[f"institute-{i}"],
        )[0]
        for i in range(3)
    ]
    members = [
        services.add_actor(
            engine,
            actor_id=f"member-{i}",
            name=f"Member {i}",
            roles=["member"],
            bodies=["district-standing-committee"],
        )[0]
        for i in range(2)
    ]
    executor = services.add_actor(
        engine, actor_id="street-office", name="Jianshe Street Office", roles=["executor"]
    )[0]
    inspector = services.add_actor(
        engine, actor_id="inspector-zhou", name="Zhou Min", roles=["inspector"]
    )[0]
    decision = services.submit_proposal(
        engine,
        services.Proposal.model_validate(PROPOSAL),
        planner=planner,
        classes=load_classes(),
        idempotency_key="submit-1",
    )
    decision = services.apply_transition(
        engine, decision.id, "start_consultation", idempotency_key="consult-1"
    )
    return World(engine, planner, token, experts, members, executor, inspector, decision)


@contextmanager
def chain_unprotected(engine: Engine) -> Iterator[Connection]:
    """Lift the append-only triggers for one transaction, as an attacker with DBA rights
    could, then put them back."""
    migration = importlib.import_module("migrations.versions.0001_store")
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        yield conn
        if conn.dialect.name == "sqlite":
            for statement in migration.SQLITE_TRIGGERS:
                conn.exec_driver_sql(statement)
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")


def rewind(engine: Engine, revision: str) -> None:
    """Take the store's schema back to ``revision`` with the migrations' own downgrades,
    as a store made by an older release would be."""
    from alembic import command

    from decisions.db import _alembic_config

    command.downgrade(_alembic_config(engine), revision)
