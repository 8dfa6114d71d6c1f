"""Typed progress records in SQLite and PostgreSQL: written once with their audit event, read
back as models, and filled from the audit events of a store upgraded to revision 0005."""

from __future__ import annotations

from decisions import services
from decisions.classes import load_classes
from decisions.db import current_revision, head_revision, migrate
from decisions.progress import ExecutionCycle, RoundRecord, Routing, Slot
from tests.integration.decisions.conftest import World, rewind

ROUTING = Routing(
    first_round=1,
    slots=(
        Slot(number=0, expert="expert-0", alternates=("expert-2",), reason="Expert 0: zoning"),
        Slot(number=1, expert="expert-1", reason="Expert 1: sanitation"),
    ),
    notes={"uncovered": [], "kept_out": [], "kept_out_count": 0, "shortfall": None},
)
ROUND = RoundRecord(
    round=1,
    first_round=1,
    answers=2,
    consensus=True,
    recommendations={"approve": 2},
    medians={"cost": 6.0},
    iqr={"cost": 0.5},
    conditions=("Publish the cleaning schedule.",),
)


def test_routing_is_recorded_once_and_read_back_typed(world: World) -> None:
    """The first writer of a routing records it with its event; a second writes nothing."""
    did = world.decision.id
    assert services.record_routing(world.engine, did, ROUTING, key=f"{did}:routed:1")
    again = ROUTING.model_copy(update={"slots": ROUTING.slots[:1]})
    assert not services.record_routing(world.engine, did, again, key=f"{did}:routed:1")
    assert services.routings_of(world.engine, did) == (ROUTING,)
    event = services.history(world.engine, did)[-1]
    assert event.action == "consultation.routed"
    assert event.data["alternates"] == {"expert-0": ["expert-2"], "expert-1": []}


def test_a_round_is_concluded_in_place_with_its_report_event(world: World) -> None:
    """Concluding a consultation marks its last round concluded and records the report."""
    did = world.decision.id
    assert services.record_round(world.engine, did, ROUND, key=f"{did}:aggregate:1")
    assert services.conclude_consultation(world.engine, did, ROUND, key=f"{did}:consult-report:1")
    view = services.load_view(world.engine, did, load_classes())
    assert view.rounds == (ROUND.model_copy(update={"concluded": True}),)
    assert view.conditions() == ("Publish the cleaning schedule.",)
    actions = [e.action for e in services.history(world.engine, did)[-2:]]
    assert actions == ["consultation.round_aggregated", "consultation.reported"]


def test_cycles_are_recorded_with_their_outcome(world: World) -> None:
    """A rework cycle and an accepted one are two typed records with two kinds of event."""
    did = world.decision.id
    rework = ExecutionCycle(cycle=1, inspected=2, accepted=1, needed=2, outcome="rework")
    accepted = ExecutionCycle(cycle=2, inspected=2, accepted=2, needed=2, outcome="accepted")
    assert services.record_cycle(world.engine, did, rework, key=f"{did}:rework:1")
    assert services.record_cycle(world.engine, did, accepted, key=f"{did}:accepted:2")
    assert services.load_view(world.engine, did, load_classes()).cycles == (rework, accepted)
    actions = [e.action for e in services.history(world.engine, did)[-2:]]
    assert actions == ["execution.rework", "execution.cycle_accepted"]


def test_migration_0005_fills_the_records_from_an_existing_stores_events(world: World) -> None:
    """A store at 0004 whose progress lives only in audit events gets typed records on
    upgrade: routing slots in alternate order, rounds in their consultation, the concluded
    round with its conditions, and rework cycles."""
    did, engine = world.decision.id, world.engine

    def event(action: str, payload: dict[str, object]) -> None:
        services.append_event(
            engine, actor="system", action=action, decision_id=did, payload=payload
        )

    event(
        "consultation.routed",
        {
            "round": 1,
            "experts": ["expert-0", "expert-1"],
            "alternates": {"expert-0": ["expert-2"], "expert-1": []},
            "reasons": {"expert-0": "Expert 0: zoning", "expert-1": "Expert 1: sanitation"},
            "uncovered": [],
        },
    )
    for round_no, consensus in ((1, False), (2, True)):
        event(
            "consultation.round_aggregated",
            {
                "round": round_no,
                "answers": 2,
                "consensus": consensus,
                "dissent": [] if consensus else ["cost (IQR 2 > 1)"],
                "recommendations": {"approve": 2},
                "medians": {"cost": 6.0},
                "iqr": {"cost": 0.5 if consensus else 2.0},
            },
        )
    event("consultation.reported", {"rounds": 2, "conditions": ["Publish the schedule."]})
    event("execution.rework", {"cycle": 1, "accepted": 0, "needed": 1})
    rewind(engine, "0004_expert_actors")

    migrate(engine)

    assert current_revision(engine) == head_revision(engine)
    for actor in services.list_actors(engine):  # 0006: nobody is told until given addresses
        assert (actor.notify, actor.lang) == ((), "zh")
    view = services.load_view(engine, did, load_classes())
    (routing,) = view.routings
    assert [s.candidates for s in routing.slots] == [("expert-0", "expert-2"), ("expert-1",)]
    assert routing.slots[0].reason == "Expert 0: zoning"
    assert [(r.round, r.first_round, r.consensus, r.concluded) for r in view.rounds] == [
        (1, 1, False, False),
        (2, 1, True, True),
    ]
    assert view.conditions() == ("Publish the schedule.",)
    assert view.cycles == (
        ExecutionCycle(cycle=1, inspected=None, accepted=0, needed=1, outcome="rework"),
    )
