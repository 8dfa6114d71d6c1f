"""The shipped example tender parses and qualifies as its comment says."""

from __future__ import annotations

from decisions.tender import TenderRules, TenderSpec, bidders, qualify


def test_the_example_parses_with_three_lots_and_five_bidders(example_spec: TenderSpec) -> None:
    """The example has three lots of three street offices and seven bids from five bidders."""
    assert [lot.street_office for lot in example_spec.lots] == ["东湖街道", "西城街道", "南苑街道"]
    assert len(example_spec.bids) == 7
    assert bidders(example_spec) == ("jiejing", "lvyuan", "huanyu", "xinda", "qingcheng")


def test_the_example_excludes_too_few_sweepers_and_the_blacklisted(
    example_spec: TenderSpec, example_rules: TenderRules
) -> None:
    """huanyu (3 sweepers) and xinda (blacklisted: both bids) are excluded in every district."""
    for district_type in (None, "east", "middle", "west"):
        q = qualify(example_spec, example_rules.qualification.for_district_type(district_type))
        assert q.qualified == ("B01", "B02", "B03", "B07")
        assert [(e.bid, e.rule) for e in q.excluded] == [
            ("B04", "min-sweepers"),
            ("B05", "not-blacklisted"),
            ("B06", "not-blacklisted"),
        ]
