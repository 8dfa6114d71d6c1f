"""How close each node of the expertise graph is to a query: personalised PageRank.

A query's topics and district are the seeds; the restart mass is split between them
(``district_share`` on the district, the rest evenly over the topics) and pushed through the
cached index (:meth:`experts.index.ExpertIndex.push`). Proximity in the graph, rather than
counting the query's words in a profile (:func:`~experts.ranking.keyword_rank`), is what lets
an expert of a narrower topic, or one who knows the district, rank near the top.

:class:`Proximity` keeps one query's scores with the graph they came from, and is what the
selection rules, the explanations and the reports of what was left out all read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx
import numpy as np

from experts.graph import (
    district_node,
    node_record_id,
    resolve_district,
    resolve_topic,
    topic_node,
)
from experts.index import ExpertIndex, FloatArray, IntArray, expertise_index

__all__ = ["Proximity", "query_node", "score_query"]


def query_node(G: nx.Graph[str], text: str, kind: Literal["topic", "district"]) -> str:
    """The node a query names by id, name or alias.

    Raises
    ------
    UnknownTopic, UnknownDistrict
        If no topic or district of the graph goes by ``text``.
    """
    direct = topic_node(text) if kind == "topic" else district_node(text)
    if direct in G:
        return direct
    return resolve_topic(G, text) if kind == "topic" else resolve_district(G, text)


@dataclass(eq=False)
class Proximity:
    """One query's PageRank scores, with the graph and index they were computed on.

    ``topics`` are the required topics' positions in the index, ``district`` the district's
    node (or None); ``seeds``, ``mass`` and ``alpha`` are what the scores were pushed from,
    kept so an explanation can say how much of a score a walk from a seed accounts for.
    """

    G: nx.Graph[str]
    ix: ExpertIndex
    topics: list[int]
    district: str | None
    seeds: IntArray
    mass: FloatArray
    alpha: float
    scores: FloatArray
    _orgs: dict[int, tuple[int, ...]] = field(default_factory=dict, repr=False)

    def name(self, u: int) -> str:
        """The display name of the node at position ``u``."""
        return str(self.G.nodes[self.ix.nodes[u]].get("name", self.ix.nodes[u]))

    def record_id(self, u: int) -> str:
        """The record id (expert, topic, organisation …) of the node at position ``u``."""
        return node_record_id(self.ix.nodes[u])

    def orgs(self, u: int) -> tuple[int, ...]:
        """The current organisations of expert ``u`` (positions), cached for the query."""
        if u not in self._orgs:
            self._orgs[u] = self.ix.current_orgs(u)
        return self._orgs[u]

    def ranked(self) -> Iterator[int]:
        """Experts with a positive score, best first (ties by id), lazily in growing chunks."""
        experts = self.ix.experts
        s = self.scores[experts]
        positive = int(np.count_nonzero(s > 0))
        size = 64
        done = 0
        while done < positive:
            size = min(max(size, 4 * done), positive)
            if size < s.size:
                cut = np.partition(-s, size - 1)[size - 1]
                chosen = np.flatnonzero(-s <= cut)
            else:
                chosen = np.arange(s.size)
            order = chosen[np.lexsort((experts[chosen], -s[chosen]))]
            for i in order[done:size]:
                yield int(experts[i])
            done = size


def score_query(
    G: nx.Graph[str],
    topic_nodes: list[str],
    district: str | None,
    *,
    weight: str = "weight",
    alpha: float = 0.7,
    district_share: float = 0.5,
    epsilon: float = 1e-6,
) -> Proximity:
    """Score every node by personalised PageRank seeded at ``topic_nodes`` and ``district``.

    Parameters
    ----------
    G : networkx.Graph
        An expertise graph from :func:`experts.graph.build_graph`.
    topic_nodes : list of str
        The required topics' nodes (see :func:`query_node`); at least one.
    district : str or None
        The district's node, whose local knowledge counts.
    weight : str
        Edge attribute walked on.
    alpha : float
        PageRank damping factor (lower keeps relevance closer to the seeds).
    district_share : float
        Share of the restart mass on the district (the rest is split over the topics);
        without a district, or with a share of 0, the topics share all of it.
    epsilon : float
        PageRank residual tolerance per unit of degree.

    Returns
    -------
    Proximity
    """
    index = expertise_index(G, weight=weight)
    shares = [(1.0 - district_share) / len(topic_nodes)] * len(topic_nodes)
    seeds = [index.pos[t] for t in topic_nodes]
    if district is not None and district_share > 0:
        seeds.append(index.pos[district])
        shares.append(district_share)
    else:
        shares = [1.0 / len(topic_nodes)] * len(topic_nodes)
    seed_array = np.array(seeds, np.int64)
    mass = np.array(shares) / sum(shares)
    scores = index.push(seed_array, mass, alpha=alpha, epsilon=epsilon)
    return Proximity(
        G=G,
        ix=index,
        topics=[index.pos[t] for t in topic_nodes],
        district=district,
        seeds=seed_array,
        mass=mass,
        alpha=alpha,
        scores=scores,
    )
