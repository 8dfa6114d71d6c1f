"""Why an expert is relevant to a query: the strongest short walk from a seed to them.

A PageRank score is a sum over every walk from the seeds, which no one can read. The walk
that contributes most is readable: of the walks of at most three edges from a seed to the
expert, :func:`best_path` takes the one with the largest share of the expert's score (the
seed's restart mass, times the transition probability of each edge, times ``alpha`` per
edge). Every edge of it is an edge of the graph, so :func:`explain` can say in words what
each edge is (a proficiency, an affiliation, local knowledge …). An expert farther than three
edges from every seed is explained by the shortest path from the nearest one.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

from experts.index import FloatArray, IntArray
from experts.ranking.proximity import Proximity
from experts.ranking.results import Candidate, Explanation, PathEdge

__all__ = ["candidate", "best_path", "explain"]


def candidate(prox: Proximity, u: int, covered: list[int]) -> Candidate:
    """Expert ``u`` proposed for the query, covering the topics ``covered``, with why."""
    path = best_path(prox, u)
    explanation = explain(prox, path)
    names = [prox.name(t) for t in covered]
    reason = explanation.text
    if names:
        reason = f"covers {', '.join(names)}; {reason}"
    return Candidate(
        expert=prox.record_id(u),
        name=prox.name(u),
        score=float(prox.scores[u]),
        organisations=tuple(prox.record_id(o) for o in prox.orgs(u)),
        covers=tuple(prox.record_id(t) for t in covered),
        explanation=explanation,
        reason=reason,
    )


def _best1(prox: Proximity, b: IntArray) -> tuple[FloatArray, IntArray]:
    """For nodes ``b``: the best seed mass times P(seed -> b), and which seed gave it."""
    ix = prox.ix
    best = np.zeros(b.size)
    arg = np.full(b.size, -1, np.int64)
    for s, m in zip(prox.seeds, prox.mass, strict=True):
        lo, hi = int(ix.indptr[s]), int(ix.indptr[s + 1])
        row = ix.indices[lo:hi]
        loc = np.searchsorted(row, b)
        ok = loc < row.size
        ok[ok] = row[loc[ok]] == b[ok]
        vals = np.zeros(b.size)
        vals[ok] = m * ix.trans[lo + loc[ok]]
        better = vals > best
        best[better] = vals[better]
        arg[better] = s
    return best, arg


def best_path(prox: Proximity, u: int) -> list[int]:
    """The strongest walk of at most three edges from a seed to ``u``, as positions.

    A walk's strength is its seed's restart mass times the transition probabilities
    along it times ``alpha`` per edge: its share of ``u``'s PageRank. Ties go to the shorter
    walk, then to the lower positions.
    """
    ix = prox.ix
    alpha = prox.alpha
    lo, hi = int(ix.indptr[u]), int(ix.indptr[u + 1])
    nb = ix.indices[lo:hi]
    into = ix.weight[lo:hi] / ix.strength[nb]  # P(b -> u)
    options: list[tuple[float, list[int]]] = []
    best1, arg1 = _best1(prox, np.array([u], np.int64))
    if arg1[0] >= 0:
        options.append((float(best1[0]) * alpha, [int(arg1[0]), u]))
    b1, a1 = _best1(prox, nb)
    for i in np.flatnonzero(a1 >= 0).tolist():
        options.append((float(b1[i] * into[i]) * alpha**2, [int(a1[i]), int(nb[i]), u]))
    if not options:
        for i, b in enumerate(nb.tolist()):
            blo, bhi = int(ix.indptr[b]), int(ix.indptr[b + 1])
            mids = ix.indices[blo:bhi]
            v, a = _best1(prox, mids)
            v = v * ix.weight[blo:bhi] / ix.strength[mids]  # times P(mid -> b)
            v[mids == u] = 0.0
            j = int(np.argmax(v)) if v.size else -1
            if j >= 0 and v[j] > 0:
                options.append(
                    (float(v[j] * into[i]) * alpha**3, [int(a[j]), int(mids[j]), int(b), u])
                )
    if options:
        return max(options, key=lambda o: (o[0], -len(o[1]), [-x for x in o[1]]))[1]
    # Far from every seed: the shortest path from the nearest seed.
    _, path = nx.multi_source_dijkstra(
        prox.G, {ix.nodes[int(s)] for s in prox.seeds}, target=ix.nodes[u], weight=None
    )
    return [ix.pos[v] for v in path]


def explain(prox: Proximity, path: list[int]) -> Explanation:
    """The walk ``path`` (positions) as graph edges and one sentence per edge."""
    ix = prox.ix
    edges: list[PathEdge] = []
    parts: list[str] = []
    for a, b in zip(path, path[1:], strict=False):
        na, nb = ix.nodes[a], ix.nodes[b]
        attrs = prox.G.edges[na, nb]
        edges.append(
            PathEdge(
                source=na,
                target=nb,
                kind=str(attrs.get("kind", "")),
                weight=float(ix.weight[ix.edge(a, b)]),
            )
        )
        parts.append(_describe(prox.G, na, nb, attrs))
    text = "; ".join(parts) if parts else "is a seed of the query"
    return Explanation(nodes=tuple(ix.nodes[p] for p in path), edges=tuple(edges), text=text)


def _describe(G: nx.Graph[str], a: str, b: str, attrs: Mapping[str, object]) -> str:
    """The edge ``a``–``b`` in words, whichever way it is walked."""
    kind = attrs.get("kind")
    na, nb = G.nodes[a].get("name", a), G.nodes[b].get("name", b)
    if kind == "proficiency":
        expert, topic = (na, nb) if G.nodes[a].get("kind") == "expert" else (nb, na)
        return (
            f"{expert} is proficient in {topic} ({attrs.get('proficiency')}, "
            f"last active {attrs.get('last_active')})"
        )
    if kind == "subtopic":
        return f"{na} and {nb} are linked in the topic tree"
    if kind == "affiliation":
        expert, org = (na, nb) if G.nodes[a].get("kind") == "expert" else (nb, na)
        return f"{expert} is affiliated with {org} ({attrs.get('role')})"
    if kind == "local_knowledge":
        expert, place = (na, nb) if G.nodes[a].get("kind") == "expert" else (nb, na)
        return f"{expert} knows {place} ({attrs.get('weight')})"
    if kind == "part_of":
        return f"{na} and {nb} are the same district's"
    if kind == "located_in":
        return (
            f"{na} is located in {nb}"
            if G.nodes[a].get("kind") == "organisation"
            else f"{nb} is located in {na}"
        )
    return f"{na} — {nb}"
