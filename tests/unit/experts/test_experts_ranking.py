"""Routing: conflicts, availability, coverage, organisation diversity, determinism, paths."""

from __future__ import annotations

import functools

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experts.graph import build_graph
from experts.model import ExpertiseData
from experts.ranking import Routing, keyword_rank, rank_experts
from experts.sample import load_sample
from experts.synthetic import synthetic_expertise

SAMPLE_TOPICS = [
    "street-cleaning",
    "market-based-contracting",
    "cleaning-zones",
    "waste-transfer",
    "zoning",
    "permits",
    "illegal-buildings",
    "pipe-networks",
    "public-transit",
    "air-quality",
    "procurement-law",
    "cost-evaluation",
    "resident-participation",
    "city-sanitation",
    "urban-planning",
]
SAMPLE_DISTRICTS = [None, "east-district", "middle-district", "west-district", "west-xijiao"]


@functools.cache
def _sample() -> ExpertiseData:
    """The sample, for Hypothesis tests (which must not take function-scoped fixtures)."""
    return load_sample()


@functools.cache
def _graph() -> nx.Graph[str]:
    """The sample's graph, built once for the Hypothesis tests (read-only)."""
    return build_graph(_sample(), as_of=2025)


def proposed(routing: Routing) -> list[str]:
    """Every expert a routing proposes: picks and alternates."""
    return [p.expert for p in routing.picks] + [
        a.expert for p in routing.picks for a in p.alternates
    ]


def current_orgs(sample: ExpertiseData, expert: str) -> set[str]:
    """Organisations an expert of the sample currently works for."""
    (e,) = [x for x in sample.experts if x.id == expert]
    return {a.organisation for a in e.affiliations if a.current}


def test_street_cleaning_drops_contractor_staff_and_says_why(
    sample_graph: nx.Graph[str], sample: ExpertiseData
) -> None:
    """Staff and consultants of cleaning contractors are never routed to a cleaning decision."""
    routing = rank_experts(
        sample_graph, ["street-cleaning", "market-based-contracting"], district="east-district", k=5
    )
    bidders = {"cleanco", "qingyuan-city-services"}
    for expert in proposed(routing):
        assert not current_orgs(sample, expert) & bidders
    conflicts = [x for x in routing.excluded if x.cause == "conflict"]
    assert conflicts
    assert all("commercial interest" in x.reason for x in conflicts)


@settings(max_examples=60, deadline=None)
@given(
    topics=st.lists(st.sampled_from(SAMPLE_TOPICS), min_size=1, max_size=3, unique=True),
    district=st.sampled_from(SAMPLE_DISTRICTS),
    k=st.integers(1, 8),
    stakeholders=st.sets(
        st.sampled_from(
            ["cleanco", "city-university", "ruida", "city-planning-institute", "tech-university"]
        )
    ),
    exclude=st.sets(st.sampled_from([f"E{i:03d}" for i in range(1, 99)]), max_size=10),
    interest_conflicts=st.booleans(),
)
def test_no_conflicted_expert_is_ever_proposed(
    topics: list[str],
    district: str | None,
    k: int,
    stakeholders: set[str],
    exclude: set[str],
    interest_conflicts: bool,
) -> None:
    """Whatever the query, no pick or alternate is excluded, conflicted, unavailable or full."""
    sample = _sample()
    routing = rank_experts(
        _graph(),
        topics,
        district=district,
        k=k,
        stakeholders=stakeholders,
        exclude=exclude,
        interest_conflicts=interest_conflicts,
    )
    by_id = {e.id: e for e in sample.experts}
    parent = {t.id: t.parent for t in sample.topics}

    def chain(topic: str) -> list[str]:
        out = [topic]
        while (up := parent[out[-1]]) is not None:
            out.append(up)
        return out

    related: set[str] = set()
    for t in parent:  # the query topics, their ancestors and their descendants
        if t in topics:
            related.update(chain(t))
        elif set(chain(t)) & set(topics):
            related.add(t)
    interested = {o.id for o in sample.organisations if set(o.interests) & related}
    for expert in proposed(routing):
        e = by_id[expert]
        orgs = current_orgs(sample, expert)
        assert expert not in exclude
        assert not orgs & stakeholders
        if interest_conflicts:
            assert not orgs & interested
        assert e.available and e.active_assignments < e.workload_cap
    assert len(set(proposed(routing))) == len(proposed(routing))


