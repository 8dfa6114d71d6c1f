"""Qualification: rules as data, every failing rule listed, district types adjusting rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from decisions.tender import QualificationRules, Rule, TenderSpec, qualify

LABEL = {"zh": "规则", "en": "A rule"}


def rule(id: str, fact: str, test: str, value: Any = None) -> Rule:
    return Rule.model_validate(
        {"id": id, "fact": fact, "test": test, "value": value, "label": LABEL}
    )


def spec_with(*declared: dict[str, Any]) -> TenderSpec:
    """A one-lot tender with one bid per ``declared`` facts, by bidders c0, c1, ..."""
    return TenderSpec.model_validate(
        {
            "lots": [{"id": "L1", "name": "东湖路段", "street_office": "东湖街道"}],
            "bids": [
                {
                    "id": f"b{i}",
                    "bidder": f"c{i}",
                    "bidder_name": f"Company {i}",
                    "lots": ["L1"],
                    "prices": {"L1": 100},
                    "plan": "p",
                    "qualifications": facts,
                }
                for i, facts in enumerate(declared)
            ],
        }
    )


@pytest.mark.parametrize(
    ("test", "value", "fact", "passes"),
    [
        ("at_least", 6, 6, True),
        ("at_least", 6, 5.5, False),
        ("at_least", 6, "six", False),
        ("at_most", 2, 2, True),
        ("at_most", 2, 3, False),
        ("equals", 6, 6.0, True),
        ("equals", "a", "a", True),
        ("equals", 1, True, False),
        ("includes", "road", ("road", "waste"), True),
        ("includes", "road", "road", True),
        ("includes", "road", ("waste",), False),
        ("is_true", None, True, True),
        ("is_true", None, 1, False),
        ("is_false", None, False, True),
        ("is_false", None, True, False),
    ],
)
def test_each_test_on_a_declared_fact(test: str, value: Any, fact: Any, passes: bool) -> None:
    """Each test passes or fails on a declared fact as its table says; true is not 1."""
    assert rule("r", "f", test, value).passes({"f": fact}) is passes


@pytest.mark.parametrize("test", ["at_least", "at_most", "equals", "includes", "is_true"])
def test_a_missing_fact_fails_every_test(test: str) -> None:
    """A fact the bidder does not declare fails the rule, whatever the test."""
    value = {"at_least": 1, "at_most": 1, "equals": 1, "includes": "x"}.get(test)
    assert not rule("r", "f", test, value).passes({})


@pytest.mark.parametrize(
    ("test", "value", "expected"),
    [
        ("at_least", "six", r"the test at_least compares numbers, so value must be a number"),
        ("at_most", True, r"value must be a number, not True"),
        ("equals", None, r"the test equals needs a value"),
        ("includes", 3, r"value must be a word, not 3"),
        ("is_false", 0, r"the test is_false takes no value \(got 0\)"),
        ("between", 1, r"Input should be 'at_least'"),
    ],
)
def test_a_rule_whose_value_does_not_fit_its_test_is_refused(
    test: str, value: Any, expected: str
) -> None:
    """A value that does not suit the test is refused with a sentence."""
    with pytest.raises(ValidationError, match=expected):
        rule("r", "f", test, value)


def test_a_label_needs_both_languages() -> None:
    """A rule's label must have a zh and an en text."""
    with pytest.raises(ValidationError, match=r"label\.en\n  Field required"):
        Rule.model_validate({"id": "r", "fact": "f", "test": "is_true", "label": {"zh": "规则"}})


def test_every_failing_rule_is_listed_with_bidder_rule_and_fact() -> None:
    """An unqualified bidder is excluded with one sentence per failing rule, not just the first."""
    rules = [
        rule("min-capital", "registered_capital", "at_least", 500),
        rule("min-sweepers", "sweepers", "at_least", 6),
        rule("not-blacklisted", "blacklisted", "is_false"),
    ]
    spec = spec_with(
        {"registered_capital": 800, "sweepers": 6, "blacklisted": False},
        {"registered_capital": 100, "sweepers": 3},
    )
    result = qualify(spec, rules)
    assert result.qualified == ("b0",)
    assert [(e.bid, e.bidder, e.rule) for e in result.excluded] == [
        ("b1", "c1", "min-capital"),
        ("b1", "c1", "min-sweepers"),
        ("b1", "c1", "not-blacklisted"),
    ]
    assert result.excluded[1].reason == (
        "Bidder Company 1 (c1) declares sweepers: 3; rule min-sweepers (A rule) "
        "requires at least 6."
    )
    assert result.excluded[2].reason == (
        "Bidder Company 1 (c1) does not declare blacklisted; rule not-blacklisted (A rule) "
        "requires it to be false."
    )
    assert "申报 sweepers 为 3" in result.excluded[1].reason_zh
    assert result.excluded_bidders == ("c1",)
    assert len(result.reasons("c1")) == 3


