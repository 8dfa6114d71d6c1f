"""Rank and route experts for a decision by proximity in the expertise graph.

:func:`rank_experts` seeds a personalised PageRank at the decision's topics and district
(:mod:`.proximity`, over :mod:`experts.index`), then picks ``k`` experts greedily so that

1. conflicted, unavailable and fully loaded experts are never picked (each is reported with
   the reason when it would otherwise have been in contention);
2. every required topic is covered by some pick when the database allows it (a topic is
   covered by an expert proficient in it or in a narrower topic); the rest are reported with
   the reason they cannot be covered;
3. at most ``per_organisation`` picks share a current organisation;
4. the remaining places go to the highest scores.

When fewer than ``k`` experts can be picked, :attr:`Routing.shortfall` says so: how many were
asked and found, and how many relevant experts each rule kept out (organisation diversity,
conflicts, availability, workload); :attr:`Routing.excluded` names them with the reason.

Each pick gets alternates (who keep the pick's unique topics covered and the organisation
rule intact if substituted) and an explanation: the strongest walk of at most three edges
from a seed to the expert, every edge of which is an edge of the graph. Ties are broken by
expert id, so the same inputs always give the same routing.

:func:`keyword_rank` is the plain baseline: count the query's topics and district in an
expert's profile, ties by id.

The surface (import from here; the modules are how it is kept):

=====================  ==================================================================
:mod:`.results`        ``Routing``, ``Pick``, ``Candidate``, ``Explanation``, ``PathEdge``,
                       ``Exclusion``, ``UncoveredTopic``, ``Shortfall``, ``RULES``
:mod:`.proximity`      the query's PageRank scores
:mod:`.rules`          conflicts, availability, workload, organisation diversity
:mod:`.selection`      the greedy cover, the fill by score, the alternates
:mod:`.explanations`   the strongest walk from a seed, in words
:mod:`.left_out`       exclusions, uncovered topics, the shortfall
:mod:`.baseline`       ``keyword_rank``
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from experts.ranking.baseline import keyword_rank
from experts.ranking.proximity import query_node, score_query
from experts.ranking.results import (
    RULES,
    Candidate,
    Exclusion,
    Explanation,
    PathEdge,
    Pick,
    Routing,
    Shortfall,
    UncoveredTopic,
)
from experts.ranking.rules import Eligibility
from experts.ranking.selection import select

__all__ = [
    "RULES",
    "PathEdge",
    "Explanation",
    "Candidate",
    "Pick",
    "Exclusion",
    "UncoveredTopic",
    "Shortfall",
    "Routing",
    "rank_experts",
    "keyword_rank",
]


def rank_experts(
    G: nx.Graph[str],
    topics: Iterable[str],
    *,
    district: str | None = None,
    k: int = 5,
    alternates: int = 2,
    weight: str = "weight",
    alpha: float = 0.7,
    district_share: float = 0.5,
    min_proficiency: float = 0.3,
    per_organisation: int | None = 1,
    stakeholders: Iterable[str] = (),
    exclude: Mapping[str, str] | Iterable[str] = (),
    load: Mapping[str, int] | None = None,
    interest_conflicts: bool = True,
    epsilon: float = 1e-6,
) -> Routing:
    """Route ``k`` experts with alternates to a decision about ``topics`` in ``district``.

    Parameters
    ----------
    G : networkx.Graph
        An expertise graph from :func:`experts.graph.build_graph`.
    topics : iterable of str
        Required topics: ids, names or aliases.
    district : str, optional
        District or street office (id or name) whose local knowledge counts.
    k : int
        How many experts to pick.
    alternates : int
        How many alternates to give each pick.
    weight : str
        Edge attribute walked on.
    alpha : float
        PageRank damping factor (lower keeps relevance closer to the seeds).
    district_share : float
        Share of the restart mass on the district (the rest is split over the topics).
    min_proficiency : float
        Raw proficiency an expert needs in a topic (or a narrower one) to cover it.
    per_organisation : int or None
        Most picks that may share a current organisation; None for no limit.
    stakeholders : iterable of str
        Ids of organisations that are stakeholders, bidders or executors of the decision:
        their current staff are conflicted.
    exclude : mapping of expert id to reason, or iterable of expert ids
        Experts with a personal conflict.
    load : mapping of expert id to int, optional
        Current assignments, overriding the graph's ``active_assignments``.
    interest_conflicts : bool
        Also treat as conflicted the current staff of organisations with a commercial
        interest in a required topic, a broader or a narrower one.
    epsilon : float
        PageRank residual tolerance per unit of degree.

    Returns
    -------
    Routing
        Picks (best first) with alternates and explanations, uncovered topics and
        exclusions, each with a reason.

    Raises
    ------
    UnknownTopic, UnknownDistrict
        If a topic or the district is not in the graph.
    ValueError
        If ``topics`` is empty or ``k`` is negative.

    Examples
    --------
    >>> from experts.graph import build_graph
    >>> from experts.sample import load_sample
    >>> G = build_graph(load_sample(), as_of=2025)
    >>> routing = rank_experts(G, ["street-cleaning"], district="east-district", k=3)
    >>> len(routing.picks)
    3
    """
    topic_nodes = list(dict.fromkeys(query_node(G, t, "topic") for t in topics))
    if not topic_nodes:
        raise ValueError("Give at least one topic to route experts for.")
    if k < 0:
        raise ValueError("k must not be negative.")
    district_n = query_node(G, district, "district") if district is not None else None
    prox = score_query(
        G,
        topic_nodes,
        district_n,
        weight=weight,
        alpha=alpha,
        district_share=district_share,
        epsilon=epsilon,
    )
    rules = Eligibility(
        prox,
        per_organisation=per_organisation,
        stakeholders=stakeholders,
        exclude=exclude,
        load=load,
        interest_conflicts=interest_conflicts,
    )
    return select(prox, rules, k=k, n_alternates=alternates, min_proficiency=min_proficiency)
