"""Rank and route experts for a decision by proximity in the expertise graph.

:func:`rank_experts` seeds a personalised PageRank at the decision's topics and district
(see :mod:`experts.index`), then picks ``k`` experts greedily so that

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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel

from experts.graph import district_node, node_record_id, resolve_district, resolve_topic, topic_node
from experts.index import ExpertIndex, IntArray, expertise_index

__all__ = [
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
    """The result of :func:`rank_experts`.

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


def _node(G: nx.Graph[str], text: str, kind: Literal["topic", "district"]) -> str:
    direct = topic_node(text) if kind == "topic" else district_node(text)
    if direct in G:
        return direct
    return resolve_topic(G, text) if kind == "topic" else resolve_district(G, text)


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
    topic_nodes = list(dict.fromkeys(_node(G, t, "topic") for t in topics))
    if not topic_nodes:
        raise ValueError("Give at least one topic to route experts for.")
    if k < 0:
        raise ValueError("k must not be negative.")
    district_n = _node(G, district, "district") if district is not None else None
    index = expertise_index(G, weight=weight)
    router = _Router(G, index, topic_nodes, district_n, min_proficiency=min_proficiency,
                     per_organisation=per_organisation, stakeholders=stakeholders,
                     exclude=exclude, load=load, interest_conflicts=interest_conflicts)
    shares = [(1.0 - district_share) / len(topic_nodes)] * len(topic_nodes)
    seeds = [index.pos[t] for t in topic_nodes]
    if district_n is not None and district_share > 0:
        seeds.append(index.pos[district_n])
        shares.append(district_share)
    else:
        shares = [1.0 / len(topic_nodes)] * len(topic_nodes)
    router.seeds = np.array(seeds, np.int64)
    router.mass = np.array(shares) / sum(shares)
    router.alpha = alpha
    router.scores = index.push(router.seeds, router.mass, alpha=alpha, epsilon=epsilon)
    return router.route(k, alternates)


