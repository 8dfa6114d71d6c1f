"""Routing a decision's consultation to experts from the expertise database.

The ranking is ``experts.rank_experts``; this module feeds it the decision's topics,
district and interested organisations, and makes sure each routed expert is an actor the
store knows (id ``e030`` for expert ``E030``, affiliated with their current organisations),
so the separation of powers can check them like anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from decisions import services
from decisions.classes import DecisionClass
from decisions.model import Decision
from experts.graph import build_graph
from experts.model import Expert
from experts.ranking import Routing, rank_experts
from experts.store import load_expertise

__all__ = ["RoutedExpert", "route_consultation", "actor_id_for_expert"]


@dataclass(frozen=True)
class RoutedExpert:
    actor_id: str
    name: str
    reason: str
    alternates: tuple[str, ...]


def actor_id_for_expert(expert_id: str) -> str:
    """Actor ids are lowercase; expertise ids like ``E030`` become ``e030``."""
    return expert_id.lower()


def _ensure(engine: Engine, expert: Expert) -> str:
    actor = services.ensure_actor(
        engine,
        actor_id=actor_id_for_expert(expert.id),
        name=expert.name,
        roles=["expert"],
        affiliations=[a.organisation for a in expert.affiliations if a.current],
    )
    return actor.id


def route_consultation(
    engine: Engine, decision: Decision, decision_class: DecisionClass
) -> tuple[list[RoutedExpert], Routing]:
    """Pick the class's number of experts (with alternates) for the decision."""
    with services.unit_of_work(engine, read_only=True) as session:
        data = load_expertise(session)
    if not data.experts:
        return [], Routing(topics=(), district=None, picks=(), uncovered=(), excluded=())
    graph = build_graph(data)
    routing = rank_experts(
        graph,
        decision.topics,
        district=decision.district,
        k=decision_class.experts,
        alternates=decision_class.alternates,
        stakeholders=[*decision.stakeholder_orgs, *decision.bidder_orgs, *decision.executor_orgs],
    )
    experts = {e.id: e for e in data.experts}
    routed = [
        RoutedExpert(
            actor_id=_ensure(engine, experts[pick.expert]),
            name=pick.name,
            reason=pick.reason,
            alternates=tuple(_ensure(engine, experts[alt.expert]) for alt in pick.alternates),
        )
        for pick in routing.picks
    ]
    return routed, routing
