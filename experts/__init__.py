"""The expertise database and expert routing.

- :mod:`experts.model` — the records (topics, districts, organisations, experts) as values.
- :mod:`experts.io` — YAML and CSV import/export with file/line/reason errors.
- :mod:`experts.tables`, :mod:`experts.store` — the SQL tables and their reader/writer.
- :mod:`experts.graph` — the networkx property graph; :mod:`experts.index` — its cached
  sparse index and personalised PageRank.
- :mod:`experts.ranking` — :func:`rank_experts`: routing with conflicts, coverage,
  organisation diversity, alternates and explanations.
- :mod:`experts.assignment` — :func:`assign_experts`: batch assignment as min-cost flow.
- :mod:`experts.sample`, :mod:`experts.synthetic` — the shipped sample and a generator.

This package never imports ``flows``, ``decisions`` or Prefect.
"""

from __future__ import annotations

from experts.assignment import (
    AffinityTable,
    Assignment,
    assign_experts,
    read_conflicts_csv,
    read_scores_csv,
)
from experts.graph import build_graph, resolve_district, resolve_expert, resolve_topic
from experts.index import expertise_index, personalized_pagerank
from experts.io import read_expertise, write_expertise
from experts.model import (
    Affiliation,
    District,
    Expert,
    ExpertiseData,
    LocalKnowledge,
    Organisation,
    Proficiency,
    Topic,
)
from experts.ranking import Routing, keyword_rank, rank_experts
from experts.sample import load_sample
from experts.store import load_expertise, save_expertise
from experts.synthetic import synthetic_expertise

__all__ = [
    "AffinityTable",
    "Affiliation",
    "Assignment",
    "District",
    "Expert",
    "ExpertiseData",
    "LocalKnowledge",
    "Organisation",
    "Proficiency",
    "Routing",
    "Topic",
    "assign_experts",
    "build_graph",
    "expertise_index",
    "keyword_rank",
    "load_expertise",
    "load_sample",
    "personalized_pagerank",
    "rank_experts",
    "read_conflicts_csv",
    "read_expertise",
    "read_scores_csv",
    "resolve_district",
    "resolve_expert",
    "resolve_topic",
    "save_expertise",
    "synthetic_expertise",
    "write_expertise",
]
