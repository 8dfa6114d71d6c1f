"""Routing a decision's consultation to experts from the expertise database.

The ranking is ``experts.rank_experts``; this module feeds it the decision's topics,
district and interested organisations, and makes sure each routed expert is an actor the
store knows, affiliated with their current organisations (refreshed at every routing), so the
separation of powers can check them like anyone else. The actor id comes from the store's
expert-to-actor mapping (:mod:`decisions.expert_actors`): ``e030`` for expert ``E030``, a
derived ``expert-…`` id for ids in other scripts such as ``王芳``, the same every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from decisions import services
from decisions.classes import DecisionClass
from decisions.expert_actors import actor_ids_for_experts
from decisions.model import Decision
from experts.graph import build_graph
from experts.model import Expert
from experts.ranking import Routing, rank_experts
from experts.store import load_expertise

__all__ = ["RoutedExpert", "route_consultation", "actor_id_for_expert"]


@dataclass(frozen=True)
class RoutedExpert:
    actor_id: str
    expert_id: str
    name: str
    reason: str
    alternates: tuple[str, ...]


def actor_id_for_expert(engine: Engine, expert_id: str) -> str:
    """The actor id of an expert of the expertise database (made and kept on first use)."""
    return actor_ids_for_experts(engine, [expert_id])[expert_id]


def _ensure(engine: Engine, expert: Expert, actor_id: str) -> str:
    actor = services.ensure_actor(
        engine,
        actor_id=actor_id,
        name=expert.name[:200],  # actor names are shorter than the expertise database's
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
    ids = actor_ids_for_experts(
        engine, [c.expert for p in routing.picks for c in (p, *p.alternates)]
    )
    routed = [
        RoutedExpert(
            actor_id=_ensure(engine, experts[pick.expert], ids[pick.expert]),
            expert_id=pick.expert,
            name=pick.name,
            reason=pick.reason,
            alternates=tuple(
                _ensure(engine, experts[alt.expert], ids[alt.expert]) for alt in pick.alternates
            ),
        )
        for pick in routing.picks
    ]
    return routed, routing
