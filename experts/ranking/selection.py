"""Pick ``k`` experts for a scored query, with alternates, under the rules.

The picks are chosen greedily, in three passes:

1. cover the required topics: repeatedly take the expert who covers the most topics still
   uncovered, the higher score breaking ties, looking at the twenty best-scoring eligible
   experts who cover each such topic (an expert covers a topic when proficient in it, or in a
   narrower one, at ``min_proficiency`` or more);
2. fill the remaining places by score;
3. give each pick alternates: experts who could replace it without uncovering a topic only
   it covers and without breaking the organisation rule.

Every pass skips the experts :class:`~experts.ranking.rules.Eligibility` rules out and
remembers them, so the routing can say who was kept out and why
(:mod:`experts.ranking.left_out`). Every tie is broken the same way, so the same inputs
always give the same routing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from experts.graph import node_record_id
from experts.index import IntArray
from experts.ranking.explanations import candidate
from experts.ranking.left_out import exclusions, shortfall, uncovered_topic
from experts.ranking.proximity import Proximity
from experts.ranking.results import Pick, Routing
from experts.ranking.rules import Eligibility

__all__ = ["select"]


def select(
    prox: Proximity, rules: Eligibility, *, k: int, n_alternates: int, min_proficiency: float
) -> Routing:
    """Route ``k`` experts with ``n_alternates`` alternates each for the query ``prox``.

    Parameters
    ----------
    prox : Proximity
        The scored query.
    rules : Eligibility
        Who may be picked, and who together.
    k : int
        How many experts to pick.
    n_alternates : int
        How many alternates to give each pick.
    min_proficiency : float
        Raw proficiency an expert needs in a topic (or a narrower one) to cover it.

    Returns
    -------
    Routing
        Picks (best first) with alternates and explanations, uncovered topics, exclusions
        and, when fewer than ``k`` were found, the shortfall.
    """
    ix = prox.ix
    scores = prox.scores
    why_not, compatible = rules.why_not, rules.compatible
    cover: dict[int, IntArray] = {}
    cover_sets: dict[int, set[int]] = {}
    for t in prox.topics:
        experts, _ = ix.coverers(t, min_proficiency)
        s = scores[experts]
        order = np.lexsort((experts, -s))
        cover[t] = experts[order]
        cover_sets[t] = set(int(e) for e in experts)

    def covers(u: int) -> list[int]:
        return [t for t in prox.topics if u in cover_sets[t]]

    picks: list[int] = []
    uncovered = list(prox.topics)
    contenders: set[int] = set()
    blocked: set[int] = set()  # eligible, but sharing an organisation with a pick
    # 1. Greedy cover of the required topics.
    while uncovered and len(picks) < k:
        best: tuple[int, float, int] | None = None
        for t in uncovered:
            seen = 0
            for u in cover[t]:
                u = int(u)
                if u in picks or why_not(u) is not None:
                    contenders.add(u)
                    continue
                if not compatible(u, picks):
                    blocked.add(u)
                    continue
                gain = sum(1 for x in uncovered if u in cover_sets[x])
                key = (gain, float(scores[u]), -u)
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
    ranked = prox.ranked()
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
            if why_not(u) is not None:
                contenders.add(u)
                continue
            if compatible(u, picks):
                picks.append(u)
                if len(picks) >= k:
                    break
            else:
                blocked.add(u)
    picks.sort(key=lambda u: (-float(scores[u]), u))
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
                if why_not(u) is not None:
                    contenders.add(u)
                    continue
                if all(u in cover_sets[t] for t in unique) and compatible(u, others):
                    chosen.append(u)
                    taken.add(u)
                    if len(chosen) >= n_alternates:
                        break
        alternates[p] = chosen
    short = len(picks) < k
    return Routing(
        topics=tuple(prox.record_id(t) for t in prox.topics),
        district=node_record_id(prox.district) if prox.district else None,
        picks=tuple(
            Pick(
                rank=i + 1,
                alternates=tuple(candidate(prox, a, covers(a)) for a in alternates[p]),
                **candidate(prox, p, covers(p)).model_dump(),
            )
            for i, p in enumerate(picks)
        ),
        uncovered=tuple(uncovered_topic(prox, rules, t, cover[t], picks, k) for t in uncovered),
        excluded=exclusions(prox, rules, contenders, blocked, picks, alternates, short=short),
        shortfall=shortfall(prox, rules, k, picks, contenders | blocked) if short else None,
    )
