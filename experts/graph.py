"""The expertise property graph in networkx.

:func:`build_graph` turns :class:`~experts.model.ExpertiseData` into an undirected
:class:`networkx.Graph` with typed nodes and weighted edges:

=================  ==============================================  ===========================
node               id                                              ``kind`` attribute
=================  ==============================================  ===========================
expert             ``"expert:<id>"``                               ``"expert"``
topic              ``"topic:<id>"``                                ``"topic"``
organisation       ``"org:<id>"``                                  ``"organisation"``
district           ``"district:<id>"``                             ``"district"`` or
                                                                   ``"street_office"``
=================  ==============================================  ===========================

Every node also has ``id`` (the record id) and ``name``; topics and street offices have
``parent`` (the parent's node, or None), since the graph itself is undirected. Experts
carry ``available``, ``workload_cap``, ``active_assignments`` and ``title``; organisations
carry ``org_kind`` and ``interests`` (topic ids they have a commercial stake in — kept as
an attribute, not as edges, so a contractor's interest never makes its staff look relevant).

Edges have a ``kind`` and a ``weight`` (what ranking walks on):

- ``proficiency`` expert–topic: ``weight = proficiency * 0.5 ** (age / half_life)`` where ``age``
  is ``as_of - last_active`` in years; ``proficiency`` and ``last_active`` are kept as well.
- ``subtopic`` topic–topic (parent–child), weight ``taxonomy_weight``.
- ``affiliation`` expert–organisation, weight ``affiliation_weight`` (current) or a fifth of it
  (former); ``role`` and ``current`` kept.
- ``local_knowledge`` expert–district or expert–street office, weight the knowledge weight.
- ``part_of`` street office–district and ``located_in`` organisation–district, weight
  ``taxonomy_weight`` and ``affiliation_weight``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date

import networkx as nx

from experts.exceptions import (
    AmbiguousExpert,
    InvalidExpertise,
    UnknownDistrict,
    UnknownExpert,
    UnknownTopic,
)
from experts.model import ExpertiseData

__all__ = [
    "build_graph",
    "expert_node",
    "topic_node",
    "org_node",
    "district_node",
    "node_record_id",
    "resolve_topic",
    "resolve_district",
    "resolve_expert",
    "topic_descendants",
]


def expert_node(expert_id: str) -> str:
    """The graph node of an expert."""
    return f"expert:{expert_id}"


def topic_node(topic_id: str) -> str:
    """The graph node of a topic."""
    return f"topic:{topic_id}"


def org_node(org_id: str) -> str:
    """The graph node of an organisation."""
    return f"org:{org_id}"


def district_node(district_id: str) -> str:
    """The graph node of a district or street office."""
    return f"district:{district_id}"


def node_record_id(node: str) -> str:
    """The record id inside a node id (``"topic:zoning"`` -> ``"zoning"``)."""
    return node.split(":", 1)[1]


def build_graph(
    data: ExpertiseData,
    *,
    as_of: int | None = None,
    half_life: float = 5.0,
    taxonomy_weight: float = 1.0,
    affiliation_weight: float = 0.3,
) -> nx.Graph[str]:
    """Build the expertise graph of ``data``.

    Parameters
    ----------
    data : ExpertiseData
        The records; every reference must resolve.
    as_of : int, optional
        The year recency is measured from; defaults to the current year. Pass it for
        results that do not change with the calendar.
    half_life : float
        Years after which a proficiency counts half.
    taxonomy_weight, affiliation_weight : float
        Weights of taxonomy and affiliation edges (see the module docstring).

    Returns
    -------
    networkx.Graph
        ``G.graph`` holds ``as_of`` and ``half_life``.

    Raises
    ------
    InvalidExpertise
        If a record refers to a topic, district, organisation or parent that does not exist.

    Examples
    --------
    >>> from experts.sample import load_sample
    >>> G = build_graph(load_sample(), as_of=2025)
    >>> G.nodes["topic:street-cleaning"]["kind"]
    'topic'
    """
    year = date.today().year if as_of is None else as_of
    G: nx.Graph[str] = nx.Graph(as_of=year, half_life=half_life)
    problems: list[str] = []
    topics = {t.id for t in data.topics}
    districts = {d.id for d in data.districts}
    orgs = {o.id for o in data.organisations}

    for t in data.topics:
        parent = topic_node(t.parent) if t.parent in topics else None
        G.add_node(
            topic_node(t.id), kind="topic", id=t.id, name=t.name, aliases=t.aliases, parent=parent
        )
    for d in data.districts:
        parent = district_node(d.parent) if d.parent in districts else None
        G.add_node(
            district_node(d.id), kind=d.kind, id=d.id, name=d.name, profile=d.profile, parent=parent
        )
    for o in data.organisations:
        G.add_node(
            org_node(o.id),
            kind="organisation",
            id=o.id,
            name=o.name,
            org_kind=o.kind,
            interests=o.interests,
        )
        problems.extend(
            f"organisation {o.id!r} has an interest in unknown topic {t!r}"
            for t in o.interests
            if t not in topics
        )
    for t in data.topics:
        if t.parent is not None:
            if t.parent not in topics:
                problems.append(f"topic {t.id!r} has unknown parent {t.parent!r}")
            else:
                G.add_edge(
                    topic_node(t.parent), topic_node(t.id), kind="subtopic", weight=taxonomy_weight
                )
    for d in data.districts:
        if d.parent is not None:
            if d.parent not in districts:
                problems.append(f"street office {d.id!r} has unknown district {d.parent!r}")
            else:
                G.add_edge(
                    district_node(d.parent),
                    district_node(d.id),
                    kind="part_of",
                    weight=taxonomy_weight,
                )
    for o in data.organisations:
        if o.district is not None:
            if o.district not in districts:
                problems.append(f"organisation {o.id!r} is in unknown district {o.district!r}")
            else:
                G.add_edge(
                    org_node(o.id),
                    district_node(o.district),
                    kind="located_in",
                    weight=affiliation_weight,
                )
    for e in data.experts:
        node = expert_node(e.id)
        G.add_node(
            node,
            kind="expert",
            id=e.id,
            name=e.name,
            title=e.title,
            available=e.available,
            workload_cap=e.workload_cap,
            active_assignments=e.active_assignments,
        )
        for p in e.proficiencies:
            if p.topic not in topics:
                problems.append(f"expert {e.id!r} knows unknown topic {p.topic!r}")
                continue
            age = max(0, year - p.last_active)
            G.add_edge(
                node,
                topic_node(p.topic),
                kind="proficiency",
                proficiency=p.weight,
                last_active=p.last_active,
                weight=p.weight * 0.5 ** (age / half_life),
            )
        for a in e.affiliations:
            if a.organisation not in orgs:
                problems.append(
                    f"expert {e.id!r} is affiliated with unknown organisation {a.organisation!r}"
                )
                continue
            G.add_edge(
                node,
                org_node(a.organisation),
                kind="affiliation",
                role=a.role,
                current=a.current,
                weight=affiliation_weight if a.current else affiliation_weight / 5,
            )
        for k in e.districts:
            if k.district not in districts:
                problems.append(f"expert {e.id!r} knows unknown district {k.district!r}")
                continue
            G.add_edge(node, district_node(k.district), kind="local_knowledge", weight=k.weight)
    if problems:
        raise InvalidExpertise(
            f"The expertise data is inconsistent: {problems[0]}"
            + (f" ({len(problems) - 1} more problems)." if len(problems) > 1 else "."),
            problems=tuple(problems),
        )
    return G


def _resolve(
    G: nx.Graph[str],
    text: str,
    kinds: Iterable[str],
    prefix: str,
    error: type[UnknownTopic] | type[UnknownDistrict] | type[UnknownExpert],
) -> str:
    kinds = tuple(kinds)
    node = f"{prefix}{text}"
    if node in G and G.nodes[node].get("kind") in kinds:
        return node
    wanted = text.strip().casefold()
    names: dict[str, str] = {}
    for n, attrs in G.nodes(data=True):
        if attrs.get("kind") not in kinds:
            continue
        for label in (attrs["id"], attrs["name"], *attrs.get("aliases", ())):
            names.setdefault(str(label).casefold(), n)
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6)
    suggestions = tuple(dict.fromkeys(G.nodes[names[c]]["id"] for c in close))
    raise error(text, suggestions=suggestions)


def resolve_topic(G: nx.Graph[str], text: str) -> str:
    """The topic node whose id, name or alias is ``text`` (case-insensitive).

    Raises
    ------
    UnknownTopic
        If nothing matches; the error suggests close matches.
    """
    return _resolve(G, text, ("topic",), "topic:", UnknownTopic)


def resolve_district(G: nx.Graph[str], text: str) -> str:
    """The district or street office node whose id or name is ``text``.

    Raises
    ------
    UnknownDistrict
        If nothing matches.
    """
    return _resolve(G, text, ("district", "street_office"), "district:", UnknownDistrict)


def resolve_expert(G: nx.Graph[str], text: str) -> str:
    """The expert node whose id or name is ``text``.

    An id wins over names; a name that several experts share (two 王建国) is refused, as a
    guess could show or route the wrong person.

    Raises
    ------
    UnknownExpert
        If nothing matches.
    AmbiguousExpert
        If ``text`` is no id and is the name of several experts; the error lists each one's
        id and current organisations.
    """
    if f"expert:{text}" in G and G.nodes[f"expert:{text}"].get("kind") == "expert":
        return f"expert:{text}"
    wanted = text.strip().casefold()
    same = sorted(
        (
            n
            for n, attrs in G.nodes(data=True)
            if attrs.get("kind") == "expert" and str(attrs["name"]).strip().casefold() == wanted
        ),
        key=lambda n: str(G.nodes[n]["id"]),
    )
    if len(same) > 1:
        raise AmbiguousExpert(
            text,
            matches=[
                (
                    str(G.nodes[n]["id"]),
                    str(G.nodes[n]["name"]),
                    ", ".join(
                        str(G.nodes[o]["name"])
                        for o, attrs in G.adj[n].items()
                        if attrs.get("kind") == "affiliation" and attrs.get("current")
                    ),
                )
                for n in same
            ],
        )
    return _resolve(G, text, ("expert",), "expert:", UnknownExpert)


def topic_descendants(G: nx.Graph[str], topic: str) -> set[str]:
    """``topic`` and every narrower topic under it (nodes)."""
    out = {topic}
    stack = [topic]
    while stack:
        node = stack.pop()
        for nbr, attrs in G.adj[node].items():
            if attrs.get("kind") == "subtopic" and nbr not in out and _is_child(G, node, nbr):
                out.add(nbr)
                stack.append(nbr)
    return out


def _is_child(G: nx.Graph[str], parent: str, child: str) -> bool:
    return bool(G.nodes[child].get("parent") == parent)
