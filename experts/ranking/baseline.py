"""The plain baseline routing is measured against: count the query's words in a profile.

:func:`keyword_rank` is what a spreadsheet filter does. ``bench/routing.py`` prints its
precision beside :func:`~experts.ranking.rank_experts`'s, so a change to the ranking that
stops beating it shows up.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from experts.graph import district_node, node_record_id, topic_node

__all__ = ["keyword_rank"]


def keyword_rank(
    G: nx.Graph[str], topics: Iterable[str], *, district: str | None = None, k: int = 5
) -> list[str]:
    """Baseline: rank experts by how many query topics and district their profile names.

    An expert scores one point per required topic they list among their proficiencies
    (any weight, any year) and one for listing the district; ties go to the lower id.

    Parameters
    ----------
    G : networkx.Graph
        An expertise graph.
    topics : iterable of str
        Topic ids.
    district : str, optional
        District id.
    k : int
        How many expert ids to return.

    Returns
    -------
    list of str
        Expert ids, best first.
    """
    counts: dict[str, int] = {}
    keys = [topic_node(t) for t in topics]
    if district is not None:
        keys.append(district_node(district))
    for key in keys:
        if key not in G:
            continue
        for nbr in G.adj[key]:
            if G.nodes[nbr].get("kind") == "expert":
                counts[nbr] = counts.get(nbr, 0) + 1
    ranked = sorted(counts, key=lambda e: (-counts[e], e))[:k]
    return [node_record_id(e) for e in ranked]