class _Router:
    """One routing query's working state."""

    def __init__(self, G: nx.Graph[str], index: ExpertIndex, topic_nodes: list[str],
                 district: str | None, *, min_proficiency: float,
                 per_organisation: int | None, stakeholders: Iterable[str],
                 exclude: Mapping[str, str] | Iterable[str], load: Mapping[str, int] | None,
                 interest_conflicts: bool) -> None:
        self.G = G
        self.ix = index
        self.topics = [index.pos[t] for t in topic_nodes]
        self.district = district
        self.min_proficiency = min_proficiency
        self.per_org = per_organisation
        self.load = load or {}
        self.seeds = np.empty(0, np.int64)
        self.mass = np.empty(0)
        self.alpha = 0.7
        self.scores = np.empty(0)
        self.excluded_ids: dict[str, str] = (
            dict(exclude) if isinstance(exclude, Mapping)
            else {e: "has a declared conflict of interest" for e in exclude})
        # Organisation -> why its staff are conflicted.
        self.conflicted_orgs: dict[int, str] = {}
        for org in stakeholders:
            o = index.pos.get(f"org:{org}")
            if o is not None:
                self.conflicted_orgs[o] = "is a stakeholder of this decision"
        if interest_conflicts:
            for t in self.topics:
                related = index.descendants(t) + index.ancestors(t)
                for r in related:
                    for o in index.interest_orgs.get(index.nodes[r], ()):
                        self.conflicted_orgs.setdefault(
                            o, f"has a commercial interest in {self.name(r)}")
        self._why: dict[int, tuple[ExclusionCause, str] | None] = {}
        self._orgs: dict[int, tuple[int, ...]] = {}

    # -- helpers -------------------------------------------------------------------------

    def name(self, u: int) -> str:
        return str(self.G.nodes[self.ix.nodes[u]].get("name", self.ix.nodes[u]))

    def orgs(self, u: int) -> tuple[int, ...]:
        if u not in self._orgs:
            self._orgs[u] = self.ix.current_orgs(u)
        return self._orgs[u]

    def why_not(self, u: int) -> tuple[ExclusionCause, str] | None:
        """Why expert ``u`` may not be picked at all, or None."""
        if u in self._why:
            return self._why[u]
        ix = self.ix
        eid = node_record_id(ix.nodes[u])
        out: tuple[ExclusionCause, str] | None = None
        if eid in self.excluded_ids:
            out = ("excluded", self.excluded_ids[eid])
        else:
            for o in self.orgs(u):
                if o in self.conflicted_orgs:
                    role = self.G.edges[ix.nodes[u], ix.nodes[o]].get("role", "employee")
                    tie = f"works for {self.name(o)}" if role == "employee" else (
                        f"is affiliated with {self.name(o)} ({role})")
                    out = ("conflict", f"{tie}, which {self.conflicted_orgs[o]}")
                    break
        if out is None and not ix.available[u]:
            out = ("unavailable", "is marked unavailable")
        if out is None:
            active = self.load.get(eid, int(ix.load[u]))
            cap = int(ix.workload_cap[u])
            if active >= cap:
                out = ("workload", f"is at the workload cap ({active} of {cap} assignments)")
        self._why[u] = out
        return out

    def compatible(self, u: int, chosen: Iterable[int]) -> bool:
        """Whether ``u`` can join ``chosen`` without breaking the organisation rule."""
        if self.per_org is None:
            return True
        mine = set(self.orgs(u))
        if not mine:
            return True
        counts: dict[int, int] = {}
        for c in chosen:
            for o in self.orgs(c):
                if o in mine:
                    counts[o] = counts.get(o, 0) + 1
        return all(v < self.per_org for v in counts.values())

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

    # -- routing -------------------------------------------------------------------------

    def route(self, k: int, n_alternates: int) -> Routing:
        ix = self.ix
        cover: dict[int, IntArray] = {}
        cover_sets: dict[int, set[int]] = {}
        for t in self.topics:
            experts, _ = ix.coverers(t, self.min_proficiency)
            s = self.scores[experts]
            order = np.lexsort((experts, -s))
            cover[t] = experts[order]
            cover_sets[t] = set(int(e) for e in experts)

        def covers(u: int) -> list[int]:
            return [t for t in self.topics if u in cover_sets[t]]

        picks: list[int] = []
        uncovered = list(self.topics)
        contenders: set[int] = set()
        blocked: set[int] = set()  # eligible, but sharing an organisation with a pick
        # 1. Greedy cover of the required topics.
        while uncovered and len(picks) < k:
            best: tuple[int, float, int] | None = None
            for t in uncovered:
                seen = 0
                for u in cover[t]:
                    u = int(u)
                    if u in picks or self.why_not(u) is not None:
                        contenders.add(u)
                        continue
                    if not self.compatible(u, picks):
                        blocked.add(u)
                        continue
                    gain = sum(1 for x in uncovered if u in cover_sets[x])
                    key = (gain, float(self.scores[u]), -u)
                    if best is None or key > best:
                        best = key
                    seen += 1
                    if seen >= 20:
                        break
            if best is None:
                break
            u = -best[2]
            picks.append(u)
            uncovered = [t for t in uncovered if u not in cover_sets[t]]
        # 2. Fill the remaining places by score.
        ranked = self.ranked()
        pool: list[int] = []

        def pool_iter() -> Iterator[int]:
            yield from pool
            for u in ranked:
                pool.append(u)
                yield u

        if len(picks) < k:
            for u in pool_iter():
                if u in picks:
                    continue
                if self.why_not(u) is not None:
                    contenders.add(u)
                    continue
                if self.compatible(u, picks):
                    picks.append(u)
                    if len(picks) >= k:
                        break
                else:
                    blocked.add(u)
        picks.sort(key=lambda u: (-float(self.scores[u]), u))
        # 3. Alternates keep each pick's unique topics covered and the organisation rule.
        taken = set(picks)
        alternates: dict[int, list[int]] = {}
        for p in picks:
            others = [q for q in picks if q != p]
            unique = [t for t in covers(p) if not any(q in cover_sets[t] for q in others)]
            source: Iterable[int] = (int(u) for u in cover[unique[0]]) if unique else pool_iter()
            chosen: list[int] = []
            if n_alternates > 0:
                for u in source:
                    if u in taken:
                        continue
                    if self.why_not(u) is not None:
                        contenders.add(u)
                        continue
                    if all(u in cover_sets[t] for t in unique) and self.compatible(u, others):
                        chosen.append(u)
                        taken.add(u)
                        if len(chosen) >= n_alternates:
                            break
            alternates[p] = chosen
        return Routing(
            topics=tuple(node_record_id(ix.nodes[t]) for t in self.topics),
            district=node_record_id(self.district) if self.district else None,
            picks=tuple(
                Pick(rank=i + 1, alternates=tuple(self.candidate(a, covers(a))
                                                  for a in alternates[p]),
                     **self.candidate(p, covers(p)).model_dump())
                for i, p in enumerate(picks)),
            uncovered=tuple(self.uncovered(t, cover[t], picks, k) for t in uncovered),
            excluded=self.exclusions(contenders, blocked, picks, alternates, short=len(picks) < k),
            shortfall=self.shortfall(k, picks, contenders | blocked) if len(picks) < k else None,
        )

    def kept_out(self, u: int, picks: list[int]) -> tuple[ExclusionCause, str] | None:
        """Why ``u`` is not a pick (a rule of :meth:`why_not`, or the organisation rule)."""
        if u in picks:
            return None
        if (why := self.why_not(u)) is not None:
            return why
        if self.compatible(u, picks):
            return None
        mine = set(self.orgs(u))
        shared = next(((o, p) for p in picks for o in self.orgs(p) if o in mine), None)
        if shared is None:  # pragma: no cover - incompatible means an organisation is shared
            return None
        o, p = shared
        return ("organisation", f"shares {self.name(o)} with the pick {self.name(p)} "
                                f"({node_record_id(self.ix.nodes[p])}); at most "
                                f"{self.per_org} pick{'s' if self.per_org != 1 else ''} "
                                "per organisation")

    def exclusions(self, contenders: set[int], blocked: set[int], picks: list[int],
                   alternates: Mapping[int, list[int]], *, short: bool
                   ) -> tuple[Exclusion, ...]:
        """Experts kept out of the picks and alternates, with the rule that did it.

        Without a shortfall only those scoring at least as well as the weakest proposed
        expert are listed, alternates not; with one, all of them, alternates the organisation
        rule kept out of the picks included (each could have filled a place).
        """
        backups = {a for alts in alternates.values() for a in alts}
        proposed = picks + sorted(backups)
        floor = 0.0 if short else min((float(self.scores[u]) for u in proposed), default=0.0)
        out = []
        for u in sorted((contenders | blocked) - set(picks if short else proposed),
                        key=lambda u: (-float(self.scores[u]), u)):
            why = self.kept_out(u, picks)
            if why is None or float(self.scores[u]) < floor:
                continue
            reason = why[1] + ("; routed as an alternate" if u in backups else "")
            out.append(Exclusion(expert=node_record_id(self.ix.nodes[u]), name=self.name(u),
                                 score=float(self.scores[u]), cause=why[0], reason=reason))
        return tuple(out)

    def shortfall(self, k: int, picks: list[int], kept: set[int]) -> Shortfall:
        """Why only ``len(picks)`` of ``k`` experts were found: the rules that kept others out."""
        counts: dict[str, int] = {}
        for u in kept:
            why = self.kept_out(u, picks)
            if why is not None:
                counts[why[0]] = counts.get(why[0], 0) + 1
        rules = {rule: counts[rule] for rule in RULES if rule in counts}
        relevant = int(np.count_nonzero(self.scores[self.ix.experts] > 0))
        found = len(picks)
        head = f"asked for {k} experts, found {found}"
        if not rules:
            reason = (f"{head}: only {relevant} experts of the database are relevant to these "
                      "topics and district")
        else:
            parts = []
            for rule, n in rules.items():
                label = RULES[rule]
                if rule == "organisation":
                    label += f" (at most {self.per_org} per organisation)"
                parts.append(f"{label} kept out {n} expert{'s' if n != 1 else ''}")
            reason = f"{head}: " + "; ".join(parts)
        return Shortfall(asked=k, found=found, relevant=relevant, rules=rules, reason=reason)

    def uncovered(self, t: int, coverers: IntArray, picks: list[int], k: int) -> UncoveredTopic:
        name = self.name(t)
        if coverers.size == 0:
            reason = f"no expert in the database is proficient in {name}"
        else:
            causes: dict[str, int] = {}
            eligible = False
            for u in coverers:
                why = self.why_not(int(u))
                if why is None:
                    eligible = True
                    break
                causes[why[0]] = causes.get(why[0], 0) + 1
            if not eligible:
                words = {"conflict": "conflicted", "unavailable": "unavailable",
                         "workload": "at their workload cap", "excluded": "excluded"}
                detail = ", ".join(f"{n} {words[c]}" for c, n in sorted(causes.items()))
                reason = f"every expert proficient in {name} is ruled out ({detail})"
            elif len(picks) >= k:
                reason = f"all {k} places went to experts covering other topics; raise k"
            else:
                reason = (f"every eligible expert proficient in {name} shares an organisation "
                          "with a pick")
        return UncoveredTopic(topic=node_record_id(self.ix.nodes[t]), name=name, reason=reason)

    # -- explanations --------------------------------------------------------------------

    def candidate(self, u: int, covered: list[int]) -> Candidate:
        ix = self.ix
        path = self.best_path(u)
        explanation = self.explain(path)
        names = [self.name(t) for t in covered]
        reason = explanation.text
        if names:
            reason = f"covers {', '.join(names)}; {reason}"
        return Candidate(
            expert=node_record_id(ix.nodes[u]), name=self.name(u), score=float(self.scores[u]),
            organisations=tuple(node_record_id(ix.nodes[o]) for o in self.orgs(u)),
            covers=tuple(node_record_id(ix.nodes[t]) for t in covered),
            explanation=explanation, reason=reason)

    def _best1(self, b: IntArray) -> tuple[np.ndarray, np.ndarray]:
        """For nodes ``b``: the best seed mass times P(seed -> b), and which seed gave it."""
        ix = self.ix
        best = np.zeros(b.size)
        arg = np.full(b.size, -1, np.int64)
        for s, m in zip(self.seeds, self.mass, strict=True):
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

    def best_path(self, u: int) -> list[int]:
        """The strongest walk of at most three edges from a seed to ``u``, as positions.

        A walk's strength is its seed's restart mass times the transition probabilities
        along it times ``alpha`` per edge: its share of ``u``'s PageRank.
        """
        ix = self.ix
        lo, hi = int(ix.indptr[u]), int(ix.indptr[u + 1])
        nb = ix.indices[lo:hi]
        into = ix.weight[lo:hi] / ix.strength[nb]  # P(b -> u)
        options: list[tuple[float, list[int]]] = []
        best1, arg1 = self._best1(np.array([u], np.int64))
        if arg1[0] >= 0:
            options.append((float(best1[0]) * self.alpha, [int(arg1[0]), u]))
        b1, a1 = self._best1(nb)
        for i in np.flatnonzero(a1 >= 0).tolist():
            options.append((float(b1[i] * into[i]) * self.alpha ** 2,
                            [int(a1[i]), int(nb[i]), u]))
        if not options:
            for i, b in enumerate(nb.tolist()):
                blo, bhi = int(ix.indptr[b]), int(ix.indptr[b + 1])
                mids = ix.indices[blo:bhi]
                v, a = self._best1(mids)
                v = v * ix.weight[blo:bhi] / ix.strength[mids]  # times P(mid -> b)
                v[mids == u] = 0.0
                j = int(np.argmax(v)) if v.size else -1
                if j >= 0 and v[j] > 0:
                    options.append((float(v[j] * into[i]) * self.alpha ** 3,
                                    [int(a[j]), int(mids[j]), int(b), u]))
        if options:
            return max(options, key=lambda o: (o[0], -len(o[1]), [-x for x in o[1]]))[1]
        # Far from every seed: the shortest path from the nearest seed.
        _, path = nx.multi_source_dijkstra(self.G, {ix.nodes[int(s)] for s in self.seeds},
                                           target=ix.nodes[u], weight=None)
        return [ix.pos[v] for v in path]

    def explain(self, path: list[int]) -> Explanation:
        ix = self.ix
        edges: list[PathEdge] = []
        parts: list[str] = []
        for a, b in zip(path, path[1:], strict=False):
            na, nb = ix.nodes[a], ix.nodes[b]
            attrs = self.G.edges[na, nb]
            edges.append(PathEdge(source=na, target=nb, kind=str(attrs.get("kind", "")),
                                  weight=float(ix.weight[ix.edge(a, b)])))
            parts.append(self._describe(na, nb, attrs))
        text = "; ".join(parts) if parts else "is a seed of the query"
        return Explanation(nodes=tuple(ix.nodes[p] for p in path), edges=tuple(edges), text=text)

    def _describe(self, a: str, b: str, attrs: Mapping[str, object]) -> str:
        G = self.G
        kind = attrs.get("kind")
        na, nb = G.nodes[a].get("name", a), G.nodes[b].get("name", b)
        if kind == "proficiency":
            expert, topic = (na, nb) if G.nodes[a].get("kind") == "expert" else (nb, na)
            return (f"{expert} is proficient in {topic} ({attrs.get('proficiency')}, "
                    f"last active {attrs.get('last_active')})")
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
            return f"{na} is located in {nb}" if G.nodes[a].get("kind") == "organisation" \
                else f"{nb} is located in {na}"
        return f"{na} — {nb}"


def keyword_rank(G: nx.Graph[str], topics: Iterable[str], *, district: str | None = None,
                 k: int = 5) -> list[str]:
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

