"""The expertise graph: typed nodes, weighted edges, lookups, the cached index, PageRank."""

from __future__ import annotations

import networkx as nx
import pytest

from experts.exceptions import InvalidExpertise, UnknownTopic
from experts.graph import build_graph, resolve_district, resolve_topic
from experts.index import expertise_index, personalized_pagerank
from experts.model import Expert, ExpertiseData, Proficiency, Topic


def test_nodes_are_typed_and_edges_weighted(sample_graph: nx.Graph[str]) -> None:
    """Every node has a kind and every edge a kind and a positive weight."""
    kinds = {d["kind"] for _, d in sample_graph.nodes(data=True)}
    assert kinds == {"expert", "topic", "organisation", "district", "street_office"}
    for _, _, d in sample_graph.edges(data=True):
        assert d["kind"] in {
            "proficiency",
            "subtopic",
            "affiliation",
            "local_knowledge",
            "part_of",
            "located_in",
        }
        assert d["weight"] > 0


def test_recency_halves_a_proficiency_every_half_life() -> None:
    """A proficiency last used one half-life ago weighs half as much."""
    data = ExpertiseData(
        topics=(Topic(id="t", name="T"),),
        experts=(
            Expert(
                id="e",
                name="E",
                proficiencies=(Proficiency(topic="t", weight=0.8, last_active=2015),),
            ),
        ),
    )
    G = build_graph(data, as_of=2025, half_life=10)
    edge = G.edges["expert:e", "topic:t"]
    assert edge["weight"] == pytest.approx(0.4)
    assert (edge["proficiency"], edge["last_active"]) == (0.8, 2015)


def test_dangling_reference_is_refused() -> None:
    """Data that names a topic it does not define cannot become a graph."""
    data = ExpertiseData(
        experts=(
            Expert(
                id="e",
                name="E",
                proficiencies=(Proficiency(topic="nowhere", weight=0.5, last_active=2020),),
            ),
        )
    )
    with pytest.raises(InvalidExpertise, match="unknown topic 'nowhere'"):
        build_graph(data, as_of=2025)


@pytest.mark.parametrize("text", ["street-cleaning", "道路清扫保洁", "Street Cleaning"])
def test_topics_resolve_by_id_name_or_alias(sample_graph: nx.Graph[str], text: str) -> None:
    """A topic is found by its id, its Chinese name or its English alias."""
    assert resolve_topic(sample_graph, text) == "topic:street-cleaning"


def test_unknown_topic_suggests_close_matches(sample_graph: nx.Graph[str]) -> None:
    """An unknown topic raises with a suggestion a person can use."""
    with pytest.raises(UnknownTopic, match="Did you mean 'street-cleaning'"):
        resolve_topic(sample_graph, "street-cleanin")


def test_districts_resolve_by_name(sample_graph: nx.Graph[str]) -> None:
    """A district is found by its Chinese name."""
    assert resolve_district(sample_graph, "东区") == "district:east-district"


def test_index_is_cached_and_cleared_on_change(sample: ExpertiseData) -> None:
    """The index is reused for the same graph and rebuilt after the graph changes."""
    G = build_graph(sample, as_of=2025)
    first = expertise_index(G)
    assert expertise_index(G) is first
    G.add_edge(
        "expert:E001",
        "topic:zoning",
        kind="proficiency",
        weight=0.5,
        proficiency=0.5,
        last_active=2025,
    )
    assert expertise_index(G) is not first


def test_push_pagerank_agrees_with_networkx(sample_graph: nx.Graph[str]) -> None:
    """Forward-push PageRank matches networkx.pagerank with the same personalisation."""
    seeds = {"topic:street-cleaning": 0.5, "district:east-district": 0.5}
    ours = personalized_pagerank(sample_graph, seeds, alpha=0.7, epsilon=1e-10)
    exact = nx.pagerank(sample_graph, alpha=0.7, personalization=seeds, tol=1e-13, max_iter=1000)
    assert max(abs(ours.get(v, 0.0) - exact[v]) for v in exact) < 1e-7
