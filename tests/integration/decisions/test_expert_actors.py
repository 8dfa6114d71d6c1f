"""Experts keep one valid actor id whatever script their expertise id is in (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from decisions import services
from decisions.classes import load_classes
from decisions.db import current_revision, head_revision, make_engine, migrate
from decisions.exceptions import ActorError
from decisions.expert_actors import actor_ids_for_experts, experts_of_actors
from decisions.model import ACTOR_ID_PATTERN
from decisions.uow import UnitOfWork
from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    Organisation,
    Proficiency,
    Topic,
)
from experts.sample import load_sample
from experts.store import save_expertise
from flows.reports import routing_markdown
from flows.routing import route_consultation, routing_record
from tests.integration.decisions.conftest import World, rewind


@pytest.mark.parametrize(
    ("expert_id", "kept"),
    [("E030", "e030"), ("王芳", None), ("E 31", None), ("Ж-7", None), ("x" * 80, None)],
)
def test_every_expert_id_gets_a_valid_stable_actor_id(
    engine: Engine, expert_id: str, kept: str | None
) -> None:
    """An ASCII id keeps its lowercase form; any other gets a valid derived id, the same later."""
    first = actor_ids_for_experts(engine, [expert_id])[expert_id]
    assert ACTOR_ID_PATTERN.match(first)
    assert first == kept or (kept is None and first.startswith("expert-"))
    assert actor_ids_for_experts(engine, [expert_id]) == {expert_id: first}
    actor = services.ensure_actor(
        engine, actor_id=first, name=expert_id, roles=["expert"], affiliations=[]
    )
    assert actor.id == first
    with UnitOfWork(engine, read_only=True) as uow:
        assert experts_of_actors(uow.session) == {first: expert_id}


def test_ids_that_collide_get_distinct_actors(engine: Engine) -> None:
    """Two experts whose ids differ only in case, or who meet a non-expert actor, never share."""
    services.add_actor(engine, actor_id="li-wei", name="李伟", roles=["planner"])
    ids = actor_ids_for_experts(engine, ["E030", "e030", "LI-WEI"])
    assert ids["E030"] == "e030"
    assert len(set(ids.values())) == 3
    assert ids["LI-WEI"] != "li-wei" and ACTOR_ID_PATTERN.match(ids["LI-WEI"])


def test_an_actor_made_before_the_mapping_is_backfilled(engine: Engine) -> None:
    """An expert actor routing made as the lowercase id before revision 0004 keeps that id."""
    services.ensure_actor(engine, actor_id="e031", name="刘洋", roles=["expert"], affiliations=[])
    assert actor_ids_for_experts(engine, ["E031"]) == {"E031": "e031"}


@pytest.mark.parametrize("bad_id", ["王芳", "E 31", "a"])
def test_ensure_actor_refuses_a_bad_id_as_such(engine: Engine, bad_id: str) -> None:
    """An id the Actor pattern refuses is an ActorError naming the id, not a lost race."""
    with pytest.raises(ActorError, match="an actor id is 2-63 lowercase"):
        services.ensure_actor(
            engine, actor_id=bad_id, name="王芳", roles=["expert"], affiliations=[]
        )


def test_ensure_actor_refreshes_affiliations(engine: Engine) -> None:
    """Routing an expert again sets the actor's ties to the expertise database's, audited."""
    services.ensure_actor(
        engine, actor_id="e040", name="陈静", roles=["expert"], affiliations=["old-institute"]
    )
    actor = services.ensure_actor(
        engine, actor_id="e040", name="陈静", roles=["expert"], affiliations=["cleanco"]
    )
    assert actor.affiliations == ("cleanco",)
    assert services.get_actor(engine, "e040").affiliations == ("cleanco",)
    changed = [e for e in services.export_events(engine) if e.action.endswith("changed")]
    assert [e.data for e in changed] == [
        {"id": "e040", "before": ["old-institute"], "after": ["cleanco"]}
    ]


def _renamed(sample: ExpertiseData) -> ExpertiseData:
    """The sample with every expert id in another script or with a blank inside."""
    names = {
        e.id: (f"专家{e.id[1:]}" if i % 2 else f"E {e.id[1:]}")
        for i, e in enumerate(sample.experts)
    }
    return sample.model_copy(
        update={"experts": tuple(e.model_copy(update={"id": names[e.id]}) for e in sample.experts)}
    )


def test_routing_an_expertise_database_with_non_ascii_ids(world: World) -> None:
    """A decision routes to experts with ids like 专家031 and E 31; each becomes a valid actor."""
    data = _renamed(load_sample())
    with world.engine.begin() as conn:
        save_expertise(conn, data)
    dclass = load_classes().get("major", "east")
    routed, routing = route_consultation(world.engine, world.decision, dclass)
    assert routed and len(routed) == len(routing.picks)
    for r in routed:
        assert ACTOR_ID_PATTERN.match(r.actor_id)
        assert services.get_actor(world.engine, r.actor_id).name == r.name
        for alternate in r.alternates:
            assert ACTOR_ID_PATTERN.match(alternate)
    again, _ = route_consultation(world.engine, world.decision, dclass)
    assert [r.actor_id for r in again] == [r.actor_id for r in routed]


def test_migration_0004_upgrades_an_existing_store(db_url: str) -> None:
    """A store at revision 0003 with actors upgrades to the newest and gains the mapping table."""
    engine = make_engine(db_url)
    try:
        rewind(engine, "0003_task_runs")
        with engine.begin() as conn:  # an actor as release 0003 wrote it
            conn.execute(
                text(
                    "INSERT INTO actors (id, name, roles, affiliations, bodies, token_hash,"
                    " created_at) VALUES ('e030', '王建国', '[\"expert\"]', '[]', '[]',"
                    " 'unusable-e030', CURRENT_TIMESTAMP)"
                )
            )
        migrate(engine)
        assert current_revision(engine) == head_revision(engine)
        assert actor_ids_for_experts(engine, ["E030"]) == {"E030": "e030"}
    finally:
        engine.dispose()


def _eight_organisations() -> ExpertiseData:
    """Sixteen experts of the decision's topics at eight organisations, two at each."""
    topics = (
        Topic(id="street-cleaning", name="道路清扫保洁"),
        Topic(id="market-based-contracting", name="环卫市场化运作"),
    )
    return ExpertiseData(
        topics=topics,
        districts=(District(id="east-district", name="东区"),),
        organisations=tuple(Organisation(id=f"org{i}", name=f"单位{i}") for i in range(8)),
        experts=tuple(
            Expert(
                id=f"王{i}{j}",
                name=f"王建国{i}{j}",
                affiliations=(Affiliation(organisation=f"org{i}"),),
                proficiencies=tuple(
                    Proficiency(topic=t.id, weight=0.9 - 0.1 * j, last_active=2024) for t in topics
                ),
            )
            for i in range(8)
            for j in range(2)
        ),
    )


