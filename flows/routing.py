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
from decisions.progress import Routing as Record
from decisions.progress import Slot
from decisions.uow import UnitOfWork
from experts.graph import build_graph
from experts.model import Expert
from experts.ranking import Routing, rank_experts
from experts.store import load_expertise

__all__ = [
    "KEPT_OUT_LIMIT",
    "RoutedExpert",
    "route_consultation",
    "routing_record",
    "shortfall_cause",
]

#: How many kept-out experts a routing's record names (the rest are counted).
KEPT_OUT_LIMIT = 50


@dataclass(frozen=True)
class RoutedExpert:
    actor_id: str
    expert_id: str
    name: str
    reason: str
    alternates: tuple[str, ...]


def _ensure(engine: Engine, expert: Expert, actor_id: str) -> str:
    actor = services.ensure_actor(
        engine,
        actor_id=actor_id,
        name=expert.name[:200],  # actor names are shorter than the expertise database's
        roles=["expert"],
        affiliations=[a.organisation for a in expert.affiliations if a.current],
        notify=expert.notify,
        lang=expert.lang,
    )
    return actor.id


def route_consultation(
    engine: Engine, decision: Decision, decision_class: DecisionClass
) -> tuple[list[RoutedExpert], Routing]:
    """Pick the class's number of experts (with alternates) for the decision."""
    with UnitOfWork(engine, read_only=True) as uow:
        data = load_expertise(uow.session)
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


def routing_record(first_round: int, routed: list[RoutedExpert], routing: Routing) -> Record:
    """The typed record of a consultation's routing: a slot per routed expert with its
    alternates, and what the report says about the rest.

    ``notes`` names the first :data:`KEPT_OUT_LIMIT` experts kept out (expertise id, name,
    rule, reason) and counts them all; ``shortfall`` is None, or says how many experts were
    asked for and found and which rules kept the others out.
    """
    return Record(
        first_round=first_round,
        slots=tuple(
            Slot(
                number=n, expert=r.actor_id, alternates=r.alternates, reason=f"{r.name}: {r.reason}"
            )
            for n, r in enumerate(routed)
        ),
        notes={
            "uncovered": [u.topic for u in routing.uncovered],
            "conflicts": [e.reason for e in routing.excluded if e.cause == "conflict"][:10],
            "kept_out": [
                {"expert": x.expert, "name": x.name, "rule": x.cause, "reason": x.reason}
                for x in routing.excluded[:KEPT_OUT_LIMIT]
            ],
            "kept_out_count": len(routing.excluded),
            "shortfall": routing.shortfall.model_dump() if routing.shortfall else None,
        },
    )


def shortfall_cause(routing: Routing) -> str:
    """Why routing found fewer experts than asked: topics nobody covers, and the rules that
    kept the others out."""
    causes = [u.reason for u in routing.uncovered]
    if routing.shortfall is not None:
        causes.append(routing.shortfall.reason)
    return "; ".join(causes) or "the expertise database has too few matching experts"
