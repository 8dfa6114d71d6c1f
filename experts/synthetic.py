"""A seeded synthetic expertise database for scale tests and benchmarks.

:func:`synthetic_expertise` draws a taxonomy (8 fields, 10 areas each, the rest as leaf
topics), districts with street offices, organisations (some of them contractors with a
commercial interest in a few topics) and experts whose proficiencies cluster in one home
area. It also *plants* queries: for each one, a handful of true experts who know every topic
of the query well and recently, know the query's district, and work at different
non-conflicted organisations; and decoys who list the same topics with weak or stale
proficiency (half of them also naming the query's district, with little knowledge of it),
so a profile that only lists keywords cannot tell them apart. Ranking quality is then
precision@k against the planted experts. The same arguments always give the same data.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    LocalKnowledge,
    Organisation,
    OrganisationKind,
    Proficiency,
    Topic,
)

__all__ = ["PlantedQuery", "SyntheticExpertise", "synthetic_expertise"]

_ORG_KINDS: tuple[OrganisationKind, ...] = (
    "design_institute",
    "university",
    "research_institute",
    "bureau",
    "consultancy",
    "law_firm",
    "financial",
    "community",
)


class PlantedQuery(BaseModel, frozen=True):
    """A query (topics and a district) with the experts planted as its right answer."""

    topics: tuple[str, ...]
    district: str
    experts: tuple[str, ...]


class SyntheticExpertise(BaseModel, frozen=True):
    """Synthetic data and the queries planted in it."""

    data: ExpertiseData
    queries: tuple[PlantedQuery, ...]


def synthetic_expertise(
    n_experts: int = 50_000,
    n_topics: int = 2_000,
    n_organisations: int = 5_000,
    *,
    n_districts: int = 20,
    street_offices: int = 10,
    n_queries: int = 200,
    planted: int = 5,
    decoys: int = 20,
    contractor_share: float = 0.15,
    seed: int = 0,
    as_of: int = 2025,
) -> SyntheticExpertise:
    """Generate a synthetic expertise database with planted queries.

    Parameters
    ----------
    n_experts, n_topics, n_organisations : int
        Sizes. ``n_topics`` must be at least 100 and ``n_experts`` at least
        ``n_queries * (planted + decoys)``.
    n_districts, street_offices : int
        Districts and street offices per district.
    n_queries, planted, decoys : int
        How many queries to plant, with how many true experts and decoys each.
    contractor_share : float
        Share of organisations that are contractors with commercial interests.
    seed : int
        Random seed.
    as_of : int
        The "current" year proficiency recency is drawn against.

    Returns
    -------
    SyntheticExpertise

    Raises
    ------
    ValueError
        If the sizes are too small for the planted queries.

    Examples
    --------
    >>> s = synthetic_expertise(500, 120, 50, n_queries=5, seed=1)
    >>> len(s.data.experts), len(s.queries[0].experts)
    (500, 5)
    """
    if n_topics < 100:
        raise ValueError("n_topics must be at least 100.")
    if n_experts < n_queries * (planted + decoys):
        raise ValueError("n_experts is too small for the planted queries.")
    rng = np.random.default_rng(seed)

    # Taxonomy: 8 fields > 10 areas each > leaves.
    n_fields, per_field = 8, 10
    n_areas = n_fields * per_field
    topics: list[Topic] = []
    for f in range(n_fields):
        topics.append(Topic.model_construct(id=f"F{f}", name=f"field {f}", parent=None, aliases=()))
    for a in range(n_areas):
        topics.append(
            Topic.model_construct(
                id=f"A{a:02d}", name=f"area {a}", parent=f"F{a // per_field}", aliases=()
            )
        )
    n_leaves = n_topics - n_fields - n_areas
    leaf_area = rng.integers(0, n_areas, n_leaves)
    for i in range(n_leaves):
        topics.append(
            Topic.model_construct(
                id=f"T{i:04d}", name=f"topic {i}", parent=f"A{leaf_area[i]:02d}", aliases=()
            )
        )
    leaves_of_area = [np.flatnonzero(leaf_area == a) for a in range(n_areas)]
    leaves_of_area = [x if x.size else np.array([0]) for x in leaves_of_area]

    districts: list[District] = []
    for d in range(n_districts):
        districts.append(
            District.model_construct(
                id=f"D{d:02d}",
                name=f"district {d}",
                kind="district",
                parent=None,
                profile=("developed", "middle", "new_town")[d % 3],
            )
        )
        for s in range(street_offices):
            districts.append(
                District.model_construct(
                    id=f"D{d:02d}S{s}",
                    name=f"street office {d}-{s}",
                    kind="street_office",
                    parent=f"D{d:02d}",
                    profile=None,
                )
            )
    district_ids = [d.id for d in districts]

    organisations: list[Organisation] = []
    contractor = rng.random(n_organisations) < contractor_share
    for o in range(n_organisations):
        interests: tuple[str, ...] = ()
        if contractor[o]:
            area = int(rng.integers(n_areas))
            picks = rng.choice(
                leaves_of_area[area], size=min(3, leaves_of_area[area].size), replace=False
            )
            interests = tuple(f"T{int(t):04d}" for t in sorted(picks))
        organisations.append(
            Organisation.model_construct(
                id=f"O{o:05d}",
                name=f"organisation {o}",
                kind="contractor" if contractor[o] else _ORG_KINDS[o % len(_ORG_KINDS)],
                district=district_ids[int(rng.integers(len(district_ids)))],
                interests=interests,
            )
        )
    clean_orgs = np.flatnonzero(~contractor)

    def proficiency(topic: int, lo: float, hi: float, y0: int, y1: int) -> Proficiency:
        return Proficiency.model_construct(
            topic=f"T{topic:04d}",
            weight=round(float(rng.uniform(lo, hi)), 3),
            last_active=int(rng.integers(y0, y1 + 1)),
        )

    experts: list[Expert] = []
    home = rng.integers(0, n_areas, n_experts)
    for e in range(n_experts):
        area_leaves = leaves_of_area[home[e]]
        n_prof = int(rng.integers(2, 7))
        chosen = set(
            int(t)
            for t in rng.choice(area_leaves, size=min(n_prof, area_leaves.size), replace=False)
        )
        if rng.random() < 0.3:
            chosen.add(int(rng.integers(n_leaves)))
        profs = tuple(proficiency(t, 0.2, 1.0, as_of - 25, as_of) for t in sorted(chosen))
        affs = [
            Affiliation.model_construct(
                organisation=f"O{int(rng.integers(n_organisations)):05d}",
                role="employee",
                current=True,
            )
        ]
        if rng.random() < 0.3:
            other = f"O{int(rng.integers(n_organisations)):05d}"
            if other != affs[0].organisation:
                affs.append(
                    Affiliation.model_construct(
                        organisation=other, role="adjunct", current=bool(rng.random() < 0.5)
                    )
                )
        places = sorted(
            set(int(x) for x in rng.integers(0, len(district_ids), int(rng.integers(1, 3))))
        )
        knows = tuple(
            LocalKnowledge.model_construct(
                district=district_ids[p], weight=round(float(rng.uniform(0.2, 1.0)), 3)
            )
            for p in places
        )
        experts.append(
            Expert.model_construct(
                id=f"X{e:06d}",
                name=f"expert {e}",
                title="",
                available=bool(rng.random() < 0.95),
                workload_cap=3,
                active_assignments=int(rng.integers(0, 4)),
                affiliations=tuple(affs),
                proficiencies=profs,
                districts=knows,
            )
        )

    # Planted queries: true experts and decoys drawn without replacement.
    pool = rng.permutation(n_experts)
    used = 0
    queries: list[PlantedQuery] = []
    for _ in range(n_queries):
        area = int(rng.integers(n_areas))
        k_topics = int(rng.integers(1, 4))
        leaves = leaves_of_area[area]
        q_topics = sorted(
            int(t) for t in rng.choice(leaves, size=min(k_topics, leaves.size), replace=False)
        )
        district = district_ids[int(rng.integers(len(district_ids)))]
        trues = pool[used : used + planted]
        fakes = pool[used + planted : used + planted + decoys]
        used += planted + decoys
        orgs = rng.choice(clean_orgs, size=planted, replace=False)
        for j, e in enumerate(trues):
            extra = {int(t) for t in rng.choice(leaves_of_area[home[e]], size=1)} - set(q_topics)
            profs = tuple(proficiency(t, 0.8, 1.0, as_of - 2, as_of) for t in q_topics) + tuple(
                proficiency(t, 0.2, 1.0, as_of - 25, as_of) for t in sorted(extra)
            )
            experts[e] = experts[e].model_copy(
                update={
                    "available": True,
                    "active_assignments": 0,
                    "proficiencies": profs,
                    "affiliations": (
                        Affiliation.model_construct(
                            organisation=f"O{int(orgs[j]):05d}", role="employee", current=True
                        ),
                    ),
                    "districts": (
                        LocalKnowledge.model_construct(
                            district=district, weight=round(float(rng.uniform(0.7, 1.0)), 3)
                        ),
                    ),
                }
            )
        for e in fakes:
            stale = rng.random() < 0.5
            profs = tuple(
                proficiency(t, 0.6, 1.0, as_of - 25, as_of - 15)
                if stale
                else proficiency(t, 0.1, 0.4, as_of - 5, as_of)
                for t in q_topics
            )
            # Half the decoys also name the query's district (with little knowledge of it):
            # a keyword profile cannot tell them from the true experts.
            near = rng.random() < 0.5
            place = district if near else district_ids[int(rng.integers(len(district_ids)))]
            experts[e] = experts[e].model_copy(
                update={
                    "proficiencies": profs,
                    "districts": (
                        LocalKnowledge.model_construct(
                            district=place, weight=round(float(rng.uniform(0.1, 0.3)), 3)
                        ),
                    ),
                }
            )
        queries.append(
            PlantedQuery(
                topics=tuple(f"T{t:04d}" for t in q_topics),
                district=district,
                experts=tuple(f"X{int(e):06d}" for e in sorted(trues)),
            )
        )

    data = ExpertiseData.model_construct(
        topics=tuple(topics),
        districts=tuple(districts),
        organisations=tuple(organisations),
        experts=tuple(experts),
    )
    return SyntheticExpertise.model_construct(data=data, queries=tuple(queries))