def test_every_topic_is_covered_when_possible(sample_graph: nx.Graph[str]) -> None:
    """Four topics from four fields with k=4 are each covered by some pick."""
    topics = ["zoning", "procurement-law", "air-quality", "resident-participation"]
    routing = rank_experts(sample_graph, topics, k=4)
    assert not routing.uncovered
    covered = {t for p in routing.picks for t in p.covers}
    assert covered == set(topics)


def test_uncoverable_topic_is_reported_with_a_reason(sample_graph: nx.Graph[str]) -> None:
    """A topic nobody knows is listed as uncovered, saying nobody is proficient in it."""
    G = sample_graph.copy()
    G.add_node(
        "topic:drones", kind="topic", id="drones", name="无人机巡查", aliases=(), parent=None
    )
    routing = rank_experts(G, ["street-cleaning", "drones"], k=3)
    (missing,) = routing.uncovered
    assert missing.topic == "drones"
    assert "no expert in the database is proficient in 无人机巡查" in missing.reason


def test_too_small_k_says_so(sample_graph: nx.Graph[str]) -> None:
    """With fewer places than unrelated topics, the uncovered topic says to raise k."""
    routing = rank_experts(sample_graph, ["zoning", "air-quality"], k=1)
    assert len(routing.picks) == 1
    (missing,) = routing.uncovered
    assert "raise k" in missing.reason


@pytest.mark.parametrize("topic", ["city-sanitation", "urban-planning", "law"])
def test_at_most_one_pick_per_organisation(
    sample_graph: nx.Graph[str], sample: ExpertiseData, topic: str
) -> None:
    """By default no two picks share a current organisation."""
    routing = rank_experts(sample_graph, [topic], k=6)
    seen: set[str] = set()
    for p in routing.picks:
        orgs = current_orgs(sample, p.expert)
        assert not orgs & seen
        seen |= orgs


def test_organisation_limit_can_be_lifted(
    sample_graph: nx.Graph[str], sample: ExpertiseData
) -> None:
    """With ``per_organisation=None`` colleagues may be picked together."""
    routing = rank_experts(sample_graph, ["law"], k=8, per_organisation=None)
    orgs = [o for p in routing.picks for o in current_orgs(sample, p.expert)]
    assert len(orgs) > len(set(orgs))


def test_alternates_keep_coverage_and_diversity(
    sample_graph: nx.Graph[str], sample: ExpertiseData
) -> None:
    """Swapping any pick for its alternate keeps topics covered and organisations distinct."""
    topics = ["zoning", "air-quality", "procurement-law"]
    routing = rank_experts(sample_graph, topics, k=3, alternates=2)
    for pick in routing.picks:
        assert pick.alternates
        others = [p for p in routing.picks if p is not pick]
        for alt in pick.alternates:
            covered = {t for p in others for t in p.covers} | set(alt.covers)
            assert covered >= {t for p in routing.picks for t in p.covers}
            other_orgs = set().union(*(current_orgs(sample, p.expert) for p in others))
            assert not current_orgs(sample, alt.expert) & other_orgs


def test_load_override_excludes_busy_experts(sample_graph: nx.Graph[str]) -> None:
    """An expert whose current load reaches their cap is dropped with the reason."""
    first = rank_experts(sample_graph, ["zoning"], k=1).picks[0]
    again = rank_experts(sample_graph, ["zoning"], k=1, load={first.expert: 99})
    assert again.picks[0].expert != first.expert
    (busy,) = [x for x in again.excluded if x.expert == first.expert]
    assert busy.cause == "workload" and "workload cap" in busy.reason


