"""Routing says what it could not do: fewer experts than asked, and who each rule kept out."""

from __future__ import annotations

import pytest

from experts.graph import build_graph
from experts.model import (
    Affiliation,
    Expert,
    ExpertiseData,
    Organisation,
    Proficiency,
    Topic,
)
from experts.ranking import RULES, rank_experts


def expertise(
    *, orgs: int = 8, per_org: int = 2, conflicted: int = 0, unavailable: int = 0, full: int = 0
) -> ExpertiseData:
    """One topic; ``per_org`` experts at each of ``orgs`` organisations, and extra experts
    (each at an organisation of their own) who are conflicted, unavailable or at their cap."""
    topic = Topic(id="street-cleaning", name="道路清扫保洁")
    organisations = [Organisation(id=f"org{i}", name=f"单位{i}") for i in range(orgs)]
    experts = [
        Expert(
            id=f"E{i}{j}",
            name=f"专家{i}{j}",
            affiliations=(Affiliation(organisation=f"org{i}"),),
            proficiencies=(Proficiency(topic=topic.id, weight=0.9 - 0.01 * j, last_active=2024),),
        )
        for i in range(orgs)
        for j in range(per_org)
    ]
    extra = [
        ("x", conflicted, {}),
        ("u", unavailable, {"available": False}),
        ("w", full, {"workload_cap": 1, "active_assignments": 1}),
    ]
    for tag, n, fields in extra:
        for m in range(n):
            organisations.append(
                Organisation(
                    id=f"{tag}org{m}",
                    name=f"{tag}单位{m}",
                    interests=("street-cleaning",) if tag == "x" else (),
                )
            )
            experts.append(
                Expert(
                    id=f"{tag.upper()}{m}",
                    name=f"{tag}专家{m}",
                    affiliations=(Affiliation(organisation=f"{tag}org{m}"),),
                    proficiencies=(Proficiency(topic=topic.id, weight=0.95, last_active=2024),),
                    **fields,
                )
            )
    return ExpertiseData(
        topics=(topic,), organisations=tuple(organisations), experts=tuple(experts)
    )


@pytest.mark.parametrize(
    ("data", "rule", "kept"),
    [
        (expertise(), "organisation", 8),
        (expertise(orgs=6, per_org=1, conflicted=3), "conflict", 3),
        (expertise(orgs=6, per_org=1, unavailable=2), "unavailable", 2),
        (expertise(orgs=6, per_org=1, full=4), "workload", 4),
    ],
    ids=["organisation", "conflict", "unavailable", "workload"],
)
def test_a_shortfall_names_the_rule_and_the_experts_it_kept_out(
    data: ExpertiseData, rule: str, kept: int
) -> None:
    """Asking for more experts than the rules allow reports asked, found and each rule's count."""
    G = build_graph(data, as_of=2025)
    routing = rank_experts(G, ["street-cleaning"], k=9, alternates=0)
    found = len(routing.picks)
    assert found < 9
    shortfall = routing.shortfall
    assert shortfall is not None
    assert (shortfall.asked, shortfall.found) == (9, found)
    assert shortfall.rules == {rule: kept}
    assert f"asked for 9 experts, found {found}: {RULES[rule]}" in shortfall.reason
    assert [x.cause for x in routing.excluded] == [rule] * kept
    assert all(x.expert and x.name and x.reason for x in routing.excluded)


def test_organisation_rule_keeps_out_the_pick_sharing_an_organisation() -> None:
    """Nine asked where one per organisation allows eight: eight found, the rest named."""
    G = build_graph(expertise(), as_of=2025)
    routing = rank_experts(G, ["street-cleaning"], k=9, alternates=0)
    assert len(routing.picks) == 8
    first = next(x for x in routing.excluded if x.expert == "E01")
    assert first.cause == "organisation"
    assert first.reason == (
        "shares 单位0 with the pick 专家00 (E00); at most 1 pick per organisation"
    )


def test_no_shortfall_when_enough_experts_are_found() -> None:
    """When k experts are picked there is no shortfall, and only strong contenders are listed."""
    G = build_graph(expertise(), as_of=2025)
    routing = rank_experts(G, ["street-cleaning"], k=8, alternates=1)
    assert len(routing.picks) == 8 and routing.shortfall is None
    alternates = {a.expert for p in routing.picks for a in p.alternates}
    assert not alternates & {x.expert for x in routing.excluded}


def test_a_small_database_is_a_shortfall_without_a_rule() -> None:
    """With too few relevant experts and no rule to blame, the shortfall says so."""
    G = build_graph(expertise(orgs=3, per_org=1), as_of=2025)
    routing = rank_experts(G, ["street-cleaning"], k=5, alternates=0)
    assert routing.shortfall is not None and routing.shortfall.rules == {}
    assert "only 3 experts of the database are relevant" in routing.shortfall.reason
