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

This package never imports ``flows``, ``decisions`` or Prefect. The names below are loaded
when first used (PEP 562), so importing one light module such as :mod:`experts.model` or
:mod:`experts.store` does not load networkx, NumPy or SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

#: Where each public name lives; :func:`__getattr__` imports the module on first use.
_HOMES = {
    "AffinityTable": "experts.assignment",
    "Assignment": "experts.assignment",
    "assign_experts": "experts.assignment",
    "read_conflicts_csv": "experts.assignment",
    "read_scores_csv": "experts.assignment",
    "build_graph": "experts.graph",
    "resolve_district": "experts.graph",
    "resolve_expert": "experts.graph",
    "resolve_topic": "experts.graph",
    "expertise_index": "experts.index",
    "personalized_pagerank": "experts.index",
    "read_expertise": "experts.io",
    "write_expertise": "experts.io",
    "Affiliation": "experts.model",
    "District": "experts.model",
    "Expert": "experts.model",
    "ExpertiseData": "experts.model",
    "LocalKnowledge": "experts.model",
    "Organisation": "experts.model",
    "Proficiency": "experts.model",
    "Topic": "experts.model",
    "Routing": "experts.ranking",
    "keyword_rank": "experts.ranking",
    "rank_experts": "experts.ranking",
    "load_sample": "experts.sample",
    "load_expertise": "experts.store",
    "save_expertise": "experts.store",
    "synthetic_expertise": "experts.synthetic",
}

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


def __getattr__(name: str) -> object:
    """Import a public name's module the first time the name is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