def test_ranking_is_deterministic(sample: ExpertiseData, sample_graph: nx.Graph[str]) -> None:
    """The same inputs give the same routing, also on a freshly built graph."""
    args = (["street-cleaning", "waste-transfer"],)
    kwargs = {"district": "east-district", "k": 5}
    first = rank_experts(sample_graph, *args, **kwargs)  # type: ignore[arg-type]
    assert rank_experts(sample_graph, *args, **kwargs) == first  # type: ignore[arg-type]
    fresh = build_graph(sample, as_of=2025)
    assert rank_experts(fresh, *args, **kwargs) == first  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    topics=st.lists(st.sampled_from(SAMPLE_TOPICS), min_size=1, max_size=3, unique=True),
    district=st.sampled_from(SAMPLE_DISTRICTS),
)
def test_explanations_walk_edges_of_the_graph(topics: list[str], district: str | None) -> None:
    """Each explanation is a walk from a query seed to the expert along existing edges."""
    sample_graph = _graph()
    routing = rank_experts(sample_graph, topics, district=district, k=4)
    seeds = {f"topic:{t}" for t in routing.topics}
    if district:
        seeds.add(f"district:{district}")
    for cand in [*routing.picks, *(a for p in routing.picks for a in p.alternates)]:
        path = cand.explanation
        assert path.nodes[0] in seeds
        assert path.nodes[-1] == f"expert:{cand.expert}"
        assert len(path.edges) == len(path.nodes) - 1 >= 1
        for edge, (u, v) in zip(
            path.edges, zip(path.nodes, path.nodes[1:], strict=False), strict=True
        ):
            assert sample_graph.has_edge(u, v)
            assert (edge.source, edge.target) == (u, v)
            assert edge.kind == sample_graph.edges[u, v]["kind"]
        assert cand.reason


def test_ranker_beats_keyword_baseline_on_planted_experts() -> None:
    """On small synthetic data the graph ranker finds planted experts better than keywords."""
    synthetic = synthetic_expertise(
        3_000, 300, 300, n_districts=5, street_offices=3, n_queries=30, seed=7
    )
    G = build_graph(synthetic.data, as_of=2025)
    ours = base = 0.0
    for q in synthetic.queries:
        truth = set(q.experts)
        routing = rank_experts(G, q.topics, district=q.district, k=5, alternates=0)
        ours += len(truth & {p.expert for p in routing.picks}) / 5
        base += len(truth & set(keyword_rank(G, q.topics, district=q.district, k=5))) / 5
    n = len(synthetic.queries)
    assert ours / n > 0.7
    assert ours / n > base / n + 0.2


def test_unknown_or_empty_topics_are_refused(sample_graph: nx.Graph[str]) -> None:
    """An empty topic list raises ValueError; negative k too."""
    with pytest.raises(ValueError, match="at least one topic"):
        rank_experts(sample_graph, [])
    with pytest.raises(ValueError, match="k must not be negative"):
        rank_experts(sample_graph, ["zoning"], k=-1)


def test_an_expert_kept_out_for_a_stakeholder_is_told_in_a_sentence() -> None:
    """Staff of a stakeholder organisation are excluded with a reason that reads as a
    sentence: "…, which is a stakeholder of this decision"."""
    sample = _sample()
    first = rank_experts(_graph(), ["street-cleaning"], k=3).picks[0].expert
    expert = next(e for e in sample.experts if e.id == first)
    org = next(a.organisation for a in expert.affiliations if a.current)
    routing = rank_experts(_graph(), ["street-cleaning"], k=3, stakeholders={org})
    reasons = [
        x.reason for x in routing.excluded if x.cause == "conflict" and "stakeholder" in x.reason
    ]
    assert reasons, routing.excluded
    assert all(r.endswith("which is a stakeholder of this decision") for r in reasons), reasons
