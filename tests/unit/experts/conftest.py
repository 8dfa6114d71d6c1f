"""Fixtures for the expertise unit tests: the shipped sample and its graph (built once)."""

from __future__ import annotations

import networkx as nx
import pytest

from experts.graph import build_graph
from experts.model import ExpertiseData
from experts.sample import load_sample


@pytest.fixture(scope="session")
def sample() -> ExpertiseData:
    """The sample expertise database shipped with the package."""
    return load_sample()


@pytest.fixture(scope="session")
def sample_graph(sample: ExpertiseData) -> nx.Graph[str]:
    """The sample's graph with recency measured from 2025 (read-only: do not mutate)."""
    return build_graph(sample, as_of=2025)
