"""The tender's eligible pool: nobody with an interest in a bidder is ever in it."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from experts.model import Affiliation, Expert, ExpertiseData, Organisation, Proficiency, Topic
from experts.pool import SPECIALITY_MIN, speciality, tender_pool

TOPICS = (
    Topic(id="sanitation", name="Sanitation"),
    Topic(id="street-cleaning", name="Street cleaning", parent="sanitation"),
    Topic(id="waste", name="Waste", parent="sanitation"),
    Topic(id="law", name="Law"),
)
ORGS = tuple(f"o{n}" for n in range(6))

affiliations = st.lists(
    st.builds(Affiliation, organisation=st.sampled_from(ORGS), current=st.booleans()),
    max_size=3,
)
proficiencies = st.lists(
    st.builds(
        Proficiency,
        topic=st.sampled_from([t.id for t in TOPICS]),
        weight=st.floats(0.05, 1.0),
        last_active=st.just(2025),
    ),
    max_size=3,
)


@st.composite
def databases(draw: st.DrawFn) -> ExpertiseData:
    experts = tuple(
        Expert(
            id=f"E{n:02d}",
            name=f"Expert {n}",
            available=draw(st.booleans()),
            affiliations=tuple(draw(affiliations)),
            proficiencies=tuple(draw(proficiencies)),
        )
        for n in range(draw(st.integers(0, 25)))
    )
    organisations = tuple(
        Organisation(
            id=o,
            name=o,
            interests=tuple(draw(st.lists(st.sampled_from(["waste", "law"]), max_size=1))),
        )
        for o in ORGS
    )
    return ExpertiseData(topics=TOPICS, organisations=organisations, experts=experts)


@settings(max_examples=300, deadline=None)
@given(
    data=databases(),
    bidders=st.sets(st.sampled_from(ORGS), max_size=3),
    per_organisation=st.integers(1, 3),
)
def test_no_conflicted_expert_is_ever_in_the_pool(
    data: ExpertiseData, bidders: set[str], per_organisation: int
) -> None:
    """Whatever the database: no member works or worked for a bidder, none works for an
    organisation with a stake in the speciality, all are available and of the speciality,
    at most ``per_organisation`` per organisation; everyone else is left out with a reason."""
    pool, excluded = tender_pool(
        data, ["sanitation"], bidders=bidders, per_organisation=per_organisation
    )
    field = speciality(data, ["sanitation"])
    stakes = {o.id for o in data.organisations if field & set(o.interests)}
    experts = {e.id: e for e in data.experts}
    for member in pool:
        expert = experts[member.id]
        assert not {a.organisation for a in expert.affiliations} & bidders
        assert not {a.organisation for a in expert.affiliations if a.current} & stakes
        assert expert.available
        assert any(p.topic in field and p.weight >= SPECIALITY_MIN for p in expert.proficiencies)
    counts = Counter(m.organisation for m in pool if m.organisation is not None)
    assert all(n <= per_organisation for n in counts.values())
    assert {m.id for m in pool} | set(excluded) == set(experts)
    assert not {m.id for m in pool} & set(excluded)
    for expert_id, reason in excluded.items():
        if {a.organisation for a in experts[expert_id].affiliations} & bidders:
            assert "of the bidder" in reason


def test_a_former_employee_of_a_bidder_is_left_out_saying_so() -> None:
    """Past employment counts: the database keeps no end year, so it is always recent."""
    expert = Expert(
        id="E01",
        name="Wang",
        affiliations=(Affiliation(organisation="o1", current=False),),
        proficiencies=(Proficiency(topic="waste", weight=0.9, last_active=2025),),
    )
    data = ExpertiseData(topics=TOPICS, experts=(expert,))
    pool, excluded = tender_pool(data, ["sanitation"], bidders=["o1"])
    assert pool == () and excluded == {"E01": "was employee of the bidder o1"}
