"""A class's tender section: the example validates, mistakes are sentences with key paths."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from decisions.tender import EXAMPLE_YAML, TenderRules


def section(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_YAML)["tender"]
    data.update(changes)
    return data


def test_the_example_section_validates_with_the_draw_defaults() -> None:
    """The example section reads, with the documented defaults for the draw."""
    rules = TenderRules.model_validate(section())
    assert (rules.panel, rules.alternates, rules.per_lot) == (5, 3, 3)
    assert (rules.max_lots_per_evaluator, rules.per_organisation, rules.mode) == (3, 1, "random")
    assert (rules.max_probability, rules.witness_body) == (0.75, "district-notary-office")
    assert rules.former_staff_years == 3
    assert [r.value for r in rules.qualification.for_district_type("west")][1] == 4
    assert rules.scoring.evaluator_criteria == ("technical", "commercial")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"panel": 2}, r"per_lot \(3\) cannot exceed panel \(2\)"),
        ({"max_probability": 1.5}, r"max_probability\n  Input should be less than or equal to 1"),
        ({"mode": "rigged"}, r"mode\n  Input should be 'random', 'fair' or 'optimal'"),
        ({"pannel": 5}, r"pannel\n  Extra inputs are not permitted"),
        ({"scoring": {"criteria": {}}}, r"scoring\.criteria\n  Dictionary should have at least 1"),
    ],
)
def test_a_bad_section_is_refused_with_its_key_path(changes: dict[str, Any], expected: str) -> None:
    """Each mistake names the setting, as classes.py turns it into a sentence."""
    with pytest.raises(ValidationError, match=expected):
        TenderRules.model_validate(section(**changes))