def test_a_major_decision_reports_a_shortfall_in_its_history(world: World) -> None:
    """A major decision in the east asks for 9 experts; one per organisation allows 8: the
    routed event and the report say so and name each expert kept out with the rule."""
    with world.engine.begin() as conn:
        save_expertise(conn, _eight_organisations())
    dclass = load_classes().get("major", "east")
    assert dclass.experts == 9
    routed, routing = route_consultation(world.engine, world.decision, dclass)
    assert len(routed) == 8
    record = routing_record(1, routed, routing)
    payload = record.notes
    assert payload["shortfall"]["asked"] == 9 and payload["shortfall"]["found"] == 8
    assert payload["shortfall"]["rules"] == {"organisation": 8}
    named = {x["expert"]: x for x in payload["kept_out"]}
    assert payload["kept_out_count"] == len(named) == 8
    assert {x["rule"] for x in named.values()} == {"organisation"}
    assert named["王01"]["name"] == "王建国01" and "王建国00 (王00)" in named["王01"]["reason"]
    report = routing_markdown(record).replace("\\", "")  # as rendered: escapes removed
    assert "asked for 9 experts, found 8: organisation diversity" in report
    assert "王建国01 (`王01`), organisation: shares 单位0" in report


def test_routing_gives_experts_their_contacts_from_the_expertise_database(world: World) -> None:
    """Routed experts become actors with the database's addresses and language; an expert
    the database lists none for keeps what a manager gave them."""
    sample = load_sample()
    addresses = {e.id: f"mailto://expert{i}@example.cn" for i, e in enumerate(sample.experts)}
    data = sample.model_copy(
        update={
            "experts": tuple(
                e.model_copy(update={"notify": (addresses[e.id],), "lang": "en"})
                for e in sample.experts
            )
        }
    )
    with world.engine.begin() as conn:
        save_expertise(conn, data)
    routed, _routing = route_consultation(
        world.engine, world.decision, load_classes().get("major", "east")
    )
    with world.engine.connect() as conn:
        experts = experts_of_actors(conn)
    for r in routed:
        actor = services.get_actor(world.engine, r.actor_id)
        assert (actor.notify, actor.lang) == ((addresses[experts[r.actor_id]],), "en")
    manual = routed[0].actor_id
    services.set_contacts(world.engine, manual, notify=["json://10.0.0.1/x"], lang="zh")
    services.ensure_actor(
        world.engine, actor_id=manual, name="x", roles=["expert"], affiliations=[], notify=()
    )
    assert services.get_actor(world.engine, manual).notify == ("json://10.0.0.1/x",)
