"""The eligible pool of a tender's evaluators, from the expertise database alone.

Chinese tendering practice draws evaluators from the experts of the right speciality,
leaving out anyone with an interest in a bidder. Here, for tender ``topics`` and ``bidders``:

- **speciality**: an expert needs a proficiency of at least ``min_proficiency`` in one of the
  topics or a topic under them in the taxonomy (the graph's topic tree); their score is the
  highest such proficiency, which the lot assignment uses as affinity;
- **conflicts**: anyone with an affiliation to a bidder, current or past, whatever its role
  (employee, consultant, any declared tie; the database keeps no end year for a past
  affiliation, so every one counts), and anyone who works for an organisation with a
  commercial stake in the tender's speciality (``interests``), which would make them a
  competitor of the bidders;
- **availability**: experts marked unavailable are left out;
- **one per organisation** (``per_organisation``), the highest scores kept
  (:func:`experts.draw.eligible_pool`).

Pure: an :class:`~experts.model.ExpertiseData` in, the pool and the reasons out.
"""

from __future__ import annotations

from collections.abc import Iterable

from experts.draw import PoolMember, eligible_pool
from experts.model import Expert, ExpertiseData

__all__ = ["speciality", "tender_pool", "SPECIALITY_MIN"]

#: The proficiency an expert needs in one of a tender's topics (or a narrower one).
SPECIALITY_MIN = 0.3


def speciality(data: ExpertiseData, topics: Iterable[str]) -> frozenset[str]:
    """The topics and every topic under them in the database's taxonomy.

    >>> from experts.sample import load_sample
    >>> sorted(speciality(load_sample(), ["city-sanitation"]))[:3]
    ['city-appearance', 'city-sanitation', 'cleaning-zones']
    """
    children: dict[str | None, list[str]] = {}
    for node in data.topics:
        children.setdefault(node.parent, []).append(node.id)
    found: set[str] = set()
    todo = list(topics)
    while todo:
        topic = todo.pop()
        if topic not in found:
            found.add(topic)
            todo += children.get(topic, [])
    return frozenset(found)


def _conflict(expert: Expert, bidders: frozenset[str], stakeholders: frozenset[str]) -> str | None:
    for link in expert.affiliations:
        if link.organisation in bidders:
            verb = "is" if link.current else "was"
            return f"{verb} {link.role} of the bidder {link.organisation}"
    for link in expert.affiliations:
        if link.current and link.organisation in stakeholders:
            return (
                f"works for {link.organisation}, which has a commercial stake in the "
                "tender's speciality"
            )
    return None


def tender_pool(
    data: ExpertiseData,
    topics: Iterable[str],
    *,
    bidders: Iterable[str] = (),
    per_organisation: int | None = 1,
    min_proficiency: float = SPECIALITY_MIN,
) -> tuple[tuple[PoolMember, ...], dict[str, str]]:
    """The experts eligible to evaluate a tender on ``topics`` with ``bidders``.

    Returns
    -------
    tuple
        The pool (members by expertise id, sorted) and ``{expert id: reason}`` for every
        expert left out: not of the speciality, conflicted, unavailable, or another of the
        same organisation kept instead.
    """
    field = speciality(data, topics)
    bidding = frozenset(bidders)
    stakeholders = frozenset(o.id for o in data.organisations if field & set(o.interests))
    conflicted: dict[str, str] = {}
    candidates: list[PoolMember] = []
    for expert in data.experts:
        weights = [p.weight for p in expert.proficiencies if p.topic in field]
        score = max(weights, default=0.0)
        reason = _conflict(expert, bidding, stakeholders)
        if reason is None and not expert.available:
            reason = "is not available"
        if reason is None and score < min_proficiency:
            reason = "is not of the tender's speciality"
        current = next((a.organisation for a in expert.affiliations if a.current), None)
        candidates.append(PoolMember(id=expert.id, organisation=current, score=round(score, 6)))
        if reason is not None:
            conflicted[expert.id] = reason
    return eligible_pool(candidates, conflicted=conflicted, per_organisation=per_organisation)
