"""What a routing returns: picks with alternates and explanations, and what was left out.

These are plain frozen models, separate from the method that fills them, so that callers
storing or showing a routing (the flows' payloads, the CLI's tables) need no graph library
to read one. Every exclusion, uncovered topic and shortfall carries a sentence a planner can
act on; :data:`RULES` names the rules in the order a shortfall lists them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = [
    "RULES",
    "ExclusionCause",
    "PathEdge",
    "Explanation",
    "Candidate",
    "Pick",
    "Exclusion",
    "UncoveredTopic",
    "Shortfall",
    "Routing",
]

#: The rule that keeps an expert out of the picks.
ExclusionCause = Literal["conflict", "unavailable", "workload", "excluded", "organisation"]

#: What each cause is called when a routing explains a shortfall, in the order given.
RULES: dict[str, str] = {
    "organisation": "organisation diversity",
    "conflict": "conflicts of interest",
    "excluded": "declared conflicts",
    "unavailable": "availability",
    "workload": "workload caps",
}


class PathEdge(BaseModel, frozen=True):
    """One edge of an explanation path, as stored in the graph."""

    source: str
    target: str
    kind: str
    weight: float


class Explanation(BaseModel, frozen=True):
    """The graph walk that made an expert relevant: nodes, the edges between them, a sentence."""

    nodes: tuple[str, ...]
    edges: tuple[PathEdge, ...]
    text: str


class Candidate(BaseModel, frozen=True):
    """An expert proposed for a decision, with why."""

    expert: str
    name: str
    score: float
    organisations: tuple[str, ...]
    covers: tuple[str, ...]
    explanation: Explanation
    reason: str


class Pick(Candidate, frozen=True):
    """A chosen expert (``rank`` 1 is the best) and who can replace them."""

    rank: int
    alternates: tuple[Candidate, ...]


class Exclusion(BaseModel, frozen=True):
    """An expert who would have been in contention but may not be picked, and why."""

    expert: str
    name: str
    score: float
    cause: ExclusionCause
    reason: str


class UncoveredTopic(BaseModel, frozen=True):
    """A required topic no pick covers, and why it could not be covered."""

    topic: str
    name: str
    reason: str


class Shortfall(BaseModel, frozen=True):
    """Fewer experts were found than asked for, and which rules kept the others out.

    ``rules`` counts, per cause, the relevant experts that cause kept out of the picks
    (an expert shut out by the organisation rule may still be an alternate);
    ``relevant`` is how many experts of the database are relevant to the query at all.
    """

    asked: int
    found: int
    relevant: int
    rules: dict[str, int]
    reason: str


class Routing(BaseModel, frozen=True):
    """The result of :func:`~experts.ranking.rank_experts`.

    ``excluded`` names every relevant expert kept out of the picks and alternates with the
    rule that did it (those scoring below the weakest proposed expert only when there is a
    ``shortfall``); ``shortfall`` is None when ``k`` experts were picked.
    """

    topics: tuple[str, ...]
    district: str | None
    picks: tuple[Pick, ...]
    uncovered: tuple[UncoveredTopic, ...]
    excluded: tuple[Exclusion, ...]
    shortfall: Shortfall | None = None
