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
from typing import Any

from sqlalchemy import Engine

from decisions import services
from decisions.classes import DecisionClass
from decisions.expert_actors import actor_ids_for_experts
from decisions.model import Decision
from experts.graph import build_graph
from experts.model import Expert
from experts.ranking import Routing, rank_experts
from experts.store import load_expertise
from flows.publishing import md_inline

__all__ = [
    "KEPT_OUT_LIMIT",
    "RoutedExpert",
    "route_consultation",
    "actor_id_for_expert",
    "routed_payload",
    "routing_markdown",
    "too_few_reason",
]

#: How many kept-out experts a ``consultation.routed`` event names (the rest are counted).
KEPT_OUT_LIMIT = 50
#: How many of them the consultation report lists.
KEPT_OUT_SHOWN = 10


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


def routed_payload(
    first_round: int, routed: list[RoutedExpert], routing: Routing
) -> dict[str, Any]:
    """The ``consultation.routed`` event's payload: who was routed, who was kept out and why.

    ``kept_out`` names the first :data:`KEPT_OUT_LIMIT` experts kept out (expertise id, name,
    rule, reason), ``kept_out_count`` how many there were; ``shortfall`` is None, or says
    how many experts were asked for and found and which rules kept the others out.
    """
    return {
        "round": first_round,
        "experts": [r.actor_id for r in routed],
        "alternates": {r.actor_id: list(r.alternates) for r in routed},
        "reasons": {r.actor_id: f"{r.name}: {r.reason}" for r in routed},
        "uncovered": [u.topic for u in routing.uncovered],
        "conflicts": [e.reason for e in routing.excluded if e.cause == "conflict"][:10],
        "kept_out": [
            {"expert": x.expert, "name": x.name, "rule": x.cause, "reason": x.reason}
            for x in routing.excluded[:KEPT_OUT_LIMIT]
        ],
        "kept_out_count": len(routing.excluded),
        "shortfall": routing.shortfall.model_dump() if routing.shortfall else None,
    }


def too_few_reason(routed: list[RoutedExpert], routing: Routing, min_answers: int) -> str:
    """Why a consultation stalls at routing: too few experts, and which rules kept others out."""
    causes = [u.reason for u in routing.uncovered]
    if routing.shortfall is not None:
        causes.append(routing.shortfall.reason)
    cause = "; ".join(causes) or "the expertise database has too few matching experts"
    return (
        f"Only {len(routed)} experts could be routed but the class needs "
        f"{min_answers} answers: {cause}."
    )


def routing_markdown(payload: dict[str, Any]) -> str:
    """The routed experts for the consultation report, with any shortfall and who was kept out.

    Reads a ``consultation.routed`` payload, including those written before shortfalls and
    kept-out experts were recorded. Names and reasons come from the expertise database and
    are shown as text (markdown escaped).
    """
    lines = [
        f"- **{md_inline(payload.get('reasons', {}).get(e, e))}** (`{e}`); alternates "
        f"{', '.join(payload['alternates'].get(e, [])) or 'none'}"
        for e in payload["experts"]
    ]
    shortfall = payload.get("shortfall")
    if shortfall:
        lines += ["", f"**Fewer experts than asked:** {md_inline(shortfall['reason'])}."]
    kept = payload.get("kept_out") or []
    if kept:
        lines += ["", "Kept out:"]
        lines += [
            f"- {md_inline(x['name'])} (`{x['expert']}`), {x['rule']}: {md_inline(x['reason'])}"
            for x in kept[:KEPT_OUT_SHOWN]
        ]
        more = int(payload.get("kept_out_count", len(kept))) - min(len(kept), KEPT_OUT_SHOWN)
        if more > 0:
            lines.append(f"- and {more} more (see the `consultation.routed` event)")
    return "\n".join(lines)