def test_all_bids_of_an_excluded_bidder_are_excluded() -> None:
    """Qualification is per bidder: a failing fact declared in one bid excludes all its bids."""
    spec = TenderSpec.model_validate(
        {
            "lots": [
                {"id": "L1", "name": "a", "street_office": "东湖街道"},
                {"id": "L2", "name": "b", "street_office": "西城街道"},
            ],
            "bids": [
                {
                    "id": f"b{i}",
                    "bidder": "c1",
                    "bidder_name": "C",
                    "lots": [lot],
                    "prices": {lot: 1},
                    "plan": "p",
                    "qualifications": facts,
                }
                for i, (lot, facts) in enumerate([("L1", {"blacklisted": True}), ("L2", {})])
            ],
        }
    )
    result = qualify(spec, [rule("clean", "blacklisted", "is_false")])
    assert result.qualified == ()
    assert [e.bid for e in result.excluded] == ["b0", "b1"]


def test_a_district_type_replaces_adds_and_removes_rules() -> None:
    """West requires fewer sweepers and a local office; middle drops the capital rule."""
    rules = QualificationRules.model_validate(
        {
            "rules": [
                {
                    "id": "min-capital",
                    "fact": "registered_capital",
                    "test": "at_least",
                    "value": 500,
                    "label": LABEL,
                },
                {
                    "id": "min-sweepers",
                    "fact": "sweepers",
                    "test": "at_least",
                    "value": 6,
                    "label": LABEL,
                },
            ],
            "district_types": {
                "west": {
                    "replace": {"min-sweepers": 4},
                    "add": [
                        {"id": "local", "fact": "local_office", "test": "is_true", "label": LABEL}
                    ],
                },
                "middle": {"remove": ["min-capital"]},
            },
        }
    )
    spec = spec_with({"registered_capital": 600, "sweepers": 5, "local_office": True})
    assert qualify(spec, rules.for_district_type(None)).qualified == ()
    assert qualify(spec, rules.for_district_type("east")).qualified == ()
    west = rules.for_district_type("west")
    assert [(r.id, r.value) for r in west] == [
        ("min-capital", 500),
        ("min-sweepers", 4),
        ("local", None),
    ]
    assert qualify(spec, west).qualified == ("b0",)
    assert [r.id for r in rules.for_district_type("middle")] == ["min-sweepers"]
    with pytest.raises(ValueError, match="There is no district type 'north'"):
        rules.for_district_type("north")


@pytest.mark.parametrize(
    ("district", "expected"),
    [
        (
            {"replace": {"min-sweeper": 4}},
            r"district_types\.west\.replace\.min-sweeper: there is no rule",
        ),
        (
            {"replace": {"min-sweepers": "four"}},
            r"replace\.min-sweepers: the test at_least compares numbers",
        ),
        ({"remove": ["nope"]}, r"remove\.nope: there is no rule nope to remove"),
        (
            {"add": [{"id": "min-sweepers", "fact": "x", "test": "is_true", "label": LABEL}]},
            r"add\[0\]\.id: there is already a rule min-sweepers",
        ),
        ({"tighten": {}}, r"tighten\n  Extra inputs are not permitted"),
    ],
)
def test_a_bad_district_adjustment_is_refused_with_its_key_path(
    district: dict[str, Any], expected: str
) -> None:
    """A district type that names an unknown rule or an unfit value is refused by key path."""
    with pytest.raises(ValidationError, match=expected):
        QualificationRules.model_validate(
            {
                "rules": [
                    {
                        "id": "min-sweepers",
                        "fact": "sweepers",
                        "test": "at_least",
                        "value": 6,
                        "label": LABEL,
                    }
                ],
                "district_types": {"west": district},
            }
        )


def test_district_types_match_the_classes_file() -> None:
    """The district types a tender knows are those of the decision classes."""
    from typing import get_args

    from decisions.classes import DistrictType as ClassTypes
    from decisions.tender.common import DistrictType

    assert get_args(DistrictType) == get_args(ClassTypes)
